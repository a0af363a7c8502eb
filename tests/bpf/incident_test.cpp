// BPF tests of incident response: attaching to processes already running,
// watching with rotation, and naming the code that asked (call stacks).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <set>

#include "../support/agenttrace_runner.h"
#include "../support/spawn.h"

namespace agenttrace::testing {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

const std::string kSamples = SAMPLES_DIR;


std::vector<Json> events_of(const std::string& trace, std::string* warning = nullptr) {
  std::vector<Json> out;
  for (const auto& line : dump_lines(trace, warning)) out.push_back(Json::parse(line));
  return out;
}

// `agenttrace analyze --format json` of a trace, parsed.
Json analyze(const std::string& trace, const std::string& extra = "") {
  TempDir d;
  std::string cmd = std::string(AGENTTRACE_BIN) + " analyze --format json -o " + d.file("r.json") + " " + extra + " '" +
                    trace + "' 2> " + d.file("err");
  EXPECT_EQ(system(cmd.c_str()), 0) << slurp(d.file("err"));
  return Json::parse(slurp(d.file("r.json")));
}


// ---- attach -------------------------------------------------------------------

// A program already running when agenttrace attaches starts two children
// afterwards: both are traced, the program is announced as running before
// the trace began, and agenttrace ends by itself when they have all exited.
TEST(Attach, FollowsChildrenStartedAfterAttaching) {
  REQUIRE_BPF();
  TempDir d;
  Spawned target({kSamples + "/late_starter"}, d.path(), "target");
  Spawned at({AGENTTRACE_BIN, "attach", "--pid", std::to_string(target.pid()), "-v", "-o", d.file("trace.atrace")},
             d.path(), "agenttrace");
  ASSERT_TRUE(at.wait_for_err("running " + kSamples + "/late_starter", 20)) << at.err();
  target.signal(SIGUSR1);
  EXPECT_EQ(target.wait(20), 0);
  ASSERT_EQ(at.wait(20), 0) << at.err();

  std::string warning;
  auto events = events_of(d.file("trace.atrace"), &warning);
  EXPECT_EQ(warning, "");
  ASSERT_GE(events.size(), 3u);
  const Json& header = events.front();
  EXPECT_EQ(header["mode"], "attach");
  EXPECT_EQ(header["attached_pids"], Json::array({target.pid()}));
  EXPECT_EQ(events.back()["kind"], "trailer");
  const Json& first = events[1];
  EXPECT_EQ(first["kind"], "process");
  EXPECT_EQ(first["pid"], target.pid());
  EXPECT_EQ(first["exe"], kSamples + "/late_starter");
  EXPECT_EQ(first["before_trace"], true);

  std::set<std::string> execs;
  int cat_pid = 0;
  bool target_exit = false, machine_id = false;
  for (const auto& e : events) {
    if (e["kind"] == "exec") {
      execs.insert(e["argv"][0].get<std::string>());
      if (e["argv"][0] == "cat") cat_pid = e["pid"];
    }
    if (e["kind"] == "exit" && e["pid"] == target.pid()) target_exit = e["code"] == 0;
  }
  for (const auto& e : events)
    if (e["kind"] == "open" && e["pid"] == cat_pid && e["path"] == "/etc/machine-id") machine_id = true;
  EXPECT_EQ(execs, (std::set<std::string>{"cat", "sh"}));
  EXPECT_TRUE(machine_id);
  EXPECT_TRUE(target_exit);

  Json report = analyze(d.file("trace.atrace"));
  bool noted = false;
  for (const auto& f : report["findings"])
    if (f["rule"] == "coverage-gap" &&
        f["message"] == "The recording attached to 1 process already running: what they gathered before tracing began is unknown.")
      noted = f["evidence"][0]["pid"] == target.pid();
  EXPECT_TRUE(noted) << report["findings"].dump(1);
}

// Ctrl-C detaches: agenttrace ends with a complete trace and the process
// goes on untouched.
TEST(Attach, InterruptDetachesAndLeavesTheProcessRunning) {
  REQUIRE_BPF();
  TempDir d;
  Spawned target({kSamples + "/late_starter"}, d.path(), "target");
  Spawned at({AGENTTRACE_BIN, "attach", "--pid", std::to_string(target.pid()), "-v", "-q", "-o", d.file("trace.atrace")},
             d.path(), "agenttrace");
  ASSERT_TRUE(at.wait_for_err("running " + kSamples + "/late_starter", 20)) << at.err();
  at.signal(SIGINT);
  ASSERT_EQ(at.wait(20), 0) << at.err();
  EXPECT_EQ(kill(target.pid(), 0), 0) << "the process was stopped";
  target.signal(SIGUSR1);
  EXPECT_EQ(target.wait(20), 0) << "the process did not go on normally";
  std::string warning;
  auto events = events_of(d.file("trace.atrace"), &warning);
  EXPECT_EQ(warning, "");
  EXPECT_EQ(events.back()["kind"], "trailer");
}

// ---- watch --------------------------------------------------------------------

struct WatchFile {
  std::string path;
  uint64_t size = 0;
  std::vector<Json> events;  // header first, trailer last
};

std::vector<WatchFile> watch_files(const std::string& dir) {
  std::vector<WatchFile> out;
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().extension() == ".atrace") names.push_back(e.path().string());
  std::sort(names.begin(), names.end());
  for (const auto& n : names) {
    WatchFile f;
    f.path = n;
    f.size = fs::file_size(n);
    std::string warning;
    f.events = events_of(n, &warning);
    EXPECT_EQ(warning, "") << n;
    out.push_back(std::move(f));
  }
  return out;
}

