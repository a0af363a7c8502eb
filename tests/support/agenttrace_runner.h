// Runs the real agenttrace binary for BPF tests and loads what it recorded.
#pragma once

#include <sys/types.h>

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "temp_dir.h"

namespace agenttrace::testing {

using Json = nlohmann::json;

struct RunResult {
  int exit_code = -1;       // agenttrace's exit status (128+N if it died by signal N)
  std::string out;          // its stdout (the command's stdout passes through)
  std::string err;          // its stderr (summary, warnings)
  Json header;              // JSON form of the trace header
  Json trailer;             // and of its closing record (null when missing)
  std::vector<Json> events; // every event, in order
  std::string trace_path;
};

struct RunSpec {
  std::vector<std::string> agenttrace_args;  // options before "--"
  std::vector<std::string> command;          // after "--"
  std::vector<std::string> env;              // the whole environment ("K=V")
  std::string cwd;                           // empty: inherit
  int timeout_s = 60;
  // Called with agenttrace's PID while it runs (e.g. to signal it).
  std::function<void(pid_t)> while_running;
};

// A small, explicit environment: PATH, HOME, LANG=C.UTF-8.
std::vector<std::string> base_env();

// Runs `agenttrace --json ... -o ... ARGS -- COMMAND` in `dir`.
RunResult run_agenttrace(const RunSpec& spec, const TempDir& dir);

// Empty when this machine can run the BPF tests, else why not (not root, no
// BTF, the kernel refuses BPF). A BPF program the verifier rejects is a test
// failure, not a reason to skip.
const std::string& bpf_unavailable_reason();

// The events of one process, of the given kinds, in order.
std::vector<Json> of_pid(const std::vector<Json>& events, int pid);

// Drops what the dynamic loader and C library start-up do in every program
// (ld.so.cache, shared libraries, ld.so.preload): what is left is what the
// program itself asked for.
std::vector<Json> without_loader(const std::vector<Json>& events);

// The events of one kind, in order.
std::vector<Json> of_kind(const std::vector<Json>& events, const std::string& kind);

// The run lost nothing: a closing record with no drops, decode errors or
// full kernel tables.
void expect_no_losses(const RunResult& r);

// A file's whole contents ("" when it cannot be read).
std::string slurp(const std::string& path);

// Runs `agenttrace ARGS...` to completion (no trace options added); its
// stdout and stderr land in `dir`. For subcommands such as dump and analyze.
struct CliResult {
  int exit_code = -1;  // 128+N when killed by signal N
  std::string out, err;
};
CliResult run_cli(const std::vector<std::string>& args, const TempDir& dir);

// One compact line per event for exact comparisons:
//   "getenv TZ found=false", "open /etc/machine-id = 3", "exec /bin/cat [cat x]",
//   "host_query ioctl SIOCGIFHWADDR lo", "host_query sendto RTM_GETLINK dump".
std::string brief(const Json& event);
std::vector<std::string> briefs(const std::vector<Json>& events);

// The fact about `item` in an `analyze --format json` report, with its
// stack; null when there is none.
Json fact(const Json& report, const std::string& item);
// The names of a stack's frames, innermost first ("?" for an unnamed one).
std::vector<std::string> symbols(const Json& stack);

}  // namespace agenttrace::testing

#define REQUIRE_BPF()                                                         \
  do {                                                                        \
    const std::string& why = ::agenttrace::testing::bpf_unavailable_reason(); \
    if (!why.empty()) GTEST_SKIP() << why;                                    \
  } while (0)
