// The fleet export with the real binary, as root: a traced agent streamed to
// JetStream gives the findings of its trace file; and two hosts (two
// agenttrace processes with different host names) stream into one
// JetStream through a server restart, and `collect` reports both.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <regex>
#include <map>
#include <set>
#include <thread>

#include "../support/agenttrace_runner.h"
#include "../support/nats_server.h"
#include "../support/spawn.h"
#include "../support/standin_process.h"

namespace agenttrace::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

const std::string kSamples = SAMPLES_DIR;

#define REQUIRE_NODE_AND_NATS()                                                                      \
  do {                                                                                               \
    if (nats_server_binary().empty()) GTEST_SKIP() << "nats-server is not installed";                \
    if (system("command -v node >/dev/null 2>&1") != 0) GTEST_SKIP() << "node is not installed";    \
  } while (0)


// `agenttrace ARGS -o FILE` and what it wrote there, or "" when it failed.
std::string report(const std::string& args, const TempDir& dir, const std::string& name) {
  std::string out = dir.file(name);
  std::string cmd = std::string(AGENTTRACE_BIN) + " " + args + " -o " + out + " 2>" + dir.file(name + ".err");
  int rc = system(cmd.c_str());
  EXPECT_EQ(rc, 0) << cmd << "\n" << slurp(dir.file(name + ".err"));
  return rc == 0 ? slurp(out) : "";
}

// The LLM API stand-in the sample agents talk to, on loopback.
struct StandIn {
  StandInProcess process{180};
  int port = process.http_port();
};

std::vector<std::string> agent_env(int standin_port) {
  std::vector<std::string> env = base_env();
  env.push_back("TZ=Asia/Shanghai");
  env.push_back("ANTHROPIC_BASE_URL=http://127.0.0.1:" + std::to_string(standin_port));
  env.push_back("ANTHROPIC_API_KEY=sk-sample-0123456789");
  return env;
}

NatsServerOptions standalone(const std::string& dir) {
  NatsServerOptions o;
  o.dir = dir;
  return o;
}

std::vector<std::string> rules_of(const Json& findings) {
  std::vector<std::string> out;
  for (const auto& f : findings) out.push_back(f["rule"].get<std::string>() + ":" + f["severity"].get<std::string>());
  return out;
}

// "N of N messages acknowledged" from the end-of-run summary; -1 when absent.
long acknowledged(const std::string& err, long* offered) {
  std::smatch m;
  if (!std::regex_search(err, m, std::regex("(\\d+) of (\\d+) messages acknowledged"))) return -1;
  *offered = std::stol(m[2]);
  return std::stol(m[1]);
}

TEST(FleetBpf, ATracedAgentThroughTheStreamGivesTheSameFindingsAsItsTraceFile) {
  REQUIRE_BPF();
  REQUIRE_NODE_AND_NATS();
  TempDir dir;
  NatsServer server(standalone(dir.path()));
  StandIn standin;
  RunSpec spec;
  spec.agenttrace_args = {"--export", server.url(), "--spool", dir.file("spool"), "--host-name", "alpha"};
  spec.command = {"node", kSamples + "/agents/zero_width.mjs"};
  spec.env = agent_env(standin.port);
  RunResult r = run_agenttrace(spec, dir);
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  long offered = 0;
  long acked = acknowledged(r.err, &offered);
  EXPECT_GT(acked, 0) << r.err;
  EXPECT_EQ(acked, offered) << r.err;
  EXPECT_THAT(r.err, HasSubstr("export to " + server.url() + " as alpha: "));
  EXPECT_THAT(r.err, HasSubstr("none lost"));
  ASSERT_FALSE(r.trailer.is_null());
  EXPECT_EQ(r.trailer["export"]["dropped"], 0);
  EXPECT_EQ(r.trailer["export"]["pending"], 0);
  EXPECT_EQ(r.header["hostname"], "alpha");

  Json from_file = Json::parse(report("analyze --format json " + r.trace_path, dir, "file.json"));
  Json from_stream = Json::parse(report("collect --from " + server.url() + " --format json", dir, "fleet.json"));
  ASSERT_EQ(from_stream["recordings"].size(), 1u);
  const Json& rec = from_stream["recordings"][0];
  EXPECT_EQ(rec["host"], "alpha");
  EXPECT_EQ(rec["complete"], true);
  EXPECT_EQ(rec["missing"], 0);
  EXPECT_EQ(rec["duplicates"], 0);
  EXPECT_THAT(rules_of(from_file["findings"]),
              UnorderedElementsAre("covert-encoding-code:high", "fingerprint-collection:high", "hidden-characters:high",
                                   "credential-access:info"));
  // The same findings, evidence and all.
  EXPECT_EQ(rec["report"]["findings"], from_file["findings"]);
  for (const auto& f : from_stream["findings"]) EXPECT_EQ(f["host"], "alpha");
  // `analyze` reads the stream as it reads the file when it holds one recording.
  Json analyzed = Json::parse(report("analyze --format json " + server.url(), dir, "analyzed.json"));
  EXPECT_EQ(analyzed["findings"], from_file["findings"]);
}

