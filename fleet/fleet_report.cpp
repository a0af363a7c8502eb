#include "fleet/fleet_report.h"

#include <algorithm>
#include <map>
#include <set>

#include "common/strings.h"
#include "version.h"

namespace agenttrace::fleet {

namespace {

using analyzer::Severity;
using trace::Json;

// What a host did, over all its recordings.
struct HostSummary {
  std::vector<const SessionAnalysis*> sessions;
  std::set<std::string> agents;             // command lines
  std::set<std::string> categories;         // knowledge-base ids of facts gathered
  std::map<std::string, int> rules;         // rule -> worst severity seen
  std::map<std::string, uint64_t> by_severity;
  uint64_t events = 0;
};

std::string command_of(const SessionAnalysis& s) {
  std::vector<std::string> words;
  for (const auto& w : s.analysis.profile.header.command()) words.push_back(shell_quote(w));
  return words.empty() ? "(unknown command)" : join(words, " ");
}

std::map<std::string, HostSummary> by_host(const FleetReport& r) {
  std::map<std::string, HostSummary> hosts;
  for (const auto& s : r.sessions) {
    HostSummary& h = hosts[s.host];
    h.sessions.push_back(&s);
    h.agents.insert(command_of(s));
    h.events += s.analysis.profile.events;
    for (const auto& [cat, items] : s.analysis.profile.facts)
      if (!cat.empty() && !items.empty()) h.categories.insert(cat);
    for (const auto& f : s.analysis.findings) {
      int sev = static_cast<int>(f.severity);
      auto [it, fresh] = h.rules.emplace(f.rule, sev);
      if (!fresh) it->second = std::max(it->second, sev);
      h.by_severity[analyzer::severity_name(f.severity)]++;
    }
  }
  return hosts;
}

std::string category_title(const analyzer::KnowledgeBase& kb, const std::string& id) {
  for (const auto& c : kb.categories())
    if (c.id == id) return c.title;
  return id;
}

// The state of a recording's copy in the stream, in a few words.
std::string completeness(const SessionAnalysis& s) {
  std::vector<std::string> notes;
  if (!s.has_header) notes.push_back("its start is not in what was read");
  if (s.analysis.truncated) notes.push_back("no closing record yet");
  if (s.counts.missing) notes.push_back(std::to_string(s.counts.missing) + " messages missing");
  if (s.counts.duplicates) notes.push_back(std::to_string(s.counts.duplicates) + " duplicate copies dropped");
  if (s.undecodable) notes.push_back(std::to_string(s.undecodable) + " undecodable messages");
  return notes.empty() ? "complete" : join(notes, ", ");
}

struct Flat {
  const SessionAnalysis* session;
  const analyzer::Finding* finding;
};

std::vector<Flat> all_findings(const FleetReport& r) {
  std::vector<Flat> out;
  for (const auto& s : r.sessions)
    for (const auto& f : s.analysis.findings) out.push_back({&s, &f});
  std::stable_sort(out.begin(), out.end(), [](const Flat& a, const Flat& b) {
    return static_cast<int>(a.finding->severity) > static_cast<int>(b.finding->severity);
  });
  return out;
}

std::string markup_escape(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

// A value from the trace: control characters are not HTML text (and
// &#x80;-&#x9F; would be read as windows-1252), so they show as the
// terminal's escapes before the markup is escaped.
std::string html_escape(const std::string& s) { return markup_escape(terminal_safe(s)); }

}  // namespace

std::string finding_line(const std::string& host, const std::string& session, const analyzer::Finding& f) {
  std::string sev = analyzer::severity_name(f.severity);
  for (char& c : sev) c = static_cast<char>(toupper(static_cast<unsigned char>(c)));
  // Host, session and message are what a host published: escaped for the terminal.
  return sev + " " + terminal_safe(host) + " " + terminal_safe(f.rule) + "  " + terminal_safe(f.message) +
         " (session " + terminal_safe(session) + ")";
}

std::string fleet_report_text(const FleetReport& r, const analyzer::KnowledgeBase& kb, bool color) {
  const char* bold = color ? "\x1b[1m" : "";
  const char* reset = color ? "\x1b[0m" : "";
  auto hosts = by_host(r);
  auto flat = all_findings(r);
  std::string out = std::string(bold) + "agenttrace fleet report" + reset + " from " + terminal_safe(r.source) + "\n";
  out += "  " + std::to_string(hosts.size()) + " host" + (hosts.size() == 1 ? "" : "s") + ", " +
         std::to_string(r.sessions.size()) + " recording" + (r.sessions.size() == 1 ? "" : "s") + ", " +
         std::to_string(flat.size()) + " finding" + (flat.size() == 1 ? "" : "s") + "\n";
  if (r.sessions.empty()) out += "  nothing was exported there (or nothing matched)\n";

  out += std::string(bold) + "hosts" + reset + "\n";
  for (const auto& [name, h] : hosts) {
    out += "  " + terminal_safe(name) + ": " + std::to_string(h.sessions.size()) + " recording" + (h.sessions.size() == 1 ? "" : "s") +
           ", " + std::to_string(h.events) + " events\n";
    out += "    ran: " + terminal_safe(join(std::vector<std::string>(h.agents.begin(), h.agents.end()), "; ")) + "\n";
    std::vector<std::string> cats;
    for (const auto& c : h.categories) cats.push_back(terminal_safe(category_title(kb, c)));
    out += "    gathered: " + (cats.empty() ? std::string("nothing the knowledge base names") : join(cats, ", ")) + "\n";
    std::vector<std::string> rules;
    for (const auto& [rule, sev] : h.rules)
      rules.push_back(terminal_safe(rule) + " (" + analyzer::severity_name(static_cast<Severity>(sev)) + ")");
    out += "    findings: " + (rules.empty() ? std::string("none") : join(rules, ", ")) + "\n";
  }

  out += std::string(bold) + "findings" + reset + "\n";
  if (flat.empty()) out += "  none\n";
  for (const auto& f : flat) out += "  " + finding_line(f.session->host, f.session->session, *f.finding) + "\n";

  for (const auto& s : r.sessions) {
    out += "\n" + std::string(bold) + "== " + terminal_safe(s.host) + ", recording " + terminal_safe(s.session) + reset + " (" +
           format_time_ns(s.analysis.profile.start_wall_ns) + ", " + completeness(s) + ")\n";
    out += analyzer::report_text(s.analysis, kb, color);
  }
  return out;
}

Json fleet_report_json(const FleetReport& r, const analyzer::KnowledgeBase& kb) {
  Json j;
  j["schema"] = "agenttrace-fleet-report/1";
  j["agenttrace_version"] = AGENTTRACE_VERSION;
  j["source"] = r.source;
  Json hosts = Json::array();
  for (const auto& [name, h] : by_host(r)) {
    Json hj;
    hj["host"] = name;
    hj["recordings"] = h.sessions.size();
    hj["events"] = h.events;
    hj["agents"] = h.agents;
    hj["gathered"] = h.categories;
    Json rules = Json::object();
    for (const auto& [rule, sev] : h.rules) rules[rule] = analyzer::severity_name(static_cast<Severity>(sev));
    hj["rules"] = rules;
    Json sev = Json::object();
    for (const char* s : {"high", "medium", "low", "info"}) sev[s] = h.by_severity.count(s) ? h.by_severity.at(s) : 0;
    hj["findings_by_severity"] = sev;
    hosts.push_back(hj);
  }
  j["hosts"] = hosts;
  Json findings = Json::array();
  for (const auto& f : all_findings(r)) {
    Json fj = analyzer::finding_json(*f.finding, &f.session->analysis.profile);
    fj["host"] = f.session->host;
    fj["session"] = f.session->session;
    findings.push_back(fj);
  }
  j["findings"] = findings;
  Json sessions = Json::array();
  for (const auto& s : r.sessions) {
    Json sj;
    sj["host"] = s.host;
    sj["host_token"] = s.host_token;
    sj["session"] = s.session;
    sj["complete"] = s.has_header && !s.analysis.truncated && !s.counts.missing;
    sj["messages"] = s.counts.delivered;
    sj["missing"] = s.counts.missing;
    sj["duplicates"] = s.counts.duplicates;
    sj["undecodable"] = s.undecodable;
    sj["published_findings"] = s.published_findings.size();
    sj["report"] = analyzer::report_json(s.analysis, kb);
    sessions.push_back(sj);
  }
  j["recordings"] = sessions;
  return j;
}

std::string fleet_report_sarif(const FleetReport& r) {
  std::vector<analyzer::SarifSource> sources;
  for (const auto& s : r.sessions) {
    Json props;
    props["host"] = s.host;
    props["session"] = s.session;
    sources.push_back({&s.analysis, s.host, props});
  }
  return analyzer::report_sarif(sources);
}

std::string fleet_report_html(const FleetReport& r, const analyzer::KnowledgeBase& kb) {
  // The overview is drawn here; each recording's report is the same
  // self-contained page `analyze --format html` writes, inlined with srcdoc,
  // so the file needs nothing from the network.
  auto hosts = by_host(r);
  auto flat = all_findings(r);
  std::string out =
      "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>agenttrace fleet report</title>\n"
      "<style>body{font:14px system-ui,sans-serif;margin:1.5em;color:#222}table{border-collapse:collapse;margin:.5em 0}"
      "td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left;vertical-align:top}th{background:#f3f3f3}"
      ".high{color:#b00;font-weight:bold}.medium{color:#a60;font-weight:bold}.low{color:#06a}.info{color:#777}"
      "iframe{width:100%;height:80vh;border:1px solid #ccc}details{margin:.6em 0}</style></head><body>\n";
  out += "<h1>agenttrace fleet report</h1>\n<p>From " + html_escape(r.source) + ": " + std::to_string(hosts.size()) +
         " hosts, " + std::to_string(r.sessions.size()) + " recordings, " + std::to_string(flat.size()) +
         " findings.</p>\n";
  out += "<h2>Hosts</h2>\n<table><tr><th>host</th><th>recordings</th><th>ran</th><th>gathered</th><th>findings</th></tr>\n";
  for (const auto& [name, h] : hosts) {
    std::vector<std::string> cats, rules, agents;
    for (const auto& c : h.categories) cats.push_back(html_escape(category_title(kb, c)));
    for (const auto& [rule, sev] : h.rules)
      rules.push_back("<span class=\"" + std::string(analyzer::severity_name(static_cast<Severity>(sev))) + "\">" +
                      html_escape(rule) + "</span>");
    for (const auto& a : h.agents) agents.push_back("<code>" + html_escape(a) + "</code>");
    out += "<tr><td>" + html_escape(name) + "</td><td>" + std::to_string(h.sessions.size()) + "</td><td>" +
           join(agents, "<br>") + "</td><td>" + (cats.empty() ? "nothing it names" : join(cats, ", ")) + "</td><td>" +
           (rules.empty() ? "none" : join(rules, ", ")) + "</td></tr>\n";
  }
  out += "</table>\n<h2>Findings</h2>\n";
  if (flat.empty()) out += "<p>None.</p>\n";
  else out += "<table><tr><th>severity</th><th>host</th><th>rule</th><th>finding</th><th>recording</th></tr>\n";
  for (const auto& f : flat) {
    std::string sev = analyzer::severity_name(f.finding->severity);
    out += "<tr><td class=\"" + sev + "\">" + sev + "</td><td>" + html_escape(f.session->host) + "</td><td>" +
           html_escape(f.finding->rule) + "</td><td>" + html_escape(f.finding->message) + "</td><td>" +
           html_escape(f.session->session) + "</td></tr>\n";
  }
  if (!flat.empty()) out += "</table>\n";
  out += "<h2>Recordings</h2>\n";
  for (const auto& s : r.sessions) {
    out += "<details><summary>" + html_escape(s.host) + ": <code>" + html_escape(command_of(s)) + "</code>, " +
           html_escape(format_time_ns(s.analysis.profile.start_wall_ns)) + ", " +
           std::to_string(s.analysis.findings.size()) + " findings (" + html_escape(completeness(s)) +
           ")</summary>\n<iframe title=\"report of " + html_escape(s.host) + " " + html_escape(s.session) +
           "\" srcdoc=\"" + markup_escape(analyzer::report_html(s.analysis, kb)) + "\"></iframe></details>\n";
  }
  out += "</body></html>\n";
  return out;
}

std::string render_fleet_report(const FleetReport& r, const analyzer::KnowledgeBase& kb, const std::string& format,
                                bool color) {
  if (format == "json") return trace::json_text(fleet_report_json(r, kb), 2) + "\n";
  if (format == "html") return fleet_report_html(r, kb);
  if (format == "sarif") return fleet_report_sarif(r);
  return fleet_report_text(r, kb, color);
}

}  // namespace agenttrace::fleet
