// `agenttrace sandbox [OPTIONS] -- CMD`: CMD traced inside fresh namespaces
// with the built-in LLM API stand-in; canaries and a policy gate for CI.
#include <unistd.h>

#include "analyzer/policy.h"
#include "cli/commands.h"
#include "cli/export_options.h"
#include "cli/output.h"
#include "cli/parse.h"
#include "cli/sandbox_options.h"
#include "common/error.h"

namespace agenttrace::cli {

int sandbox_command(const std::vector<std::string>& args) {
  app::SandboxOptions o;
  app::SessionOptions run;
  CLI::App app{"Run a command traced in a sandbox: fresh namespaces with only loopback, exactly\n"
               "the environment given, and a built-in stand-in for LLM APIs on ports 80 and 443.\n"
               "Exit status: the command's; 3 when a --policy is violated; 125 on agenttrace errors.\n\n"
               "usage: agenttrace sandbox [OPTIONS] -- CMD [ARGS...]",
               "sandbox"};
  add_sandbox_options(app, o, run);
  std::string format = "text", output;
  app.add_option("--format", format, "report format: text, json, junit or sarif (default text)")
      ->check(CLI::IsMember({"text", "json", "junit", "sarif"}));
  app.add_option("-o,--output", output, "write the report to FILE")->type_name("FILE");
  ExportFlags export_flags;
  add_export_options(app, run, export_flags);
  if (!parse_or_throw(app, args)) return kExitOk;
  finish_sandbox_options(app, o, run, args, "sandbox");
  finish_export_options(run, export_flags);

  // A bad policy fails before anything runs.
  std::optional<analyzer::Policy> policy;
  if (!o.policy_file.empty()) policy = analyzer::Policy::load(o.policy_file);
  analyzer::KnowledgeBase kb = app::load_knowledge_base(run.kb_file);

  app::SandboxRun r = app::run_in_sandbox(o, run);
  std::optional<analyzer::PolicyResult> verdict;
  if (policy) verdict = policy->evaluate(r.analysis, kb);
  if (!run.quiet) {
    std::string text = r.end_report;
    if (verdict) text += analyzer::policy_text(*verdict, analyzer::terminal_wants_color(STDERR_FILENO));
    fputs(text.c_str(), stderr);
  }
  if (!output.empty() || format != "text") write_output(output, render_sandbox_report(r, verdict, format, kb));
  if (verdict && !verdict->passed()) return kExitFindings;
  return r.exit_status;
}

}  // namespace agenttrace::cli
