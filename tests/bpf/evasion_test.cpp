// The evasion suite: each program in samples/evasion/ tries to do something
// agenttrace records without the calls it watches. The table says, for each,
// what agenttrace must show: the exact event that catches it ("caught: ..."),
// or the named coverage gap in the trace and in the analyzer's findings
// ("gap: ..."). A technique that slips through changes its line, so a
// regression shows as a failed case with the line it now gives.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <limits.h>
#include <stdlib.h>

#include <filesystem>
#include <functional>
#include <memory>

#include "../support/agenttrace_runner.h"
#include "../support/background.h"

namespace agenttrace::testing {
namespace {

const std::string kSamples = SAMPLES_DIR;

struct Run {
  RunResult result;
  Json report;  // `agenttrace analyze --format json` of the trace
  std::unique_ptr<TempDir> dir;
};

Run trace(const std::vector<std::string>& command, std::vector<std::string> env = {}) {
  Run run;
  run.dir = std::make_unique<TempDir>();
  RunSpec spec;
  spec.command = command;
  spec.agenttrace_args = {"-q"};
  spec.env = std::move(env);
  run.result = run_agenttrace(spec, *run.dir);
  CliResult analyzed = run_cli({"analyze", "--format", "json", run.result.trace_path}, *run.dir);
  run.report = Json::parse(analyzed.out, nullptr, false);
  return run;
}

std::string join(const std::vector<std::string>& parts, const std::string& sep = "; ") {
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : sep) + p;
  return out;
}

bool from_loader(const Json& e) {
  std::string p = e.value("path", "");
  return p == "/etc/ld.so.cache" || p.find(".so") != std::string::npos;
}

// "openat /etc/hostname", with "(requested X)" when the program named it
// otherwise and "-> REAL" when symlinks led elsewhere.
std::string open_line(const Json& e) {
  std::string s = e["syscall"].get<std::string>() + " " + e["path"].get<std::string>();
  if (e.contains("requested")) s += " (requested " + e["requested"].get<std::string>() + ")";
  if (e.contains("real_path")) s += " -> " + e["real_path"].get<std::string>();
  if (e["result"].get<int64_t>() < 0) s += " " + e["error"].get<std::string>();
  return s;
}

std::vector<std::string> opens(const RunResult& r, const std::function<bool(const Json&)>& keep) {
  std::vector<std::string> out;
  for (const auto& e : of_kind(r.events, "open"))
    if (!from_loader(e) && keep(e)) out.push_back(open_line(e));
  return out;
}

std::vector<std::string> opens_of(const RunResult& r, const std::string& path) {
  return opens(r, [&](const Json& e) { return e["path"] == path; });
}

// The named gaps of one signal: the trace's coverage details, and whether the
// analyzer turned them into a coverage-gap finding.
std::string gap_line(const Run& run, const std::string& signal) {
  std::vector<std::string> details;
  for (const auto& e : of_kind(run.result.events, "coverage"))
    if (e["signal"] == signal && e["state"] == "gap") details.push_back(e["detail"].get<std::string>());
  bool finding = false;
  if (run.report.is_object())
    for (const auto& f : run.report["findings"])
      for (const auto& ev : f.value("evidence", Json::array()))
        finding |= f["rule"] == "coverage-gap" && ev.value("what", "").rfind(signal + " gap", 0) == 0;
  return "gap " + signal + ": " + join(details) + (finding ? " [coverage-gap finding]" : " [no finding]");
}

struct Case {
  std::string name;
  std::function<std::string()> observe;  // runs the technique, says what agenttrace showed
  std::function<std::string()> expected;
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

// Where symlinks on this machine lead.
std::string real(const char* path) {
  char buf[PATH_MAX];
  return realpath(path, buf) ? buf : "?";
}

std::string real_localtime() { return real("/etc/localtime"); }

std::string dns_over_udp(const std::string& mode) {
  TempDir dir;
  Background stub({"python3", kSamples + "/net/dns_stub.py", "--host", "127.0.0.153", "--port", "53",
                   "--ready-file", dir.file("ready"), "--timeout", "20"},
                  dir.file("ready"));
  Run run = trace({kSamples + "/dns_query", "127.0.0.153", "53", "agent.example.test", mode});
  std::vector<std::string> seen;
  for (const auto& e : of_kind(run.result.events, "dns"))
    seen.push_back(e["source"].get<std::string>() + " " + e["name"].get<std::string>() + " " +
                   e.value("type", "") + " via " + e.value("server", Json()).dump());
  return "caught: " + join(seen);
}

std::string sends_from_files(const RunResult& r) {
  std::vector<std::string> seen;
  for (const auto& e : of_kind(r.events, "send"))
    if (e.contains("source_file"))
      seen.push_back(e["syscall"].get<std::string>() + " " + std::to_string(e["bytes"].get<long>()) +
                     " bytes of " + e["source_file"].get<std::string>() + " to " +
                     e["peer"].get<std::string>().substr(0, 10) + ", " +
                     std::to_string(e["truncated"].get<long>()) + " not captured");
  return "caught: " + join(seen);
}

long file_size(const std::string& path) {
  std::error_code ec;
  auto n = std::filesystem::file_size(path, ec);
  return ec ? -1 : static_cast<long>(n);
}

std::vector<Case> cases() {
  return {
      {"raw_syscall_opens",
       [] {
         Run run = trace({kSamples + "/raw_open"});
         return "caught: " + join(opens(run.result, [](const Json&) { return true; }));
       },
       [] {
         // Real paths as this Debian lays them out: zoneinfo/UTC and
         // /etc/os-release are symlinks.
         return std::string("caught: openat /etc/hostname; open /etc/passwd; ") +
                "open /usr/share/zoneinfo/UTC (requested zoneinfo/UTC) -> " + real("/usr/share/zoneinfo/UTC") +
                "; openat /etc; openat /etc/os-release (requested ../etc/./os-release) -> " + real("/etc/os-release") +
                "; open /nonexistent/agenttrace ENOENT";
       }},
      {"openat2",
       [] { return "caught: " + join(opens_of(trace({kSamples + "/openat2_open"}).result, "/etc/machine-id")); },
       [] { return std::string("caught: openat2 /etc/machine-id"); }},
      {"io_uring_open_and_send",
       [] {
         Run run = trace({kSamples + "/uring_ops"});
         std::string hidden = opens_of(run.result, "/etc/machine-id").empty() ? "no open event" : "open event!";
         return gap_line(run, "io_uring") + "; " + hidden;
       },
       [] {
         return std::string("gap io_uring: set up an io_uring: opens, reads and sends submitted through it are not "
                            "recorded as such; submitted an io_uring openat of /etc/machine-id: seen by path only, "
                            "not as an open with its result; submitted an io_uring send: what it read, wrote or "
                            "sent is not recorded [coverage-gap finding]; no open event");
       }},
      {"vfork_exec",
       [] {
         Run run = trace({kSamples + "/vfork_exec"});
         const RunResult& r = run.result;
         std::vector<std::string> seen;
         int root = r.header["root_pid"];
         for (const auto& f : of_kind(r.events, "fork")) {
           int child = f["child_pid"];
           seen.push_back(std::string(f["thread"] == true ? "thread" : "fork") + (f["pid"] == root ? " by the command" : ""));
           for (const auto& e : of_pid(r.events, child)) {
             if (e["kind"] == "exec") seen.push_back("exec " + e["path"].get<std::string>() + " [" + e["argv"][0].get<std::string>() + " " + e["argv"][1].get<std::string>() + "]");
             if (e["kind"] == "open" && e["path"] == "/etc/hostname") seen.push_back("child " + open_line(e));
             if (e["kind"] == "exit") seen.push_back("child exit " + std::to_string(e["code"].get<int>()));
           }
         }
         return "caught: " + join(seen);
       },
       [] { return std::string("caught: fork by the command; exec /bin/cat [cat /etc/hostname]; child openat /etc/hostname; child exit 0"); }},
      {"double_fork_daemon",
       [] {
         Run run = trace({kSamples + "/double_fork"});
         const RunResult& r = run.result;
         int root = r.header["root_pid"];
         std::vector<std::string> seen;
         // The daemon: a process forked by a child of the command.
         for (const auto& f : of_kind(r.events, "fork")) {
           if (f["pid"] == root || f["thread"] == true) continue;
           int daemon = f["child_pid"];
           for (const auto& e : of_pid(r.events, daemon))
             if (e["kind"] == "open" && !from_loader(e)) seen.push_back("daemon " + open_line(e));
           bool exited = !of_kind(of_pid(r.events, daemon), "exit").empty();
           seen.push_back(exited ? "daemon exit recorded" : "daemon still running");
         }
         return "caught: " + join(seen) + " / " + gap_line(run, "process");
       },
       [] {
         return std::string("caught: daemon openat /dev/null; daemon openat /etc/hostname; daemon still running / gap process: was still "
                            "running when the command exited, and what it did afterwards is not recorded "
                            "[coverage-gap finding]");
       }},
      {"clone_thread_and_clone3_process",
       [] {
         Run run = trace({kSamples + "/clone_direct"});
         const RunResult& r = run.result;
         std::vector<std::string> seen;
         for (const auto& f : of_kind(r.events, "fork")) {
           bool thread = f["thread"] == true;
           int id = thread ? f["child_tid"].get<int>() : f["child_pid"].get<int>();
           for (const auto& e : r.events) {
             if ((thread ? e["tid"] : e["pid"]) != id) continue;
             if (e["kind"] == "open" && !from_loader(e))
               seen.push_back(std::string(thread ? "thread " : "process ") + open_line(e));
             if (e["kind"] == "exit") seen.push_back("process exit " + std::to_string(e["code"].get<int>()));
           }
         }
         return "caught: " + join(seen);
       },
       [] { return std::string("caught: thread openat /etc/hostname; process openat /etc/machine-id; process exit 0"); }},
      {"static_musl_getenv",
       [] {
         auto env = base_env();
         env.push_back("TZ=Asia/Shanghai");
         Run run = trace({kSamples + "/static_getenv_musl"}, env);
         std::vector<std::string> seen;
         for (const auto& e : of_kind(run.result.events, "getenv"))
           seen.push_back(brief(e));
         for (const auto& e : of_kind(run.result.events, "coverage"))
           if (e["signal"] == "getenv") seen.push_back("coverage " + e["state"].get<std::string>());
         return "caught: " + join(seen);
       },
       [] { return std::string("caught: getenv TZ found=true; getenv HTTPS_PROXY found=false; coverage observed"); }},
      {"static_musl_getenv_stripped",
       [] {
         Run run = trace({kSamples + "/static_getenv_musl_stripped"});
         return gap_line(run, "getenv") + "; " + std::to_string(of_kind(run.result.events, "getenv").size()) + " getenv events";
       },
       [] {
         return "gap getenv: a static binary without a getenv symbol: its environment lookups cannot be seen [coverage-gap finding]; 0 getenv events";
       }},
      {"setenv_then_exec",
       [] {
         Run run = trace({kSamples + "/setenv_exec"});
         std::vector<std::string> seen;
         for (const auto& e : run.result.events) {
           if (e["kind"] == "exec") seen.push_back("exec " + e["path"].get<std::string>() + " [" + e["argv"].back().get<std::string>() + "]");
           if (e["kind"] == "getenv" && e["name"] == "AGENTTRACE_HANDOFF") seen.push_back(brief(e));
         }
         return "caught: " + join(seen);
       },
       [] {
         return "caught: exec " + kSamples + "/setenv_exec [" + kSamples + "/setenv_exec]; exec /proc/self/exe [--child]; getenv AGENTTRACE_HANDOFF found=true";
       }},
      {"proc_self_environ",
       [] {
         Run run = trace({kSamples + "/proc_environ"});
         int root = run.result.header["root_pid"];
         std::vector<std::string> seen = opens(run.result, [](const Json& e) {
           return e["path"].get<std::string>().find("environ") != std::string::npos;
         });
         for (auto& s : seen) {
           auto at = s.find("/" + std::to_string(root) + "/");
           if (at != std::string::npos) s.replace(at, std::to_string(root).size() + 2, "/PID/");
         }
         bool profiled = run.report.dump().find("whole environment") != std::string::npos;
         return "caught: " + join(seen) + (profiled ? " [whole environment]" : " [not profiled]");
       },
       [] { return std::string("caught: openat /proc/self/environ -> /proc/PID/environ; openat /proc/PID/environ [whole environment]"); }},
      {"localtime_through_symlink_chain",
       [] {
         Run run = trace({kSamples + "/localtime_indirect"});
         std::vector<std::string> seen = opens(run.result, [](const Json& e) {
           return e["path"].get<std::string>().rfind("/tmp/agenttrace-evasion-", 0) == 0;
         });
         for (auto& s : seen) s.replace(s.find("/tmp/agenttrace-evasion-"), 30, "DIR");
         bool tz = run.result.err.find("time zone") != std::string::npos ||
                   run.report.dump().find("\"timezone\"") != std::string::npos;
         return "caught: " + join(seen) + (tz ? " [time zone]" : " [not classified]");
       },
       [] { return "caught: openat DIR/first -> " + real_localtime() + " [time zone]"; }},
      {"localtime_through_dirfd",
       [] { return "caught: " + join(opens_of(trace({kSamples + "/localtime_indirect"}).result, "/etc/localtime")); },
       [] { return "caught: openat /etc/localtime (requested localtime) -> " + real_localtime(); }},
      {"dns_over_connected_udp", [] { return dns_over_udp("connected"); },
       [] { return std::string("caught: query agent.example.test A via \"127.0.0.153:53\"; response agent.example.test A via \"127.0.0.153:53\""); }},
      {"dns_over_unconnected_udp", [] { return dns_over_udp("unconnected"); },
       [] { return std::string("caught: query agent.example.test A via \"127.0.0.153:53\"; response agent.example.test A via \"127.0.0.153:53\""); }},
      {"sendfile_and_splice_to_socket",
       [] { return sends_from_files(trace({kSamples + "/sendfile_splice"}).result); },
       [] {
         return "caught: sendfile " + std::to_string(file_size("/etc/hostname")) + " bytes of /etc/hostname to 127.0.0.1:, " +
                std::to_string(file_size("/etc/hostname")) + " not captured; splice " +
                std::to_string(file_size("/etc/machine-id")) + " bytes of /etc/machine-id to 127.0.0.1:, " +
                std::to_string(file_size("/etc/machine-id")) + " not captured";
       }},
  };
}

class Evasion : public ::testing::TestWithParam<Case> {};

TEST_P(Evasion, IsCaughtOrANamedGap) {
  REQUIRE_BPF();
  EXPECT_EQ(GetParam().observe(), GetParam().expected());
}

INSTANTIATE_TEST_SUITE_P(Suite, Evasion, ::testing::ValuesIn(cases()),
                         [](const ::testing::TestParamInfo<Case>& info) { return info.param.name; });

}  // namespace
}  // namespace agenttrace::testing
