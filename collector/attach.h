// `agenttrace attach --pid N`: traces processes that are already running,
// and all their descendants, existing and future, without stopping or
// restarting them. Ctrl-C (or SIGTERM) detaches and leaves them untouched;
// the session also ends when every traced process has exited.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "collector/session.h"

namespace agenttrace::collector {

// What the first of `pids` runs: the header's command. Throws
// agenttrace::Error when there is none, or a PID names no process or
// agenttrace itself.
std::vector<std::string> attach_command(const std::vector<pid_t>& pids);

// The processes `pids` and all their descendants; the session ends on
// SIGINT, SIGTERM, SIGHUP or SIGQUIT, or when none is left.
class AttachTarget : public Target {
 public:
  explicit AttachTarget(std::vector<pid_t> pids) : roots_(std::move(pids)) {}
  void begin(TraceSession& session) override;
  SignalAction on_signal(const signalfd_siginfo& si) override;
  bool finished(size_t live) override { return live == 0; }

 private:
  std::vector<pid_t> roots_;
};

}  // namespace agenttrace::collector