// Only processes named who_asked (and their descendants) are recorded; the
// files rotate at the size asked for, no more than --keep of them stay, and
// each has its header, the traced processes still running, and its trailer.
TEST(Watch, RotatesWithinBoundsAndEveryFileReadsAlone) {
  REQUIRE_BPF();
  TempDir d;
  std::string dir = d.file("watch");
  Spawned w({AGENTTRACE_BIN, "watch", "--comm", "who_asked", "-o", dir, "--rotate", "64K", "--keep", "3"}, d.path(),
            "agenttrace");
  ASSERT_TRUE(w.wait_for_err("agenttrace watch: recording matching processes", 20)) << w.err();
  // A long one that lives across rotations, and many short ones.
  Spawned sleeper({kSamples + "/who_asked", "4"}, d.path(), "sleeper");
  Spawned burst({"/bin/sh", "-c", "for i in $(seq 300); do " + kSamples + "/who_asked > /dev/null; done"}, d.path(),
                "burst");
  EXPECT_EQ(burst.wait(60), 0);
  w.signal(SIGHUP);
  EXPECT_EQ(sleeper.wait(20), 0);
  w.signal(SIGTERM);
  ASSERT_EQ(w.wait(30), 0) << w.err();
  EXPECT_THAT(w.err(), HasSubstr("older deleted to keep 3"));

  auto files = watch_files(dir);
  ASSERT_EQ(files.size(), 3u);
  uint32_t last_sequence = 0;
  bool sleeper_announced = false;
  for (const auto& f : files) {
    ASSERT_GE(f.events.size(), 2u) << f.path;
    const Json& header = f.events.front();
    EXPECT_EQ(header["kind"], "header");
    EXPECT_EQ(header["mode"], "watch");
    EXPECT_EQ(header["watch_comms"], Json::array({"who_asked"}));
    uint32_t seq = header["file_sequence"];
    EXPECT_GT(seq, last_sequence);
    last_sequence = seq;
    EXPECT_EQ(f.events.back()["kind"], "trailer") << f.path;
    // 64K, and at most one event's worth more.
    EXPECT_LE(f.size, 64u * 1024 + 16 * 1024) << f.path;
    for (size_t i = 1; i + 1 < f.events.size(); ++i) {
      const Json& e = f.events[i];
      EXPECT_EQ(e["comm"], "who_asked") << e.dump();
      if (e["kind"] == "process" && e["pid"] == sleeper.pid()) sleeper_announced = true;
    }
  }
  EXPECT_GT(last_sequence, 3u) << "the files kept are the last ones";
  EXPECT_TRUE(sleeper_announced) << "a rotated file starts with the processes still running";
}