TEST(FleetBpf, TwoHostsStreamIntoOneJetStreamThroughAServerRestartAndCollectReportsBoth) {
  REQUIRE_BPF();
  REQUIRE_NODE_AND_NATS();
  TempDir dir;
  NatsServer server(standalone(dir.path()));
  StandIn standin;
  // Each traced command says it started, waits for phase 1 (the server is
  // down by then) to read host facts, says so, and waits for phase 2 (the
  // server is back) to run its agent, which sends what it learned.
  auto command = [&](const std::string& host, const std::string& agent) {
    std::string d = dir.path();
    return std::vector<std::string>{
        "sh", "-c",
        "touch " + d + "/started-" + host + "; while [ ! -e " + d + "/phase1 ]; do sleep 0.1; done; " +
            "cat /etc/machine-id /etc/os-release >/dev/null; touch " + d + "/read-" + host + "; " +
            "while [ ! -e " + d + "/phase2 ]; do sleep 0.1; done; exec node " + kSamples + "/agents/" + agent + ".mjs"};
  };
  struct Host {
    std::string name, agent;
    TempDir dir;
    RunResult result;
  };
  Host hosts[2] = {{"alpha", "zero_width", {}, {}}, {"beta", "base64_field", {}, {}}};
  std::vector<std::thread> runs;
  for (auto& h : hosts) {
    runs.emplace_back([&] {
      RunSpec spec;
      spec.agenttrace_args = {"--export", server.url(), "--spool", dir.file("spool"), "--host-name", h.name};
      spec.command = command(h.name, h.agent);
      spec.env = agent_env(standin.port);
      spec.timeout_s = 120;
      h.result = run_agenttrace(spec, h.dir);
    });
  }
  auto wait_files = [&](const std::string& prefix) {
    for (int i = 0; i < 600; ++i) {
      if (std::filesystem::exists(dir.file(prefix + "alpha")) && std::filesystem::exists(dir.file(prefix + "beta")))
        return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  };
  bool started = wait_files("started-");
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  server.stop();  // the restart in the middle of both runs
  std::ofstream(dir.file("phase1")).close();
  bool read_facts = wait_files("read-");
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  server.start();
  std::ofstream(dir.file("phase2")).close();
  for (auto& t : runs) t.join();
  ASSERT_TRUE(started);
  ASSERT_TRUE(read_facts);

  long total = 0;
  for (auto& h : hosts) {
    ASSERT_EQ(h.result.exit_code, 0) << h.name << ": " << h.result.err << h.result.out;
    long offered = 0;
    long acked = acknowledged(h.result.err, &offered);
    EXPECT_EQ(acked, offered) << h.result.err;
    total += acked;
    EXPECT_THAT(h.result.err, HasSubstr("through the spool")) << h.result.err;
    EXPECT_THAT(h.result.err, HasSubstr("none lost")) << h.result.err;
  }

  Json fleet = Json::parse(report("collect --from " + server.url() + " --format json", dir, "fleet.json"));
  ASSERT_EQ(fleet["recordings"].size(), 2u) << fleet.dump(1);
  long delivered = 0;
  for (const auto& rec : fleet["recordings"]) {
    EXPECT_EQ(rec["complete"], true) << rec["host"];
    EXPECT_EQ(rec["missing"], 0);
    EXPECT_EQ(rec["duplicates"], 0);
    delivered += rec["messages"].get<long>();
  }
  EXPECT_EQ(delivered, total);  // every message once, none doubled
  std::map<std::string, std::vector<std::string>> by_host;
  std::map<std::string, int> coverage_gaps;
  std::string messages;
  for (const auto& f : fleet["findings"]) {
    std::string host = f["host"];
    messages += host + ": " + f["message"].get<std::string>() + "\n";
    // node is exec'd by the waiting shell, so its TLS probes are placed
    // after it started: one coverage gap each, "late" (info). When both
    // hosts' agenttrace probe the same node binary at the same moment, one
    // may fail to attach (ENOENT from the kernel) and says so: "not
    // visible" (low). Either way it is reported, which is what matters here.
    if (f["rule"] == "coverage-gap") {
      ++coverage_gaps[host];
      continue;
    }
    by_host[host].push_back(f["rule"].get<std::string>() + ":" + f["severity"].get<std::string>());
  }
  EXPECT_THAT(by_host["alpha"], UnorderedElementsAre("covert-encoding-code:high", "fingerprint-collection:high",
                                                     "hidden-characters:high", "credential-access:info"))
      << messages;
  EXPECT_THAT(by_host["beta"], UnorderedElementsAre("fingerprint-collection:high", "value-echo:high", "value-echo:high",
                                                    "credential-access:info"))
      << messages;
  EXPECT_EQ(coverage_gaps["alpha"], 1) << messages;
  EXPECT_EQ(coverage_gaps["beta"], 1) << messages;
  ASSERT_EQ(fleet["hosts"].size(), 2u);
  EXPECT_EQ(fleet["hosts"][0]["host"], "alpha");
  EXPECT_EQ(fleet["hosts"][1]["host"], "beta");

  std::string text = report("collect --from " + server.url(), dir, "fleet.txt");
  EXPECT_THAT(text, HasSubstr("2 hosts, 2 recordings"));
  EXPECT_THAT(text, HasSubstr(" alpha hidden-characters "));
  EXPECT_THAT(text, HasSubstr(" beta value-echo "));
}

// attach and watch export like any recording: the stream holds each one as
// a recording of its host, and a watch publishes the findings of the files
// it completes.
TEST(FleetBpf, AttachAndWatchExportTheirRecordings) {
  REQUIRE_BPF();
  if (nats_server_binary().empty()) GTEST_SKIP() << "nats-server is not installed";
  TempDir dir;
  NatsServer server(standalone(dir.path()));

  Spawned target({kSamples + "/late_starter"}, dir.path(), "target");
  Spawned at({AGENTTRACE_BIN, "attach", "--pid", std::to_string(target.pid()), "-v", "-q", "--export", server.url(),
              "--host-name", "attach-host", "--spool", dir.file("spool-a"), "-o", dir.file("attach.atrace")},
             dir.path(), "attach");
  ASSERT_TRUE(at.wait_for_err("running " + kSamples + "/late_starter", 30)) << at.err();
  target.signal(SIGUSR1);
  EXPECT_EQ(target.wait(30), 0);
  ASSERT_EQ(at.wait(60), 0) << at.err();

  std::string wdir = dir.file("watch");
  Spawned w({AGENTTRACE_BIN, "watch", "--comm", "who_asked", "-o", wdir, "--export", server.url(), "--host-name",
             "watch-host", "--spool", dir.file("spool-w"), "--rotate", "64K"},
            dir.path(), "watch");
  ASSERT_TRUE(w.wait_for_err("agenttrace watch: recording matching processes", 30)) << w.err();
  Spawned burst({"/bin/sh", "-c", "for i in $(seq 150); do " + kSamples + "/who_asked > /dev/null; done"},
                dir.path(), "burst");
  EXPECT_EQ(burst.wait(120), 0);
  w.signal(SIGTERM);
  ASSERT_EQ(w.wait(60), 0) << w.err();
  size_t files = 0;
  for (const auto& e : std::filesystem::directory_iterator(wdir)) files += e.path().extension() == ".atrace";
  EXPECT_GE(files, 2u) << "the watch rotated";

  Json fleet = Json::parse(report("collect --from " + server.url() + " --format json", dir, "fleet.json"));
  std::map<std::string, Json> by_host;
  for (const auto& r : fleet["recordings"]) by_host[r["host"].get<std::string>()] = r;
  ASSERT_EQ(by_host.size(), 2u) << fleet["recordings"].dump(1).substr(0, 2000);
  const Json& a = by_host["attach-host"];
  EXPECT_EQ(a["complete"], true);
  EXPECT_EQ(a["missing"], 0);
  EXPECT_EQ(a["duplicates"], 0);
  EXPECT_EQ(a["report"]["trace"]["mode"], "attach");
  std::set<std::string> exes;
  for (const auto& p : a["report"]["processes"]) exes.insert(p["exe"].get<std::string>());
  EXPECT_TRUE(exes.count(kSamples + "/late_starter"));
  EXPECT_TRUE(exes.count("/usr/bin/cat"));
  const Json& wr = by_host["watch-host"];
  EXPECT_EQ(wr["complete"], true);
  EXPECT_EQ(wr["missing"], 0);
  EXPECT_EQ(wr["report"]["trace"]["mode"], "watch");
  EXPECT_GE(wr["published_findings"].get<size_t>(), files) << "each completed file's findings";
  size_t who = 0;
  for (const auto& p : wr["report"]["processes"]) who += p["exe"] == kSamples + "/who_asked";
  EXPECT_EQ(who, 150u);
}

}  // namespace
}  // namespace agenttrace::testing
