// `agenttrace diff`: the command in the sandbox once per value of one input,
// each value repeated to learn what varies by itself, and every difference in
// the outgoing requests that follows the input rather than the noise.
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>
#include <set>

#include "analyzer/diff.h"
#include "analyzer/diff_report.h"
#include "cli/commands.h"
#include "cli/output.h"
#include "common/output_file.h"
#include "cli/parse.h"
#include "cli/sandbox_options.h"
#include "common/error.h"
#include "common/strings.h"

namespace agenttrace::cli {

namespace {

std::vector<std::string> split_values(const std::string& list) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= list.size()) {
    size_t comma = list.find(',', start);
    if (comma == std::string::npos) comma = list.size();
    out.push_back(list.substr(start, comma - start));
    start = comma + 1;
  }
  return out;
}

}  // namespace

int diff_command(const std::vector<std::string>& args) {
  app::SandboxOptions o;
  app::SessionOptions run;
  CLI::App app{"Run a command in the sandbox once per value of one input, repeating each value,\n"
               "and report what in its outgoing requests changes with that input and not by itself.\n"
               "Exit status: 0 nothing input-dependent; 4 an input-dependent change outside where\n"
               "the value itself belongs; 125 on agenttrace errors.\n\n"
               "usage: agenttrace diff --vary VAR=V1,V2[,...] [--vary-localtime Z1,Z2] [OPTIONS] -- CMD",
               "diff"};
  add_sandbox_options(app, o, run);
  std::vector<std::string> vary;
  std::string vary_localtime, format = "text", output, trace_dir;
  int repeat = 2;
  app.add_option("--vary", vary, "VAR=V1,V2[,...]: the variable to vary and its values");
  app.add_option("--vary-localtime", vary_localtime, "Z1,Z2[,...]: zones for the sandbox's /etc/localtime");
  app.add_option("--repeat", repeat, "identical runs of each value (default 2; 1 learns no noise)")
      ->check(CLI::Range(1, 20));
  app.add_option("--format", format, "report format: text, json, junit or sarif (default text)")
      ->check(CLI::IsMember({"text", "json", "junit", "sarif"}));
  app.add_option("-o,--output", output, "write the report to FILE")->type_name("FILE");
  app.add_option("--trace-dir", trace_dir, "keep each run's trace file in DIR");
  if (!parse_or_throw(app, args)) return kExitOk;
  finish_sandbox_options(app, o, run, args, "diff");
  if (!o.policy_file.empty()) throw Error("--policy goes with agenttrace sandbox; diff reports input-dependent output");
  if (!o.trace_file.empty()) throw Error("--trace is one file; diff makes several: use --trace-dir DIR");

  // The variants: one varied input (or the variable and the zone together,
  // value by value).
  std::string var;
  std::vector<std::string> values, zones;
  if (vary.size() > 1) throw Error("diff varies one variable at a time; give --vary once");
  if (!vary.empty()) {
    auto eq = vary[0].find('=');
    if (eq == std::string::npos || eq == 0) throw Error("--vary " + vary[0] + ": expected VAR=V1,V2");
    var = vary[0].substr(0, eq);
    values = split_values(vary[0].substr(eq + 1));
  }
  if (!vary_localtime.empty()) zones = split_values(vary_localtime);
  size_t n = std::max(values.size(), zones.size());
  if (n < 2) throw Error("diff needs at least two values to compare (--vary VAR=V1,V2 or --vary-localtime Z1,Z2)");
  if (!values.empty() && !zones.empty() && values.size() != zones.size())
    throw Error("--vary and --vary-localtime must give as many values each (they vary together)");
  for (const auto& z : zones)
    if (z.find("..") != std::string::npos || access(("/usr/share/zoneinfo/" + z).c_str(), R_OK) != 0)
      throw Error("--vary-localtime: no such zone " + z + " in /usr/share/zoneinfo");
  if (!trace_dir.empty()) open_output_directory(trace_dir);

  std::vector<analyzer::RunCapture> captures;
  std::vector<std::string> failures;
  int total = static_cast<int>(n) * repeat, index = 0;
  // Interleaved (A B A B), so slowly changing values such as the current
  // minute change within a variant's repeats too and are learned as noise.
  for (int r = 0; r < repeat; ++r) {
    for (size_t v = 0; v < n; ++v) {
      app::SandboxOptions vo = o;
      std::string label, value;
      if (!values.empty()) {
        vo.env.push_back(var + "=" + values[v]);
        label = var + "=" + values[v];
        value = values[v];
      }
      if (!zones.empty()) {
        vo.localtime = zones[v];
        label += (label.empty() ? "" : " ") + std::string("localtime=") + zones[v];
        if (value.empty()) value = zones[v];
      }
      app::SessionOptions ro = run;
      ro.quiet = true;
      if (trace_dir.empty())
        ro.no_trace_file = true;
      else
        ro.output_path = trace_dir + "/run-" + std::to_string(index + 1) + ".atrace";
      ++index;
      fprintf(stderr, "agenttrace diff: run %d/%d: %s\n", index, total, label.c_str());
      app::SandboxRun sr = app::run_in_sandbox(vo, ro);
      if (sr.exit_status != 0)
        failures.push_back("run " + std::to_string(index) + " (" + label + ") exited with status " +
                           std::to_string(sr.exit_status));
      captures.push_back(analyzer::capture_of(sr.analysis.profile, label, value));
    }
  }

  analyzer::DiffReport report = analyzer::diff_runs(captures);
  for (const auto& f : failures) {
    spdlog::warn("{}", f);
    report.notes.push_back("the command failed in " + f);
  }
  std::string artifact = trace_dir.empty() ? o.command[0] : trace_dir + "/run-1.atrace";
  std::string text;
  if (format == "json")
    text = trace::json_text(analyzer::diff_report_json(report), 2) + "\n";
  else if (format == "junit")
    text = analyzer::diff_report_junit(report, "agenttrace diff");
  else if (format == "sarif")
    text = analyzer::diff_report_sarif(report, artifact);
  if (!run.quiet) fputs(analyzer::diff_report_text(report, analyzer::terminal_wants_color(STDERR_FILENO)).c_str(), stderr);
  if (format == "text") {
    if (!output.empty()) write_output(output, analyzer::diff_report_text(report, false));
  } else {
    write_output(output, text);
  }
  // Nothing sent in any run is not a pass: there was nothing to compare.
  bool sent_anything = false;
  for (const auto& c : captures) sent_anything |= !c.requests.empty() || !c.raw_streams.empty();
  if (!sent_anything)
    throw Error("nothing to compare: the command sent no data in any run" +
                (failures.empty() ? std::string() : " (it failed in " + std::to_string(failures.size()) + " of them)"));
  return report.input_dependent ? kExitInputDependent : kExitOk;
}

}  // namespace agenttrace::cli
