#include "trace/reader.h"

#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <cstring>

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

TraceReader::Status TraceReader::read_record(Record* out) {
  uint8_t frame[kFrameHeaderSize];
  size_t got = read_bytes(frame, sizeof(frame));
  if (got == 0) return Status::kEnd;
  if (got < sizeof(frame)) return Status::kTruncated;
  uint32_t len = get_u32(frame);
  uint32_t len_crc = get_u32(frame + 4);
  uint32_t crc = get_u32(frame + 8);
  if (static_cast<uint32_t>(crc32(0, frame, 4)) != len_crc) {
    error_ = "the frame of the record at byte " + std::to_string(offset_) + " is damaged";
    return Status::kCorrupt;
  }
  if (len > kMaxRecordSize) {
    error_ = "record at byte " + std::to_string(offset_) + " claims " + std::to_string(len) +
             " bytes";
    return Status::kCorrupt;
  }
  payload_.resize(len);
  got = read_bytes(payload_.data(), len);
  if (got < len) return Status::kTruncated;
  if (static_cast<uint32_t>(crc32(0, payload_.data(), len)) != crc) {
    error_ = "record at byte " + std::to_string(offset_) + " fails its checksum";
    return Status::kCorrupt;
  }
  if (!out->ParseFromArray(payload_.data(), static_cast<int>(len))) {
    error_ = "record at byte " + std::to_string(offset_) + " does not decode";
    return Status::kCorrupt;
  }
  offset_ += sizeof(frame) + len;
  return Status::kRecord;
}

TraceReader::Status TraceReader::next(Event* out) {
  if (finished_) return Status::kEnd;
  uint64_t record_offset = offset_;
  Status st = read_record(&record_);
  if (st != Status::kRecord) {
    finished_ = true;
    return st;
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
