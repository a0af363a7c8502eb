// Fleet export figures, against a real nats-server with JetStream on
// loopback (started here in a temporary directory unless --url names one):
//   1. the hot path: what handing one event to the export costs the
//      recording thread (beside what the trace file costs it);
//   2. events per second exported from one host, every one acknowledged by
//      the stream;
//   3. the delay from an event to the finding it causes at the centre: a
//      `collect --follow` reads the stream while recordings that hide
//      characters in what they send are exported, and the time from the
//      sending event to the finding's report is measured.
//   export_bench [--events N] [--rounds K] [--url nats://HOST:PORT]
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "../tests/support/nats_server.h"
#include "../tests/support/temp_dir.h"
#include "analyzer/knowledge_base.h"
#include "fleet/collect.h"
#include "fleet/export_sink.h"
#include "fleet/nats_settings.h"
#include "trace/reader.h"
#include "trace/sink.h"

using namespace agenttrace;
using Clock = std::chrono::steady_clock;

namespace {

struct Recording {
  trace::Header header;
  std::vector<trace::Event> events;
  trace::Trailer trailer;
};

Recording read(const std::string& path) {
  Recording r;
  trace::TraceReader reader(path);
  r.header = reader.header();
  trace::Event e;
  while (reader.next(&e) == trace::TraceReader::Status::kRecord) r.events.push_back(e);
  r.trailer = reader.trailer();
  return r;
}

double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * (v.size() - 1) + 0.5))];
}

fleet::ExportOptions options(const std::string& url, const std::string& spool) {
  fleet::ExportOptions o;
  o.url = url;
  o.spool_dir = spool;
  o.drain_timeout_ms = 120000;
  return o;
}

