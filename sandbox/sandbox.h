// `agenttrace sandbox`: the command runs in fresh mount, PID, UTS, IPC and
// network namespaces where only loopback exists, with exactly the environment
// the test gives, a private HOME and TMPDIR, an /etc that names the hosts the
// test maps and the time zone it chooses, and the built-in LLM API stand-in
// listening on ports 80 and 443. agenttrace itself stays outside: it records
// the command with the same probes as `agenttrace -- CMD`, and serves the
// stand-in from its own threads on sockets created inside the sandbox's
// network namespace.
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "collector/session.h"
#include "common/unique_fd.h"

namespace agenttrace::sandbox {

struct SandboxSpec {
  std::vector<std::string> argv;
  // The whole environment of the command, in order ("K=V").
  std::vector<std::string> env;
  // /etc/hosts entries: name -> address.
  std::vector<std::pair<std::string, std::string>> hosts;
  std::string localtime;  // zone for /etc/localtime and /etc/timezone; empty: the host's
  std::string hostname = "agenttrace-sandbox";
  std::string cwd;        // where the command starts; empty: agenttrace's own
  std::string private_dir;  // host directory the sandbox's tmpfs is mounted on
};

// The sandbox's init (PID 1 inside) and the command it starts, as a child a
// TraceSession can trace.
class SandboxChild : public collector::GatedChild {
 public:
  // Creates the namespaces and sets them up; `in_network` runs on a thread
  // inside the sandbox's network namespace once loopback is up (the stand-in
  // binds there), then the command is forked, waiting to exec.
  SandboxChild(const SandboxSpec& spec, const sigset_t& command_mask,
               const std::function<void()>& in_network);
  ~SandboxChild() override;

  pid_t pid() const override { return command_pid_; }
  int exit_fd() const override { return init_pidfd_.get(); }
  int release() override;
  bool try_reap(int* status) override;
  void forward(int sig) override;

  pid_t init_pid() const { return init_pid_; }
  // Writes a file inside the sandbox's view of the filesystem (its /etc).
  void write_inside(const std::string& path, const std::string& content) const;

 private:
  pid_t init_pid_ = -1;
  pid_t command_pid_ = -1;
  UniqueFd init_pidfd_;
  UniqueFd to_init_;    // parent -> init: "go on"
  UniqueFd from_init_;  // init -> parent: progress and the command's status
  UniqueFd gate_;       // parent -> command: exec now
  UniqueFd exec_error_; // command -> parent: errno of a failed exec
  bool reaped_ = false;
  int command_status_ = 0;
};

// "NAME" or "NAME=ADDR" (default address 127.0.0.1); throws agenttrace::Error.
std::pair<std::string, std::string> parse_host_mapping(const std::string& text);
// "K=V" lines, '#' comments and blank lines skipped; throws agenttrace::Error.
std::vector<std::string> read_env_file(const std::string& path);

}  // namespace agenttrace::sandbox
