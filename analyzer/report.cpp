#include "analyzer/report.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <map>

#include "analyzer/symbolizer.h"
#include "analyzer/unicode_scan.h"
#include "common/strings.h"
#include "version.h"

namespace agenttrace::analyzer {

namespace {

using trace::Json;

std::string ts(int64_t wall_ns) { return wall_ns ? format_time_ns(wall_ns) : std::string(); }

std::string cp_text(uint32_t cp) {
  char buf[16];
  snprintf(buf, sizeof(buf), "U+%04X", cp);
  return buf;
}

const trace::Stack* evidence_stack(const Profile& p, const Evidence& e) {
  return p.stack_of(e.stack_event ? e.stack_event : e.event);
}

Json frames_json(const trace::Stack& st) {
  Json frames = Json::array();
  for (const auto& f : st.frames()) {
    Json fj;
    fj["frame"] = frame_text(f);
    fj["address"] = trace::hex_address(f.address());
    if (!f.module().empty()) fj["module"] = f.module();
    if (f.module_offset()) fj["offset"] = trace::hex_address(f.module_offset());
    if (!f.symbol().empty()) fj["symbol"] = f.symbol();
    if (f.jit()) fj["jit"] = true;
    if (!f.instruction().empty()) fj["instruction"] = f.instruction();
    frames.push_back(std::move(fj));
  }
  return frames;
}

Json evidence_json(const Evidence& e, const Profile& p) {
  Json j;
  if (e.event) j["event"] = e.event;
  if (e.wall_ns) j["ts"] = ts(e.wall_ns);
  if (e.pid) j["pid"] = e.pid;
  if (!e.comm.empty()) j["comm"] = e.comm;
  if (!e.category.empty()) j["category"] = e.category;
  j["what"] = e.what;
  if (!e.peer.empty() || e.conn) {
    j["conn"] = e.conn;
    j["peer"] = e.peer;
    if (!e.host.empty()) j["host"] = e.host;
    j["tls"] = e.tls;
    j["offset"] = e.offset;
    j["length"] = e.length;
    j["context"] = e.context;
  }
  if (!e.code_points.empty()) {
    Json cps = Json::array();
    for (const auto& c : e.code_points) {
      Json cj;
      cj["code_point"] = cp_text(c.code_point);
      cj["name"] = c.name;
      if (!c.imitates.empty()) cj["imitates"] = c.imitates;
      cj["count"] = c.count;
      cps.push_back(cj);
    }
    j["code_points"] = cps;
  }
  if (!e.encoding.empty()) j["encoding"] = e.encoding;
  if (!e.decoded.empty()) j["decoded"] = e.decoded;
  if (const trace::Stack* st = evidence_stack(p, e)) {
    j["stack_event"] = e.stack_event ? e.stack_event : e.event;
    j["stack"] = frames_json(*st);
    if (st->truncated()) j["stack_truncated"] = true;
  }
  return j;
}

// "asked by" lines for the terminal: the innermost frame (with its calling
// instruction), then the frames of the program itself: its JavaScript (JIT)
// functions when it has them, else the next frames out.
std::string stack_lines(const trace::Stack& st, const char* indent, size_t max_frames) {
  if (st.frames_size() == 0) return {};
  std::string out;
  const trace::Frame& first = st.frames(0);
  out += std::string(indent) + "at " + terminal_safe(frame_text(first));
  if (!first.instruction().empty()) out += "   [" + terminal_safe(first.instruction()) + "]";
  out += "\n";
  std::vector<const trace::Frame*> rest;
  for (int i = 1; i < st.frames_size(); ++i)
    if (st.frames(i).jit()) rest.push_back(&st.frames(i));
  bool jit = !rest.empty();
  if (!jit)
    for (int i = 1; i < st.frames_size(); ++i) rest.push_back(&st.frames(i));
  size_t shown = 0;
  for (const trace::Frame* f : rest) {
    if (shown == max_frames) {
      out += std::string(indent) + "   ... " + std::to_string(rest.size() - shown) + " more frames\n";
      break;
    }
    out += std::string(indent) + (shown == 0 ? (jit ? "by " : "from ") : "   ") + terminal_safe(frame_text(*f)) + "\n";
    ++shown;
  }
  return out;
}

const char* severity_color(Severity s) {
  switch (s) {
    case Severity::kHigh: return "\x1b[1;31m";
    case Severity::kMedium: return "\x1b[1;33m";
    case Severity::kLow: return "\x1b[1;36m";
    case Severity::kInfo: return "\x1b[2m";
  }
  return "";
}

std::string upper(const char* s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(toupper(static_cast<unsigned char>(c)));
  return out;
}

std::string seconds_since(int64_t start, int64_t t) {
  if (!start || !t) return "";
  char buf[32];
  // Before the trace began (a process an attach found running): -1.034s.
  snprintf(buf, sizeof(buf), t >= start ? "+%.3fs" : "-%.3fs", (t >= start ? t - start : start - t) / 1e9);
  return buf;
}

}  // namespace

int worst_severity(const std::vector<Finding>& findings) {
  int worst = -1;
  for (const auto& f : findings) worst = std::max(worst, static_cast<int>(f.severity));
  return worst;
}

bool terminal_wants_color(int fd) {
  if (getenv("NO_COLOR")) return false;
  const char* term = getenv("TERM");
  if (!term || strcmp(term, "dumb") == 0) return false;
  return isatty(fd);
}

Json finding_json(const Finding& f, const Profile* profile) {
  Json fj;
  fj["id"] = f.id;
  fj["rule"] = f.rule;
  fj["severity"] = severity_name(f.severity);
  fj["message"] = f.message;
  if (f.pid) fj["pid"] = f.pid;
  if (!f.comm.empty()) fj["comm"] = f.comm;
  Json ev = Json::array();
  static const Profile kNoProfile;
  for (const auto& e : f.evidence) ev.push_back(evidence_json(e, profile ? *profile : kNoProfile));
  fj["evidence"] = ev;
  if (!f.confirm.empty()) fj["confirm"] = f.confirm;
  return fj;
}

Json report_json(const Analysis& a, const KnowledgeBase& kb) {
  const Profile& p = a.profile;
  Json j;
  j["schema"] = "agenttrace-report/1";
  j["agenttrace_version"] = AGENTTRACE_VERSION;
  Json t;
  t["source"] = a.source;
  t["hostname"] = p.header.hostname();
  t["kernel"] = p.header.kernel_release();
  t["mode"] = p.header.mode();
  t["command"] = p.header.command();
  t["start"] = ts(p.start_wall_ns);
  t["end"] = ts(p.end_wall_ns);
  t["complete"] = p.has_trailer && !a.truncated;
  t["values_captured"] = p.header.values_captured();
  t["capture_bytes"] = p.header.capture_bytes();
  j["trace"] = t;

  Json by_sev = Json::object();
  for (const char* s : {"high", "medium", "low", "info"}) by_sev[s] = 0;
  Json findings = Json::array();
  for (const auto& f : a.findings) {
    findings.push_back(finding_json(f, &p));
    by_sev[severity_name(f.severity)] = by_sev[severity_name(f.severity)].get<int>() + 1;
  }
  j["findings"] = findings;
  j["covert_channel_evidence"] = covert_evidence_rules(a.findings);
  Json code = Json::array();
  for (const auto& c : p.code) {
    Json cj;
    cj["pid"] = c.source.pid;
    cj["source"] = c.source.label;
    cj["inspected"] = c.inspected;
    if (!c.inspected) cj["why_not"] = c.not_inspected;
    cj["bytes"] = c.bytes;
    cj["cut_short"] = c.cut_short;
    cj["flagged"] = flagged_lines(c);
    code.push_back(cj);
  }
  j["code"] = code;

  Json summary;
  summary["processes"] = p.processes.size();
  summary["events"] = p.events;
  summary["by_kind"] = p.kind_counts;
  summary["findings_by_severity"] = by_sev;
  uint64_t dropped = 0;
  for (const auto& k : p.trailer.kinds()) dropped += k.dropped();
  summary["dropped"] = dropped;
  summary["payload_not_captured"] = p.trailer.payload_truncated();
  j["summary"] = summary;

  Json procs = Json::array();
  for (const auto& [pid, pr] : p.processes) {
    Json pj;
    pj["pid"] = pid;
    pj["ppid"] = pr.ppid;
    pj["root"] = pr.root;
    pj["comm"] = pr.comm;
    pj["exe"] = pr.exe;
    pj["argv"] = pr.argv;
    pj["first_event"] = pr.first_event;
    pj["start"] = ts(pr.start_wall_ns);
    if (pr.exit_code) pj["exit_code"] = *pr.exit_code;
    if (pr.exit_signal) pj["exit_signal"] = *pr.exit_signal;
    pj["children"] = pr.children;
    Json cov = Json::array();
    for (const auto& c : pr.coverage) {
      Json cj;
      cj["signal"] = c.signal();
      cj["state"] = c.state();
      cj["detail"] = c.detail();
      cj["object"] = c.object();
      cov.push_back(cj);
    }
    pj["coverage"] = cov;
    procs.push_back(pj);
  }
  j["processes"] = procs;
  j["roots"] = p.roots;

  Json facts = Json::array();
  for (const auto& [category, items] : p.facts) {
    if (category.empty()) continue;
    for (const auto& [item, f] : items) {
      Json fj;
      fj["category"] = category;
      fj["kind"] = fact_kind_name(f.kind);
      fj["item"] = f.item;
      fj["succeeded"] = f.succeeded;
      fj["detail"] = f.detail;
      fj["first_event"] = f.first_event;
      fj["first_ts"] = ts(f.first_wall_ns);
      fj["first_pid"] = f.first_pid;
      fj["first_comm"] = f.first_comm;
      fj["count"] = f.count;
      fj["pids"] = f.pids;
      if (const trace::Stack* st = p.stack_of(f.stack_event)) {
        fj["stack_event"] = f.stack_event;
        fj["stack"] = frames_json(*st);
      }
      facts.push_back(fj);
    }
  }
  j["facts"] = facts;

  Json cats = Json::array();
  for (const auto& c : kb.categories()) {
    Json cj;
    cj["id"] = c.id;
    cj["title"] = c.title;
    cj["fingerprint"] = c.fingerprint;
    cats.push_back(cj);
  }
  j["categories"] = cats;

  Json values = Json::array();
  for (const auto& v : p.values) {
    Json vj;
    vj["kind"] = v.kind;
    vj["source"] = v.name;
    vj["event"] = v.event;
    vj["pid"] = v.pid;
    values.push_back(vj);  // the values themselves stay out of reports: they may be secrets
  }
  j["values_obtained"] = values;

  Json dests = Json::array();
  for (const auto& [key, d] : p.destinations) {
    Json dj;
    dj["destination"] = key;
    dj["peer"] = d.peer;
    if (!d.host.empty()) dj["host"] = d.host;
    dj["loopback"] = d.loopback;
    dj["connections"] = d.connections;
    dj["failed_attempts"] = d.failed_attempts;
    dj["bytes_sent"] = d.bytes_sent;
    dj["tls_plaintext_bytes"] = d.tls_plaintext;
    dj["first_event"] = d.first_event;
    dests.push_back(dj);
  }
  j["destinations"] = dests;

  Json dns = Json::array();
  for (const auto& name : p.dns_names) {
    Json dj;
    dj["name"] = name;
    auto it = p.dns_answers.find(name);
    dj["answers"] = it == p.dns_answers.end() ? Json::array() : Json(it->second);
    dns.push_back(dj);
  }
  j["dns"] = dns;

  Json timeline = Json::array();
  for (const auto& pt : p.timeline) {
    Json tj;
    tj["event"] = pt.event;
    tj["t"] = pt.wall_ns && p.start_wall_ns ? (pt.wall_ns - p.start_wall_ns) / 1e9 : 0.0;
    tj["pid"] = pt.pid;
    tj["lane"] = pt.lane;
    tj["label"] = pt.label;
    timeline.push_back(tj);
  }
  j["timeline"] = timeline;
  j["timeline_dropped"] = p.timeline_dropped;

  Json rules_j = Json::array();
  for (const auto& r : rules()) {
    Json rj;
    rj["id"] = r.id;
    rj["title"] = r.title;
    rj["description"] = r.description;
    rules_j.push_back(rj);
  }
  j["rules"] = rules_j;
  return j;
}

// Text reports: every value that came from the trace (a path in a message,
// comm, argv, a payload's context, a frame's name) goes through
// terminal_safe, so a crafted file name cannot erase or forge report lines.
std::string findings_text(const Analysis& a, bool color) {
  const Profile& p = a.profile;
  const char* reset = color ? "\x1b[0m" : "";
  const char* bold = color ? "\x1b[1m" : "";
  std::string out;
  std::vector<std::string> cmd;
  for (const auto& c : p.header.command()) cmd.push_back(shell_quote(c));
  out += std::string(bold) + "agenttrace findings" + reset + " for " + terminal_safe(join(cmd, " ")) + "\n";
  // The answer to "is it fingerprinting me?" first: covert-channel
  // evidence, or none; gathering facts alone is not.
  const std::vector<std::string> covert = covert_evidence_rules(a.findings);
  out += "  covert channel evidence: " +
         (covert.empty() ? std::string("none found") : "found (" + join(covert, ", ") + ")") + "\n";
  if (a.findings.empty()) out += "  none\n";
  // A live run prints this at the end of the command's output: a few lines
  // of evidence per finding, the rest is one `agenttrace analyze` away.
  const size_t evidence_shown = a.source == "live" || a.findings.size() > 3 ? 3 : 8;
  for (const auto& f : a.findings) {
    out += std::string("  ") + (color ? severity_color(f.severity) : "") + upper(severity_name(f.severity)) +
           reset + " " + terminal_safe(f.rule) + "  " + terminal_safe(f.message) + "\n";
    size_t shown = 0;
    for (const auto& e : f.evidence) {
      if (++shown > evidence_shown) {
        out += "      ... " + std::to_string(f.evidence.size() - evidence_shown) + " more (agenttrace analyze shows all)\n";
        break;
      }
      std::string line = "      ";
      if (e.event) line += "#" + std::to_string(e.event) + " ";
      std::string when = seconds_since(p.start_wall_ns, e.wall_ns);
      if (!when.empty()) line += when + " ";
      if (e.pid) line += terminal_safe(e.comm) + "(" + std::to_string(e.pid) + ") ";
      line += terminal_safe(e.what);
      out += line + "\n";
      if (!e.decoded.empty()) out += "        tag characters spell: \"" + terminal_safe(e.decoded) + "\"\n";
      if (const trace::Stack* st = evidence_stack(p, e)) out += stack_lines(*st, "        ", a.source == "live" ? 4 : 8);
      if (!e.context.empty()) out += "        \"" + terminal_safe(e.context) + "\"\n";
      if (!e.code_points.empty()) {
        std::vector<std::string> names;
        for (const auto& cp : e.code_points) {
          if (names.size() == 3) {
            names.push_back("and " + std::to_string(e.code_points.size() - 3) + " more");
            break;
          }
          std::string n = cp_text(cp.code_point) + " " + terminal_safe(cp.name);
          if (!cp.imitates.empty()) n += " (looks like '" + terminal_safe(cp.imitates) + "')";
          if (cp.count > 1) n += " x" + std::to_string(cp.count);
          names.push_back(n);
        }
        out += "        " + join(names, ", ") + "\n";
      }
    }
    for (const auto& c : f.confirm) out += "      confirm with: " + terminal_safe(c) + "\n";
  }
  return out;
}

std::string code_text(const Profile& p) {
  if (p.code.empty()) return "";
  std::vector<std::string> read, not_read;
  uint64_t bytes = 0;
  double seconds = 0;
  for (const auto& c : p.code) {
    if (c.inspected) {
      read.push_back(terminal_safe(c.source.label) + (c.cut_short ? " (cut short by the time budget)" : ""));
      bytes += c.bytes;
      seconds += c.seconds;
    } else {
      not_read.push_back(terminal_safe(c.source.label) + ": " + terminal_safe(c.not_inspected));
    }
  }
  std::string out;
  if (!read.empty()) {
    char t[32];
    snprintf(t, sizeof(t), "%.2f s", seconds);
    std::vector<std::string> shown(read.begin(), read.begin() + std::min<size_t>(read.size(), 4));
    out += "  code read: " + join(shown, ", ") + (read.size() > shown.size() ? ", and " + std::to_string(read.size() - shown.size()) + " more" : "") +
           " (" + human_bytes(bytes) + ", " + t + ")\n";
  }
  for (const auto& n : not_read) out += "  code not read: " + n + "\n";
  return out;
}

std::string report_text(const Analysis& a, const KnowledgeBase& kb, bool color) {
  const Profile& p = a.profile;
  const char* reset = color ? "\x1b[0m" : "";
  const char* bold = color ? "\x1b[1m" : "";
  std::string out = findings_text(a, color);
  out += std::string(bold) + "profile" + reset + "\n";
  out += "  " + std::to_string(p.processes.size()) + " process" + (p.processes.size() == 1 ? "" : "es") + ", " +
         std::to_string(p.events) + " events\n";
  for (const auto& cat : kb.categories()) {
    auto items = p.facts.find(cat.id);
    if (items == p.facts.end()) continue;
    std::vector<std::string> names;
    for (const auto& [item, f] : items->second) {
      std::string n = terminal_safe(f.item);
      if (f.kind == FactKind::kEnv) n += f.succeeded ? "" : " (unset)";
      else if (!f.succeeded) n += " (absent)";
      names.push_back(n);
    }
    std::vector<std::string> shown(names.begin(), names.begin() + std::min<size_t>(names.size(), 6));
    out += "  " + terminal_safe(cat.title) + ": " + join(shown, ", ");
    if (names.size() > shown.size()) out += ", and " + std::to_string(names.size() - shown.size()) + " more";
    out += "\n";
  }
  if (!p.destinations.empty()) {
    out += "  destinations:";
    size_t n = 0;
    for (const auto& [key, d] : p.destinations) {
      if (++n > 6) {
        out += " ...";
        break;
      }
      out += " " + terminal_safe(key) + " (" + human_bytes(d.bytes_sent + d.tls_plaintext) + ")";
      if (n < p.destinations.size() && n < 6) out += ",";
    }
    out += "\n";
  }
  if (!p.dns_names.empty()) out += "  names resolved: " + terminal_safe(join(p.dns_names, ", ")) + "\n";
  out += code_text(p);
  if (a.truncated || !p.has_trailer) out += "  the trace was cut short: it ends without its closing record\n";
  return out;
}

std::string report_sarif(const Analysis& a) { return report_sarif(std::vector<SarifSource>{{&a, "", Json()}}); }

std::string report_sarif(const std::vector<SarifSource>& sources) {
  Json rules_j = Json::array();
  std::map<std::string, int> rule_index;
  for (const auto& r : rules()) {
    Json rj;
    rj["id"] = r.id;
    rj["name"] = r.title;
    rj["shortDescription"]["text"] = r.title;
    rj["fullDescription"]["text"] = r.description;
    rj["helpUri"] = "https://github.com/agenttrace/agenttrace/blob/main/docs/findings.md#" + std::string(r.id);
    rule_index[r.id] = static_cast<int>(rules_j.size());
    rules_j.push_back(rj);
  }
  Json results = Json::array();
  Json invocations = Json::array();
  for (const auto& src : sources) {
    const Analysis& a = *src.analysis;
    const std::string uri = a.source.empty() ? "trace" : a.source;
    for (const auto& f : a.findings) {
      Json r;
      r["ruleId"] = f.rule;
      r["ruleIndex"] = rule_index[f.rule];
      r["level"] = f.severity == Severity::kHigh     ? "error"
                   : f.severity == Severity::kMedium ? "warning"
                                                      : "note";
      r["message"]["text"] = src.label.empty() ? f.message : src.label + ": " + f.message;
      // A trace has no source lines: the location is the trace file, and each
      // piece of evidence is a logical location (the process and event).
      Json loc;
      loc["physicalLocation"]["artifactLocation"]["uri"] = uri;
      Json logical = Json::array();
      Json lj;
      lj["name"] = f.comm.empty() ? std::string("trace") : f.comm;
      lj["fullyQualifiedName"] = (src.label.empty() ? "" : src.label + "/") + f.comm + "[" + std::to_string(f.pid) + "]";
      lj["kind"] = "process";
      logical.push_back(lj);
      loc["logicalLocations"] = logical;
      r["locations"] = Json::array({loc});
      r["partialFingerprints"]["agenttraceFindingId"] = f.id;
      Json related = Json::array();
      int n = 0;
      for (const auto& e : f.evidence) {
        Json rl;
        rl["id"] = n++;
        rl["message"]["text"] = e.what + (e.context.empty() ? "" : ": \"" + e.context + "\"");
        rl["physicalLocation"]["artifactLocation"]["uri"] = uri;
        if (e.event) rl["properties"]["event"] = e.event;
        related.push_back(rl);
      }
      if (!related.empty()) r["relatedLocations"] = related;
      // Which code asked: the call stacks of the evidence that has one.
      Json stacks = Json::array();
      for (const auto& e : f.evidence) {
        const trace::Stack* st = evidence_stack(a.profile, e);
        if (!st || st->frames_size() == 0) continue;
        Json sj;
        sj["message"]["text"] = e.what;
        Json frames = Json::array();
        for (const auto& fr : st->frames()) {
          Json fj;
          fj["location"]["message"]["text"] = frame_text(fr);
          if (!fr.symbol().empty()) {
            Json ll;
            ll["name"] = fr.symbol();
            ll["kind"] = "function";
            fj["location"]["logicalLocations"] = Json::array({ll});
          }
          if (!fr.module().empty()) fj["module"] = fr.module();
          frames.push_back(std::move(fj));
        }
        sj["frames"] = std::move(frames);
        stacks.push_back(std::move(sj));
      }
      if (!stacks.empty()) r["stacks"] = stacks;
      r["properties"]["severity"] = severity_name(f.severity);
      if (src.properties.is_object())
        for (const auto& [k, v] : src.properties.items()) r["properties"][k] = v;
      results.push_back(r);
    }
    Json inv;
    inv["executionSuccessful"] = true;
    std::vector<std::string> cmd(a.profile.header.command().begin(), a.profile.header.command().end());
    inv["commandLine"] = join(cmd, " ");
    if (src.properties.is_object()) inv["properties"] = src.properties;
    invocations.push_back(inv);
  }
  Json run;
  run["tool"]["driver"]["name"] = "agenttrace";
  run["tool"]["driver"]["version"] = AGENTTRACE_VERSION;
  run["tool"]["driver"]["informationUri"] = "https://github.com/agenttrace/agenttrace";
  run["tool"]["driver"]["rules"] = rules_j;
  run["results"] = results;
  run["invocations"] = invocations;
  Json sarif;
  sarif["$schema"] = "https://json.schemastore.org/sarif-2.1.0.json";
  sarif["version"] = "2.1.0";
  sarif["runs"] = Json::array({run});
  return trace::json_text(sarif, 2) + "\n";
}

}  // namespace agenttrace::analyzer
