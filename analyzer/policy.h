// Policy gates for CI: a YAML file says which categories, paths, variables,
// destinations, finding kinds and severities a run may not show; evaluating
// it against an analysis gives one verdict per rule (a JUnit test case each)
// and a pass or fail. docs/policy.md documents the format.
#pragma once

#include <string>
#include <vector>

#include "analyzer/knowledge_base.h"
#include "analyzer/report.h"

namespace agenttrace::analyzer {

struct PolicyRuleResult {
  std::string name;                     // "deny paths: ~/.ssh/**"
  std::vector<std::string> violations;  // one sentence each, with the event id
  bool passed() const { return violations.empty(); }
};

struct PolicyResult {
  std::string source;  // the policy file
  std::vector<PolicyRuleResult> rules;
  bool passed() const;
  size_t violations() const;
};

class Policy {
 public:
  // Throws agenttrace::Error naming the file and line.
  static Policy load(const std::string& path);
  static Policy parse(const std::string& yaml, const std::string& source);
  PolicyResult evaluate(const Analysis& analysis, const KnowledgeBase& kb) const;

 private:
  struct List {
    std::vector<std::string> categories, paths, env, destinations, findings;
  };
  std::string source_;
  List deny_, allow_;
  int min_severity_ = -1;  // deny findings at or above; -1: none
};

std::string policy_text(const PolicyResult& r, bool color);
trace::Json policy_json(const PolicyResult& r);
// JUnit XML: one test case per policy rule.
std::string policy_junit(const PolicyResult& r, const std::string& suite_name);

// XML attribute and text escaping, shared with the diff's JUnit report.
std::string xml_escape(const std::string& s);

}  // namespace agenttrace::analyzer
