// Writes a trace file: magic, then CRC-framed records. Buffered; flush()
// pushes whole records to the kernel so a killed collector leaves a file that
// reads up to its last flushed record.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/unique_fd.h"
#include "trace/format.h"

namespace agenttrace::trace {

class TraceWriter {
 public:
  // Creates (or truncates) path with mode 0600 and writes the magic.
  // Throws agenttrace::Error with one sentence on failure.
  explicit TraceWriter(const std::string& path);
  TraceWriter(TraceWriter&&) = default;
  TraceWriter& operator=(TraceWriter&&) = default;
  ~TraceWriter();

  void write_header(const Header& header);
  void write_event(const Event& event);
  void write_trailer(const Trailer& trailer);
  // Writes buffered records; throws Error when the disk refuses them.
  void flush();
  // Flushes and closes; further writes are errors.
  void close();

  const std::string& path() const { return path_; }
  uint64_t bytes_written() const { return bytes_written_ + buffer_.size(); }
  uint64_t records() const { return records_; }

 private:
  // Frames `payload` (already serialized into buffer_ at payload_start).
  void frame(size_t frame_start);
  void write_message(uint32_t record_field, const google::protobuf::MessageLite& message);

  std::string path_;
  UniqueFd fd_;
  std::vector<uint8_t> buffer_;
  uint64_t bytes_written_ = 0;
  uint64_t records_ = 0;
};

}  // namespace agenttrace::trace
