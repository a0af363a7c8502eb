// The recording commands: `agenttrace -- CMD`, `attach`, `watch`. Each
// records with an app::Session (live analysis, --export) and prints what it
// found at the end.
#pragma once

#include <sys/types.h>

#include <vector>

#include "app/session.h"
#include "collector/watch.h"

namespace agenttrace::app {

// `agenttrace [OPTIONS] -- CMD [ARGS...]`: starts CMD traced, records until
// it exits, prints the summary. Returns the exit status agenttrace should
// exit with: CMD's status, 128+N when CMD was killed by signal N. Throws
// agenttrace::Error before CMD starts.
int run_traced(const SessionOptions& options);

// `agenttrace attach --pid N` (collector/attach.h). Returns agenttrace's
// exit status. Throws agenttrace::Error when a PID names no process or
// tracing cannot start.
int run_attached(SessionOptions options, const std::vector<pid_t>& pids);

// `agenttrace watch` (collector/watch.h). Returns agenttrace's exit status.
// Throws agenttrace::Error.
int run_watch(SessionOptions options, const collector::WatchOptions& watch);

}  // namespace agenttrace::app
