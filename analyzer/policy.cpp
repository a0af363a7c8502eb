#include "analyzer/policy.h"

#include <yaml-cpp/yaml.h>

#include <fstream>
#include <sstream>

#include "common/glob.h"
#include "common/error.h"
#include "common/strings.h"

namespace agenttrace::analyzer {

namespace {

int severity_rank(const std::string& s) {
  if (s == "info") return 0;
  if (s == "low") return 1;
  if (s == "medium") return 2;
  if (s == "high") return 3;
  return -1;
}

bool matches_any(const std::vector<std::string>& globs, const std::string& item) {
  for (const auto& g : globs)
    for (const auto& expanded : expand_home(g))  // "~/" means every home directory
      if (glob_match(expanded, item)) return true;
  return false;
}

std::string at_event(uint64_t id) { return id ? " (event #" + std::to_string(id) + ")" : ""; }

}  // namespace

Policy Policy::load(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw Error("cannot read policy file " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return parse(ss.str(), path);
}

Policy Policy::parse(const std::string& yaml, const std::string& source) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml);
  } catch (const YAML::Exception& e) {
    throw Error(source + ": line " + std::to_string(e.mark.line + 1) + ": " + e.msg);
  }
  if (!root.IsMap()) throw Error(source + " is not a policy (expected a mapping with deny and allow)");
  Policy p;
  p.source_ = source;
  for (const auto& kv : root) {
    std::string key = kv.first.as<std::string>("");
    if (key == "version") {
      if (kv.second.Scalar() != "1") throw Error(source + ": policy version must be 1");
      continue;
    }
    if (key != "deny" && key != "allow")
      throw Error(source + ": line " + std::to_string(kv.first.Mark().line + 1) + ": unknown key `" + key +
                  "` (expected version, deny, allow)");
    List& list = key == "deny" ? p.deny_ : p.allow_;
    if (!kv.second.IsMap())
      throw Error(source + ": line " + std::to_string(kv.second.Mark().line + 1) + ": `" + key + "` must be a mapping");
    for (const auto& item : kv.second) {
      std::string what = item.first.as<std::string>("");
      std::string line = std::to_string(item.first.Mark().line + 1);
      if (what == "severity" && key == "deny") {
        p.min_severity_ = severity_rank(item.second.Scalar());
        if (p.min_severity_ < 0)
          throw Error(source + ": line " + line + ": severity must be info, low, medium or high");
        continue;
      }
      std::vector<std::string>* target = what == "categories"     ? &list.categories
                                         : what == "paths"        ? &list.paths
                                         : what == "env"          ? &list.env
                                         : what == "destinations" ? &list.destinations
                                         : what == "findings"     ? &list.findings
                                                                  : nullptr;
      if (!target)
        throw Error(source + ": line " + line + ": unknown key `" + what +
                    "` (expected categories, paths, env, destinations, findings" +
                    (key == "deny" ? ", severity)" : ")"));
      if (!item.second.IsSequence()) throw Error(source + ": line " + line + ": `" + what + "` must be a list");
      for (const auto& v : item.second) {
        if (!v.IsScalar() || v.Scalar().empty())
          throw Error(source + ": line " + std::to_string(v.Mark().line + 1) + ": entries must be non-empty strings");
        target->push_back(v.Scalar());
      }
    }
  }
  return p;
}

