#include <unistd.h>

#include "cli/commands.h"
#include "cli/export_options.h"
#include "cli/parse.h"
#include "collector/run.h"
#include "common/error.h"
#include "common/strings.h"
#include "version.h"

namespace agenttrace::cli {

int run_command(const std::vector<std::string>& args) {
  collector::RunOptions opt;
  std::string ringbuf = "16M";
  std::string capture = "1M";
  CLI::App app{"Trace a command and everything it starts.\n\n"
               "usage: agenttrace [OPTIONS] -- CMD [ARGS...]\n"
               "       agenttrace dump TRACE",
               "agenttrace"};
  app.prefix_command();  // everything after "--" (or the first word) is CMD
  app.set_version_flag("--version", "agenttrace " AGENTTRACE_VERSION);
  app.add_option("-o,--output", opt.output_path,
                 "trace file to write (default: agenttrace-CMD-TIME.atrace, mode 0600)");
  app.add_flag("--no-trace-file", opt.no_trace_file, "do not write a trace file");
  app.add_option("--json", opt.json_path, "stream one JSON object per event to FILE ('-': stdout)");
  app.add_flag("-v,--verbose", opt.verbose, "print one line per event on stderr while it runs");
  app.add_flag("--show-values", opt.show_values,
               "record the values of environment variables looked up (secrets!)");
  app.add_option("--ringbuf-size", ringbuf, "kernel ring buffer size, a power of two (default 16M)")
      ->check(size_validator());
  app.add_option("--capture-bytes", capture,
                 "payload bytes kept per connection and direction (default 1M; 0: none)")
      ->check(size_validator());
  app.add_flag("-q,--quiet", opt.quiet, "no summary at the end");
  app.add_flag("--debug", opt.debug, "show libbpf's and the verifier's own messages");
  ExportFlags export_flags;
  add_export_options(app, opt, export_flags);
  if (!parse_or_throw(app, args)) return kExitOk;

  std::vector<std::string> rest = app.remaining();
  if (!rest.empty() && rest[0] != "--" && rest[0].size() > 1 && rest[0][0] == '-')
    throw Error("unknown option " + rest[0] + " (see agenttrace --help)");
  if (!rest.empty() && rest[0] == "--") rest.erase(rest.begin());
  if (rest.empty()) throw Error("no command to trace (usage: agenttrace [OPTIONS] -- CMD [ARGS...])");
  opt.command = rest;

  uint64_t rb = *parse_size(ringbuf);
  long page = sysconf(_SC_PAGESIZE);
  if (rb < static_cast<uint64_t>(page) || (rb & (rb - 1)) != 0 || rb > (1ull << 30))
    throw Error("--ringbuf-size must be a power of two between " + std::to_string(page) +
                " bytes and 1G, not " + ringbuf);
  opt.ringbuf_bytes = static_cast<uint32_t>(rb);
  opt.capture_bytes = *parse_size(capture);
  if (opt.no_trace_file && !opt.output_path.empty())
    throw Error("--output and --no-trace-file contradict each other");
  finish_export_options(opt, export_flags);

  opt.agenttrace_argv.push_back("agenttrace");
  opt.agenttrace_argv.insert(opt.agenttrace_argv.end(), args.begin(), args.end());
  return collector::run_traced(opt);
}

}  // namespace agenttrace::cli
