// Files a traced program named that agenttrace would not read (a FIFO or a
// device where a perf map or a library should be, a symbolic link, a file
// over the size limit: common/safe_open.h). Each is counted and named: the
// recorder turns them into `coverage` events ("file", "gap") of the process
// whose record led to them, one per process and path.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "trace/format.h"

namespace agenttrace::collector {

class FileRefusals {
 public:
  // `path` was not read; `why` is one sentence that names it.
  void note(const std::string& path, const std::string& why);
  // The coverage events for what was noted since the last call, attributed
  // to the process (and time) of `cause`; a path already named for that
  // process is counted but not named again.
  std::vector<trace::Event> take(const trace::Event& cause);
  bool pending() const { return !pending_.empty(); }
  // Every refusal, repeats included.
  uint64_t count() const { return count_; }

 private:
  std::vector<std::pair<std::string, std::string>> pending_;
  std::set<std::pair<uint32_t, std::string>> named_;
  uint64_t count_ = 0;
};

}  // namespace agenttrace::collector
