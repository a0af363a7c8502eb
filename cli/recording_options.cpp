#include "cli/recording_options.h"

#include <unistd.h>

#include "common/error.h"
#include "common/strings.h"

namespace agenttrace::cli {

void add_recording_options(CLI::App& app, app::SessionOptions& run, RecordingFlags& flags) {
  app.add_option("--json", run.json_path, "stream one JSON object per event to FILE ('-': stdout)");
  app.add_flag("-v,--verbose", run.verbose, "print one line per event on stderr while it runs");
  app.add_flag("--show-values", run.show_values,
               "record the values of environment variables looked up (secrets!)");
  app.add_option("--ringbuf-size", flags.ringbuf, "kernel ring buffer size, a power of two (default 16M)")
      ->check(size_validator());
  app.add_option("--capture-bytes", flags.capture,
                 "payload bytes kept per connection and direction (default 1M; 0: none)")
      ->check(size_validator());
  app.add_flag("--no-stacks", flags.no_stacks,
               "do not capture the callers' stacks of lookups, fingerprint opens, DNS and connects");
  app.add_flag("--capture-symbols", run.capture_symbols,
               "name stack frames now, so the trace needs no binaries to be read elsewhere");
  app.add_option("--kb", run.kb_file, "a knowledge-base file that extends the built-in one")->type_name("FILE");
  app.add_flag("--keep-secrets", run.keep_secrets,
               "keep credentials (API keys, tokens, cookies) in the trace and reports instead of redacting them");
  app.add_flag("-q,--quiet", run.quiet, "no summary at the end");
  app.add_flag("--debug", run.debug, "show libbpf's and the verifier's own messages");
  add_export_options(app, run, flags.export_flags);
}

void finish_recording_options(app::SessionOptions& run, const RecordingFlags& flags) {
  uint64_t rb = *parse_size(flags.ringbuf);
  long page = sysconf(_SC_PAGESIZE);
  if (rb < static_cast<uint64_t>(page) || (rb & (rb - 1)) != 0 || rb > (1ull << 30))
    throw Error("--ringbuf-size must be a power of two between " + std::to_string(page) + " bytes and 1G, not " +
                flags.ringbuf);
  run.ringbuf_bytes = static_cast<uint32_t>(rb);
  run.capture_bytes = *parse_size(flags.capture);
  run.stacks = !flags.no_stacks;
  if (flags.no_stacks && run.capture_symbols) throw Error("--capture-symbols and --no-stacks contradict each other");
  finish_export_options(run, flags.export_flags);
}

}  // namespace agenttrace::cli