// --exe picks an executable by its file: another program is not recorded.
TEST(Watch, ExeFilterRecordsOnlyThatExecutable) {
  REQUIRE_BPF();
  TempDir d;
  std::string dir = d.file("watch");
  Spawned w({AGENTTRACE_BIN, "watch", "--exe", kSamples + "/who_asked", "-o", dir, "-q"}, d.path(), "agenttrace");
  // -q: no banner; wait until the first file exists instead.
  for (int i = 0; i < 200 && !(fs::exists(dir) && !fs::is_empty(dir)); ++i) usleep(50000);
  usleep(300000);
  Spawned other({kSamples + "/fingerprint"}, d.path(), "other");
  Spawned asked({kSamples + "/who_asked"}, d.path(), "asked");
  EXPECT_EQ(other.wait(20), 0);
  EXPECT_EQ(asked.wait(20), 0);
  usleep(300000);
  w.signal(SIGTERM);
  ASSERT_EQ(w.wait(30), 0) << w.err();
  auto files = watch_files(dir);
  ASSERT_EQ(files.size(), 1u);
  std::set<int> pids;
  for (size_t i = 1; i + 1 < files[0].events.size(); ++i) pids.insert(files[0].events[i]["pid"].get<int>());
  EXPECT_EQ(pids, (std::set<int>{asked.pid()}));
}

// ---- who asked ----------------------------------------------------------------

// The sample's own functions are named as the callers of getenv and of the
// open of /etc/machine-id, with the calling instruction disassembled.
TEST(Stacks, NameTheSamplesOwnFunctions) {
  REQUIRE_BPF();
  TempDir d;
  RunSpec spec;
  spec.command = {kSamples + "/who_asked"};
  RunResult r = run_agenttrace(spec, d);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  Json report = analyze(r.trace_path);

  Json proxy = fact(report, "HTTPS_PROXY");
  ASSERT_TRUE(proxy.contains("stack")) << proxy.dump();
  auto names = symbols(proxy["stack"]);
  ASSERT_GE(names.size(), 3u);
  EXPECT_EQ(names[0], "read_proxy_setting");
  EXPECT_EQ(names[1], "collect_host_facts");
  EXPECT_EQ(names[2], "main");
  EXPECT_THAT(proxy["stack"][0]["instruction"].get<std::string>(), HasSubstr("<getenv@plt>"));
  EXPECT_THAT(proxy["stack"][0]["instruction"].get<std::string>(), StartsWith("call "));
  EXPECT_EQ(proxy["stack"][0]["module"], kSamples + "/who_asked");

  Json tz = fact(report, "TZ");
  ASSERT_TRUE(tz.contains("stack"));
  EXPECT_EQ(symbols(tz["stack"])[0], "read_time_zone");

  // The open is a syscall inside the C library's open(), which keeps no
  // frame pointer: its caller is found through the library's call-frame
  // information, and the walk goes on from there.
  Json id = fact(report, "/etc/machine-id");
  ASSERT_TRUE(id.contains("stack")) << id.dump();
  EXPECT_EQ(id["stack"][0]["instruction"], "syscall");
  auto id_names = symbols(id["stack"]);
  ASSERT_GE(id_names.size(), 4u) << id.dump();
  EXPECT_EQ(id_names[1], "read_machine_id");
  EXPECT_EQ(id_names[2], "collect_host_facts");
  EXPECT_EQ(id_names[3], "main");
  EXPECT_THAT(id["stack"][1]["instruction"].get<std::string>(), HasSubstr("<open@plt>"));
}

