#include "fleet/spool.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <filesystem>

#include <spdlog/spdlog.h>

#include "common/error.h"
#include "fleet/entry.h"

namespace agenttrace::fleet {

namespace fs = std::filesystem;

namespace {

bool write_all(int fd, const std::string& data) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    done += static_cast<size_t>(n);
  }
  return true;
}

void make_private_dirs(const std::string& dir) {
  std::error_code ec;
  fs::path p(dir);
  fs::path built;
  for (const auto& part : p) {
    built /= part;
    if (built.string() == "/" || fs::exists(built, ec)) continue;
    if (::mkdir(built.c_str(), 0700) != 0 && errno != EEXIST)
      throw Error("cannot create the spool directory " + built.string() + ": " + errno_text(errno));
  }
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    throw Error("the spool directory " + dir + " is not a directory");
  if (::access(dir.c_str(), W_OK | X_OK) != 0)
    throw Error("cannot write to the spool directory " + dir + ": " + errno_text(errno));
}

}  // namespace

Spool::Spool(std::string dir, uint64_t max_bytes)
    : dir_(std::move(dir)), max_bytes_(max_bytes),
      segment_max_(std::clamp<uint64_t>(max_bytes / 8, 64u << 10, 8u << 20)) {
  make_private_dirs(dir_);
}

Spool::~Spool() {
  tail_fd_.reset();
  if (unreleased() != 0) return;
  for (const auto& s : segments_) ::unlink(s.path.c_str());
  ::rmdir(dir_.c_str());
}

bool Spool::open_tail() {
  char name[32];
  snprintf(name, sizeof(name), "/%016llu.seg", static_cast<unsigned long long>(next_number_));
  std::string path = dir_ + name;
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) {
    last_error_ = "cannot create " + path + ": " + errno_text(errno);
    return false;
  }
  tail_fd_.reset(fd);
  segments_.push_back(Segment{next_number_++, path, 0, 0, false});
  return true;
}

size_t Spool::append(std::string_view entries) {
  size_t done = 0;
  size_t pos = 0;
  size_t pending = 0;
  write_buf_.clear();
  auto flush = [&]() -> bool {
    if (write_buf_.empty()) return true;
    Segment& tail = segments_.back();
    if (!write_all(tail_fd_.get(), write_buf_)) {
      last_error_ = "cannot write to the spool " + tail.path + ": " + errno_text(errno);
      // Whole entries only: cut what this write left behind.
      if (ftruncate(tail_fd_.get(), static_cast<off_t>(tail.size)) != 0) tail.sealed = true;
      write_buf_.clear();
      return false;
    }
    tail.size += write_buf_.size();
    tail.entries += pending;
    bytes_ += write_buf_.size();
    entries_ += pending;
    done += pending;
    pending = 0;
    write_buf_.clear();
    return true;
  };
  while (pos < entries.size()) {
    EntryView v;
    size_t n = 0;
    if (read_entry(entries.substr(pos), false, &v, &n) != EntryStatus::kOk) break;
    if (bytes_ + write_buf_.size() + n > max_bytes_) break;
    bool new_segment = segments_.empty() || segments_.back().sealed || !tail_fd_.valid() ||
                       (segments_.back().size + write_buf_.size() > 0 &&
                        segments_.back().size + write_buf_.size() + n > segment_max_);
    if (new_segment && (!flush() || !open_tail())) return done;
    size_t at = write_buf_.size();
    write_buf_.append(entries.substr(pos, n));
    seal_entry(reinterpret_cast<uint8_t*>(write_buf_.data() + at));
    ++pending;
    pos += n;
  }
  flush();
  return done;
}

bool Spool::load_segment(size_t index) {
  const Segment& seg = segments_[index];
  size_t have = loaded_ == index ? read_buf_.size() : 0;
  if (loaded_ != index) read_buf_.clear();
  loaded_ = index;
  UniqueFd fd(::open(seg.path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    last_error_ = "cannot read the spool " + seg.path + ": " + errno_text(errno);
    return false;
  }
  // A segment still being appended to is read again from where the last
  // load ended.
  read_buf_.resize(seg.size);
  while (have < seg.size) {
    ssize_t n = ::pread(fd.get(), read_buf_.data() + have, seg.size - have, static_cast<off_t>(have));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      last_error_ = "cannot read the spool " + seg.path + ": " + (n < 0 ? errno_text(errno) : "it is shorter than written");
      read_buf_.resize(have);
      return false;
    }
    have += static_cast<size_t>(n);
  }
  return true;
}

bool Spool::read(std::string_view* entry) {
  while (read_segment_ < segments_.size()) {
    Segment& seg = segments_[read_segment_];
    if (read_offset_ < seg.size) {
      bool ok = (loaded_ == read_segment_ && read_buf_.size() >= seg.size) || load_segment(read_segment_);
      EntryView v;
      size_t n = 0;
      if (ok && read_buf_.size() >= seg.size &&
          read_entry(std::string_view(read_buf_).substr(read_offset_, seg.size - read_offset_), true, &v, &n) ==
              EntryStatus::kOk) {
        *entry = std::string_view(read_buf_).substr(read_offset_, n);
        read_offset_ += n;
        ++read_entries_in_segment_;
        read_unreleased_.push_back(static_cast<uint32_t>(n));
        return true;
      }
      // A damaged segment: what follows the damage in it is lost, counted,
      // and the segment takes no more appends.
      size_t lost = seg.entries - read_entries_in_segment_;
      if (lost) spdlog::warn("the export spool {} is damaged: {} records in it are lost", seg.path, lost);
      damaged_ += lost;
      entries_ -= lost;
      seg.entries = read_entries_in_segment_;
      seg.sealed = true;
      if (read_segment_ + 1 == segments_.size()) tail_fd_.reset();
      read_offset_ = seg.size;
      continue;
    }
    if (read_segment_ + 1 >= segments_.size()) break;
    ++read_segment_;
    read_offset_ = 0;
    read_entries_in_segment_ = 0;
  }
  return false;
}

void Spool::drop_head() {
  const Segment& head = segments_.front();
  ::unlink(head.path.c_str());
  bytes_ -= head.size;
  if (segments_.size() == 1) tail_fd_.reset();
  segments_.pop_front();
  if (read_segment_ > 0) {
    --read_segment_;
  } else {
    read_offset_ = 0;
    read_entries_in_segment_ = 0;
  }
  if (loaded_ != SIZE_MAX) loaded_ = loaded_ == 0 ? SIZE_MAX : loaded_ - 1;
  if (loaded_ == SIZE_MAX) read_buf_.clear();
  head_released_offset_ = 0;
  head_released_entries_ = 0;
}

void Spool::release(size_t n) {
  for (size_t i = 0; i < n && !read_unreleased_.empty(); ++i) {
    head_released_offset_ += read_unreleased_.front();
    read_unreleased_.pop_front();
    ++head_released_entries_;
    ++released_;
    // Every entry of the head segment is delivered: it goes. A head that is
    // still the tail goes too; the next append starts a new segment.
    while (!segments_.empty() && head_released_entries_ >= segments_.front().entries &&
           (head_released_offset_ >= segments_.front().size || segments_.front().sealed))
      drop_head();
  }
}

void Spool::rewind() {
  read_segment_ = 0;
  read_offset_ = head_released_offset_;
  read_entries_in_segment_ = head_released_entries_;
  read_unreleased_.clear();
}

}  // namespace agenttrace::fleet
