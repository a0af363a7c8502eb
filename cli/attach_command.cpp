// `agenttrace attach --pid N [--pid M ...]`: trace processes already running.
#include <unistd.h>

#include "cli/commands.h"
#include "cli/parse.h"
#include "cli/recording_options.h"
#include "app/run.h"
#include "common/error.h"

namespace agenttrace::cli {

int attach_command(const std::vector<std::string>& args) {
  app::SessionOptions opt;
  RecordingFlags flags;
  std::vector<int> pids;
  CLI::App app{"Trace processes that are already running, and all their descendants, without stopping or\n"
               "restarting them. Ctrl-C detaches and leaves them untouched; it also ends when they have all\n"
               "exited. What they did before attaching is unknown, and the report says so.\n\n"
               "usage: agenttrace attach --pid N [--pid M ...] [OPTIONS]",
               "attach"};
  app.add_option("-p,--pid", pids, "a process to trace, with its descendants (repeatable)")->required();
  app.add_option("-o,--output", opt.output_path,
                 "trace file to write (default: agenttrace-CMD-TIME.atrace, mode 0600)")->type_name("FILE");
  app.add_flag("--no-trace-file", opt.no_trace_file, "do not write a trace file");
  add_recording_options(app, opt, flags);
  if (!parse_or_throw(app, args)) return kExitOk;
  finish_recording_options(opt, flags);
  if (opt.no_trace_file && !opt.output_path.empty())
    throw Error("--output and --no-trace-file contradict each other");
  opt.agenttrace_argv = {"agenttrace", "attach"};
  opt.agenttrace_argv.insert(opt.agenttrace_argv.end(), args.begin(), args.end());
  return app::run_attached(opt, std::vector<pid_t>(pids.begin(), pids.end()));
}

}  // namespace agenttrace::cli
