// The disk half of the export's outbox: a first-in first-out list of entries
// (fleet/entry.h) in numbered segment files of a directory of its own, mode
// 0700 (the entries are trace records, which hold secrets). Entries are read
// in order, read again after a rewind, and deleted a segment at a time once
// every entry in it was released (acknowledged by the server). Its size on
// disk never passes its bound: what does not fit is refused, and the caller
// counts it.
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <string_view>

#include "common/unique_fd.h"

namespace agenttrace::fleet {

class Spool {
 public:
  // Creates `dir` (and its parents) mode 0700. Throws agenttrace::Error.
  Spool(std::string dir, uint64_t max_bytes);
  // Deletes the directory when nothing unreleased is left in it.
  ~Spool();
  Spool(const Spool&) = delete;
  Spool& operator=(const Spool&) = delete;

  // Appends the entries in `entries` (back to back, as queued) in order, as
  // many as fit under the bound, and returns how many. A disk that refuses a
  // write stops the append there, as a full spool would (see last_error()).
  size_t append(std::string_view entries);

  // The next unread entry, valid until the next call. False when every entry
  // has been read.
  bool read(std::string_view* entry);
  // The n oldest read entries are done with.
  void release(size_t n);
  // Entries read but not released will be read again, in order.
  void rewind();

  size_t unread() const { return entries_ - released_ - read_unreleased_.size(); }
  size_t unreleased() const { return entries_ - released_; }
  uint64_t bytes() const { return bytes_; }
  uint64_t damaged() const { return damaged_; }  // entries lost to a damaged segment
  const std::string& dir() const { return dir_; }
  const std::string& last_error() const { return last_error_; }

 private:
  struct Segment {
    uint64_t number = 0;
    std::string path;
    uint64_t size = 0;
    size_t entries = 0;
    bool sealed = false;  // takes no more appends (damaged)
  };
  void drop_head();
  // Reads the whole segment `index` into read_buf_ (segments are small).
  bool load_segment(size_t index);
  bool open_tail();

  std::string dir_;
  uint64_t max_bytes_;
  uint64_t segment_max_;
  std::deque<Segment> segments_;
  UniqueFd tail_fd_;
  uint64_t next_number_ = 1;
  uint64_t bytes_ = 0;
  size_t entries_ = 0;    // appended, minus those lost to damage
  size_t released_ = 0;
  // Read position: segment index and offset; the loaded segment's bytes.
  size_t read_segment_ = 0;
  uint64_t read_offset_ = 0;
  size_t read_entries_in_segment_ = 0;
  size_t loaded_ = SIZE_MAX;
  std::string read_buf_;
  // Sizes of entries read and not yet released, oldest first, and the
  // release position in the head segment.
  std::deque<uint32_t> read_unreleased_;
  uint64_t head_released_offset_ = 0;
  size_t head_released_entries_ = 0;
  uint64_t damaged_ = 0;
  std::string last_error_;
  std::string write_buf_;
};

}  // namespace agenttrace::fleet
