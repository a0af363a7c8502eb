// `agenttrace sandbox`: the command runs in fresh user, mount, PID, UTS, IPC
// and network namespaces where only loopback exists, as an unprivileged uid
// with no capabilities, no_new_privs and a system-call filter, on a
// read-only view of the host (pivot_root) with private tmpfs for /tmp,
// /var/tmp, /run, /dev/shm and a fixed HOME, with exactly the environment
// the test gives, an /etc that names the hosts the test maps and the time
// zone it chooses, and the built-in LLM API stand-in listening on ports 80
// and 443. agenttrace itself stays outside: it records
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

// A host path made visible inside at `inside` (same path when empty).
struct SandboxBind {
  std::string host;
  std::string inside;
  bool read_only = false;
};

struct SandboxSpec {
  std::vector<std::string> argv;
  // The whole environment of the command, in order ("K=V").
  std::vector<std::string> env;
  // /etc/hosts entries: name -> address.
  std::vector<std::pair<std::string, std::string>> hosts;
  std::string localtime;  // zone for /etc/localtime and /etc/timezone; empty: the host's
  std::string hostname = "agenttrace-sandbox";
  std::string cwd;        // where the command starts (a path inside); empty: /
  std::string private_dir;  // host directory the sandbox's tmpfs is mounted on
  // The command's uid and gid, the same number inside and on the host: the
  // invoking sudo user, else nobody (65534). Never 0.
  uid_t uid = 65534;
  gid_t gid = 65534;
  // A user namespace owns the others; false: the command only drops to
  // `uid` (hosts where user namespaces are off). See
  // SandboxChild::user_namespace() for what it got.
  bool user_namespace = true;
  std::string home = "/home/agent";  // HOME inside, on a fresh tmpfs
  std::string home_seed;  // host directory copied into HOME first; empty: none
  std::vector<SandboxBind> binds;  // the workspace and --bind, in order
  // Files written into the sandbox's /etc before the command starts
  // (path inside /etc -> content), e.g. the trust store with the stand-in.
  std::vector<std::pair<std::string, std::string>> etc_files;
  unsigned long limit_procs = 4096;          // RLIMIT_NPROC of the command's uid
  unsigned long long limit_file_size = 1ull << 30;  // RLIMIT_FSIZE, bytes
};

// The system calls the sandboxed command gets EPERM for (the 32-bit ABI is
// refused as a whole), for docs and the sandbox-escape-attempt rule.
const std::vector<std::string>& refused_syscalls();

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

  // True when a user namespace holds the sandbox; false: the command only
  // runs as an unprivileged uid (user namespaces are off on this host, or
  // spec.user_namespace was false).
  bool user_namespace() const { return user_namespace_; }

 private:
  pid_t init_pid_ = -1;
  pid_t command_pid_ = -1;
  UniqueFd init_pidfd_;
  UniqueFd to_init_;    // parent -> init: "go on"
  UniqueFd from_init_;  // init -> parent: progress and the command's status
  UniqueFd gate_;       // parent -> command: exec now
  UniqueFd exec_error_; // command -> parent: errno of a failed exec
  bool reaped_ = false;
  bool user_namespace_ = false;
  int command_status_ = 0;
};

// "NAME" or "NAME=ADDR" (default address 127.0.0.1); throws agenttrace::Error.
std::pair<std::string, std::string> parse_host_mapping(const std::string& text);
// "K=V" lines, '#' comments and blank lines skipped; throws agenttrace::Error.
std::vector<std::string> read_env_file(const std::string& path);

}  // namespace agenttrace::sandbox
