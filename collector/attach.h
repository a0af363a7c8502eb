// `agenttrace attach --pid N`: traces processes that are already running,
// and all their descendants, existing and future, without stopping or
// restarting them. Ctrl-C (or SIGTERM) detaches and leaves them untouched;
// the session also ends when every traced process has exited.
#pragma once

#include <sys/types.h>

#include <vector>

#include "collector/run.h"

namespace agenttrace::collector {

// Returns agenttrace's exit status (0). Throws agenttrace::Error when a PID
// names no process or tracing cannot start.
int run_attached(RunOptions options, const std::vector<pid_t>& pids);

}  // namespace agenttrace::collector
