// What the export has yet to deliver, oldest first: entries on disk (the
// spool, fleet/spool.h) followed by newer entries in memory. Entries are
// handed out in order to be published, released once the server
// acknowledged them, and handed out again after a rewind (a lost connection,
// an acknowledgement that did not come). While the server is away the
// memory part is spilled to disk, so an outage costs disk, not memory, and
// whatever is undelivered at exit is on disk.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>

#include "fleet/spool.h"

namespace agenttrace::fleet {

class Outbox {
 public:
  // Throws agenttrace::Error when the spool directory cannot be made.
  Outbox(const std::string& spool_dir, uint64_t spool_max);

  // New entries, back to back as the hot path queued them, at the tail.
  void push(std::string batch);

  // The next entry not yet handed out, valid until the next call; false when
  // there is none.
  bool next(std::string_view* entry);
  // The n oldest handed-out entries were delivered.
  void release(size_t n);
  // Everything handed out and not released will be handed out again.
  void rewind();
  // Writes the memory part to the spool; entries it cannot hold are dropped
  // and counted. Rewinds first when memory entries are handed out.
  void spill();

  size_t pending() const { return spool_.unreleased() + memory_.size(); }
  size_t in_flight() const { return in_flight_.size(); }
  bool memory_in_flight() const { return memory_sent_ > 0; }
  uint64_t memory_bytes() const { return memory_bytes_; }
  uint64_t spooled() const { return spooled_; }   // entries that went to disk
  uint64_t dropped() const { return dropped_ + spool_.damaged(); }
  const Spool& spool() const { return spool_; }

 private:
  struct MemoryEntry {
    std::shared_ptr<const std::string> batch;  // keeps the bytes alive
    std::string_view bytes;
  };
  Spool spool_;
  std::deque<MemoryEntry> memory_;
  size_t memory_sent_ = 0;  // memory_[0 .. memory_sent_) are handed out
  uint64_t memory_bytes_ = 0;
  std::deque<bool> in_flight_;  // per handed-out entry, oldest first: from disk?
  uint64_t spooled_ = 0;
  uint64_t dropped_ = 0;
};

}  // namespace agenttrace::fleet
