// End to end: each sample agent, traced for real and analysed, gives exactly
// its expected findings and no others; the live report, `analyze` and every
// report format agree.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>

#include "../support/agenttrace_runner.h"
#include "../support/standin_process.h"

namespace agenttrace::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::UnorderedElementsAreArray;

const std::string kSamples = SAMPLES_DIR;

struct Fixture {
  StandInProcess standin{120};
  int port = standin.http_port();
};

std::string analyze(const std::string& trace, const std::string& format, const TempDir& dir) {
  std::string out = dir.file("report." + format);
  std::string cmd = std::string(AGENTTRACE_BIN) + " analyze --format " + format + " -o " + out + " " + trace;
  if (system(cmd.c_str()) != 0) return "";
  return slurp(out);
}

struct Case {
  std::string agent;
  std::vector<std::string> expected;  // "rule:severity"
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.agent; }

class SampleAgents : public ::testing::TestWithParam<Case> {};

TEST_P(SampleAgents, GiveExactlyTheirExpectedFindingsInEveryFormat) {
  REQUIRE_BPF();
  if (system("command -v node >/dev/null 2>&1") != 0) GTEST_SKIP() << "node is not installed";
  const Case& c = GetParam();
  Fixture fx;
  TempDir dir;
  RunSpec spec;
  spec.command = {"node", kSamples + "/agents/" + c.agent + ".mjs"};
  spec.env = base_env();
  spec.env.push_back("TZ=Asia/Shanghai");
  spec.env.push_back("ANTHROPIC_BASE_URL=http://127.0.0.1:" + std::to_string(fx.port));
  spec.env.push_back("ANTHROPIC_API_KEY=sk-sample-0123456789");
  RunResult r = run_agenttrace(spec, dir);
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  ASSERT_THAT(r.out, HasSubstr("status 200"));

  Json report = Json::parse(analyze(r.trace_path, "json", dir));
  std::vector<std::string> got;
  for (const auto& f : report["findings"]) got.push_back(f["rule"].get<std::string>() + ":" + f["severity"].get<std::string>());
  EXPECT_THAT(got, UnorderedElementsAreArray(c.expected)) << analyze(r.trace_path, "text", dir);

  // The live end-of-run report said the same.
  for (const auto& f : report["findings"]) EXPECT_THAT(r.err, HasSubstr(f["message"].get<std::string>())) << r.err;
  // Text, SARIF and HTML carry the same findings.
  std::string text = analyze(r.trace_path, "text", dir);
  Json sarif = Json::parse(analyze(r.trace_path, "sarif", dir));
  std::string html = analyze(r.trace_path, "html", dir);
  ASSERT_EQ(sarif["runs"][0]["results"].size(), report["findings"].size());
  for (size_t i = 0; i < report["findings"].size(); ++i) {
    const auto& f = report["findings"][i];
    EXPECT_THAT(text, HasSubstr(f["message"].get<std::string>()));
    EXPECT_EQ(sarif["runs"][0]["results"][i]["ruleId"], f["rule"]);
    EXPECT_EQ(sarif["runs"][0]["results"][i]["partialFingerprints"]["agenttraceFindingId"], f["id"]);
    EXPECT_THAT(html, HasSubstr(f["id"].get<std::string>()));
  }
}

INSTANTIATE_TEST_SUITE_P(
    Samples, SampleAgents,
    ::testing::Values(
        // Their own code holds the chooser that spells the bits: covert-encoding-code.
        Case{"zero_width",
             {"covert-encoding-code:high", "fingerprint-collection:high", "hidden-characters:high",
              "credential-access:info"}},
        Case{"tag_chars", {"fingerprint-collection:high", "hidden-characters:high", "credential-access:info"}},
        Case{"lookalike",
             {"covert-encoding-code:high", "fingerprint-collection:high", "lookalike-characters:high",
              "credential-access:info"}},
        Case{"base64_field",
             {"fingerprint-collection:high", "value-echo:high", "value-echo:high", "credential-access:info"}},
        Case{"send_only", {"fingerprint-collection:low", "credential-access:info"}},
        Case{"honest_config", {"fingerprint-collection:low", "credential-access:info"}},
        // The same facts, read and sent; one hides two of them in its date
        // stamp (samples/agents/stamp_covert.mjs), the other does not.
        Case{"stamp_honest", {"fingerprint-collection:low", "credential-access:info"}},
        Case{"stamp_covert",
             {"covert-encoding-code:high", "fingerprint-collection:high", "credential-access:info"}}),
    [](const ::testing::TestParamInfo<Case>& info) { return info.param.agent; });

