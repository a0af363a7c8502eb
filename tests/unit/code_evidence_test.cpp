// Code evidence joined to a run (analyzer/code_evidence.h): which code a
// traced process ran, reading it within the trust model, and the
// covert-encoding-code finding with its join to the live lookups.
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "analyzer/code_evidence.h"
#include "analyzer/findings.h"
#include "analyzer/profile.h"
#include "common/base64.h"
#include "../support/story.h"

namespace agenttrace::analyzer {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;

std::vector<std::string> labels(const std::vector<CodeSource>& v) {
  std::vector<std::string> out;
  for (const auto& s : v) out.push_back(s.label + (s.inline_code.empty() ? "" : " {" + s.inline_code + "}"));
  return out;
}

void exec(Story& s, uint32_t pid, const std::string& exe, std::vector<std::string> argv, const std::string& cwd) {
  auto& e = s.add(pid);
  e.mutable_exec()->set_path(exe);
  e.mutable_exec()->set_exe(exe);
  for (auto& a : argv) e.mutable_exec()->add_argv(a);
  e.mutable_exec()->set_cwd(cwd);
}

Profile profile_of(Story& s) { return std::move(s.analysis().profile); }

TEST(CodeSources, ScriptsFromArgvInlineCodeModulesAndExecutables) {
  Story s;
  exec(s, 100, "/usr/bin/node", {"node", "--require", "/w/preload.js", "-r", "x", "--max-old-space-size=99", "app.mjs", "arg"}, "/w");
  {
    auto& e = s.add(100);  // a module it imported
    e.mutable_open()->set_path("/w/lib.mjs");
    e.mutable_open()->set_result(3);
    auto& data = s.add(100);  // data, not code
    data.mutable_open()->set_path("/w/notes.txt");
    data.mutable_open()->set_result(3);
  }
  s.fork(101);
  exec(s, 101, "/usr/bin/python3.11", {"python3", "-W", "ignore", "-c", "import os"}, "/w");
  s.fork(102);
  exec(s, 102, "/root/.bun/bin/bun", {"bun", "run", "./tool.ts"}, "/w/sub/");
  s.fork(103);
  exec(s, 103, "/usr/bin/python3", {"python3", "-m", "http.server"}, "/w");
  Profile p = profile_of(s);
  EXPECT_THAT(labels(code_sources(p)),
              ElementsAre("/w/app.mjs", "/w/lib.mjs", "python3.11 -c {import os}", "/w/sub/./tool.ts"));
}

TEST(CodeSources, JavaScriptFrameNames) {
  EXPECT_EQ(js_function_of_frame("JS:~gatherFacts file:///w/lib.mjs:11:28"), "gatherFacts");
  EXPECT_EQ(js_function_of_frame("LazyCompile:*stamp /w/a.js:3"), "stamp");
  EXPECT_EQ(js_function_of_frame("Script:~ file:///w/a.mjs:1:1"), "");
  // Bun's JITDump names: the function before its hash; a script's top level is its path.
  EXPECT_EQ(js_function_of_frame("JSC-DFG: readZone#EIriTt"), "readZone");
  EXPECT_EQ(js_function_of_frame("JSC-Baseline: stamp#C7ezl3"), "stamp");
  EXPECT_EQ(js_function_of_frame("JSC-DFG: /tmp/hot.js#AfcSeb"), "");
  EXPECT_EQ(js_function_of_frame("JSC-InlineCache: GetById Custom handler"), "");
  EXPECT_EQ(js_function_of_frame("uv_os_getenv"), "");
  EXPECT_EQ(js_function_of_frame("Builtin:ArgumentsAdaptorTrampoline"), "");
}

const std::vector<std::string> kHosts = {"api.anthropic.com", "statsig.anthropic.com", "o1137031.ingest.sentry.io",
                                         "collector.agent-metrics.io", "edge.fp-sync.net"};

std::string xor_base64_hosts() {
  std::string list;
  for (const auto& h : kHosts) list += (list.empty() ? "" : ",") + h;
  for (char& c : list) c = static_cast<char>(c ^ 0x5a);
  return base64_encode(list);
}

struct TempScript {
  std::string dir;
  std::string path;
  explicit TempScript(const std::string& text) {
    char tmpl[] = "/tmp/agenttrace-code-XXXXXX";
    dir = mkdtemp(tmpl);
    path = dir + "/agent.js";
    std::ofstream(path) << text;
  }
  ~TempScript() { fs::remove_all(dir); }
};

// The table sits in `hosts`; `report` calls it, `main` calls report.
const std::string kScriptHead = "function hosts(){return \"";
std::string script() {
  return kScriptHead + xor_base64_hosts() +
         "\"}\nfunction report(tz){return hosts().split(',')[0]+tz}\nfunction main(){report(process.env.TZ)}\nmain()\n";
}

TEST(CodeEvidence, ReadsTheScriptFindsTheTableAndItsCallers) {
  TempScript t(script());
  Story s;
  exec(s, 100, "/usr/bin/node", {"node", t.path}, "/");
  Profile p = profile_of(s);
  auto code = inspect_code(p);
  ASSERT_EQ(code.size(), 1u);
  const CodeInspection* c = &code[0];
  EXPECT_EQ(c->source.path, t.path);
  ASSERT_TRUE(c->inspected) << c->not_inspected;
  EXPECT_EQ(c->bytes, script().size());
  EXPECT_FALSE(c->cut_short);
  EXPECT_THAT(c->flagged_functions, ElementsAre("hosts", "report"));
  EXPECT_THAT(flagged_lines(*c), ElementsAre("an encoded list of 5 hosts at " + t.path + ":" +
                                             std::to_string(kScriptHead.size()) + " (base64 -> xor 0x5a)"));
}

TEST(CodeEvidence, AFileTheCommandsUserCouldNotReadIsNotRead) {
  TempScript t(script());
  chmod(t.path.c_str(), 0600);  // root's, and the command ran as uid 1000
  Story s;
  s.header().set_command_uid(1000);
  s.header().set_command_gid(1000);
  exec(s, 100, "/usr/bin/node", {"node", t.path}, "/");
  Profile p = profile_of(s);
  auto code = inspect_code(p);
  ASSERT_EQ(code.size(), 1u);
  EXPECT_FALSE(code[0].inspected);
  EXPECT_EQ(code[0].not_inspected, t.path + " is not readable by the user the command ran as; not read");
  // A FIFO in its place is never opened.
  fs::remove(t.path);
  ASSERT_EQ(mkfifo(t.path.c_str(), 0644), 0);
  Story s2;
  exec(s2, 100, "/usr/bin/node", {"node", t.path}, "/");
  Profile p2 = profile_of(s2);
  auto fifo = inspect_code(p2);
  ASSERT_EQ(fifo.size(), 1u);
  EXPECT_FALSE(fifo[0].inspected);
  EXPECT_THAT(fifo[0].not_inspected, ::testing::HasSubstr("not a regular file"));
}

TEST(CodeEvidence, TheTimeBudgetIsStated) {
  TempScript t(script());
  Story s;
  exec(s, 100, "/usr/bin/node", {"node", t.path}, "/");
  Profile p = profile_of(s);
  CodeBudget none;
  none.seconds = 0;
  auto code = inspect_code(p, none);
  ASSERT_EQ(code.size(), 1u);
  EXPECT_FALSE(code[0].inspected);
  EXPECT_EQ(code[0].not_inspected, "the 0 s budget for reading code was spent");
}

TEST(CodeEvidence, CovertEncodingCodeIsJoinedToTheLookupsOfItsCallers) {
  TempScript t(script());
  Story s;
  exec(s, 100, "/usr/bin/node", {"node", t.path}, "/");
  s.getenv("TZ", true);
  // Its stack: getenv from libuv, called from report, called from main.
  auto* st = s.events().back().mutable_stack();
  st->add_frames()->set_symbol("uv_os_getenv");
  st->add_frames()->set_symbol("JS:~report file://" + t.path + ":2:30");
  st->add_frames()->set_symbol("JS:~main file://" + t.path + ":3:18");
  s.getenv("HTTPS_PROXY", false);
  s.getenv("NODE_EXTRA_CA_CERTS", false);  // a gateway setting, not a proxy URL to vary
  s.getenv("NO_PROXY", false);
  s.send(R"({"messages":[{"content":"hello"}]})");
  Analysis a = s.analysis();
  a.profile.code = inspect_code(a.profile);
  a.findings = run_rules(a.profile, KnowledgeBase::builtin());
  std::vector<std::string> rules;
  for (const auto& f : a.findings) rules.push_back(f.rule + ":" + severity_name(f.severity));
  // The code is covert-channel evidence, so gathering beyond the runtime is high.
  EXPECT_THAT(rules, ElementsAre("covert-encoding-code:high", "fingerprint-collection:high"));
  const Finding& f = a.findings[0];
  EXPECT_EQ(f.message, "The code agent (pid 100) ran holds an encoded list of 5 hosts at " + t.path + ":" +
                           std::to_string(kScriptHead.size()) +
                           " (base64 -> xor 0x5a); TZ was looked up from the functions that hold or call it, and "
                           "the tree sent data over the network.");
  ASSERT_EQ(f.evidence.size(), 2u);
  EXPECT_EQ(f.evidence[1].what, "getenv TZ (set), from report, which holds or calls the flagged code");
  EXPECT_EQ(f.evidence[1].event, 3u);
  EXPECT_THAT(f.confirm, ElementsAre("agenttrace diff --vary TZ=UTC,Asia/Tokyo -- agent",
                                     "agenttrace diff --vary HTTPS_PROXY=http://127.0.0.1:3128,http://127.0.0.1:8080 -- agent"));
  EXPECT_THAT(covert_evidence_rules(a.findings), ElementsAre("covert-encoding-code"));
}

TEST(CodeEvidence, ABunSingleFileExecutableIsReadFromItsBundle) {
  const char* bun = getenv("AGENTTRACE_BUN");
  if (!bun || !*bun) GTEST_SKIP() << "AGENTTRACE_BUN is not set (scripts/fetch-bun.sh fetches Bun)";
  TempScript t(script());
  const std::string exe = t.dir + "/agent-bin";
  std::string cmd = std::string(bun) + " build --compile " + t.path + " --outfile " + exe + " >/dev/null 2>&1";
  ASSERT_EQ(system(cmd.c_str()), 0) << cmd;
  Story s;
  exec(s, 100, exe, {exe}, t.dir);
  // Bun itself is no bundle: nothing of it is listed.
  s.fork(101);
  exec(s, 101, "/usr/bin/bash", {"bash", "-c", "true"}, t.dir);
  Profile p = profile_of(s);
  auto code = inspect_code(p);
  ASSERT_EQ(code.size(), 1u);
  ASSERT_TRUE(code[0].inspected) << code[0].not_inspected;
  EXPECT_EQ(code[0].source.label, exe + " (Bun bundle)");
  EXPECT_GT(code[0].source.offset, 1000000u);
  EXPECT_LT(code[0].bytes, 1u << 20);  // the bundle, not the 100 MB runtime
  EXPECT_THAT(code[0].flagged_functions, ElementsAre("hosts", "report"));
  ASSERT_EQ(flagged_lines(code[0]).size(), 1u);
  EXPECT_THAT(flagged_lines(code[0])[0], ::testing::StartsWith("an encoded list of 5 hosts at " + exe + " (Bun bundle):"));
}

}  // namespace
}  // namespace agenttrace::analyzer
