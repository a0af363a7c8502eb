// What a recording is asked to do: the options every recording command
// shares (`agenttrace -- CMD`, sandbox, attach, watch). The layer above
// (app/session.h) adds what it wires around the recording: the knowledge
// base, the fleet export.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

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
  bool stacks = true;           // capture callers' stacks (--no-stacks turns it off)
  // Path globs (~/ expanded): a path lookup (open, readlink, stat, access)
  // keeps its caller's stack only when its path matches one; every other
  // kind that carries a stack keeps it. The application layer fills them
  // from the knowledge base (fingerprint and credential paths).
  std::vector<std::string> stack_paths;
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
  // As whom the command runs: --user NAME, or --as-root to keep root; by
  // default the user who ran sudo/pkexec/doas (common/identity.h).
  std::string run_as_user;
  bool as_root = false;
  // --force: replace an existing output file (never through a symlink).
  bool force = false;
  // --keep-secrets: no redaction of credentials (trace/redaction.h).
  bool keep_secrets = false;
};

// "agenttrace-bash-20261123-210712.atrace" in the working directory, with
// "-2", "-3", ... added when such a file exists.
std::string default_trace_name(const std::string& command, int64_t wall_ns);

}  // namespace agenttrace::collector
