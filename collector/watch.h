// `agenttrace watch`: records the whole host, or the processes that match
// --comm/--exe (and their descendants), for hours, into rotating trace
// files with bounded disk use. Every file is complete and readable by
// itself: it has its header, starts with the traced processes still
// running, and ends with its trailer. SIGHUP rotates; SIGINT and SIGTERM
// close the current file properly and end the watch.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "collector/run.h"
#include "collector/session.h"

namespace agenttrace::collector {

struct WatchOptions {
  std::string dir = ".";
  uint64_t rotate_bytes = 64ull << 20;  // start a new file past this size
  uint32_t keep = 10;                   // files kept in dir; older ones are deleted
};

// "agenttrace-watch-20261129-101530-0001.atrace": names sort in time order.
std::string watch_file_name(int64_t wall_ns, uint32_t sequence);

// Checks the watch's options and makes its directory; sets what a watch
// implies in `run` (every process unless --comm/--exe filter, a trace file,
// "watch" as the header's command). Throws agenttrace::Error.
void prepare_watch(RunOptions& run, const WatchOptions& watch);

// The matching processes and their descendants (or the whole host), into
// files in watch.dir: a new one past watch.rotate_bytes or on SIGHUP, the
// oldest deleted beyond watch.keep. SIGINT, SIGTERM and SIGQUIT end it.
class WatchTarget : public Target {
 public:
  WatchTarget(const RunOptions& run, const WatchOptions& w) : run_(run), w_(w) {}
  void begin(TraceSession& session) override;
  SignalAction on_signal(const signalfd_siginfo& si) override;
  std::string rotation_due(uint64_t bytes) override { return bytes >= w_.rotate_bytes ? next_file() : std::string(); }
  std::string next_file() override;
  void file_closed(const std::string& path) override;

  uint64_t deleted() const { return deleted_; }
  const std::vector<std::string>& closed() const { return closed_; }

 private:
  RunOptions run_;
  WatchOptions w_;
  uint32_t sequence_ = 0;
  std::string current_;
  std::vector<std::string> closed_;
  uint64_t deleted_ = 0;
};

}  // namespace agenttrace::collector
