#include "analyzer/diff_report.h"

#include <algorithm>
#include <cstdio>
#include <vector>

#include "common/strings.h"
#include "version.h"

namespace agenttrace::analyzer {

namespace {

using trace::Json;

// At most this many lines per list in the text report: it is meant to fit on
// one screen; JSON has everything.
constexpr size_t kTextSuspicious = 8;
constexpr size_t kTextExpected = 4;
constexpr size_t kTextNoise = 5;

struct Style {
  bool on = false;
  std::string red() const { return on ? "\033[1;31m" : ""; }
  std::string green() const { return on ? "\033[1;32m" : ""; }
  std::string bold() const { return on ? "\033[1m" : ""; }
  std::string dim() const { return on ? "\033[2m" : ""; }
  std::string off() const { return on ? "\033[0m" : ""; }
};

// Keeps the first `max` code points of already visible (valid UTF-8) text.
std::string clip(const std::string& s, size_t max) {
  size_t cps = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80 && cps++ == max) return s.substr(0, i) + "…";
  }
  return s;
}

std::string quoted(const std::string& s, size_t max = 60) { return "\"" + clip(s, max) + "\""; }

std::string plural(size_t n, const char* one, const char* many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

bool has_offset(const Difference& d) {
  return d.part != "request" && d.change != "added" && d.change != "removed" && d.change != "type";
}

// "request 0 POST /v1/messages $.messages[0].content @ code point 11 (byte 11)"
std::string where(const Difference& d) {
  std::string out;
  if (d.part == "stream") {
    out = d.location;
  } else {
    out = "request " + std::to_string(d.request) + " " + d.method + " " + clip(d.target, 60);
    if (d.part == "header") out += " header " + d.location;
    else if (d.part != "request") out += " " + d.location;
  }
  if (has_offset(d)) {
    if (d.part == "body" || d.part == "stream")
      out += " @ byte " + std::to_string(d.byte_offset);
    else
      out += " @ code point " + std::to_string(d.offset) + " (byte " + std::to_string(d.byte_offset) + ")";
  }
  return out;
}

// "inserted "<U+200B>"", "changed "-" → "/"", "removed".
std::string what(const Difference& d) {
  if (d.change == "inserted") return "inserted " + quoted(d.after);
  if (d.change == "deleted") return "deleted " + quoted(d.before);
  if (d.change == "added") return d.after.empty() ? "added" : "added " + quoted(d.after);
  if (d.change == "removed") return d.before.empty() ? "removed" : "removed " + quoted(d.before);
  return d.change + " " + quoted(d.before) + " → " + quoted(d.after);
}

std::string code_points_line(const Difference& d) {
  std::string out;
  for (const DiffCodePoint& c : d.code_points) out += (out.empty() ? "" : ", ") + std::string(c.added ? "+ " : "- ") + c.label;
  return out;
}

std::string one_line(const Difference& d) {
  std::string out = where(d) + ": " + what(d);
  if (!d.reason.empty()) out += " (" + d.reason + ")";
  std::string cps = code_points_line(d);
  if (!cps.empty()) out += "; " + cps;
  return out;
}

std::string comparison_title(const VariantComparison& c) { return c.base + " vs " + c.other; }

// The text report's values (targets, JSON paths, header names, samples, the
// variants themselves) came from the runs: each goes through terminal_safe.
std::string comparison_text(const VariantComparison& c, const Style& st) {
  std::string out;
  size_t n = c.suspicious.size() + c.suspicious_omitted;
  out += st.bold() + terminal_safe(comparison_title(c)) + st.off() + ": ";
  if (n > 0)
    out += st.red() + "INPUT-DEPENDENT" + st.off() + ", " + plural(n, "suspicious difference", "suspicious differences");
  else
    out += st.green() + "no input-dependent difference" + st.off();
  out += " (" + plural(c.requests_compared, "request", "requests") + " compared, " +
         plural(c.noise_masked, "difference", "differences") + " masked as noise)\n";
  for (size_t i = 0; i < c.suspicious.size() && i < kTextSuspicious; ++i) {
    const Difference& d = c.suspicious[i];
    out += "  " + std::to_string(i + 1) + ". " + terminal_safe(where(d)) + "\n";
    out += "     " + terminal_safe(what(d) + (d.reason.empty() ? "" : ": " + d.reason)) + "\n";
    if (!d.context_before.empty() || !d.context_after.empty()) {
      out += "     " + st.dim() + "base: " + st.off() + " …" + terminal_safe(d.context_before) + "…\n";
      out += "     " + st.dim() + "other:" + st.off() + " …" + terminal_safe(d.context_after) + "…\n";
    }
    std::string cps = code_points_line(d);
    if (!cps.empty()) out += "     " + terminal_safe(cps) + "\n";
  }
  size_t shown = std::min(c.suspicious.size(), kTextSuspicious);
  if (n > shown) out += "  … and " + std::to_string(n - shown) + " more\n";
  size_t e = c.expected.size() + c.expected_omitted;
  if (e > 0) {
    out += "  expected (" + std::to_string(e) + "):";
    out += e == 1 ? " " : "\n";
    for (size_t i = 0; i < c.expected.size() && i < kTextExpected; ++i) {
      const Difference& d = c.expected[i];
      out += (e == 1 ? "" : "    ") + terminal_safe(where(d) + ": " + what(d) + " (" + d.reason + ")") + "\n";
    }
    size_t shown_expected = std::min(c.expected.size(), kTextExpected);
    if (e > shown_expected) out += "    … and " + std::to_string(e - shown_expected) + " more\n";
  }
  return out;
}

// ---- XML --------------------------------------------------------------------

// Text as XML 1.0 character data or attribute value: markup escaped, and
// what XML cannot carry at all (C0 controls but tab, newline and carriage
// return, U+FFFE, U+FFFF, bytes that are not UTF-8) as U+FFFD. Attribute
// values keep their line breaks as character references (a parser would
// otherwise normalize them to spaces).
std::string xml(const std::string& s, bool attribute = true) {
  std::string out;
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  for (size_t i = 0; i < n;) {
    unsigned char c = p[i];
    if (c < 0x80) {
      switch (c) {
        case '&': out += "&amp;"; break;
        case '<': out += "&lt;"; break;
        case '>': out += "&gt;"; break;
        case '"': out += "&quot;"; break;
        case '\'': out += "&apos;"; break;
        case '\t': out += attribute ? "&#9;" : "\t"; break;
        case '\n': out += attribute ? "&#10;" : "\n"; break;
        case '\r': out += "&#13;"; break;
        default:
          if (c < 0x20 || c == 0x7F) out += "\xEF\xBF\xBD";
          else out += static_cast<char>(c);
      }
      ++i;
      continue;
    }
    std::vector<uint32_t> u = decode_units(s.substr(i, std::min<size_t>(4, n - i)));
    uint32_t cp = u.empty() ? kByteUnit : u[0];
    if (cp >= kByteUnit || cp == 0xFFFE || cp == 0xFFFF || (cp >= 0x80 && cp <= 0x9F)) {
      out += "\xEF\xBF\xBD";
      size_t len = cp >= kByteUnit ? 1 : cp < 0x800 ? 2 : 3;
      i += len;
      continue;
    }
    size_t len = cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    out.append(s, i, len);
    i += len;
  }
  return out;
}

std::string seconds_text(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", s);
  return buf;
}

// Same difference, same id in every run: what and where, never offsets of
// noise or times.
std::string difference_id(const VariantComparison& c, const Difference& d) {
  std::string key = c.base + '\0' + c.other + '\0' + d.method + '\0' + d.part + '\0' + d.location + '\0' + d.change +
                    '\0' + std::to_string(d.offset) + '\0' + d.before + '\0' + d.after;
  char buf[32];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(fnv1a(key)));
  return buf;
}

