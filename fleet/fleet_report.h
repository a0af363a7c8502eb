// Reports across the fleet: which hosts ran which agents, which gathered
// which facts, which sent hidden characters or echoed values, and every
// finding with its host; then each recording's own report. The formats are
// those of `agenttrace analyze` (text, JSON, HTML, SARIF), built from the
// same per-recording reports.
#pragma once

#include <string>
#include <vector>

#include "analyzer/knowledge_base.h"
#include "fleet/fleet_analysis.h"
#include "trace/json.h"

namespace agenttrace::fleet {

struct FleetReport {
  std::string source;  // "nats://host:4222 (stream AGENTTRACE)"
  std::vector<SessionAnalysis> sessions;
};

std::string fleet_report_text(const FleetReport& r, const analyzer::KnowledgeBase& kb, bool color);
trace::Json fleet_report_json(const FleetReport& r, const analyzer::KnowledgeBase& kb);
std::string fleet_report_html(const FleetReport& r, const analyzer::KnowledgeBase& kb);
std::string fleet_report_sarif(const FleetReport& r);

// "text", "json", "html" or "sarif".
std::string render_fleet_report(const FleetReport& r, const analyzer::KnowledgeBase& kb, const std::string& format,
                                bool color);

// One line for a finding as `collect --follow` prints it when it appears.
std::string finding_line(const std::string& host, const std::string& session, const analyzer::Finding& f);

}  // namespace agenttrace::fleet
