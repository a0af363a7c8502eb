// Reads a trace file record by record. A file cut short reads up to its last
// whole record and says so; a damaged record (bad length or CRC) or a foreign
// file is an error with one sentence, never a crash.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/unique_fd.h"
#include "trace/format.h"

namespace agenttrace::trace {

class TraceReader {
 public:
  enum class Status {
    kRecord,     // *out holds the next event
    kEnd,        // clean end of file (check has_trailer())
    kTruncated,  // the file ends inside a record: whatever came before is good
    kCorrupt,    // damaged or foreign data: see error()
  };

  // Opens path and reads the header record. Throws agenttrace::Error when the
  // file cannot be opened or is not a trace ("not an agenttrace trace file").
  explicit TraceReader(const std::string& path);
  // Reads from an already open descriptor (a pipe or memfd); `name` is used in
  // messages.
  TraceReader(UniqueFd fd, std::string name);

  const Header& header() const { return header_; }

  // Next event. After the trailer, returns kEnd.
  Status next(Event* out);

  bool has_trailer() const { return has_trailer_; }
  const Trailer& trailer() const { return trailer_; }
  const std::string& error() const { return error_; }
  uint64_t events_read() const { return events_read_; }
  // Bytes of whole records consumed so far.
  uint64_t offset() const { return offset_; }
  const std::string& name() const { return name_; }

 private:
  void open_and_read_header();
  // Reads exactly n bytes into dst; returns bytes read (less at end of file).
  size_t read_bytes(uint8_t* dst, size_t n);
  Status read_record(Record* out);
  // The next frame's verified payload (in the read buffer or payload_).
  Status read_frame(const uint8_t** payload, uint32_t* length);

  std::string name_;
  UniqueFd fd_;
  std::vector<uint8_t> buffer_;
  size_t buffer_pos_ = 0;
  size_t buffer_len_ = 0;
  std::vector<uint8_t> payload_;
  Header header_;
  Trailer trailer_;
  Record record_;
  bool has_trailer_ = false;
  bool finished_ = false;
  std::string error_;
  uint64_t events_read_ = 0;
  uint64_t offset_ = 0;
};

}  // namespace agenttrace::trace
