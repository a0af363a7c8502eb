#include <fcntl.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <cstdio>
#include <fstream>
#include <optional>

#include "analyzer/knowledge_base.h"
#include "analyzer/policy.h"
#include "analyzer/report.h"
#include "analyzer/symbolizer.h"
#include "analyzer/trace_analysis.h"
#include "cli/commands.h"
#include "cli/output.h"
#include "cli/parse.h"
#include "common/error.h"
#include "fleet/collect.h"
#include "fleet/fleet_report.h"
#include "fleet/nats_settings.h"
#include "trace/reader.h"

namespace agenttrace::cli {

std::string render_report(const analyzer::Analysis& a, const analyzer::KnowledgeBase& kb,
                          const std::string& format, bool color) {
  if (format == "json") return trace::json_text(report_json(a, kb), 2) + "\n";
  if (format == "html") return report_html(a, kb);
  if (format == "sarif") return report_sarif(a);
  return report_text(a, kb, color);
}

int analyze_command(const std::vector<std::string>& args) {
  std::string path, format = "text", output, kb_file, policy_file, nats_config;
  analyzer::SymbolizerOptions symbols;
  CLI::App app{"Analyse a trace: findings with their evidence, then the behavioral profile.\n"
               "TRACE is a .atrace file, or nats://HOST:PORT for what a fleet exported there (as collect).\n"
               "Exit status: 0; 3 when a --policy is violated; 125 on errors.",
               "analyze"};
  app.add_option("trace", path, "the .atrace file, or nats://HOST:PORT")->required();
  app.add_option("--format", format, "text, json, html, sarif, or junit with --policy (default text)")
      ->check(CLI::IsMember({"text", "json", "html", "sarif", "junit"}));
  app.add_option("-o,--output", output, "write the report to FILE (default: standard output)")->type_name("FILE");
  app.add_option("--kb", kb_file, "a knowledge-base file that extends the built-in one")->type_name("FILE");
  app.add_option("--policy", policy_file, "a YAML policy: violations exit with status 3 (docs/policy.md)")->type_name("FILE");
  app.add_option("--binaries", symbols.binary_dirs,
                 "a directory with the traced programs' binaries, to name stack frames (repeatable; a trace "
                 "from another machine or boot is named only from these)")
      ->check(CLI::ExistingDirectory);
  app.add_option("--nats-config", nats_config, "with a nats:// source: credentials, TLS and stream (docs/fleet.md)")->type_name("FILE");
  if (!parse_or_throw(app, args)) return kExitOk;
  if (format == "junit" && policy_file.empty()) throw Error("--format junit needs a --policy (one test case per rule)");

  analyzer::KnowledgeBase kb = analyzer::KnowledgeBase::builtin();
  if (!kb_file.empty()) kb.extend_from_file(kb_file);
  // A bad policy fails before the trace is read.
  std::optional<analyzer::Policy> policy;
  if (!policy_file.empty()) policy = analyzer::Policy::load(policy_file);
  bool color = format == "text" && output.empty() && analyzer::terminal_wants_color(STDOUT_FILENO);
  analyzer::Analysis a;
  if (fleet::is_nats_url(path)) {
    // The stream as one source: a single recording reads exactly as its
    // trace file would; several give the fleet report.
    fleet::CollectOptions o;
    o.from = path;
    o.config_file = nats_config;
    o.binary_dirs = symbols.binary_dirs;
    fleet::FleetReport report = fleet::collect(o, kb);
    if (report.sessions.size() != 1) {
      if (policy) throw Error("--policy applies to one recording; this stream holds " + std::to_string(report.sessions.size()));
      if (format == "junit") throw Error("--format junit needs a single recording and a --policy");
      write_output(output, fleet::render_fleet_report(report, kb, format, color));
      return kExitOk;
    }
    a = std::move(report.sessions[0].analysis);
  } else {
    if (!nats_config.empty()) throw Error("--nats-config only applies to a nats:// source");
    a = analyzer::analyze_trace_file(path, kb, symbols);
  }
  std::optional<analyzer::PolicyResult> verdict;
  if (policy) verdict = policy->evaluate(a, kb);
  std::string text;
  if (format == "junit") {
    text = analyzer::policy_junit(*verdict, "agenttrace analyze");
  } else if (format == "json" && verdict) {
    trace::Json j = report_json(a, kb);
    j["policy"] = analyzer::policy_json(*verdict);
    text = trace::json_text(j, 2) + "\n";
  } else {
    text = render_report(a, kb, format, color);
    if (format == "text" && verdict) text += analyzer::policy_text(*verdict, color);
  }
  write_output(output, text);
  return verdict && !verdict->passed() ? kExitFindings : kExitOk;
}

}  // namespace agenttrace::cli
