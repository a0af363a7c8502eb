// The agenttrace binary's commands that need no root, run as a user would:
// exit statuses, one-sentence errors, and what gates a CI job.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>

#include "../support/temp_dir.h"

namespace agenttrace::testing {
namespace {

using ::testing::HasSubstr;

const std::string kData = DATA_DIR;
const std::string kPolicies = POLICIES_DIR;

struct Ran {
  int status = -1;
  std::string out, err;
};

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

Ran run_shell(const std::string& command) {
  TempDir dir;
  std::string cmd = command + " > " + dir.file("out") + " 2> " + dir.file("err");
  int rc = system(cmd.c_str());
  Ran r;
  r.status = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  r.out = slurp(dir.file("out"));
  r.err = slurp(dir.file("err"));
  return r;
}

Ran agenttrace(const std::string& args) { return run_shell(std::string(AGENTTRACE_BIN) + " " + args); }

// The sample trace sent zero-width characters: the CI policy fails it (3),
// an empty policy passes it (0), and JUnit has one case per rule.
TEST(AnalyzeCli, PolicyGatesATraceFile) {
  TempDir dir;
  Ran fail = agenttrace("analyze --policy " + kPolicies + "/ci.yaml " + kData + "/zero_width.atrace");
  EXPECT_EQ(fail.status, 3) << fail.err;
  EXPECT_THAT(fail.out, HasSubstr("deny findings: hidden-characters"));

  std::ofstream(dir.file("empty.yaml")) << "version: 1\n";
  Ran pass = agenttrace("analyze --policy " + dir.file("empty.yaml") + " " + kData + "/zero_width.atrace");
  EXPECT_EQ(pass.status, 0) << pass.err;

  Ran junit = agenttrace("analyze --format junit --policy " + kPolicies + "/ci.yaml " + kData +
                         "/zero_width.atrace -o " + dir.file("r.xml"));
  EXPECT_EQ(junit.status, 3) << junit.err;
  std::string xml = slurp(dir.file("r.xml"));
  EXPECT_THAT(xml, HasSubstr("<testsuite name=\"agenttrace analyze\""));
  EXPECT_THAT(xml, HasSubstr("name=\"deny findings: hidden-characters"));
}

TEST(AnalyzeCli, BadInputGetsOneSentence) {
  TempDir dir;
  Ran junit = agenttrace("analyze --format junit " + kData + "/zero_width.atrace");
  EXPECT_EQ(junit.status, 125);
  EXPECT_EQ(junit.err, "agenttrace: --format junit needs a --policy (one test case per rule)\n");

  std::ofstream(dir.file("bad.yaml")) << "deny: [unclosed\n";
  Ran bad = agenttrace("analyze --policy " + dir.file("bad.yaml") + " " + kData + "/zero_width.atrace");
  EXPECT_EQ(bad.status, 125);
  EXPECT_THAT(bad.err, HasSubstr(dir.file("bad.yaml")));
  EXPECT_EQ(std::count(bad.err.begin(), bad.err.end(), '\n'), 1) << bad.err;

  Ran missing = agenttrace("analyze " + dir.file("nothing.atrace"));
  EXPECT_EQ(missing.status, 125);
  EXPECT_THAT(missing.err, HasSubstr("nothing.atrace"));
}

// Attach and watch refuse bad input before loading anything (no root needed).
TEST(TraceCli, VersionIsAnAnswerNotAnError) {
  Ran v = agenttrace("--version");
  EXPECT_EQ(v.status, 0);
  EXPECT_EQ(v.err, "");
  // The commit of the checkout it was built from (this test's own, built
  // with it), "-dirty" when tracked files differ from it.
  Ran head = run_shell("git -c safe.directory='*' -C " + std::string(SOURCE_DIR) + " rev-parse --short=12 HEAD");
  if (head.status != 0) {
    EXPECT_EQ(v.out, "agenttrace 0.1.0\n");  // not a checkout: no commit to name
    return;
  }
  std::string commit = head.out.substr(0, head.out.find('\n'));
  ASSERT_EQ(commit.size(), 12u) << head.out;
  EXPECT_THAT(v.out, ::testing::MatchesRegex("agenttrace 0\\.1\\.0 \\(commit " + commit + "(-dirty)?\\)\n"));
}

// Every command's --help has one usage line, agenttrace's own, and names
// what each option takes (FILE, DIR, SIZE, ...), never CLI11's type names.
TEST(TraceCli, HelpHasOneUsageLineAndNamedValues) {
  for (std::string command : {"", "attach", "watch", "sandbox", "diff", "analyze", "dump", "inspect", "collect"}) {
    Ran h = agenttrace(command + " --help");
    EXPECT_EQ(h.status, 0) << command;
    std::istringstream lines(h.out);
    int usage = 0;
    for (std::string line; std::getline(lines, line);) {
      if (line.rfind("usage: agenttrace", 0) == 0) usage++;
      EXPECT_EQ(line.find("Usage"), std::string::npos) << command << ": " << line;
      for (const char* cli11 : {" TEXT", " INT", " UINT", " VALUE", ":SIZE", "REQUIRED"})
        EXPECT_EQ(line.find(cli11), std::string::npos) << command << ": " << line;
    }
    EXPECT_EQ(usage, 1) << command << "\n" << h.out;
  }
  Ran top = agenttrace("--help");
  EXPECT_THAT(top.out, HasSubstr("       agenttrace collect --from nats://HOST:PORT [OPTIONS]\n"));
  EXPECT_THAT(top.out, HasSubstr("  --capture-bytes SIZE "));
  EXPECT_THAT(top.out, HasSubstr("  -o,--output FILE "));
  Ran sandbox = agenttrace("sandbox --help");
  EXPECT_THAT(sandbox.out, HasSubstr("  --workspace-mode rw|copy|ro "));
  EXPECT_THAT(sandbox.out, HasSubstr("  --bind SRC[:DST][:ro] ...   make a host path visible inside (repeatable)\n"));
  Ran dump = agenttrace("dump --help");
  EXPECT_THAT(dump.out, HasSubstr("usage: agenttrace dump [OPTIONS] TRACE\n"));
}

TEST(TraceCli, AttachAndWatchBadInput) {
  Ran no_pid = agenttrace("attach");
  EXPECT_EQ(no_pid.status, 125);
  EXPECT_THAT(no_pid.err, HasSubstr("--pid is required"));
  Ran gone = agenttrace("attach --pid 2147483000");
  EXPECT_EQ(gone.status, 125);
  EXPECT_EQ(gone.err, "agenttrace: no process 2147483000 is running\n");
  Ran keep = agenttrace("watch --keep 0 -o /tmp");
  EXPECT_EQ(keep.status, 125);
  EXPECT_EQ(keep.err, "agenttrace: --keep must be at least 1\n");
  Ran comm = agenttrace("watch --comm a-name-longer-than-15");
  EXPECT_EQ(comm.status, 125);
  EXPECT_EQ(comm.err, "agenttrace: --comm a-name-longer-than-15: a process name has 1 to 15 characters\n");
  Ran rotate = agenttrace("watch --rotate 1K -o /tmp");
  EXPECT_EQ(rotate.status, 125);
  EXPECT_EQ(rotate.err, "agenttrace: --rotate must be at least 64K\n");
  Ran exe = agenttrace("watch --exe /no/such/program -o /tmp");
  EXPECT_EQ(exe.status, 125);
  EXPECT_EQ(exe.err, "agenttrace: --exe /no/such/program: No such file or directory\n");
  Ran both = agenttrace("attach --pid 1 --no-stacks --capture-symbols");
  EXPECT_EQ(both.status, 125);
  EXPECT_EQ(both.err, "agenttrace: --capture-symbols and --no-stacks contradict each other\n");
}

// Published agents with nothing hidden in them (the releases pinned in
// tests/agents/package.json): `inspect` must say so for every script they
// ship. Each false alarm seen on them once (keyword pairs out of binary data
// in Qwen Code, scrollbar half blocks in Gemini CLI) stays fixed here.
TEST(InspectCli, PublishedCleanAgentsAreNotSuspicious) {
  const char* qwen = getenv("AGENTTRACE_QWEN");
  if (!qwen || !*qwen) GTEST_SKIP() << "AGENTTRACE_QWEN is not set (scripts/test.sh fetches it with scripts/fetch-agents.sh)";
  namespace fs = std::filesystem;
  const std::string q = qwen;
  const fs::path modules = q.substr(0, q.find("/node_modules/") + std::string("/node_modules").size());
  std::vector<fs::path> scripts = {q};
  for (const auto& e : fs::directory_iterator(modules / "@google/gemini-cli/bundle"))
    if (e.path().extension() == ".js") scripts.push_back(e.path());
  std::sort(scripts.begin() + 1, scripts.end());
  ASSERT_GE(scripts.size(), 20u) << "gemini-cli's bundle is missing from " << modules;
  for (const auto& f : scripts) {
    Ran r = agenttrace("inspect '" + f.string() + "'");
    EXPECT_EQ(r.status, 0) << f << "\n" << r.out << r.err;
    EXPECT_THAT(r.out, HasSubstr("verdict: nothing hidden found")) << f;
  }
}

}  // namespace
}  // namespace agenttrace::testing
