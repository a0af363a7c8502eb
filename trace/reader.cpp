#include "trace/reader.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/crc32c.h"
#include "common/error.h"

namespace agenttrace::trace {

namespace {

constexpr size_t kReadChunk = 1 << 20;

uint32_t get_u32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) |
         (static_cast<uint32_t>(p[2]) << 16) | (static_cast<uint32_t>(p[3]) << 24);
}

}  // namespace

TraceReader::TraceReader(const std::string& path) : name_(path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error("cannot open trace file " + path + ": " + errno_text(errno));
  fd_.reset(fd);
  open_and_read_header();
}

TraceReader::TraceReader(UniqueFd fd, std::string name) : name_(std::move(name)), fd_(std::move(fd)) {
  open_and_read_header();
}

void TraceReader::open_and_read_header() {
  buffer_.resize(kReadChunk);
  uint8_t magic[sizeof(kMagic)];
  size_t got = read_bytes(magic, sizeof(magic));
  if (got != sizeof(magic) || memcmp(magic, kMagic, sizeof(kMagic)) != 0)
    throw Error(name_ + " is not an agenttrace trace file");
  offset_ = sizeof(kMagic);
  Record record;
  Status st = read_record(&record);
  if (st == Status::kEnd || st == Status::kTruncated)
    throw Error(name_ + " is truncated before the end of its header");
  if (st == Status::kCorrupt) throw Error(name_ + " is corrupt: " + error_);
  if (!record.has_header()) throw Error(name_ + " is corrupt: its first record is not a header");
  header_ = record.header();
  if (header_.format_version() == 0 || header_.format_version() > kFormatVersion)
    throw Error(name_ + " has trace format version " + std::to_string(header_.format_version()) +
                ", this agenttrace reads versions up to " + std::to_string(kFormatVersion));
}

size_t TraceReader::read_bytes(uint8_t* dst, size_t n) {
  size_t done = 0;
  while (done < n) {
    if (buffer_pos_ == buffer_len_) {
      ssize_t r = ::read(fd_.get(), buffer_.data(), buffer_.size());
      if (r < 0) {
        if (errno == EINTR) continue;
        throw Error("cannot read " + name_ + ": " + errno_text(errno));
      }
      if (r == 0) break;
      buffer_pos_ = 0;
      buffer_len_ = static_cast<size_t>(r);
    }
    size_t take = std::min(n - done, buffer_len_ - buffer_pos_);
    memcpy(dst + done, buffer_.data() + buffer_pos_, take);
    buffer_pos_ += take;
    done += take;
  }
  return done;
}

TraceReader::Status TraceReader::read_frame(const uint8_t** payload, uint32_t* length) {
  uint8_t frame[kFrameHeaderSize];
  size_t got = read_bytes(frame, sizeof(frame));
  if (got == 0) return Status::kEnd;
  if (got < sizeof(frame)) return Status::kTruncated;
  uint32_t len = get_u32(frame);
  uint32_t len_crc = get_u32(frame + 4);
  uint32_t crc = get_u32(frame + 8);
  if (static_cast<uint32_t>(crc32c(frame, 4)) != len_crc) {
    error_ = "the frame of the record at byte " + std::to_string(offset_) + " is damaged";
    return Status::kCorrupt;
  }
  if (len > kMaxRecordSize) {
    error_ = "record at byte " + std::to_string(offset_) + " claims " + std::to_string(len) +
             " bytes";
    return Status::kCorrupt;
  }
  // Most frames lie whole in the read buffer: use them in place.
  if (buffer_len_ - buffer_pos_ >= len) {
    *payload = buffer_.data() + buffer_pos_;
    buffer_pos_ += len;
  } else {
    payload_.resize(len);
    got = read_bytes(payload_.data(), len);
    if (got < len) return Status::kTruncated;
    *payload = payload_.data();
  }
  if (static_cast<uint32_t>(crc32c(*payload, len)) != crc) {
    error_ = "record at byte " + std::to_string(offset_) + " fails its checksum";
    return Status::kCorrupt;
  }
  *length = len;
  offset_ += sizeof(frame) + len;
  return Status::kRecord;
}

TraceReader::Status TraceReader::read_record(Record* out) {
  const uint8_t* payload;
  uint32_t len;
  uint64_t start = offset_;
  Status st = read_frame(&payload, &len);
  if (st != Status::kRecord) return st;
  if (!out->ParseFromArray(payload, static_cast<int>(len))) {
    error_ = "record at byte " + std::to_string(start) + " does not decode";
    return Status::kCorrupt;
  }
  return Status::kRecord;
}

namespace {

// A Record holding only an event is the tag of field 2 (0x12), the event's
// length as a varint, then the event: parse the event in place.
bool event_span(const uint8_t* p, uint32_t len, const uint8_t** event, uint32_t* event_len) {
  if (len < 2 || p[0] != 0x12) return false;
  uint64_t v = 0;
  uint32_t i = 1;
  for (int shift = 0; i < len && shift < 35; shift += 7) {
    uint8_t b = p[i++];
    v |= static_cast<uint64_t>(b & 0x7f) << shift;
    if (!(b & 0x80)) {
      if (v != len - i) return false;  // anything else after it: the general path
      *event = p + i;
      *event_len = static_cast<uint32_t>(v);
      return true;
    }
  }
  return false;
}

}  // namespace

TraceReader::Status TraceReader::next(Event* out) {
  if (finished_) return Status::kEnd;
  uint64_t record_offset = offset_;
  const uint8_t* payload;
  uint32_t len;
  Status st = read_frame(&payload, &len);
  if (st != Status::kRecord) {
    finished_ = true;
    return st;
  }
  const uint8_t* event;
  uint32_t event_len;
  if (event_span(payload, len, &event, &event_len)) {
    if (!out->ParseFromArray(event, static_cast<int>(event_len))) {
      finished_ = true;
      error_ = "record at byte " + std::to_string(record_offset) + " does not decode";
      return Status::kCorrupt;
    }
    ++events_read_;
    return Status::kRecord;
  }
  if (!record_.ParseFromArray(payload, static_cast<int>(len))) {
    finished_ = true;
    error_ = "record at byte " + std::to_string(record_offset) + " does not decode";
    return Status::kCorrupt;
  }
  if (record_.has_event()) {
    out->Swap(record_.mutable_event());
    ++events_read_;
    return Status::kRecord;
  }
  if (record_.has_trailer()) {
    trailer_ = record_.trailer();
    has_trailer_ = true;
    // Nothing may follow the closing record.
    uint8_t extra;
    finished_ = true;
    if (read_bytes(&extra, 1) != 0) {
      error_ = "data follows the closing record at byte " + std::to_string(offset_);
      return Status::kCorrupt;
    }
    return Status::kEnd;
  }
  finished_ = true;
  error_ = "record at byte " + std::to_string(record_offset) +
           (record_.has_header() ? " is a second header" : " is of an unknown type");
  return Status::kCorrupt;
}

}  // namespace agenttrace::trace
