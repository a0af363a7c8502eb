// BPF tests: the real agenttrace, as root, on the samples; each asserts the
// exact events the sample causes.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "../support/agenttrace_runner.h"

namespace agenttrace::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;

const std::string kSamples = SAMPLES_DIR;
const std::string kSamplesSource = SAMPLES_SOURCE_DIR;

RunResult run(std::vector<std::string> command, std::vector<std::string> args = {},
              std::vector<std::string> env = {}) {
  static std::vector<std::unique_ptr<TempDir>> dirs;  // keep files for failure messages
  dirs.push_back(std::make_unique<TempDir>());
  RunSpec spec;
  spec.command = std::move(command);
  spec.agenttrace_args = std::move(args);
  spec.env = std::move(env);
  return run_agenttrace(spec, *dirs.back());
}

TEST(Tracing, FingerprintSampleAndTheProgramItStarts) {
  REQUIRE_BPF();
  RunResult r = run({kSamples + "/fingerprint", "7"});
  EXPECT_EQ(r.exit_code, 7) << r.err;
  expect_no_losses(r);
  ASSERT_FALSE(r.events.empty()) << r.err;
  int root = r.header["root_pid"];
  EXPECT_EQ(r.events[0]["kind"], "exec");
  EXPECT_EQ(r.events[0]["pid"], root);

  EXPECT_THAT(briefs(without_loader(of_pid(r.events, root))),
              ElementsAre("exec " + kSamples + "/fingerprint [" + kSamples + "/fingerprint 7]",
                          "getenv TZ found=false", "getenv LANG found=true",
                          "getenv HTTPS_PROXY found=false", "open /etc/localtime = fd",
                          "open /etc/machine-id = fd", "open /etc/os-release = fd", "uname",
                          "readlink /proc/self/exe -> " + kSamples + "/fingerprint", "fork",
                          "exit code=7"));

  auto forks = of_kind(of_pid(r.events, root), "fork");
  ASSERT_EQ(forks.size(), 1u);
  int child = forks[0]["child_pid"];
  EXPECT_EQ(forks[0]["thread"], false);
  auto child_events = without_loader(of_pid(r.events, child));
  EXPECT_THAT(briefs(child_events),
              ElementsAre("exec " + kSamples + "/fingerprint-helper [fingerprint-helper --from-parent]",
                          "getenv TZ found=false", "getenv LANG found=true",
                          "getenv HTTPS_PROXY found=false", "open /etc/localtime = fd",
                          "open /etc/machine-id = fd", "open /etc/os-release = fd", "uname",
                          "exit code=0"));
  for (const auto& e : child_events) {
    EXPECT_EQ(e["ppid"], root);
    EXPECT_EQ(e["tid"], child);
  }
  EXPECT_EQ(child_events.back()["comm"], "fingerprint-hel");
  // Every event of the run belongs to one of the two processes.
  for (const auto& e : r.events) EXPECT_TRUE(e["pid"] == root || e["pid"] == child) << e.dump();
  // Ids count up from 1 without gaps.
  for (size_t i = 0; i < r.events.size(); ++i) EXPECT_EQ(r.events[i]["id"], i + 1);
  EXPECT_THAT(r.out, HasSubstr("opened /etc/machine-id: yes"));
  EXPECT_THAT(r.err, HasSubstr("agenttrace summary:"));
  EXPECT_THAT(r.err, HasSubstr("2 processes"));
}

TEST(Tracing, EveryThreadIsFollowed) {
  REQUIRE_BPF();
  auto env = base_env();
  env.push_back("AGENTTRACE_THREAD_2=set");
  RunResult r = run({kSamples + "/threads_getenv"}, {}, env);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  expect_no_losses(r);
  int root = r.header["root_pid"];
  auto threads = of_kind(r.events, "fork");
  ASSERT_EQ(threads.size(), 4u);
  std::set<int> thread_ids;
  for (const auto& t : threads) {
    EXPECT_EQ(t["thread"], true);
    EXPECT_EQ(t["child_pid"], root);
    thread_ids.insert(t["child_tid"].get<int>());
  }
  std::vector<Json> lookups;
  for (const auto& e : of_kind(r.events, "getenv"))
    if (e["name"].get<std::string>().rfind("AGENTTRACE_THREAD_", 0) == 0) lookups.push_back(e);
  ASSERT_EQ(lookups.size(), 4u);
  std::set<int> seen_tids;
  for (const auto& g : lookups) {
    std::string name = g["name"];
    char n = name.back();
    EXPECT_EQ(g["comm"], std::string("worker-") + n) << "the thread's own name";
    EXPECT_EQ(g["found"], n == '2');
    EXPECT_EQ(g["pid"], root);
    EXPECT_TRUE(thread_ids.count(g["tid"].get<int>())) << g.dump();
    seen_tids.insert(g["tid"].get<int>());
  }
  EXPECT_EQ(seen_tids, thread_ids);
}