// Two libraries of one layout are loaded in turn at the same address: the
// frame in the second is placed in the second, although the kernel had just
// placed a frame at that address in the first (mappings it remembers are
// forgotten when the first is unmapped).
TEST(Stacks, FramesFollowWhatIsMappedNow) {
  REQUIRE_BPF();
  TempDir d;
  RunSpec spec;
  spec.command = {kSamples + "/remap_asker"};
  RunResult r = run_agenttrace(spec, d);
  ASSERT_EQ(r.exit_code, 0) << "exit 3: the second library was not loaded where the first was\n" << r.err;
  Json report = analyze(r.trace_path);
  auto a = symbols(fact(report, "HTTPS_PROXY")["stack"]);
  auto b = symbols(fact(report, "TZ")["stack"]);
  ASSERT_GE(a.size(), 2u);
  ASSERT_GE(b.size(), 2u);
  EXPECT_EQ(a[0], "ask_a");
  EXPECT_EQ(b[0], "ask_b");
  EXPECT_EQ(a[1], "ask");
  EXPECT_EQ(b[1], "ask");
}

// A trace read elsewhere names nothing without the binaries; --binaries
// finds them by build id, and --capture-symbols puts the names in the trace.
TEST(Stacks, OfflineNeedBinariesOrCapturedSymbols) {
  REQUIRE_BPF();
  TempDir d;
  std::string program = d.file("agent_copy");
  fs::copy_file(kSamples + "/who_asked", program);
  for (bool capture : {false, true}) {
    RunSpec spec;
    spec.command = {program};
    if (capture) spec.agenttrace_args = {"--capture-symbols"};
    TempDir run_dir;
    RunResult r = run_agenttrace(spec, run_dir);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    std::string trace = d.file(capture ? "captured.atrace" : "plain.atrace");
    fs::copy_file(r.trace_path, trace);
    // The binary leaves this machine's view, as on another machine.
    fs::create_directories(d.file("bin"));
    fs::rename(program, d.file("bin/agent_copy"));
    Json offline = analyze(trace);
    std::string first = offline.is_null() ? "" : symbols(fact(offline, "HTTPS_PROXY")["stack"])[0];
    if (capture) {
      EXPECT_EQ(first, "read_proxy_setting");
    } else {
      EXPECT_EQ(first, "?");
      EXPECT_THAT(fact(offline, "HTTPS_PROXY")["stack"][0]["frame"].get<std::string>(), HasSubstr("(agent_copy+0x"));
      Json with = analyze(trace, "--binaries " + d.file("bin"));
      EXPECT_EQ(symbols(fact(with, "HTTPS_PROXY")["stack"])[0], "read_proxy_setting");
    }
    fs::rename(d.file("bin/agent_copy"), program);
  }
}

// With --jit-symbols, Node.js writes a perf map and the JavaScript function
// that read the proxy variable is named in the stack.
TEST(Stacks, JitSymbolsNameTheJavaScriptFunction) {
  REQUIRE_BPF();
  if (system("command -v node >/dev/null 2>&1") != 0) GTEST_SKIP() << "node is not installed";
  TempDir d;
  RunSpec spec;
  spec.command = {"/usr/bin/env", "node", kSamples + "/incident/jit_env.js"};
  spec.agenttrace_args = {"--jit-symbols"};
  spec.cwd = d.path();
  RunResult r = run_agenttrace(spec, d);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  Json report = analyze(r.trace_path);
  Json proxy = fact(report, "HTTPS_PROXY");
  ASSERT_TRUE(proxy.contains("stack")) << proxy.dump();
  std::vector<std::string> js;
  for (const auto& f : proxy["stack"])
    if (f.value("jit", false)) js.push_back(f["symbol"]);
  ASSERT_GE(js.size(), 2u) << proxy["stack"].dump(1);
  EXPECT_THAT(js[0], StartsWith("JS:~readProxySetting " + kSamples + "/incident/jit_env.js:3:"));
  EXPECT_THAT(js[1], StartsWith("JS:~collectHostFacts " + kSamples + "/incident/jit_env.js:7:"));
  // agenttrace removes the perf maps it asked for, and V8's isolate logs
  // that come with them in the working directory.
  for (const auto& e : r.events) {
    if (e["kind"] == "exec") {
      EXPECT_FALSE(fs::exists("/tmp/perf-" + std::to_string(e["pid"].get<int>()) + ".map"));
    }
  }
  for (const auto& entry : fs::directory_iterator(d.path()))
    EXPECT_THAT(entry.path().filename().string(), Not(StartsWith("isolate-"))) << "left in the working directory";
}

