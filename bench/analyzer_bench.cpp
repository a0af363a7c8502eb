// Analyzer throughput: writes a large synthetic trace (a realistic mix of
// process, file, environment and network events from a few process trees),
// then reads and analyses it on one core and prints events per second.
//   analyzer_bench [EVENTS] [TRACE_PATH]
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "analyzer/findings.h"
#include "analyzer/profile.h"
#include "trace/reader.h"
#include "trace/writer.h"

using namespace agenttrace;

namespace {

void write_trace(const std::string& path, uint64_t n) {
  trace::TraceWriter w(path);
  trace::Header h;
  h.set_format_version(trace::kFormatVersion);
  h.set_start_wall_ns(1'700'000'000'000'000'000);
  h.add_command("bench-agent");
  (*h.mutable_host_values())["machine_id"] = "3d1219c7c4c5404aaa1f6d2a48adfda4";
  w.write_header(h);
  static const char* kPaths[] = {"/etc/localtime", "/usr/lib/x86_64-linux-gnu/libc.so.6", "/etc/machine-id",
                                 "/home/dev/project/src/main.ts", "/proc/self/cgroup", "/etc/hosts",
                                 "/home/dev/project/package.json", "/usr/share/zoneinfo/Asia/Shanghai"};
  static const char* kEnv[] = {"TZ", "LANG", "HTTPS_PROXY", "NODE_OPTIONS", "ANTHROPIC_BASE_URL", "HOME", "PATH", "CI"};
  std::string body(2048, 'x');
  trace::Event e;
  for (uint64_t i = 1; i <= n; ++i) {
    e.Clear();
    e.set_id(i);
    e.set_mono_ns(i * 1000);
    e.set_wall_ns(static_cast<int64_t>(1'700'000'000'000'000'000 + i * 1000));
    uint32_t pid = 1000 + static_cast<uint32_t>(i % 16);
    e.set_pid(pid);
    e.set_tid(pid);
    e.set_ppid(1000);
    e.set_comm("agent");
    switch (i % 10) {
      case 0:
      case 1:
      case 2:
      case 3: {
        auto* o = e.mutable_open();
        o->set_path(kPaths[i % 8]);
        o->set_result(3);
        break;
      }
      case 4:
      case 5:
      case 6: {
        auto* g = e.mutable_getenv();
        g->set_name(kEnv[i % 8]);
        g->set_found(i % 3 == 0);
        break;
      }
      case 7: {
        auto* s = e.mutable_stat();
        s->set_path(kPaths[(i / 10) % 8]);
        s->set_result(0);
        break;
      }
      case 8: {
        auto* d = e.mutable_send();
        d->set_conn(1 + static_cast<uint32_t>(i % 4));
        d->mutable_peer()->set_family("inet");
        d->mutable_peer()->set_address("127.0.0.1");
        d->mutable_peer()->set_port(8080);
        // Payload on one send in a thousand; the rest counted only, as a
        // budget-limited recording would look after its first megabyte.
        d->set_bytes(body.size());
        if (i % 1000 == 8) d->set_data(body); else d->set_truncated(body.size());
        break;
      }
      default:
        e.mutable_uname()->set_nodename("host");
        break;
    }
    w.write_event(e);
  }
  trace::Trailer t;
  t.set_events(n);
  w.write_trailer(t);
  w.close();
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t n = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 5'000'000;
  std::string path = argc > 2 ? argv[2] : "/tmp/agenttrace-analyzer-bench.atrace";
  auto t0 = std::chrono::steady_clock::now();
  write_trace(path, n);
  auto t1 = std::chrono::steady_clock::now();

  analyzer::KnowledgeBase kb = analyzer::KnowledgeBase::builtin();
  trace::TraceReader reader(path);
  analyzer::ProfileBuilder builder(kb);
  builder.on_header(reader.header());
  trace::Event event;
  uint64_t events = 0;
  while (reader.next(&event) == trace::TraceReader::Status::kRecord) {
    builder.on_event(event);
    ++events;
  }
  builder.on_trailer(reader.trailer());
  auto t2 = std::chrono::steady_clock::now();
  auto findings = analyzer::run_rules(builder.profile(), kb);
  auto t3 = std::chrono::steady_clock::now();

  double read_s = std::chrono::duration<double>(t2 - t1).count();
  double rules_s = std::chrono::duration<double>(t3 - t2).count();
  printf("analyzer benchmark: %llu events, trace %.1f MiB (written in %.2f s)\n",
         static_cast<unsigned long long>(events),
         static_cast<double>(lseek(open(path.c_str(), O_RDONLY), 0, SEEK_END)) / (1 << 20),
         std::chrono::duration<double>(t1 - t0).count());
  printf("  read + profile: %.2f s, rules: %.3f s, findings: %zu\n", read_s, rules_s, findings.size());
  printf("  events per second through the analyzer (one core): %.2f million\n",
         events / (read_s + rules_s) / 1e6);
  unlink(path.c_str());
  return 0;
}
