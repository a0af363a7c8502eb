// Reliability under load and abuse: a storm of short-lived processes, a ring
// buffer too small for the events, and agenttrace killed with SIGKILL. Each
// asserts exact figures: every process, every lost record, every probe.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <set>
#include <sstream>
#include <thread>
#include <tuple>

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

// The BPF object ids ("prog_id", "link_id") a process holds, from its
// descriptors' fdinfo.
std::set<long> bpf_ids_of(pid_t pid, const std::string& field) {
  std::set<long> ids;
  std::string fdinfo = "/proc/" + std::to_string(pid) + "/fdinfo";
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(fdinfo, ec)) {
    std::istringstream lines(slurp(entry.path()));
    std::string line;
    while (std::getline(lines, line))
      if (line.rfind(field + ":", 0) == 0) ids.insert(std::stol(line.substr(field.size() + 1)));
  }
  return ids;
}

// The ids `bpftool -j prog show` (or `link show`) lists: everything loaded
// on the machine now.
std::set<long> bpftool_ids(const std::string& type, const TempDir& dir) {
  std::string out = dir.file("bpftool.json");
  std::set<long> ids;
  if (system(("bpftool -j " + type + " show > " + out + " 2>/dev/null").c_str()) != 0) return ids;
  Json all = Json::parse(slurp(out), nullptr, false);
  if (all.is_array())
    for (const auto& o : all) ids.insert(o.value("id", -1L));
  return ids;
}

// Waits (up to 5 s: the kernel frees programs after an RCU grace period)
// until none of `ids` is loaded; returns those still there.
std::set<long> still_there(const std::string& type, std::set<long> ids, const TempDir& dir) {
  for (int i = 0; i < 50 && !ids.empty(); ++i) {
    std::set<long> loaded = bpftool_ids(type, dir);
    for (auto it = ids.begin(); it != ids.end();) it = loaded.count(*it) ? std::next(it) : ids.erase(it);
    if (!ids.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return ids;
}

TEST(Reliability, SigkillLeavesNothingAttachedAndTheTraceReadable) {
  REQUIRE_BPF();
  if (system("command -v bpftool >/dev/null 2>&1") != 0) GTEST_SKIP() << "bpftool is not installed";
  TempDir dir;
  std::string ready = dir.file("ready");
  RunSpec spec;
  // The command outlives agenttrace: it says its PID, then sleeps.
  spec.command = {"sh", "-c", "cat /etc/hostname >/dev/null; echo $$ > " + ready + "; exec sleep 60"};
  std::set<long> progs, links, listed_before;
  spec.while_running = [&](pid_t agenttrace) {
    for (int i = 0; i < 1000 && slurp(ready).empty(); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    // agenttrace writes what it has every 50 ms; give it a few rounds.
    std::this_thread::sleep_for(std::chrono::milliseconds(400));
    progs = bpf_ids_of(agenttrace, "prog_id");
    links = bpf_ids_of(agenttrace, "link_id");
    listed_before = bpftool_ids("prog", dir);
    kill(agenttrace, SIGKILL);
  };
  RunResult r = run_agenttrace(spec, dir);
  pid_t command = static_cast<pid_t>(std::atoi(slurp(ready).c_str()));
  if (command > 0) kill(command, SIGKILL);
  EXPECT_EQ(r.exit_code, 128 + SIGKILL);
  ASSERT_FALSE(progs.empty()) << "agenttrace held no BPF programs";
  ASSERT_FALSE(links.empty()) << "agenttrace held no BPF links";
  // bpftool saw them while agenttrace ran: their absence later means something.
  for (long id : progs) ASSERT_TRUE(listed_before.count(id)) << "bpftool does not list program " << id;

  // Nothing stays attached: every link agenttrace made and every program it
  // loaded is gone.
  std::set<long> left_links = still_there("link", links, dir);
  EXPECT_TRUE(left_links.empty()) << left_links.size() << " of " << links.size() << " BPF links still attached";
  std::set<long> left = still_there("prog", progs, dir);
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


// Two sessions at once, each with its own programs and maps: each trace
// holds its own command's opens, all of them, and none of the other's. The
// commands wait for each other, so both sessions are attached while both run.
TEST(Reliability, TwoSessionsAtOnceEachRecordOnlyTheirOwnCommand) {
  REQUIRE_BPF();
  TempDir a, b, shared;
  chmod(shared.path().c_str(), 0777);
  auto spec_for = [&](const std::string& me, const std::string& other) {
    RunSpec spec;
    // Started, then opens, then done: each step waits for the other
    // command's (bounded), so both sessions are attached while both open.
    auto wait_for = [&](const std::string& step) {
      const std::string peer = shared.file(step + "-" + other);
      return "touch " + shared.file(step + "-" + me) + "; i=0; while [ ! -e " + peer + " ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i+1)); done; [ -e " + peer + " ] || exit 9; ";
    };
    spec.command = {"/bin/sh", "-c",
                    wait_for("started") + "for n in $(seq 30); do cat /nonexistent-agenttrace-" + me + "-$n 2>/dev/null; done; " + wait_for("done")};
    spec.timeout_s = 90;
    return spec;
  };
  RunResult ra, rb;
  std::thread other([&] { rb = run_agenttrace(spec_for("B", "A"), b); });
  ra = run_agenttrace(spec_for("A", "B"), a);
  other.join();
  ASSERT_EQ(ra.exit_code, 0) << ra.err;
  ASSERT_EQ(rb.exit_code, 0) << rb.err;
  for (auto [r, me, other_name] : {std::tuple{&ra, std::string("A"), std::string("B")}, std::tuple{&rb, std::string("B"), std::string("A")}}) {
    std::set<std::string> mine;
    size_t others = 0;
    for (const auto& e : of_kind(r->events, "open")) {
      const std::string path = e.value("path", "");
      if (path.rfind("/nonexistent-agenttrace-" + me + "-", 0) == 0) mine.insert(path);
      if (path.rfind("/nonexistent-agenttrace-" + other_name + "-", 0) == 0) ++others;
    }
    EXPECT_EQ(mine.size(), 30u) << me;
    EXPECT_EQ(others, 0u) << me;
    expect_no_losses(*r);
  }
}

}  // namespace
}  // namespace agenttrace::testing