// Bun writes no perf map; with --jit-symbols agenttrace asks JavaScriptCore
// for its JITDump, which names the code of its optimizing tiers: a function
// hot enough to be compiled is named in the stacks of the lookups it makes.
// The dump is removed afterwards, as perf maps are.
TEST(Stacks, BunJitDumpNamesHotJavaScriptFunctions) {
  REQUIRE_BPF();
  const char* bun = getenv("AGENTTRACE_BUN");
  if (!bun || !*bun) GTEST_SKIP() << "AGENTTRACE_BUN is not set (scripts/test.sh fetches Bun with scripts/fetch-bun.sh)";
  TempDir d;
  const std::string script = d.file("hot.js");
  std::ofstream(script) << "function readZone(i) { return Bun.env.TZ ? i : i + 1; }\n"
                           "let t = 0;\nfor (let j = 0; j < 20000; j++) t += readZone(j);\nconsole.log(t);\n";
  chmod(d.path().c_str(), 0755);
  chmod(script.c_str(), 0644);
  RunSpec spec;
  spec.command = {bun, script};
  spec.agenttrace_args = {"--jit-symbols"};
  spec.cwd = d.path();
  RunResult r = run_agenttrace(spec, d);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "200010000\n");
  size_t reads = 0, named = 0;
  std::map<std::string, size_t> jit_names;  // what the JIT frames were called, for a failure's message
  for (const auto& e : r.events) {
    if (e["kind"] != "getenv" || e.value("function", "") != "process.env" || e["name"] != "TZ") continue;
    ++reads;
    bool in_function = false;
    for (const auto& f : e["stack"]["frames"]) {
      if (!f.value("jit", false)) continue;
      const std::string symbol = f.value("symbol", "");
      ++jit_names[symbol.substr(0, symbol.find('#'))];
      // readZone's own code, or the script's loop with readZone inlined
      // into it: which one JSC's concurrent compilers give is a race.
      for (const char* tier : {"JSC-Baseline: ", "JSC-DFG: ", "JSC-FTL: "})
        if (symbol.rfind(std::string(tier) + "readZone#", 0) == 0 || symbol.rfind(tier + script + "#", 0) == 0)
          in_function = true;
    }
    named += in_function;
  }
  std::string seen;
  for (const auto& [name, n] : jit_names) seen += "\n  " + std::to_string(n) + " " + name;
  // Bun.env.TZ calls the getter on (nearly) every read; the first reads run
  // in the interpreter, and once the code is compiled its frames are named.
  EXPECT_GT(reads, 1000u) << r.trailer.dump();
  EXPECT_GT(named, 100u) << reads << " reads; JIT frames:" << seen;
  std::set<std::string> pids;
  for (const auto& e : r.events)
    if (e["kind"] == "exec") pids.insert(std::to_string(e["pid"].get<int>()));
  ASSERT_FALSE(pids.empty());
  for (const auto& entry : fs::directory_iterator("/tmp")) {
    std::string name = entry.path().filename().string();
    if (name.rfind("jit-", 0) != 0 || name.size() < 10 || name.compare(name.size() - 5, 5, ".dump") != 0) continue;
    std::string pid = name.substr(name.rfind('-', name.size() - 6) + 1);
    pid = pid.substr(0, pid.size() - 5);
    EXPECT_EQ(pids.count(pid), 0u) << name << " was left in /tmp";
  }
}

}  // namespace
}  // namespace agenttrace::testing
