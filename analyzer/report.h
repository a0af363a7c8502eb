// Reports of an analysis: a terminal report a person reads in one screen,
// JSON (schema in docs/report-schema.json), a self-contained HTML page and
// SARIF 2.1.0 for code-scanning interfaces. All are built from the same
// profile and findings, so every format says the same.
#pragma once

#include <string>
#include <vector>

#include "analyzer/findings.h"
#include "analyzer/knowledge_base.h"
#include "analyzer/profile.h"
#include "trace/json.h"

namespace agenttrace::analyzer {

struct Analysis {
  Profile profile;
  std::vector<Finding> findings;
  std::string source;  // the trace file (or "live") the events came from
  bool truncated = false;  // the trace ended without its closing record
};

// The highest severity among the findings; -1 when there are none.
int worst_severity(const std::vector<Finding>& findings);

trace::Json report_json(const Analysis& a, const KnowledgeBase& kb);
// One finding as report_json lists it (the fleet export publishes these).
// `profile`: the one the finding came from, for the call stacks of its evidence.
trace::Json finding_json(const Finding& f, const Profile* profile = nullptr);

// Findings first, then the profile. `color`: ANSI colours for a terminal.
// One line on the code inspect read for the code evidence (what, how much,
// how long) and what it did not read, with why; "" when there was none.
std::string code_text(const Profile& p);
std::string report_text(const Analysis& a, const KnowledgeBase& kb, bool color);
// Only the findings part of report_text (the end of a live run prints the
// collector's summary after it).
std::string findings_text(const Analysis& a, bool color);

std::string report_sarif(const Analysis& a);
// One SARIF run with the findings of several analyses (the fleet's
// recordings): each result's message starts with its source's label
// ("alpha") and carries its properties (host, session).
struct SarifSource {
  const Analysis* analysis;
  std::string label;
  trace::Json properties;
};
std::string report_sarif(const std::vector<SarifSource>& sources);

std::string report_html(const Analysis& a, const KnowledgeBase& kb);

// Whether stderr (fd) is a terminal that wants colour (NO_COLOR, TERM=dumb).
bool terminal_wants_color(int fd);

}  // namespace agenttrace::analyzer