TEST(Tracing, RawSyscallOpensGetAbsolutePaths) {
  REQUIRE_BPF();
  RunResult r = run({kSamples + "/raw_open"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  expect_no_losses(r);
  std::vector<Json> opens;
  for (const auto& e : without_loader(of_kind(r.events, "open"))) opens.push_back(e);
  ASSERT_EQ(opens.size(), 6u) << r.err;
  auto line = [](const Json& e) {
    std::string s = e["syscall"].get<std::string>() + " " + e["path"].get<std::string>();
    if (e.contains("requested")) s += " (" + e["requested"].get<std::string>() + ")";
    s += e["result"].get<int64_t>() >= 0 ? " ok" : " " + e["error"].get<std::string>();
    return s;
  };
  std::vector<std::string> got;
  for (const auto& o : opens) got.push_back(line(o));
  EXPECT_THAT(got, ElementsAre("openat /etc/hostname ok", "open /etc/passwd ok",
                               "open /usr/share/zoneinfo/UTC (zoneinfo/UTC) ok",
                               "openat /etc ok", "openat /etc/os-release (../etc/./os-release) ok",
                               "open /nonexistent/agenttrace ENOENT"));
  EXPECT_EQ(opens[4]["dirfd"], opens[3]["result"]);
  EXPECT_EQ(opens[3]["flags"], "O_RDONLY|O_DIRECTORY");
}

TEST(Tracing, ShellWithChildAndExitStatus) {
  REQUIRE_BPF();
  RunResult r = run({"bash", "-c", "cat /etc/machine-id; exit 7"});
  EXPECT_EQ(r.exit_code, 7) << r.err;
  expect_no_losses(r);
  auto execs = of_kind(r.events, "exec");
  ASSERT_EQ(execs.size(), 2u);
  EXPECT_EQ(execs[0]["path"], "/usr/bin/bash");
  EXPECT_EQ(execs[1]["path"], "/usr/bin/cat");
  EXPECT_EQ(execs[1]["argv"], Json::array({"cat", "/etc/machine-id"}));
  int cat = execs[1]["pid"];
  EXPECT_EQ(execs[1]["ppid"], execs[0]["pid"]);
  auto cat_opens = of_kind(of_pid(r.events, cat), "open");
  bool machine_id = false;
  for (const auto& o : cat_opens) machine_id |= o["path"] == "/etc/machine-id" && o["result"] >= 0;
  EXPECT_TRUE(machine_id);
  auto exits = of_kind(r.events, "exit");
  ASSERT_EQ(exits.size(), 2u);
  EXPECT_EQ(exits[0]["pid"], cat);
  EXPECT_EQ(exits[0]["code"], 0);
  EXPECT_EQ(exits[1]["code"], 7);
  EXPECT_EQ(r.trailer["exit_status"], 7 << 8);
}

TEST(Tracing, KilledCommandGives128PlusSignal) {
  REQUIRE_BPF();
  RunResult r = run({"sh", "-c", "kill -TERM $$"});
  EXPECT_EQ(r.exit_code, 128 + SIGTERM) << r.err;
  auto exits = of_kind(r.events, "exit");
  ASSERT_EQ(exits.size(), 1u);
  EXPECT_EQ(exits[0]["signal"], SIGTERM);
  EXPECT_EQ(exits[0]["signal_name"], "SIGTERM");
}

TEST(Tracing, CommandNotFound) {
  REQUIRE_BPF();
  TempDir dir;
  RunSpec spec;
  spec.command = {"no-such-command-for-agenttrace"};
  RunResult r = run_agenttrace(spec, dir);
  EXPECT_EQ(r.exit_code, 127);
  EXPECT_EQ(r.err, "agenttrace: cannot start no-such-command-for-agenttrace: command not found\n");
  EXPECT_FALSE(std::filesystem::exists(r.trace_path));
}

TEST(Tracing, SigtermToAgenttraceReachesTheCommand) {
  REQUIRE_BPF();
  TempDir dir;
  std::string ready = dir.file("ready");
  RunSpec spec;
  spec.command = {"sh", "-c",
                  "trap 'exit 42' TERM; touch " + ready + "; for i in $(seq 1 600); do sleep 0.05; done; exit 1"};
  spec.while_running = [&](pid_t agenttrace) {
    for (int i = 0; i < 1000 && !std::filesystem::exists(ready); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    kill(agenttrace, SIGTERM);
  };
  RunResult r = run_agenttrace(spec, dir);
  EXPECT_EQ(r.exit_code, 42) << r.err;
  auto exits = of_kind(r.events, "exit");
  ASSERT_FALSE(exits.empty());
  EXPECT_EQ(exits.back()["code"], 42);
}

TEST(Tracing, StaticBinaryWithSymbolsIsProbedBeforeItStarts) {
  REQUIRE_BPF();
  auto env = base_env();
  env.push_back("TZ=Europe/Berlin");
  RunResult r = run({kSamples + "/static_getenv"}, {}, env);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  auto cov = of_kind(r.events, "coverage");
  ASSERT_EQ(cov.size(), 1u);
  EXPECT_EQ(cov[0]["state"], "observed");
  // The static C library's start-up asks for its LD_* settings first; then
  // the program's own two lookups.
  auto lookups = briefs(of_kind(r.events, "getenv"));
  ASSERT_GE(lookups.size(), 2u);
  EXPECT_THAT(std::vector<std::string>(lookups.end() - 2, lookups.end()),
              ElementsAre("getenv TZ found=true", "getenv HTTPS_PROXY found=false"));
  for (size_t i = 0; i + 2 < lookups.size(); ++i) EXPECT_THAT(lookups[i], ::testing::StartsWith("getenv LD_"));
}

TEST(Tracing, StrippedStaticBinaryIsANamedGap) {
  REQUIRE_BPF();
  RunResult r = run({kSamples + "/static_getenv_stripped"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  auto cov = of_kind(r.events, "coverage");
  ASSERT_EQ(cov.size(), 1u);
  EXPECT_EQ(cov[0]["state"], "gap");
  EXPECT_THAT(cov[0]["detail"].get<std::string>(), HasSubstr("without a getenv symbol"));
  EXPECT_TRUE(of_kind(r.events, "getenv").empty());
  EXPECT_THAT(r.err, HasSubstr("coverage gaps (1)"));
}

// Bun's process.env is served from a copy of the environment: its reads are
// seen at Bun__getEnvValue, found by signature (collector/bun_env_signature.h).
// A variable set at start is seen at its first read; an unset name has no
// getter to call and is not seen, which the coverage says ("partial").
TEST(Tracing, BunProcessEnvReadsAreSeen) {
  REQUIRE_BPF();
  const char* bun = getenv("AGENTTRACE_BUN");
  if (!bun || !*bun) GTEST_SKIP() << "AGENTTRACE_BUN is not set (scripts/test.sh fetches Bun with scripts/fetch-bun.sh)";
  auto env = base_env();
  env.push_back("HOME=/tmp/agenttrace-bun-home");
  const std::string script =
      "process.env.AGENTTRACE_PROBE_X; process.env.HOME; process.env.HOME; Bun.env.TZ";
  auto js_reads = [](const RunResult& r) {
    std::vector<Json> out;
    for (const auto& e : of_kind(r.events, "getenv"))
      if (e["function"] == "process.env") out.push_back(e);
    return out;
  };
  RunResult r = run({bun, "-e", script}, {}, env);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  auto reads = js_reads(r);
  // HOME once (the object keeps it), TZ (its getter exists unset) not found,
  // AGENTTRACE_PROBE_X not at all.
  ASSERT_EQ(reads.size(), 2u) << r.err;
  EXPECT_EQ(reads[0]["name"], "HOME");
  EXPECT_EQ(reads[0]["found"], true);
  EXPECT_FALSE(reads[0].contains("value"));
  EXPECT_EQ(reads[1]["name"], "TZ");
  EXPECT_EQ(reads[1]["found"], false);
  for (const auto& e : of_kind(r.events, "getenv")) EXPECT_NE(e["name"], "AGENTTRACE_PROBE_X");
  bool partial = false;
  for (const auto& c : of_kind(r.events, "coverage"))
    if (c["signal"] == "getenv" && c["state"] == "partial" &&
        c["detail"].get<std::string>().find("probed at Bun__getEnvValue (located by signature)") != std::string::npos)
      partial = true;
  EXPECT_TRUE(partial) << r.err;

  RunResult shown = run({bun, "-e", script}, {"--show-values"}, env);
  EXPECT_EQ(shown.exit_code, 0) << shown.err;
  auto valued = js_reads(shown);
  ASSERT_EQ(valued.size(), 2u) << shown.err;
  EXPECT_EQ(valued[0]["name"], "HOME");
  EXPECT_EQ(valued[0]["value"], "/tmp/agenttrace-bun-home");
  EXPECT_FALSE(valued[1].contains("value"));
}

// CPython, Perl and Java copy the environment at start and read the copy:
// the program's own read of a variable calls no getenv and is not seen. The
// coverage of the interpreter says so ("partial", naming the runtime), and
// the end report says what to run to see what the program does with the
// variables that matter, filled in with the traced command line.
TEST(Tracing, RuntimesThatCopyTheEnvironmentArePartialAndSayWhatToRunNext) {
  REQUIRE_BPF();
  TempDir src;
  const std::string java_source = src.file("Probe.java");
  {
    std::ofstream(java_source) << "public class Probe { public static void main(String[] a) {\n"
                                  "  System.out.println(System.getenv(\"AGENTTRACE_PROBE_VAR\") != null ? \"True\" : \"False\"); } }\n";
  }
  chmod(src.path().c_str(), 0755);
  chmod(java_source.c_str(), 0644);
  struct Case {
    std::vector<std::string> command;
    std::string exe_prefix, detail_prefix, quoted;
  };
  const std::vector<Case> cases = {
      {{"/usr/bin/python3", "-c", "import os; print(os.environ.get('AGENTTRACE_PROBE_VAR') is not None)"},
       "/usr/bin/python3", "CPython: os.environ and os.getenv read a copy",
       "/usr/bin/python3 -c 'import os; print(os.environ.get('\\''AGENTTRACE_PROBE_VAR'\\'') is not None)'"},
      {{"/usr/bin/perl", "-e", "print defined($ENV{AGENTTRACE_PROBE_VAR}) ? qq(True\\n) : qq(False\\n)"},
       "/usr/bin/perl", "Perl: %ENV is a copy of the environment made at start",
       "/usr/bin/perl -e 'print defined($ENV{AGENTTRACE_PROBE_VAR}) ? qq(True\\n) : qq(False\\n)'"},
      {{"/usr/bin/java", java_source}, "/usr/lib/jvm/", "Java: System.getenv() reads a copy",
       "/usr/bin/java " + java_source},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.command[0]);
    ASSERT_EQ(access(c.command[0].c_str(), X_OK), 0) << c.command[0] << " is missing (scripts/install-deps.sh installs it)";
    auto env = base_env();
    env.push_back("AGENTTRACE_PROBE_VAR=1");
    RunResult r = run(c.command, {}, env);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_THAT(r.out, HasSubstr("True")) << r.err;  // the program did read it
    for (const auto& e : of_kind(r.events, "getenv")) EXPECT_NE(e["name"], "AGENTTRACE_PROBE_VAR");
    // The interpreter's own exec: one coverage event, partial, naming the runtime.
    const int root = r.header["root_pid"];
    std::vector<Json> cov;
    for (const auto& e : of_pid(r.events, root))
      if (e["kind"] == "coverage" && e["signal"] == "getenv") cov.push_back(e);
    ASSERT_EQ(cov.size(), 1u) << r.err;
    EXPECT_EQ(cov[0]["state"], "partial");
    EXPECT_THAT(cov[0]["detail"].get<std::string>(), ::testing::StartsWith(c.detail_prefix));
    EXPECT_THAT(cov[0]["object"].get<std::string>(), ::testing::StartsWith(c.exe_prefix));
    EXPECT_THAT(r.err, HasSubstr("confirm with: agenttrace diff --vary TZ=UTC,Asia/Tokyo -- " + c.quoted + "\n"));
    EXPECT_THAT(r.err, HasSubstr("confirm with: agenttrace sandbox --canary ANTHROPIC_BASE_URL --canary OPENAI_BASE_URL "
                                 "--canary HTTPS_PROXY -- " + c.quoted + "\n"));
  }
}

// A single-file program made by `bun build --compile` (stripped, like the
// native Claude Code CLI) from samples/bun/env_reader.js, with each Bun of
// AGENTTRACE_BUNS (scripts/fetch-bun.sh DIR all): its process.env and Bun.env
// reads are seen by name at Bun__getEnvValue, values absent, and reading the
// whole object ({...process.env}) shows every variable set at start.
TEST(Tracing, BunCompiledSampleReadsAreSeen) {
  REQUIRE_BPF();
  const char* list = getenv("AGENTTRACE_BUNS");
  if (!list || !*list)
    GTEST_SKIP() << "AGENTTRACE_BUNS is not set (scripts/test.sh fetches every Bun line with scripts/fetch-bun.sh)";
  std::vector<std::string> buns;
  std::istringstream paths(list);
  for (std::string path; std::getline(paths, path, ':');) buns.push_back(path);
  ASSERT_GE(buns.size(), 3u) << "the test wants at least three Bun versions";
  TempDir dir;
  for (const std::string& bun : buns) {
    SCOPED_TRACE(bun);
    const std::string version_file = dir.file("version");
    ASSERT_EQ(system(("'" + bun + "' --version > '" + version_file + "'").c_str()), 0);
    std::string version;
    std::getline(std::ifstream(version_file), version);
    SCOPED_TRACE("Bun " + version);
    const std::string exe = dir.file("env_reader-" + version);
    ASSERT_EQ(system(("cd '" + dir.path() + "' && '" + bun + "' build --compile --outfile '" + exe + "' '" +
                      kSamplesSource + "/bun/env_reader.js' >/dev/null")
                         .c_str()),
              0);
    auto env = base_env();
    env.push_back("ANTHROPIC_BASE_URL=https://gateway.invalid");
    env.push_back("HTTPS_PROXY=http://proxy.invalid:3128");
    RunResult r = run({exe}, {}, env);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_THAT(r.out, HasSubstr("{\"ANTHROPIC_BASE_URL\":true,\"HTTPS_PROXY\":true,\"TZ\":false,\"names\":5,"
                                 "\"copied\":5}"));
    std::vector<std::string> reads;
    for (const auto& e : of_kind(r.events, "getenv")) {
      if (e["function"] != "process.env") continue;
      EXPECT_FALSE(e.contains("value")) << e.dump();
      reads.push_back(e["name"].get<std::string>() + (e["found"] == true ? " set" : " unset"));
    }
    // The three named reads, then the copy reads each variable not read yet.
    // Bun 1.3 reads the proxy variables through a getter of their own that
    // does not call Bun__getEnvValue and keeps no value: it is probed too,
    // and seen at every read, so HTTPS_PROXY again in the copy.
    const bool proxy_getter = version.rfind("1.3.", 0) == 0;
    std::vector<std::string> want = {"ANTHROPIC_BASE_URL set", "HTTPS_PROXY set", "TZ unset", "PATH set",
                                     "HOME set", "LANG set"};
    if (proxy_getter) want.push_back("HTTPS_PROXY set");
    EXPECT_EQ(reads, want);
    std::vector<Json> cov;
    for (const auto& c : of_kind(r.events, "coverage"))
      if (c["signal"] == "getenv") cov.push_back(c);
    ASSERT_EQ(cov.size(), 1u) << r.err;
    EXPECT_EQ(cov[0]["state"], "partial");
    const std::string detail = cov[0]["detail"];
    EXPECT_THAT(detail, HasSubstr("probed at Bun__getEnvValue (located by signature)"));
    EXPECT_THAT(detail, HasSubstr("Object.keys(process.env) lists the names"));
    EXPECT_EQ(detail.find("1 process.env getter that looks variables up without calling it") != std::string::npos,
              proxy_getter)
        << detail;
    EXPECT_EQ(detail.find("making the same calls it makes"), std::string::npos) << "a getter not probed: " << detail;
  }
}

TEST(Tracing, ValuesOnlyWithShowValues) {
  REQUIRE_BPF();
  auto env = base_env();
  env.push_back("TZ=UTC");
  RunResult hidden = run({kSamples + "/fingerprint-helper"}, {}, env);
  auto tz = of_kind(hidden.events, "getenv");
  ASSERT_FALSE(tz.empty());
  EXPECT_FALSE(tz[0].contains("value"));
  EXPECT_EQ(hidden.header["values_captured"], false);

  RunResult shown = run({kSamples + "/fingerprint-helper"}, {"--show-values"}, env);
  auto lookups = of_kind(shown.events, "getenv");
  ASSERT_EQ(lookups.size(), 3u);
  EXPECT_EQ(lookups[0]["name"], "TZ");
  EXPECT_EQ(lookups[0]["value"], "UTC");
  EXPECT_EQ(lookups[1]["value"], "C.UTF-8");
  EXPECT_FALSE(lookups[2].contains("value"));  // HTTPS_PROXY is unset
}

TEST(Tracing, TraceFileDumpsToTheSameJson) {
  REQUIRE_BPF();
  TempDir dir;
  RunSpec spec;
  spec.command = {kSamples + "/fingerprint"};
  RunResult r = run_agenttrace(spec, dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  struct stat st;
  ASSERT_EQ(stat(r.trace_path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  std::string cmd = std::string(AGENTTRACE_BIN) + " dump " + r.trace_path + " > " + dir.file("dump.json");
  ASSERT_EQ(system(cmd.c_str()), 0);
  std::ifstream a(dir.file("events.json")), b(dir.file("dump.json"));
  std::string la, lb;
  size_t lines = 0;
  while (std::getline(a, la)) {
    ASSERT_TRUE(std::getline(b, lb)) << "dump ends early at line " << lines;
    EXPECT_EQ(la, lb);
    ++lines;
  }
  EXPECT_FALSE(std::getline(b, lb));
  EXPECT_EQ(lines, r.events.size() + 2);  // header and trailer
}

TEST(Tracing, NodeTimeZoneLookups) {
  REQUIRE_BPF();
  if (system("command -v node >/dev/null 2>&1") != 0) GTEST_SKIP() << "node is not installed";
  const std::string js = "console.log(Intl.DateTimeFormat().resolvedOptions().timeZone)";
  RunResult unset = run({"node", "-e", js});
  ASSERT_EQ(unset.exit_code, 0) << unset.err;
  expect_no_losses(unset);
  bool tz_lookup = false, localtime = false;
  for (const auto& e : unset.events) {
    if (e["kind"] == "getenv" && e["name"] == "TZ" && e["found"] == false) tz_lookup = true;
    if ((e["kind"] == "open" || e["kind"] == "readlink") && e["path"] == "/etc/localtime") localtime = true;
  }
  EXPECT_TRUE(tz_lookup);
  EXPECT_TRUE(localtime);

  auto env = base_env();
  env.push_back("TZ=Asia/Shanghai");
  RunResult set = run({"node", "-e", js}, {}, env);
  ASSERT_EQ(set.exit_code, 0) << set.err;
  EXPECT_EQ(set.out, "Asia/Shanghai\n");
  bool zone_file = false, tz_found = false;
  for (const auto& e : set.events) {
    if (e["kind"] == "open" && e["path"] == "/usr/share/zoneinfo/Asia/Shanghai" && e["result"] >= 0) zone_file = true;
    if (e["kind"] == "getenv" && e["name"] == "TZ" && e["found"] == true) tz_found = true;
  }
  EXPECT_TRUE(zone_file);
  EXPECT_TRUE(tz_found);
  EXPECT_THAT(set.err, HasSubstr("read /usr/share/zoneinfo/Asia/Shanghai"));
}

TEST(Tracing, BadUsageIsOneSentence) {
  // Needs no BPF: these fail before anything is loaded.
  TempDir dir;
  std::string out = dir.file("out");
  auto run_cli = [&](const std::string& args) {
    int rc = system((std::string(AGENTTRACE_BIN) + " " + args + " > " + out + " 2>&1").c_str());
    std::ifstream in(out);
    std::string text((std::istreambuf_iterator<char>(in)), {});
    return std::make_pair(WEXITSTATUS(rc), text);
  };
  auto [rc1, t1] = run_cli("--no-such-flag -- true");
  EXPECT_EQ(rc1, 125);
  EXPECT_EQ(t1, "agenttrace: unknown option --no-such-flag (see agenttrace --help)\n");
  auto [rc2, t2] = run_cli("--ringbuf-size 3000 -- true");
  EXPECT_EQ(rc2, 125);
  EXPECT_THAT(t2, HasSubstr("--ringbuf-size must be a power of two"));
  auto [rc3, t3] = run_cli("");
  EXPECT_EQ(rc3, 125);
  EXPECT_THAT(t3, HasSubstr("no command to trace"));
  auto [rc4, t4] = run_cli("dump /etc/hostname");
  EXPECT_EQ(rc4, 125);
  EXPECT_EQ(t4, "agenttrace: /etc/hostname is not an agenttrace trace file\n");
  auto [rc5, t5] = run_cli("dump");
  EXPECT_EQ(rc5, 125);
  EXPECT_THAT(t5, HasSubstr("trace is required"));
}

}  // namespace
}  // namespace agenttrace::testing

namespace agenttrace::testing {
namespace {

// A file name built to erase and forge report lines (ESC [2K, a carriage
// return, an OSC title ended by BEL, the C1 CSI U+009B, a newline, DEL) is
// printed escaped by -v, the end report, analyze and dump, and kept exact in
// the trace.
TEST(Tracing, AFileNamedWithTerminalEscapesPrintsEscaped) {
  REQUIRE_BPF();
  TempDir files;
  const std::string name = "a\x1b[2K\rb\x1b]0;pwned\x07" "c\xc2\x9b" "1A\nd\x7f" "e";
  const std::string escaped = "a\\x1b[2K\\rb\\x1b]0;pwned\\x07c\\u009b1A\\nd\\x7fe";
  const std::string path = files.file(name), shown = files.path() + "/" + escaped;
  std::ofstream(path) << "contents\n";
  chmod(files.path().c_str(), 0755);
  chmod(path.c_str(), 0644);
  auto no_controls = [](const std::string& text) {
    for (unsigned char c : text)
      if ((c < 0x20 && c != '\n') || c == 0x7f) return false;
    return text.find("\xc2\x9b") == std::string::npos;
  };

  TempDir dir;
  RunSpec spec;
  spec.command = {"/bin/cat", path};
  spec.agenttrace_args = {"-v"};
  spec.env = base_env();
  RunResult r = run_agenttrace(spec, dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "contents\n");
  // The trace keeps the name exactly.
  std::vector<std::string> opened;
  for (const auto& e : of_kind(r.events, "open"))
    if (e["path"] == path) opened.push_back(e["path"]);
  EXPECT_EQ(opened, std::vector<std::string>{path});
  // -v: the exec and the open, each on its own line, escaped.
  EXPECT_THAT(r.err, HasSubstr(" exec /bin/cat [/bin/cat '" + shown + "']\n"));
  EXPECT_THAT(r.err, HasSubstr(" open " + shown + " O_RDONLY = "));
  // The end report: the command line and the file read.
  size_t summary = r.err.find("agenttrace summary: ");
  ASSERT_NE(summary, std::string::npos) << r.err;
  EXPECT_EQ(r.err.substr(summary, r.err.find('\n', summary) + 1 - summary),
            "agenttrace summary: /bin/cat '" + shown + "'\n");
  EXPECT_THAT(r.err.substr(summary), HasSubstr(shown));
  EXPECT_TRUE(no_controls(r.err)) << r.err;

  CliResult analyze = run_cli({"analyze", r.trace_path}, dir);
  EXPECT_EQ(analyze.exit_code, 0) << analyze.err;
  EXPECT_EQ(analyze.out.substr(0, analyze.out.find('\n') + 1), "agenttrace findings for /bin/cat '" + shown + "'\n");
  EXPECT_TRUE(no_controls(analyze.out)) << analyze.out;

  CliResult dump = run_cli({"dump", r.trace_path}, dir);
  EXPECT_EQ(dump.exit_code, 0) << dump.err;
  const std::string json_name = "a\\u001b[2K\\rb\\u001b]0;pwned\\u0007c\\u009b1A\\nd\\u007fe";
  EXPECT_THAT(dump.out, HasSubstr("\"path\":\"" + files.path() + "/" + json_name + "\""));
  EXPECT_TRUE(no_controls(dump.out));
}

}  // namespace
}  // namespace agenttrace::testing