Json difference_json(const Difference& d) {
  Json j;
  j["request"] = d.request;
  j["method"] = d.method;
  j["target"] = d.target;
  j["part"] = d.part;
  j["location"] = d.location;
  j["change"] = d.change;
  j["offset"] = d.offset;
  j["byte_offset"] = d.byte_offset;
  j["before"] = d.before;
  j["after"] = d.after;
  j["context_before"] = d.context_before;
  j["context_after"] = d.context_after;
  Json cps = Json::array();
  for (const DiffCodePoint& c : d.code_points) {
    Json cj;
    char buf[16];
    if (c.byte)
      std::snprintf(buf, sizeof buf, "0x%02X", c.code_point);
    else
      std::snprintf(buf, sizeof buf, "U+%04X", c.code_point);
    cj[c.byte ? "byte" : "code_point"] = buf;
    cj["label"] = c.label;
    cj["side"] = c.added ? "other" : "base";
    cps.push_back(cj);
  }
  j["code_points"] = cps;
  j["reason"] = d.reason;
  return j;
}

}  // namespace

std::string diff_report_text(const DiffReport& r, bool color) {
  Style st{color};
  std::string out = "agenttrace diff: ";
  for (size_t v = 0; v < r.variants.size(); ++v)
    out += (v ? ", " : "") + terminal_safe(r.variants[v]) + " (" + plural(r.runs[v], "run", "runs") + ")";
  out += "; " + plural(r.requests, "request", "requests") + " aligned\n";
  if (!r.noise.empty()) {
    out += st.dim() + "noise (differs between repeats, masked): " + std::to_string(r.noise.size()) + st.off() + "\n";
    for (size_t i = 0; i < r.noise.size() && i < kTextNoise; ++i) {
      const NoiseLocation& n = r.noise[i];
      out += st.dim() + "  request " + std::to_string(n.request) + " " +
             terminal_safe(n.method + " " + clip(n.target, 40) + " " + (n.part == "header" ? "header " : "") + n.location) +
             ": ";
      out += terminal_safe(n.whole_value ? n.sample
                                         : plural(n.code_points, "code point", "code points") + ", " + quoted(n.sample, 70));
      out += st.off() + "\n";
    }
    if (r.noise.size() > kTextNoise) out += st.dim() + "  … and " + std::to_string(r.noise.size() - kTextNoise) + " more" + st.off() + "\n";
  }
  for (const VariantComparison& c : r.comparisons) out += comparison_text(c, st);
  for (const std::string& n : r.notes) out += "note: " + terminal_safe(n) + "\n";
  if (r.comparisons.empty())
    out += "result: nothing compared\n";
  else if (r.input_dependent)
    out += st.red() + "result: INPUT-DEPENDENT" + st.off() + ": what is sent depends on the input beyond the value itself\n";
  else
    out += st.green() + "result: no input-dependent difference" + st.off() + "\n";
  return out;
}

