#include "analyzer/policy.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "../support/story.h"
#include "common/error.h"

namespace agenttrace::analyzer {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string parse_error(const std::string& yaml) {
  try {
    Policy::parse(yaml, "p.yaml");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

const char* kPolicy = R"(
version: 1
deny:
  categories: [host_identity]
  paths: ["~/.ssh/**"]
  env: ["AWS_*"]
  destinations: ["*"]
  findings: [hidden-characters]
  severity: high
allow:
  destinations: ["127.0.0.1:80"]
  env: [AWS_REGION]
)";

TEST(Policy, EveryRuleIsATestCaseAndViolationsNameTheirEvent) {
  Story s;
  s.read("/etc/machine-id");
  s.read("/root/.ssh/id_ed25519", false);
  s.getenv("AWS_REGION", true);
  s.getenv("AWS_SECRET_ACCESS_KEY", false);
  s.connect("127.0.0.1", 80);
  s.connect("203.0.113.5", 443);
  s.send("hello", 1, false, "203.0.113.5");
  Analysis a = s.analysis();
  PolicyResult r = Policy::parse(kPolicy, "p.yaml").evaluate(a, KnowledgeBase::builtin());
  ASSERT_EQ(r.rules.size(), 6u);
  EXPECT_FALSE(r.passed());
  EXPECT_EQ(r.rules[0].name, "deny categories: host_identity");
  EXPECT_THAT(r.rules[0].violations, ElementsAre("agent (100) read /etc/machine-id (event #2)"));
  EXPECT_EQ(r.rules[1].name, "deny paths: ~/.ssh/**");
  EXPECT_THAT(r.rules[1].violations, ElementsAre("agent (100) read /root/.ssh/id_ed25519 (absent) (event #3)"));
  EXPECT_THAT(r.rules[2].violations, ElementsAre("agent (100) looked up AWS_SECRET_ACCESS_KEY (unset) (event #5)"));
  // The connect (no name known yet) and the send (named) are both that peer.
  ASSERT_EQ(r.rules[3].violations.size(), 2u);
  for (const auto& v : r.rules[3].violations) EXPECT_THAT(v, HasSubstr("203.0.113.5:443"));
  EXPECT_TRUE(r.rules[4].passed()) << "no hidden characters were sent";
  EXPECT_EQ(r.rules[5].name, "deny severity: high and above");
  EXPECT_EQ(r.violations(), 5u);
}

TEST(Policy, PassesWhenNothingIsDenied) {
  Story s;
  s.getenv("LANG", true);
  s.connect("127.0.0.1", 80);
  Analysis a = s.analysis();
  PolicyResult r = Policy::parse(kPolicy, "p.yaml").evaluate(a, KnowledgeBase::builtin());
  EXPECT_TRUE(r.passed());
  EXPECT_THAT(policy_text(r, false), HasSubstr("passed"));
}

TEST(Policy, FindingsAllowedByRuleOrId) {
  Story s;
  s.send(R"({"c":"a)" + std::string("\xE2\x80\x8B") + R"(b"})");
  Analysis a = s.analysis();
  ASSERT_EQ(a.findings.size(), 1u);
  auto deny = Policy::parse("deny:\n  findings: [hidden-*]\n", "p.yaml").evaluate(a, KnowledgeBase::builtin());
  EXPECT_FALSE(deny.passed());
  auto by_id = Policy::parse("deny:\n  findings: [hidden-*]\nallow:\n  findings: [" + a.findings[0].id + "]\n", "p.yaml")
                   .evaluate(a, KnowledgeBase::builtin());
  EXPECT_TRUE(by_id.passed());
}

TEST(Policy, JUnitHasOneCasePerRule) {
  Story s;
  s.read("/etc/machine-id");
  Analysis a = s.analysis();
  PolicyResult r = Policy::parse("deny:\n  categories: [host_identity, hardware]\n", "p.yaml").evaluate(a, KnowledgeBase::builtin());
  std::string xml = policy_junit(r, "suite <1>");
  EXPECT_THAT(xml, HasSubstr("<testsuite name=\"suite &lt;1&gt;\" tests=\"2\" failures=\"1\""));
  EXPECT_THAT(xml, HasSubstr("<testcase classname=\"agenttrace.policy\" name=\"deny categories: hardware\" time=\"0\"/>"));
  EXPECT_THAT(xml, HasSubstr("<failure message=\"1 violation(s)\" type=\"policy\">agent (100) read /etc/machine-id"));
}

TEST(Policy, BadFilesAreOneSentenceWithTheLine) {
  EXPECT_THAT(parse_error("deny: [1]\n"), HasSubstr("`deny` must be a mapping"));
  EXPECT_THAT(parse_error("deny:\n  path: [x]\n"), HasSubstr("line 2: unknown key `path`"));
  EXPECT_THAT(parse_error("deny:\n  severity: fatal\n"), HasSubstr("severity must be info, low, medium or high"));
  EXPECT_THAT(parse_error("version: 2\n"), HasSubstr("policy version must be 1"));
  EXPECT_THAT(parse_error("allow:\n  severity: high\n"), HasSubstr("unknown key `severity`"));
  EXPECT_THAT(parse_error("deny:\n  env: AWS_*\n"), HasSubstr("`env` must be a list"));
  EXPECT_THAT(parse_error("[oops"), HasSubstr("p.yaml: line"));
  EXPECT_THROW(Policy::load("/nonexistent/policy.yaml"), Error);
}

TEST(Policy, UnknownCategoryIsAViolationNotASilentPass) {
  Story s;
  Analysis a = s.analysis();
  auto r = Policy::parse("deny:\n  categories: [no_such]\n", "p.yaml").evaluate(a, KnowledgeBase::builtin());
  EXPECT_FALSE(r.passed());
  EXPECT_THAT(r.rules[0].violations[0], HasSubstr("no category `no_such`"));
}

}  // namespace
}  // namespace agenttrace::analyzer
