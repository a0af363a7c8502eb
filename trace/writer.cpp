#include "trace/writer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/crc32c.h"
#include "common/error.h"
#include "common/output_file.h"

namespace agenttrace::trace {

namespace {

constexpr size_t kFlushThreshold = 1 << 20;

void put_u32(uint8_t* p, uint32_t v) {
  p[0] = v & 0xff;
  p[1] = (v >> 8) & 0xff;
  p[2] = (v >> 16) & 0xff;
  p[3] = (v >> 24) & 0xff;
}

}  // namespace

TraceWriter::TraceWriter(const std::string& path) : path_(path) {
  // Created new (never through a link, never over another file), 0600 and
  // the invoking user's: traces hold what was sent.
  fd_ = create_output_file(path);
  buffer_.reserve(kFlushThreshold * 2);
  buffer_.insert(buffer_.end(), kMagic, kMagic + sizeof(kMagic));
}

TraceWriter::~TraceWriter() {
  if (fd_.valid()) {
    try {
      flush();
    } catch (const Error&) {
      // Destruction during unwinding: the first error was already reported.
    }
  }
}

void TraceWriter::write_message(uint32_t record_field,
                                const google::protobuf::MessageLite& message) {
  // The payload is a Record whose only field is `message`, serialized once,
  // straight into place.
  RecordEncoding record(record_field, message);
  size_t frame_start = buffer_.size();
  buffer_.resize(frame_start + kFrameHeaderSize + record.size());
  record.write(buffer_.data() + frame_start + kFrameHeaderSize);
  frame(frame_start);
}

void TraceWriter::frame(size_t frame_start) {
  uint8_t* header = buffer_.data() + frame_start;
  size_t payload_len = buffer_.size() - frame_start - kFrameHeaderSize;
  uint8_t* payload = header + kFrameHeaderSize;
  put_u32(header, static_cast<uint32_t>(payload_len));
  put_u32(header + 4, static_cast<uint32_t>(crc32c(header, 4)));
  put_u32(header + 8, static_cast<uint32_t>(crc32c(payload, payload_len)));
  ++records_;
  if (buffer_.size() >= kFlushThreshold) flush();
}

void TraceWriter::write_header(const Header& header) { write_message(kRecordHeader, header); }
void TraceWriter::write_event(const Event& event) { write_message(kRecordEvent, event); }
void TraceWriter::write_trailer(const Trailer& trailer) { write_message(kRecordTrailer, trailer); }

void TraceWriter::flush() {
  if (!fd_.valid()) {
    if (!buffer_.empty()) throw Error("trace file " + path_ + " was already closed");
    return;
  }
  size_t done = 0;
  while (done < buffer_.size()) {
    ssize_t n = ::write(fd_.get(), buffer_.data() + done, buffer_.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      buffer_.clear();
      throw Error("cannot write trace file " + path_ + ": " + errno_text(err));
    }
    done += static_cast<size_t>(n);
  }
  bytes_written_ += buffer_.size();
  buffer_.clear();
}

void TraceWriter::close() {
  if (!fd_.valid()) return;
  flush();
  if (::close(fd_.release()) != 0)
    throw Error("cannot close trace file " + path_ + ": " + errno_text(errno));
}

}  // namespace agenttrace::trace