TEST(Analyzer, TagCharactersAreSpelledOutAndValuesNamed) {
  REQUIRE_BPF();
  if (system("command -v node >/dev/null 2>&1") != 0) GTEST_SKIP() << "node is not installed";
  Fixture fx;
  TempDir dir;
  RunSpec spec;
  spec.command = {"node", kSamples + "/agents/tag_chars.mjs"};
  spec.env = base_env();
  spec.env.push_back("TZ=Asia/Shanghai");
  spec.env.push_back("ANTHROPIC_BASE_URL=http://127.0.0.1:" + std::to_string(fx.port));
  RunResult r = run_agenttrace(spec, dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  Json report = Json::parse(analyze(r.trace_path, "json", dir));
  bool spelled = false;
  for (const auto& f : report["findings"])
    if (f["rule"] == "hidden-characters")
      for (const auto& e : f["evidence"])
        if (e.value("decoded", "") == "tz=Asia/Shanghai;proxy=none") {
          spelled = true;
          EXPECT_EQ(e["conn"], 1);
          EXPECT_GT(e["offset"].get<int>(), 0);
          EXPECT_EQ(e["code_points"][0]["name"], "TAG SOLIDUS");
        }
  EXPECT_TRUE(spelled) << report.dump(2);
  // The request the stand-in logged holds those tag characters.
  std::string body = fx.standin.body(1);
  EXPECT_THAT(body, HasSubstr("\xF3\xA0\x81\xB4"));  // U+E0074 TAG LATIN SMALL LETTER T
}

// The live verdicts of the two stamp agents differ, and say why: the honest
// one "none found"; the covert one names its chooser's function and place,
// and with --jit-symbols the lookups made from it.
TEST(Analyzer, CovertStampIsNamedAndJoinedThroughJitFrames) {
  REQUIRE_BPF();
  if (system("command -v node >/dev/null 2>&1") != 0) GTEST_SKIP() << "node is not installed";
  Fixture fx;
  auto run = [&](const std::string& agent, bool jit) {
    TempDir dir;
    RunSpec spec;
    if (jit) spec.agenttrace_args = {"--jit-symbols"};
    spec.command = {"node", kSamples + "/agents/" + agent + ".mjs"};
    spec.env = base_env();
    spec.env.push_back("TZ=Asia/Shanghai");
    spec.env.push_back("ANTHROPIC_BASE_URL=http://127.0.0.1:" + std::to_string(fx.port));
    RunResult r = run_agenttrace(spec, dir);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.err;
  };
  std::string honest = run("stamp_honest", false);
  EXPECT_THAT(honest, HasSubstr("covert channel evidence: none found"));
  EXPECT_THAT(honest, ::testing::Not(HasSubstr("HIGH ")));
  EXPECT_THAT(honest, ::testing::Not(HasSubstr("MEDIUM ")));
  const std::string file = kSamples + "/agents/stamp_covert.mjs";
  const std::string text = slurp(file);
  // The first candidate: the literal after the chooser's first `return`.
  const size_t at = text.find('"', text.find("return", text.find("function apostrophe(")));
  std::string covert = run("stamp_covert", false);
  EXPECT_THAT(covert, HasSubstr("covert channel evidence: found (covert-encoding-code)"));
  EXPECT_THAT(covert, HasSubstr("HIGH covert-encoding-code"));
  EXPECT_THAT(covert, HasSubstr("look-alike chooser (apostrophe) at " + file + ":" + std::to_string(at) +
                                " between U+0027, U+2019, U+02BC, U+02B9"));
  EXPECT_THAT(covert, HasSubstr("a separator switch (stamp) at " + file + ":"));
  EXPECT_THAT(covert, HasSubstr("confirm with: agenttrace diff --vary TZ=UTC,Asia/Tokyo -- node " + file));
  std::string joined = run("stamp_covert", true);
  EXPECT_THAT(joined, HasSubstr("TZ, HTTPS_PROXY and ANTHROPIC_BASE_URL were looked up from the functions that hold "
                                "or call it"));
}

TEST(Analyzer, UserKnowledgeBaseExtendsCategories) {
  REQUIRE_BPF();
  TempDir dir;
  RunSpec spec;
  spec.command = {kSamples + "/fingerprint-helper"};
  RunResult r = run_agenttrace(spec, dir);
  ASSERT_EQ(r.exit_code, 0);
  std::ofstream(dir.file("kb.yaml")) << "categories:\n  - id: os_release\n    title: OS release\n    paths: [/etc/os-release]\n";
  std::string out = dir.file("r.json");
  std::string cmd = std::string(AGENTTRACE_BIN) + " analyze --format json --kb " + dir.file("kb.yaml") + " -o " + out + " " + r.trace_path;
  ASSERT_EQ(system(cmd.c_str()), 0);
  Json report = Json::parse(slurp(out));
  bool found = false;
  for (const auto& f : report["facts"])
    if (f["category"] == "os_release" && f["item"] == "/etc/os-release") found = true;
  EXPECT_TRUE(found);

  std::ofstream(dir.file("bad.yaml")) << "categories:\n  - id: x\n    paths: [relative/path]\n";
  cmd = std::string(AGENTTRACE_BIN) + " analyze --kb " + dir.file("bad.yaml") + " " + r.trace_path + " > " + dir.file("err") + " 2>&1";
  int rc = system(cmd.c_str());
  EXPECT_EQ(WEXITSTATUS(rc), 125);
  EXPECT_THAT(slurp(dir.file("err")), HasSubstr("must start with /, ~/ or **"));
}

}  // namespace
}  // namespace agenttrace::testing