Json diff_report_json(const DiffReport& r) {
  Json j;
  j["input_dependent"] = r.input_dependent;
  Json vs = Json::array();
  for (size_t v = 0; v < r.variants.size(); ++v) {
    Json vj;
    vj["variant"] = r.variants[v];
    vj["runs"] = r.runs[v];
    vs.push_back(vj);
  }
  j["variants"] = vs;
  j["requests"] = r.requests;
  Json cs = Json::array();
  for (const VariantComparison& c : r.comparisons) {
    Json cj;
    cj["base"] = c.base;
    cj["other"] = c.other;
    cj["base_value"] = c.base_value;
    cj["other_value"] = c.other_value;
    cj["base_runs"] = c.base_runs;
    cj["other_runs"] = c.other_runs;
    cj["input_dependent"] = !c.suspicious.empty() || c.suspicious_omitted > 0;
    cj["requests_compared"] = c.requests_compared;
    cj["noise_masked"] = c.noise_masked;
    Json sj = Json::array();
    for (const Difference& d : c.suspicious) sj.push_back(difference_json(d));
    cj["suspicious"] = sj;
    cj["suspicious_omitted"] = c.suspicious_omitted;
    Json ej = Json::array();
    for (const Difference& d : c.expected) ej.push_back(difference_json(d));
    cj["expected"] = ej;
    cj["expected_omitted"] = c.expected_omitted;
    cj["seconds"] = c.seconds;
    cs.push_back(cj);
  }
  j["comparisons"] = cs;
  Json ns = Json::array();
  for (const NoiseLocation& n : r.noise) {
    Json nj;
    nj["request"] = n.request;
    nj["method"] = n.method;
    nj["target"] = n.target;
    nj["part"] = n.part;
    nj["location"] = n.location;
    nj["variants"] = n.variants;
    nj["whole_value"] = n.whole_value;
    nj["code_points"] = n.code_points;
    nj["sample"] = n.sample;
    ns.push_back(nj);
  }
  j["noise"] = ns;
  j["notes"] = r.notes;
  return j;
}

