#include <unistd.h>

#include "cli/commands.h"
#include "cli/export_options.h"
#include "cli/parse.h"
#include "cli/recording_options.h"
#include "app/run.h"
#include "common/error.h"
#include "common/strings.h"
#include "build_info.h"
#include "version.h"

namespace agenttrace::cli {

int run_command(const std::vector<std::string>& args) {
  app::SessionOptions opt;
  RecordingFlags flags;
  CLI::App app{"Trace a command and everything it starts.\n\n"
               "usage: agenttrace [OPTIONS] -- CMD [ARGS...]\n"
               "       agenttrace attach --pid N [OPTIONS]\n"
               "       agenttrace watch [--comm NAME] [--exe PATH] [-o DIR] [OPTIONS]\n"
               "       agenttrace sandbox [OPTIONS] -- CMD [ARGS...]\n"
               "       agenttrace diff --vary VAR=V1,V2 [OPTIONS] -- CMD [ARGS...]\n"
               "       agenttrace analyze TRACE | dump TRACE | inspect FILE\n"
               "       agenttrace collect --from nats://HOST:PORT [OPTIONS]",
               "agenttrace"};
  app.prefix_command();  // everything after "--" (or the first word) is CMD
  // The commit too, so two binaries of one version are told apart ("-dirty":
  // built with changes to tracked files).
  app.set_version_flag("--version", std::string("agenttrace " AGENTTRACE_VERSION) +
                                        (*AGENTTRACE_COMMIT ? " (commit " AGENTTRACE_COMMIT ")" : ""));
  app.add_option("-o,--output", opt.output_path,
                 "trace file to write (default: agenttrace-CMD-TIME.atrace, mode 0600)")->type_name("FILE");
  app.add_flag("--no-trace-file", opt.no_trace_file, "do not write a trace file");
  add_recording_options(app, opt, flags);
  app.add_option("--user", opt.run_as_user,
                 "run CMD as USER (default: the user who ran sudo, pkexec or doas; root stays root without them)")
      ->type_name("USER");
  app.add_flag("--as-root", opt.as_root, "run CMD as root even under sudo (the header says so)");
  app.add_flag("--jit-symbols", opt.jit_symbols,
               "ask Node.js for a perf map (NODE_OPTIONS), so stacks name JavaScript functions");
  if (!parse_or_throw(app, args)) return kExitOk;

  std::vector<std::string> rest = app.remaining();
  if (!rest.empty() && rest[0] != "--" && rest[0].size() > 1 && rest[0][0] == '-')
    throw Error("unknown option " + rest[0] + " (see agenttrace --help)");
  if (!rest.empty() && rest[0] == "--") rest.erase(rest.begin());
  if (rest.empty()) throw Error("no command to trace (usage: agenttrace [OPTIONS] -- CMD [ARGS...])");
  opt.command = rest;
  finish_recording_options(opt, flags);
  if (opt.no_trace_file && !opt.output_path.empty())
    throw Error("--output and --no-trace-file contradict each other");
  if (opt.as_root && !opt.run_as_user.empty()) throw Error("--user and --as-root contradict each other");
  if (opt.jit_symbols && !opt.stacks) throw Error("--jit-symbols and --no-stacks contradict each other");

  opt.agenttrace_argv.push_back("agenttrace");
  opt.agenttrace_argv.insert(opt.agenttrace_argv.end(), args.begin(), args.end());
  return app::run_traced(opt);
}

}  // namespace agenttrace::cli
