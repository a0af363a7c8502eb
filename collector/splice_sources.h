// Which file a splice(2) to a socket carried. splice moves bytes between a
// pipe and something else, so sending a file takes two calls: file -> pipe,
// then pipe -> socket. This remembers the last file spliced into each pipe
// and names it on the send; sendfile(2) names its file directly.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>

#include "collector/decoder.h"

namespace agenttrace::collector {

class SpliceSources {
 public:
  // Learns from a file-to-pipe record; for a record whose output is a socket
  // sets the send's source_file and returns true (the send is to be recorded).
  bool resolve(SpliceRecord* record);

  // Pipes remembered at most; past it the oldest knowledge is dropped (a
  // send through a forgotten pipe has no source_file, never a wrong one).
  static constexpr size_t kMaxPipes = 4096;

 private:
  std::unordered_map<uint64_t, std::string> pipe_file_;
};

}  // namespace agenttrace::collector
