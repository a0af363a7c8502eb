#include <fcntl.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <cstdio>
#include <fstream>

#include "analyzer/knowledge_base.h"
#include "analyzer/report.h"
#include "cli/commands.h"
#include "cli/output.h"
#include "cli/parse.h"
#include "common/error.h"
#include "fleet/collect.h"
#include "fleet/fleet_report.h"
#include "fleet/nats_settings.h"
#include "trace/reader.h"

namespace agenttrace::cli {

analyzer::Analysis analyze_trace(const std::string& path, const analyzer::KnowledgeBase& kb) {
  trace::TraceReader reader(path);
  analyzer::ProfileBuilder builder(kb);
  builder.on_header(reader.header());
  trace::Event event;
  trace::TraceReader::Status st;
  while ((st = reader.next(&event)) == trace::TraceReader::Status::kRecord) builder.on_event(event);
  if (st == trace::TraceReader::Status::kCorrupt)
    throw Error(path + " is corrupt after " + std::to_string(reader.events_read()) + " events: " + reader.error());
  analyzer::Analysis a;
  if (reader.has_trailer()) {
    builder.on_trailer(reader.trailer());
  } else {
    a.truncated = true;
    spdlog::warn("{} is truncated: it ends after {} events without its closing record; analysing what is there",
                 path, reader.events_read());
  }
  a.profile = std::move(builder.profile());
  a.findings = analyzer::run_rules(a.profile, kb);
  a.source = path;
  return a;
}

std::string render_report(const analyzer::Analysis& a, const analyzer::KnowledgeBase& kb,
                          const std::string& format, bool color) {
  if (format == "json") return report_json(a, kb).dump(2, ' ', false, trace::Json::error_handler_t::replace) + "\n";
  if (format == "html") return report_html(a, kb);
  if (format == "sarif") return report_sarif(a);
  return report_text(a, kb, color);
}

int analyze_command(const std::vector<std::string>& args) {
  std::string path, format = "text", output, kb_file, nats_config;
  CLI::App app{"Analyse a trace: findings with their evidence, then the behavioral profile.\n"
               "TRACE is a .atrace file, or nats://HOST:PORT for what a fleet exported there (as collect).",
               "analyze"};
  app.add_option("trace", path, "the .atrace file, or nats://HOST:PORT")->required();
  app.add_option("--format", format, "text, json, html or sarif (default text)")
      ->check(CLI::IsMember({"text", "json", "html", "sarif"}));
  app.add_option("-o,--output", output, "write the report to FILE (default: standard output)");
  app.add_option("--kb", kb_file, "a knowledge-base file that extends the built-in one");
  app.add_option("--nats-config", nats_config, "with a nats:// source: credentials, TLS and stream (docs/fleet.md)");
  if (!parse_or_throw(app, args)) return kExitOk;

  analyzer::KnowledgeBase kb = analyzer::KnowledgeBase::builtin();
  if (!kb_file.empty()) kb.extend_from_file(kb_file);
  bool color = format == "text" && output.empty() && analyzer::terminal_wants_color(STDOUT_FILENO);
  if (fleet::is_nats_url(path)) {
    // The stream as one source: a single recording reads exactly as its
    // trace file would; several give the fleet report.
    fleet::CollectOptions o;
    o.from = path;
    o.config_file = nats_config;
    fleet::FleetReport report = fleet::collect(o, kb);
    if (report.sessions.size() == 1)
      write_output(output, render_report(report.sessions[0].analysis, kb, format, color));
    else
      write_output(output, fleet::render_fleet_report(report, kb, format, color));
    return kExitOk;
  }
  if (!nats_config.empty()) throw Error("--nats-config only applies to a nats:// source");
  analyzer::Analysis a = analyze_trace(path, kb);
  write_output(output, render_report(a, kb, format, color));
  return kExitOk;
}

}  // namespace agenttrace::cli
