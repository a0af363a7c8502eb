#include "fleet/outbox.h"

#include <spdlog/spdlog.h>

#include "fleet/entry.h"

namespace agenttrace::fleet {

Outbox::Outbox(const std::string& spool_dir, uint64_t spool_max) : spool_(spool_dir, spool_max) {}

void Outbox::push(std::string batch) {
  if (batch.empty()) return;
  auto owned = std::make_shared<const std::string>(std::move(batch));
  std::string_view rest(*owned);
  while (!rest.empty()) {
    EntryView v;
    size_t n = 0;
    if (read_entry(rest, false, &v, &n) != EntryStatus::kOk) break;  // the hot path queues whole entries
    memory_.push_back(MemoryEntry{owned, rest.substr(0, n)});
    memory_bytes_ += n;
    rest.remove_prefix(n);
  }
}

bool Outbox::next(std::string_view* entry) {
  // Disk holds the oldest entries; memory entries are only handed out once
  // the disk has nothing unread.
  if (spool_.unread() > 0 && spool_.read(entry)) {
    in_flight_.push_back(true);
    return true;
  }
  if (memory_sent_ < memory_.size()) {
    *entry = memory_[memory_sent_++].bytes;
    in_flight_.push_back(false);
    return true;
  }
  return false;
}

void Outbox::release(size_t n) {
  for (size_t i = 0; i < n && !in_flight_.empty(); ++i) {
    if (in_flight_.front()) {
      spool_.release(1);
    } else {
      memory_bytes_ -= memory_.front().bytes.size();
      memory_.pop_front();
      --memory_sent_;
    }
    in_flight_.pop_front();
  }
}

void Outbox::rewind() {
  spool_.rewind();
  memory_sent_ = 0;
  in_flight_.clear();
}

void Outbox::spill() {
  if (memory_.empty()) return;
  if (memory_sent_ > 0) rewind();
  // One write for all of it: the entries are contiguous per batch, so join
  // them first.
  std::string joined;
  joined.reserve(memory_bytes_);
  for (const auto& e : memory_) joined.append(e.bytes);
  size_t written = spool_.append(joined);
  spooled_ += written;
  if (written < memory_.size()) {
    size_t lost = memory_.size() - written;
    if (dropped_ == 0)
      spdlog::warn("the export spool {} is full ({} bytes){}: records are being dropped and counted", spool_.dir(),
                   spool_.bytes(), spool_.last_error().empty() ? "" : " or failing (" + spool_.last_error() + ")");
    dropped_ += lost;
  }
  memory_.clear();
  memory_bytes_ = 0;
}

}  // namespace agenttrace::fleet