PolicyResult Policy::evaluate(const Analysis& a, const KnowledgeBase& kb) const {
  const Profile& p = a.profile;
  PolicyResult r;
  r.source = source_;
  for (const auto& cat : deny_.categories) {
    PolicyRuleResult rule{"deny categories: " + cat, {}};
    if (kb.index_of(cat) < 0) rule.violations.push_back("the knowledge base has no category `" + cat + "`");
    auto it = p.facts.find(cat);
    if (it != p.facts.end()) {
      for (const auto& [item, f] : it->second) {
        if (!(f.succeeded || f.kind == FactKind::kEnv)) continue;
        if (matches_any(f.kind == FactKind::kEnv ? allow_.env : allow_.paths, f.item)) continue;
        rule.violations.push_back(f.first_comm + " (" + std::to_string(f.first_pid) + ") " +
                                  (f.kind == FactKind::kEnv ? "looked up " : f.detail + " ") + f.item + at_event(f.first_event));
      }
    }
    r.rules.push_back(std::move(rule));
  }
  for (const auto& glob : deny_.paths) {
    PolicyRuleResult rule{"deny paths: " + glob, {}};
    for (const auto& [path, f] : p.files)
      if (matches_any({glob}, path) && !matches_any(allow_.paths, path))
        rule.violations.push_back(f.first_comm + " (" + std::to_string(f.first_pid) + ") " + f.detail + " " + path +
                                  (f.succeeded ? "" : " (absent)") + at_event(f.first_event));
    r.rules.push_back(std::move(rule));
  }
  for (const auto& glob : deny_.env) {
    PolicyRuleResult rule{"deny env: " + glob, {}};
    for (const auto& [name, f] : p.env)
      if (glob_match(glob, name) && !matches_any(allow_.env, name))
        rule.violations.push_back(f.first_comm + " (" + std::to_string(f.first_pid) + ") looked up " + name + " (" +
                                  (f.succeeded ? "set" : "unset") + ")" + at_event(f.first_event));
    r.rules.push_back(std::move(rule));
  }
  for (const auto& glob : deny_.destinations) {
    PolicyRuleResult rule{"deny destinations: " + glob, {}};
    for (const auto& [key, d] : p.destinations) {
      bool denied = glob_match(glob, d.peer) || (!d.host.empty() && glob_match(glob, d.host));
      bool allowed = matches_any(allow_.destinations, d.peer) || (!d.host.empty() && matches_any(allow_.destinations, d.host));
      if (denied && !allowed) rule.violations.push_back("connected or sent to " + key + at_event(d.first_event));
    }
    r.rules.push_back(std::move(rule));
  }
  auto finding_allowed = [&](const Finding& f) {
    return matches_any(allow_.findings, f.rule) || matches_any(allow_.findings, f.id);
  };
  for (const auto& glob : deny_.findings) {
    PolicyRuleResult rule{"deny findings: " + glob, {}};
    for (const auto& f : a.findings)
      if (glob_match(glob, f.rule) && !finding_allowed(f))
        rule.violations.push_back(std::string(severity_name(f.severity)) + " " + f.id + ": " + f.message);
    r.rules.push_back(std::move(rule));
  }
  if (min_severity_ >= 0) {
    PolicyRuleResult rule{std::string("deny severity: ") + severity_name(static_cast<Severity>(min_severity_)) + " and above", {}};
    for (const auto& f : a.findings)
      if (static_cast<int>(f.severity) >= min_severity_ && !finding_allowed(f))
        rule.violations.push_back(std::string(severity_name(f.severity)) + " " + f.id + ": " + f.message);
    r.rules.push_back(std::move(rule));
  }
  return r;
}

bool PolicyResult::passed() const {
  for (const auto& r : rules)
    if (!r.passed()) return false;
  return true;
}

size_t PolicyResult::violations() const {
  size_t n = 0;
  for (const auto& r : rules) n += r.violations.size();
  return n;
}

std::string policy_text(const PolicyResult& r, bool color) {
  std::string out = std::string(color ? "\x1b[1m" : "") + "policy " + terminal_safe(r.source) + (color ? "\x1b[0m" : "") + ": " +
                    (r.passed() ? "passed" : "FAILED, " + std::to_string(r.violations()) + " violations") + "\n";
  for (const auto& rule : r.rules) {
    out += std::string("  ") + (rule.passed() ? (color ? "\x1b[32mpass\x1b[0m " : "pass ") : (color ? "\x1b[1;31mFAIL\x1b[0m " : "FAIL ")) +
           terminal_safe(rule.name) + "\n";
    size_t shown = 0;
    for (const auto& v : rule.violations) {
      if (++shown > 5) {
        out += "      ... " + std::to_string(rule.violations.size() - 5) + " more\n";
        break;
      }
      out += "      " + terminal_safe(v) + "\n";  // names paths and hosts of the trace
    }
  }
  return out;
}

trace::Json policy_json(const PolicyResult& r) {
  trace::Json j;
  j["source"] = r.source;
  j["passed"] = r.passed();
  trace::Json rules = trace::Json::array();
  for (const auto& rule : r.rules) {
    trace::Json rj;
    rj["rule"] = rule.name;
    rj["passed"] = rule.passed();
    rj["violations"] = rule.violations;
    rules.push_back(rj);
  }
  j["rules"] = rules;
  return j;
}

std::string xml_escape(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    switch (c) {
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '&': out += "&amp;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default:
        // XML 1.0 allows no control characters but tab, newline, return.
        if (c < 0x20 && c != '\t' && c != '\n' && c != '\r')
          out += "?";
        else
          out += static_cast<char>(c);
    }
  }
  return out;
}

std::string policy_junit(const PolicyResult& r, const std::string& suite_name) {
  size_t failures = 0;
  for (const auto& rule : r.rules) failures += !rule.passed();
  std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  out += "<testsuites name=\"agenttrace\" tests=\"" + std::to_string(r.rules.size()) + "\" failures=\"" +
         std::to_string(failures) + "\">\n";
  out += "  <testsuite name=\"" + xml_escape(suite_name) + "\" tests=\"" + std::to_string(r.rules.size()) +
         "\" failures=\"" + std::to_string(failures) + "\" errors=\"0\" skipped=\"0\" time=\"0\">\n";
  for (const auto& rule : r.rules) {
    out += "    <testcase classname=\"agenttrace.policy\" name=\"" + xml_escape(rule.name) + "\" time=\"0\"";
    if (rule.passed()) {
      out += "/>\n";
      continue;
    }
    out += ">\n      <failure message=\"" + xml_escape(std::to_string(rule.violations.size()) + " violation(s)") +
           "\" type=\"policy\">";
    for (const auto& v : rule.violations) out += xml_escape(v) + "\n";
    out += "</failure>\n    </testcase>\n";
  }
  out += "  </testsuite>\n</testsuites>\n";
  return out;
}

}  // namespace agenttrace::analyzer
