#include "collector/file_refusals.h"

#include <spdlog/spdlog.h>

#include "collector/coverage.h"

namespace agenttrace::collector {

void FileRefusals::note(const std::string& path, const std::string& why) {
  ++count_;
  // A program that opens its bad file in a loop must not grow this list.
  if (pending_.size() < 256) pending_.emplace_back(path, why);
}

std::vector<trace::Event> FileRefusals::take(const trace::Event& cause) {
  std::vector<trace::Event> out;
  for (auto& [path, why] : pending_) {
    // Named once per process and path, up to a bound (a program that names
    // endless distinct files is still counted).
    if (named_.size() >= 4096 || !named_.emplace(cause.pid(), path).second) continue;
    spdlog::warn("{}", why);
    out.push_back(coverage_event(cause, "file", {"gap", "named a file agenttrace would not read: " + why, path}));
  }
  pending_.clear();
  return out;
}

}  // namespace agenttrace::collector
