// `agenttrace watch`: records the whole host, or the processes that match
// --comm/--exe (and their descendants), for hours, into rotating trace
// files with bounded disk use. Every file is complete and readable by
// itself: it has its header, starts with the traced processes still
// running, and ends with its trailer. SIGHUP rotates; SIGINT and SIGTERM
// close the current file properly and end the watch.
#pragma once

#include <cstdint>
#include <string>

#include "collector/run.h"

namespace agenttrace::collector {

struct WatchOptions {
  std::string dir = ".";
  uint64_t rotate_bytes = 64ull << 20;  // start a new file past this size
  uint32_t keep = 10;                   // files kept in dir; older ones are deleted
};

// "agenttrace-watch-20261129-101530-0001.atrace": names sort in time order.
std::string watch_file_name(int64_t wall_ns, uint32_t sequence);

// Returns agenttrace's exit status. Throws agenttrace::Error.
int run_watch(RunOptions options, const WatchOptions& watch);

}  // namespace agenttrace::collector
