// `agenttrace watch`: record the host, or matching processes, into rotating files.
#include "cli/commands.h"
#include "cli/parse.h"
#include "cli/recording_options.h"
#include "app/run.h"
#include "common/error.h"
#include "common/strings.h"

namespace agenttrace::cli {

int watch_command(const std::vector<std::string>& args) {
  app::SessionOptions opt;
  collector::WatchOptions w;
  RecordingFlags flags;
  std::string rotate = "64M";
  CLI::App app{"Record every process on the host, or only those matching --comm or --exe together with their\n"
               "descendants, for hours, into rotating trace files with bounded disk use. Each file is complete\n"
               "and readable by itself (agenttrace analyze FILE). SIGHUP rotates; Ctrl-C or SIGTERM closes the\n"
               "current file properly and ends.\n\n"
               "usage: agenttrace watch [--comm NAME] [--exe PATH] [-o DIR] [--rotate SIZE] [--keep N] [OPTIONS]",
               "watch"};
  app.add_option("--comm", opt.watch_comms, "trace processes with this name when they exec, and those running now (repeatable)")->type_name("NAME");
  app.add_option("--exe", opt.watch_exes, "trace processes running this executable (repeatable)")->type_name("PATH");
  app.add_option("-o,--output", w.dir, "directory for the trace files (default: the working directory)")->type_name("DIR");
  app.add_option("--rotate", rotate, "start a new file past this size (default 64M)")->check(size_validator());
  app.add_option("--keep", w.keep, "trace files kept in the directory; older ones are deleted (default 10)");
  add_recording_options(app, opt, flags);
  if (!parse_or_throw(app, args)) return kExitOk;
  finish_recording_options(opt, flags);
  w.rotate_bytes = *parse_size(rotate);
  for (const auto& c : opt.watch_comms)
    if (c.empty() || c.size() > 15) throw Error("--comm " + c + ": a process name has 1 to 15 characters");
  opt.agenttrace_argv = {"agenttrace", "watch"};
  opt.agenttrace_argv.insert(opt.agenttrace_argv.end(), args.begin(), args.end());
  return app::run_watch(opt, w);
}

}  // namespace agenttrace::cli
