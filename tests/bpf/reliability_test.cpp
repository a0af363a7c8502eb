// Reliability under load and abuse: a storm of short-lived processes, a ring
// buffer too small for the events, and agenttrace killed with SIGKILL. Each
// asserts exact figures: every process, every lost record, every probe.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "../support/agenttrace_runner.h"

namespace agenttrace::testing {
namespace {

using ::testing::HasSubstr;

const std::string kSamples = SAMPLES_DIR;

// "a=1 b=2" -> {a: 1, b: 2}
std::map<std::string, long> counts_of(const std::string& line) {
  std::map<std::string, long> out;
  std::istringstream words(line);
  std::string w;
  while (words >> w) {
    auto eq = w.find('=');
    if (eq != std::string::npos) out[w.substr(0, eq)] = std::stol(w.substr(eq + 1));
  }
  return out;
}

// The command run without agenttrace: its stdout and exit status.
std::pair<std::string, int> run_untraced(const std::vector<std::string>& argv, const TempDir& dir) {
  std::string cmd;
  for (const auto& a : argv) cmd += "'" + a + "' ";
  int status = system((cmd + "> " + dir.file("untraced.out") + " 2>/dev/null").c_str());
  return {slurp(dir.file("untraced.out")), WIFEXITED(status) ? WEXITSTATUS(status) : -1};
}

TEST(Reliability, ForkStormEveryProcessAccountedFor) {
  REQUIRE_BPF();
  TempDir dir;
  const std::vector<std::string> cmd = {kSamples + "/fork_storm", "100"};
  auto [untraced_out, untraced_status] = run_untraced(cmd, dir);
  ASSERT_EQ(untraced_status, 5) << untraced_out;

  RunSpec spec;
  spec.command = cmd;
  spec.agenttrace_args = {"-q"};
  RunResult r = run_agenttrace(spec, dir);
  // The traced program's status and output are its own.
  EXPECT_EQ(r.exit_code, untraced_status) << r.err;
  EXPECT_EQ(r.out, untraced_out);
  expect_no_losses(r);
  auto made = counts_of(r.out);
  ASSERT_EQ(made["processes"], 100 + 100 + 50 + 2 * 10) << r.out;
  ASSERT_EQ(made["threads"], 100) << r.out;

  int root = r.header["root_pid"];
  std::multiset<int> forked, exited;
  long threads = 0, children_status = 0;
  for (const auto& e : of_kind(r.events, "fork")) {
    if (e["thread"] == true)
      ++threads;
    else
      forked.insert(e["child_pid"].get<int>());
  }
  for (const auto& e : of_kind(r.events, "exit")) {
    exited.insert(e["pid"].get<int>());
    if (e["pid"] != root && e["ppid"] == root) children_status += e["code"].get<long>();
  }
  EXPECT_EQ(static_cast<long>(forked.size()), made["processes"]);
  EXPECT_EQ(threads, made["threads"]);
  EXPECT_EQ(static_cast<long>(of_kind(r.events, "exec").size()), made["execs"] + 1);
  // One exit per process, the command's own included, and no other.
  std::multiset<int> expected_exits = forked;
  expected_exits.insert(root);
  EXPECT_EQ(exited, expected_exits);
  EXPECT_EQ(children_status, made["status_sum"]);
  // Every exec is by the command or a process seen being forked.
  for (const auto& e : of_kind(r.events, "exec"))
    EXPECT_TRUE(e["pid"] == root || forked.count(e["pid"].get<int>())) << e.dump();
  // The closing record agrees with the events.
  EXPECT_EQ(r.trailer["exit_status"], 5 << 8);
  EXPECT_EQ(r.trailer["events"], r.events.size());
}

// Every kernel record is either delivered or counted as dropped, per kind;
// the summary and the closing record both say so.
TEST(Reliability, RingBufferOverflowIsCountedExactly) {
  REQUIRE_BPF();
  constexpr int kBurst = 20000;
  TempDir dir;
  RunSpec spec;
  spec.command = {kSamples + "/burst", std::to_string(kBurst)};
  spec.agenttrace_args = {"--ringbuf-size", "4K"};
  RunResult r = run_agenttrace(spec, dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto made = counts_of(r.out);
  ASSERT_EQ(made["open"], kBurst) << r.out;
  ASSERT_FALSE(r.trailer.is_null()) << r.err;
  EXPECT_EQ(r.header["ringbuf_bytes"], 4096);

  std::map<std::string, Json> kinds;
  for (const auto& [kind, k] : r.trailer["kinds"].items()) kinds[kind] = k;
  // What the burst made, and the static C library's one readlink at start.
  std::map<std::string, long> generated = {{"open", made["open"]}, {"stat", made["stat"]},
                                           {"uname", made["uname"]}, {"readlink", 1},
                                           {"exec", 1},  {"exit", 1}};
  uint64_t dropped = 0;
  for (const auto& [kind, n] : generated) {
    const Json& k = kinds[kind];
    ASSERT_TRUE(k.is_object()) << kind;
    EXPECT_EQ(k["emitted"].get<long>() + k["dropped"].get<long>(), n) << kind;
    // What the kernel delivered is in the trace, every one.
    EXPECT_EQ(k["recorded"], k["emitted"]) << kind;
    EXPECT_EQ(static_cast<long>(of_kind(r.events, kind).size()), k["recorded"].get<long>()) << kind;
  }
  for (const auto& [kind, k] : kinds) dropped += k["dropped"].get<uint64_t>();
  EXPECT_EQ(r.trailer["dropped"], dropped);
  ASSERT_GT(kinds["uname"]["dropped"].get<long>(), 0) << "a 4 KiB ring should overflow";
  // The summary's drops line names each kind's losses, and the findings say
  // the trace is incomplete.
  for (const char* kind : {"open", "stat", "uname"}) {
    long n = kinds[kind]["dropped"];
    if (n) EXPECT_THAT(r.err, HasSubstr(std::string(kind) + " " + std::to_string(n) + " dropped"));
  }
  EXPECT_THAT(r.err, HasSubstr(std::to_string(dropped) + " events dropped by a full ring buffer"));
}

// The BPF program ids a process holds, from its descriptors' fdinfo.
std::set<long> prog_ids_of(pid_t pid) {
  std::set<long> ids;
  std::string fdinfo = "/proc/" + std::to_string(pid) + "/fdinfo";
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(fdinfo, ec)) {
    std::istringstream lines(slurp(entry.path()));
    std::string line;
    while (std::getline(lines, line))
      if (line.rfind("prog_id:", 0) == 0) ids.insert(std::stol(line.substr(8)));
  }
  return ids;
}

bool prog_exists(long id) {
  std::string cmd = "bpftool prog show id " + std::to_string(id) + " >/dev/null 2>&1";
  return system(cmd.c_str()) == 0;
}

TEST(Reliability, SigkillLeavesNothingAttachedAndTheTraceReadable) {
  REQUIRE_BPF();
  if (system("command -v bpftool >/dev/null 2>&1") != 0) GTEST_SKIP() << "bpftool is not installed";
  TempDir dir;
  std::string ready = dir.file("ready");
  RunSpec spec;
  // The command outlives agenttrace: it says its PID, then sleeps.
  spec.command = {"sh", "-c", "cat /etc/hostname >/dev/null; echo $$ > " + ready + "; exec sleep 60"};
  std::set<long> progs;
  spec.while_running = [&](pid_t agenttrace) {
    for (int i = 0; i < 1000 && slurp(ready).empty(); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    // agenttrace writes what it has every 50 ms; give it a few rounds.
    std::this_thread::sleep_for(std::chrono::milliseconds(400));
    progs = prog_ids_of(agenttrace);
    kill(agenttrace, SIGKILL);
  };
  RunResult r = run_agenttrace(spec, dir);
  pid_t command = static_cast<pid_t>(std::atoi(slurp(ready).c_str()));
  if (command > 0) kill(command, SIGKILL);
  EXPECT_EQ(r.exit_code, 128 + SIGKILL);
  ASSERT_FALSE(progs.empty()) << "agenttrace held no BPF programs";

  // Nothing stays attached: every program agenttrace loaded is gone (the
  // kernel frees them once their last link closes, after an RCU grace period).
  std::set<long> left = progs;
  for (int i = 0; i < 100 && !left.empty(); ++i) {
    for (auto it = left.begin(); it != left.end();) it = prog_exists(*it) ? std::next(it) : left.erase(it);
    if (!left.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_TRUE(left.empty()) << left.size() << " of " << progs.size() << " BPF programs still loaded";

  // The trace reads up to where it was cut, and says it was cut.
  CliResult dump = run_cli({"dump", r.trace_path}, dir);
  EXPECT_EQ(dump.exit_code, 0) << dump.err;
  EXPECT_THAT(dump.err, HasSubstr("is truncated"));
  EXPECT_THAT(dump.out, HasSubstr("\"kind\":\"header\""));
  EXPECT_THAT(dump.out, HasSubstr("\"path\":\"/etc/hostname\""));
  EXPECT_THAT(dump.out, ::testing::Not(HasSubstr("\"kind\":\"trailer\"")));
  CliResult analyze = run_cli({"analyze", r.trace_path}, dir);
  EXPECT_EQ(analyze.exit_code, 0) << analyze.err;
  EXPECT_THAT(analyze.out, HasSubstr("no closing record"));
}

}  // namespace
}  // namespace agenttrace::testing