std::string diff_report_junit(const DiffReport& r, const std::string& suite_name) {
  const std::string suite = suite_name.empty() ? "agenttrace diff" : suite_name;
  size_t failures = 0;
  double total = 0;
  for (const VariantComparison& c : r.comparisons) {
    failures += !c.suspicious.empty() || c.suspicious_omitted > 0;
    total += c.seconds;
  }
  const std::string counts = " tests=\"" + std::to_string(r.comparisons.size()) + "\" failures=\"" +
                             std::to_string(failures) + "\" errors=\"0\"";
  std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  out += "<testsuites name=\"" + xml(suite) + "\"" + counts + " time=\"" + seconds_text(total) + "\">\n";
  out += "  <testsuite name=\"" + xml(suite) + "\"" + counts + " skipped=\"0\" time=\"" + seconds_text(total) + "\">\n";
  if (!r.notes.empty()) {
    out += "    <properties>\n";
    for (size_t i = 0; i < r.notes.size(); ++i)
      out += "      <property name=\"note." + std::to_string(i + 1) + "\" value=\"" + xml(r.notes[i]) + "\"/>\n";
    out += "    </properties>\n";
  }
  for (const VariantComparison& c : r.comparisons) {
    out += "    <testcase name=\"" + xml(comparison_title(c)) + "\" classname=\"agenttrace.diff\" time=\"" +
           seconds_text(c.seconds) + "\"";
    size_t n = c.suspicious.size() + c.suspicious_omitted;
    std::string expected;
    for (const Difference& d : c.expected) expected += "expected: " + one_line(d) + "\n";
    if (n == 0 && expected.empty()) {
      out += "/>\n";
      continue;
    }
    out += ">\n";
    if (n > 0) {
      std::string message = plural(n, "input-dependent difference", "input-dependent differences") + ": ";
      for (size_t i = 0; i < c.suspicious.size() && i < 3; ++i) message += (i ? "; " : "") + one_line(c.suspicious[i]);
      if (n > 3) message += "; …";
      std::string body;
      for (const Difference& d : c.suspicious) {
        body += one_line(d) + "\n";
        if (!d.context_before.empty() || !d.context_after.empty())
          body += "  base:  …" + d.context_before + "…\n  other: …" + d.context_after + "…\n";
      }
      if (c.suspicious_omitted > 0) body += "… and " + std::to_string(c.suspicious_omitted) + " more\n";
      out += "      <failure message=\"" + xml(message) + "\" type=\"" + kInputDependentRule + "\">" + xml(body, false) +
             "</failure>\n";
    }
    if (!expected.empty()) out += "      <system-out>" + xml(expected, false) + "</system-out>\n";
    out += "    </testcase>\n";
  }
  out += "  </testsuite>\n</testsuites>\n";
  return out;
}

std::string diff_report_sarif(const DiffReport& r, const std::string& artifact) {
  Json rule;
  rule["id"] = kInputDependentRule;
  rule["name"] = "InputDependentOutput";
  rule["shortDescription"]["text"] = "What the command sends depends on the varied input beyond the value itself";
  rule["fullDescription"]["text"] =
      "The command was run once per variant of one input, and repeated with identical input to learn what varies by "
      "itself. A difference in the outgoing requests between variants that is neither noise (it does not vary "
      "between repeats) nor the varied value itself (or its URL or JSON escaped form) means the command encodes "
      "something about the input in what it sends: an invisible character, a changed separator, a date format.";
  rule["helpUri"] = "https://github.com/agenttrace/agenttrace/blob/main/docs/diff.md";
  rule["defaultConfiguration"]["level"] = "error";
  Json results = Json::array();
  for (const VariantComparison& c : r.comparisons) {
    for (const Difference& d : c.suspicious) {
      Json res;
      res["ruleId"] = kInputDependentRule;
      res["ruleIndex"] = 0;
      res["level"] = "error";
      res["message"]["text"] = comparison_title(c) + ": " + one_line(d);
      Json loc;
      if (!artifact.empty()) loc["physicalLocation"]["artifactLocation"]["uri"] = artifact;
      Json logical;
      logical["name"] = d.location;
      logical["fullyQualifiedName"] = where(d);
      logical["kind"] = d.part == "json" ? "member" : "element";
      loc["logicalLocations"] = Json::array({logical});
      res["locations"] = Json::array({loc});
      res["partialFingerprints"]["agenttraceDiffId"] = difference_id(c, d);
      Json props;
      props["base"] = c.base;
      props["other"] = c.other;
      props["difference"] = difference_json(d);
      res["properties"] = props;
      results.push_back(res);
    }
  }
  Json run;
  run["tool"]["driver"]["name"] = "agenttrace";
  run["tool"]["driver"]["version"] = AGENTTRACE_VERSION;
  run["tool"]["driver"]["informationUri"] = "https://github.com/agenttrace/agenttrace";
  run["tool"]["driver"]["rules"] = Json::array({rule});
  run["results"] = results;
  Json inv;
  inv["executionSuccessful"] = true;
  run["invocations"] = Json::array({inv});
  Json sarif;
  sarif["$schema"] = "https://json.schemastore.org/sarif-2.1.0.json";
  sarif["version"] = "2.1.0";
  sarif["runs"] = Json::array({run});
  return trace::json_text(sarif, 2) + "\n";
}

}  // namespace agenttrace::analyzer
