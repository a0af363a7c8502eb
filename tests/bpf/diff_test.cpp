// BPF tests of `agenttrace diff`: the sample agents that change their request
// by time zone or by API host are caught with the exact character; honest ones
// are not, across repeated runs.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <fstream>
#include <iterator>

#include "../support/agenttrace_runner.h"

namespace agenttrace::testing {
namespace {

using ::testing::HasSubstr;

const std::string kSamples = SAMPLES_DIR;

struct DiffResult {
  int exit_code = -1;
  std::string err;
  Json report;
  std::string raw;
};

DiffResult diff(const std::vector<std::string>& args, const std::string& agent, const std::string& format = "json") {
  static std::vector<std::unique_ptr<TempDir>> dirs;
  dirs.push_back(std::make_unique<TempDir>());
  TempDir& dir = *dirs.back();
  std::string cmd = std::string(AGENTTRACE_BIN) + " diff -q --format " + format + " -o " + dir.file("report");
  for (const auto& a : args) cmd += " '" + a + "'";
  cmd += " -- node " + kSamples + "/agents/" + agent + ".mjs > /dev/null 2> " + dir.file("err");
  DiffResult d;
  int rc = system(cmd.c_str());
  d.exit_code = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  d.err = slurp(dir.file("err"));
  d.raw = slurp(dir.file("report"));
  if (format == "json" && !d.raw.empty()) d.report = Json::parse(d.raw);
  return d;
}

std::vector<Json> suspicious(const DiffResult& d) {
  std::vector<Json> out;
  for (const auto& c : d.report["comparisons"])
    for (const auto& s : c["suspicious"]) out.push_back(s);
  return out;
}

#define REQUIRE_NODE() \
  if (system("command -v node >/dev/null 2>&1") != 0) GTEST_SKIP() << "node is not installed"

const std::string kBase = "ANTHROPIC_BASE_URL=http://127.0.0.1";

TEST(DiffRuns, TimeZoneChangesOneFormattingCharacter) {
  REQUIRE_BPF();
  REQUIRE_NODE();
  DiffResult d = diff({"--vary", "TZ=Asia/Shanghai,Asia/Hong_Kong", "--env", kBase}, "tz_format");
  EXPECT_EQ(d.exit_code, 4) << d.err;
  auto s = suspicious(d);
  ASSERT_EQ(s.size(), 2u) << d.report.dump(2);
  for (const auto& x : s) {
    EXPECT_EQ(x["location"], "$.messages[0].content");
    ASSERT_EQ(x["code_points"].size(), 1u);
    EXPECT_EQ(x["code_points"][0]["label"], "U+0020 SPACE");
  }
  // The random id and the clock were learned as noise, not reported.
  EXPECT_GE(d.report["noise"].size(), 2u);
}

TEST(DiffRuns, TimeZoneAddsOneInvisibleCharacter) {
  REQUIRE_BPF();
  REQUIRE_NODE();
  DiffResult d = diff({"--vary", "TZ=Asia/Shanghai,Asia/Hong_Kong", "--env", kBase}, "tz_invisible");
  EXPECT_EQ(d.exit_code, 4) << d.err;
  auto s = suspicious(d);
  ASSERT_EQ(s.size(), 1u) << d.report.dump(2);
  EXPECT_EQ(s[0]["location"], "$.messages[0].content");
  EXPECT_EQ(s[0]["code_points"][0]["label"], "U+200B ZERO WIDTH SPACE");
}

TEST(DiffRuns, LocaltimeFileAloneIsEnough) {
  REQUIRE_BPF();
  REQUIRE_NODE();
  // No TZ: Node reads /etc/localtime, which the sandbox varies.
  DiffResult d = diff({"--vary-localtime", "Asia/Shanghai,Asia/Hong_Kong", "--env", kBase}, "tz_invisible");
  EXPECT_EQ(d.exit_code, 4) << d.err;
  auto s = suspicious(d);
  ASSERT_EQ(s.size(), 1u) << d.report.dump(2);
  EXPECT_EQ(s[0]["code_points"][0]["label"], "U+200B ZERO WIDTH SPACE");
}

TEST(DiffRuns, ApiHostNameChangesTheRequestBeyondTheHostHeader) {
  REQUIRE_BPF();
  REQUIRE_NODE();
  DiffResult d = diff({"--vary", "ANTHROPIC_BASE_URL=http://api.example.test,http://gateway.example.test", "--map-host",
                 "api.example.test", "--map-host", "gateway.example.test"},
                "host_marker");
  EXPECT_EQ(d.exit_code, 4) << d.err;
  auto s = suspicious(d);
  ASSERT_EQ(s.size(), 1u) << d.report.dump(2);
  EXPECT_EQ(s[0]["location"], "$.system");
  EXPECT_EQ(s[0]["code_points"][0]["label"], "U+0020 SPACE");
  // The host itself in the Host header is where the value belongs.
  bool host_expected = false;
  for (const auto& c : d.report["comparisons"])
    for (const auto& e : c["expected"])
      if (e["part"] == "header") host_expected = true;
  EXPECT_TRUE(host_expected) << d.report.dump(2);
}

TEST(DiffRuns, HonestAgentIsQuietAcrossRepeatedRuns) {
  REQUIRE_BPF();
  REQUIRE_NODE();
  DiffResult d = diff({"--vary", "TZ=Asia/Shanghai,Asia/Hong_Kong", "--repeat", "3", "--env", kBase}, "honest_stream");
  EXPECT_EQ(d.exit_code, 0) << d.err << d.report.dump(2);
  EXPECT_TRUE(suspicious(d).empty());
  EXPECT_EQ(d.report["input_dependent"], false);
}

TEST(DiffRuns, JUnitAndSarifReports) {
  REQUIRE_BPF();
  REQUIRE_NODE();
  DiffResult junit = diff({"--vary", "TZ=Asia/Shanghai,Asia/Hong_Kong", "--env", kBase}, "tz_invisible", "junit");
  EXPECT_EQ(junit.exit_code, 4);
  EXPECT_THAT(junit.raw, HasSubstr("<testsuites"));
  EXPECT_THAT(junit.raw, HasSubstr("failures=\"1\""));
  EXPECT_THAT(junit.raw, HasSubstr("U+200B ZERO WIDTH SPACE"));
  DiffResult sarif = diff({"--vary", "TZ=Asia/Shanghai,Asia/Hong_Kong", "--env", kBase}, "tz_invisible", "sarif");
  EXPECT_EQ(sarif.exit_code, 4);
  Json s = Json::parse(sarif.raw);
  EXPECT_EQ(s["version"], "2.1.0");
  ASSERT_EQ(s["runs"][0]["results"].size(), 1u) << s.dump(2);
  EXPECT_EQ(s["runs"][0]["results"][0]["ruleId"], "input-dependent-output");
}

TEST(DiffRuns, BadUsage) {
  std::string out;
  int rc = system((std::string(AGENTTRACE_BIN) + " diff --vary TZ=UTC -- true > /dev/null 2>&1").c_str());
  EXPECT_EQ(WEXITSTATUS(rc), 125);
  rc = system((std::string(AGENTTRACE_BIN) + " diff --vary-localtime Mars/Olympus,UTC -- true > /dev/null 2>&1").c_str());
  EXPECT_EQ(WEXITSTATUS(rc), 125);
}

// A command that sends nothing gives nothing to compare: not a pass.
TEST(DiffRuns, NothingSentIsNotAPass) {
  REQUIRE_BPF();
  TempDir dir;
  std::string cmd = std::string(AGENTTRACE_BIN) + " diff -q --vary TZ=UTC,Asia/Tokyo --repeat 1 -- sh -c 'exit 0' > " +
                    dir.file("out") + " 2> " + dir.file("err");
  int rc = system(cmd.c_str());
  ASSERT_TRUE(WIFEXITED(rc));
  EXPECT_EQ(WEXITSTATUS(rc), 125);
  std::ifstream in(dir.file("err"));
  std::string err((std::istreambuf_iterator<char>(in)), {});
  EXPECT_THAT(err, ::testing::HasSubstr("agenttrace: nothing to compare: the command sent no data in any run\n"));
}

}  // namespace
}  // namespace agenttrace::testing
