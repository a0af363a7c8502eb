// Starts the traced command so nothing is missed from its first instruction:
// the child is forked, waits on a pipe until the collector has put its PID in
// the kernel's filter map, and only then execs. It keeps agenttrace's
// terminal, process group, stdio and working directory. It runs as the user
// that `user` names (groups, then gid, then uid, all three of each set, so no
// way back to root is left) with the environment it is given.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "common/identity.h"
#include "common/unique_fd.h"

namespace agenttrace::collector {

// As whom and with what environment the command starts.
struct LaunchAs {
  std::optional<UserIdentity> user;  // nullopt: agenttrace's own user
  std::vector<std::string> env;      // the whole environment ("K=V")
};

class Launcher {
 public:
  // Forks the gated child. `restore_mask` is the signal mask the command
  // should start with (agenttrace blocks signals for its own signalfd).
  // Throws agenttrace::Error when fork fails.
  Launcher(std::vector<std::string> argv, const sigset_t& restore_mask, LaunchAs as);
  ~Launcher();

  pid_t pid() const { return pid_; }
  // A pidfd that becomes readable when the child exits.
  int pidfd() const { return pidfd_.get(); }

  // Lets the child exec. Returns 0 when the exec succeeded, else its errno
  // (the child has then exited and is reaped here).
  int release();

  // Reaps the child if it exited; returns true and sets *status then.
  bool try_reap(int* status);
  // Blocks until the child exits.
  int wait();

  const std::vector<std::string>& argv() const { return argv_; }

 private:
  std::vector<std::string> argv_;
  pid_t pid_ = -1;
  UniqueFd gate_write_;
  UniqueFd error_read_;
  UniqueFd pidfd_;
  bool reaped_ = false;
};

// Where execvp(3) would find `command` with this PATH; empty when nowhere.
std::string find_in_path(const std::string& command, const char* path_env);

// One sentence for a failed exec of `command`, and the exit status that
// env(1) uses for it (126 cannot execute, 127 not found).
std::string exec_failure_message(const std::string& command, int err, int* exit_status);

}  // namespace agenttrace::collector
