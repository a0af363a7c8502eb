// `agenttrace [OPTIONS] -- CMD [ARGS...]`: start CMD traced, record until it
// exits, print the summary, exit with CMD's status.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "fleet/export_options.h"

namespace agenttrace::collector {

struct RunOptions {
  std::vector<std::string> command;
  std::string output_path;      // trace file; empty: a name from the command and time
  bool no_trace_file = false;
  std::string json_path;        // "-" for standard output; empty for none
  bool verbose = false;         // one line per event on stderr
  bool show_values = false;     // record environment values
  bool quiet = false;           // no summary
  bool debug = false;
  uint32_t ringbuf_bytes = 16u << 20;
  uint64_t capture_bytes = 1u << 20;  // payload budget per connection and direction; 0: off
  std::vector<std::string> agenttrace_argv;  // for the trace header
  std::string kb_file;          // --kb: extends the built-in knowledge base
  bool stacks = true;           // capture callers' stacks (--no-stacks turns it off)
  bool capture_symbols = false; // name stack frames at record time (--capture-symbols)
  bool jit_symbols = false;     // ask Node.js for a perf map (--jit-symbols)
  // watch: every process on the host, or those matching a filter (and
  // their descendants).
  bool trace_all = false;
  std::vector<std::string> watch_comms;  // process names (comm, 15 bytes at most)
  std::vector<std::string> watch_exes;   // executables, matched by device and inode
  // --host-name (or AGENTTRACE_HOST_NAME): the name this host goes by in the
  // trace header and the fleet export; empty: the machine's own.
  std::string host_name;
  fleet::ExportOptions export_options;  // --export and its companions
  // As whom the command runs: --user NAME, or --as-root to keep root; by
  // default the user who ran sudo/pkexec/doas (common/identity.h).
  std::string run_as_user;
  bool as_root = false;
  // --force: replace an existing output file (never through a symlink).
  bool force = false;
  // --keep-secrets: no redaction of credentials (trace/redaction.h).
  bool keep_secrets = false;
};

// Returns the exit status agenttrace should exit with: CMD's status, 128+N
// when CMD was killed by signal N. Throws agenttrace::Error before CMD starts.
int run_traced(const RunOptions& options);

// "agenttrace-bash-20261123-210712.atrace" in the working directory, with
// "-2", "-3", ... added when such a file exists.
std::string default_trace_name(const std::string& command, int64_t wall_ns);

}  // namespace agenttrace::collector
