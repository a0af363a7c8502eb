// Findings: what the rules conclude from a profile, each with a stable id,
// a severity, one sentence a person understands, and its evidence.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "analyzer/knowledge_base.h"
#include "analyzer/profile.h"

namespace agenttrace::analyzer {

enum class Severity { kInfo = 0, kLow = 1, kMedium = 2, kHigh = 3 };

const char* severity_name(Severity s);  // "info", "low", "medium", "high"

struct CodePoint {
  uint32_t code_point = 0;
  std::string name;      // ICU name
  std::string imitates;  // look-alikes: the ASCII character it stands in for
  uint64_t count = 0;
};

struct Evidence {
  uint64_t event = 0;    // trace event id (0: not tied to one event)
  int64_t wall_ns = 0;
  uint32_t pid = 0;
  std::string comm;
  std::string category;  // knowledge-base category, for facts
  std::string what;      // "getenv TZ (unset)", "read /etc/machine-id", "sent to ..."
  // Payload evidence:
  uint32_t conn = 0;
  std::string peer;
  std::string host;
  bool tls = false;
  uint64_t offset = 0;   // byte offset in the connection's outgoing stream
  uint64_t length = 0;
  std::string context;   // text around the offset, hidden code points shown as <U+XXXX>
  std::vector<CodePoint> code_points;
  std::string encoding;  // value echo: plain, base64, hex, ...
  std::string decoded;   // tag characters spelled out, when they carry text
  // The event whose call stack says which code asked (0: `event`'s own).
  uint64_t stack_event = 0;
};

struct Finding {
  std::string rule;      // stable rule id: "fingerprint-collection", ...
  std::string id;        // rule + "-" + a hash of what it is about: stable across runs
  Severity severity = Severity::kInfo;
  std::string message;   // one sentence
  uint32_t pid = 0;      // the process (tree root) it is about
  std::string comm;
  std::vector<Evidence> evidence;
  // `agenttrace diff` commands, filled in, that would confirm a suspected
  // covert channel by varying what it would carry.
  std::vector<std::string> confirm;
};

struct RuleInfo {
  const char* id;
  const char* title;
  const char* description;  // what it checks, for SARIF and the docs
};

// The rules, in the order they run.
const std::vector<RuleInfo>& rules();

// Whether a finding is evidence that facts left covertly or encoded: hidden
// or look-alike characters in egress, an encoded value echo, a canary leak,
// covert encoding code. fingerprint-collection and the end report's
// "covert channel evidence" line are judged by it.
bool is_covert_evidence(const Finding& f);
// The rules of the covert-channel evidence among `findings`, each once, in
// the findings' order: what the end report leads with.
std::vector<std::string> covert_evidence_rules(const std::vector<Finding>& findings);

// Runs every rule; findings sorted by severity (highest first), then time.
std::vector<Finding> run_rules(const Profile& profile, const KnowledgeBase& kb);

}  // namespace agenttrace::analyzer