// The fixture's events, renumbered and repeated up to n: a real mix of
// kinds and sizes (execs, opens, getenv, connects, sends with payloads).
std::vector<trace::Event> workload(const Recording& r, size_t n) {
  std::vector<trace::Event> out;
  out.reserve(n);
  for (size_t i = 0; out.size() < n; ++i) {
    out.push_back(r.events[i % r.events.size()]);
    out.back().set_id(out.size());
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  size_t n = 200000;
  int rounds = 20;
  std::string url;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--events") n = std::stoul(argv[i + 1]);
    else if (a == "--rounds") rounds = std::stoi(argv[i + 1]);
    else if (a == "--url") url = argv[i + 1];
  }
  testing::TempDir dir;
  std::unique_ptr<testing::NatsServer> server;
  if (url.empty()) {
    testing::NatsServerOptions so;
    so.dir = dir.path();
    server = std::make_unique<testing::NatsServer>(so);
    url = server->url();
  }
  const Recording sample = read(std::string(DATA_DIR) + "/zero_width.atrace");
  const std::vector<trace::Event> events = workload(sample, n);
  uint64_t bytes = 0;
  for (const auto& e : events) bytes += e.ByteSizeLong();
  printf("export_bench: %zu events (%.0f bytes on average, the mix of tests/data/zero_width.atrace) to %s\n", n,
         static_cast<double>(bytes) / n, url.c_str());

  // 1 and 2: one host exporting as fast as it records.
  {
    fleet::ExportSink sink(fleet::load_nats_settings(url, ""), options(url, dir.file("spool")), "bench-host",
                           "bench-throughput");
    trace::TraceFileSink file(dir.file("bench.atrace"));
    file.on_header(sample.header);
    std::vector<double> file_ns, export_ns;
    file_ns.reserve(n / 16 + 1);
    export_ns.reserve(n / 16 + 1);
    auto start = Clock::now();
    sink.on_header(sample.header);
    for (size_t i = 0; i < n; ++i) {
      if (i % 16 == 0) {
        auto a = Clock::now();
        file.on_event(events[i]);
        auto b = Clock::now();
        sink.on_event(events[i]);
        auto c = Clock::now();
        file_ns.push_back(std::chrono::duration<double, std::nano>(b - a).count());
        export_ns.push_back(std::chrono::duration<double, std::nano>(c - b).count());
      } else {
        file.on_event(events[i]);
        sink.on_event(events[i]);
      }
    }
    double enqueue_ms = ms_since(start);
    trace::Trailer t = sample.trailer;
    sink.complete_trailer(&t);  // waits until every event is acknowledged
    double acked_ms = ms_since(start);
    sink.on_trailer(t);
    fleet::ExportTotals totals = sink.close();
    double mean_export = 0, mean_file = 0;
    for (double v : export_ns) mean_export += v;
    for (double v : file_ns) mean_file += v;
    mean_export /= export_ns.size();
    mean_file /= file_ns.size();
    printf("hot path, per event: export %.0f ns mean, %.0f ns p99, %.0f ns max; trace file %.0f ns mean\n", mean_export,
           percentile(export_ns, 0.99), percentile(export_ns, 1.0), mean_file);
    printf("exported with acknowledgements: %.0f events/s (%zu events in %.0f ms; the recording side was done after %.0f ms)\n",
           n / (acked_ms / 1000.0), n, acked_ms, enqueue_ms);
    printf("  messages acknowledged %llu of %llu, dropped %llu, through the spool %llu\n",
           static_cast<unsigned long long>(totals.published), static_cast<unsigned long long>(totals.enqueued),
           static_cast<unsigned long long>(totals.dropped), static_cast<unsigned long long>(totals.spooled));
  }

  // 3: event -> central finding.
  analyzer::KnowledgeBase kb = analyzer::KnowledgeBase::builtin();
  std::mutex mu;
  std::condition_variable cv;
  std::map<std::string, Clock::time_point> found;  // session -> when collect reported hidden-characters
  std::atomic<bool> stop{false};
  std::atomic<bool> ready{false};
  std::thread central([&] {
    fleet::CollectOptions o;
    o.from = url;
    o.follow = true;
    o.durable = "bench-collect";
    o.fetch_wait_ms = 100;
    // From now on, as a watch at the centre would: not the backlog of part 2.
    o.since_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                     std::chrono::system_clock::now().time_since_epoch()).count();
    fleet::collect(
        o, kb,
        [&](const fleet::FleetAnalysis::NewFinding& f) {
          if (f.finding.rule != "hidden-characters") return;
          std::lock_guard<std::mutex> lock(mu);
          found.emplace(f.session, Clock::now());
          cv.notify_all();
        },
        [&] {
          ready = true;
          return stop.load();
        });
  });
  while (!ready) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  // The sending event that carries the hidden characters.
  size_t send_index = 0;
  for (size_t i = 0; i < sample.events.size(); ++i)
    if (sample.events[i].has_send()) send_index = i;
  std::vector<double> delays;
  for (int round = 0; round < rounds; ++round) {
    std::string session = "bench-latency-" + std::to_string(round);
    fleet::ExportSink sink(fleet::load_nats_settings(url, ""), options(url, dir.file("spool")), "bench-host", session);
    sink.on_header(sample.header);
    for (size_t i = 0; i < send_index; ++i) sink.on_event(sample.events[i]);
    std::this_thread::sleep_for(std::chrono::milliseconds(200));  // the facts are in; now it sends
    auto sent = Clock::now();
    sink.on_event(sample.events[send_index]);
    std::unique_lock<std::mutex> lock(mu);
    bool ok = cv.wait_for(lock, std::chrono::seconds(10), [&] { return found.count(session) > 0; });
    if (ok) delays.push_back(std::chrono::duration<double, std::milli>(found[session] - sent).count());
    lock.unlock();
    for (size_t i = send_index + 1; i < sample.events.size(); ++i) sink.on_event(sample.events[i]);
    trace::Trailer t = sample.trailer;
    sink.complete_trailer(&t);
    sink.on_trailer(t);
    sink.close();
  }
  stop = true;
  central.join();
  printf("event to central finding (collect --follow, hidden-characters): median %.0f ms, p90 %.0f ms, max %.0f ms "
         "over %zu of %d recordings\n",
         percentile(delays, 0.5), percentile(delays, 0.9), percentile(delays, 1.0), delays.size(), rounds);
  return delays.size() == static_cast<size_t>(rounds) ? 0 : 1;
}
