#include "fleet/entry.h"

#include <cstring>

#include "common/crc32c.h"

namespace agenttrace::fleet {

namespace {

void put_u32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}

void put_u64(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}

uint32_t get_u32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8 | static_cast<uint32_t>(p[2]) << 16 |
         static_cast<uint32_t>(p[3]) << 24;
}

uint64_t get_u64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

}  // namespace

uint8_t* put_entry(uint8_t* dst, uint64_t seq, std::string_view suffix, size_t payload_len) {
  put_u32(dst, static_cast<uint32_t>(entry_size(suffix.size(), payload_len) - 8));
  put_u32(dst + 4, 0);
  put_u64(dst + 8, seq);
  dst[16] = static_cast<uint8_t>(suffix.size());
  memcpy(dst + kEntryHead, suffix.data(), suffix.size());
  return dst + kEntryHead + suffix.size();
}

void seal_entry(uint8_t* entry) {
  uint32_t len = get_u32(entry);
  put_u32(entry + 4, crc32c(entry + 8, len));
}

EntryStatus read_entry(std::string_view data, bool verify, EntryView* out, size_t* size) {
  if (data.size() < 8) return EntryStatus::kIncomplete;
  const auto* p = reinterpret_cast<const uint8_t*>(data.data());
  uint32_t len = get_u32(p);
  if (len < kEntryHead - 8 || len > kMaxEntry) return EntryStatus::kCorrupt;
  if (data.size() < 8 + static_cast<size_t>(len)) return EntryStatus::kIncomplete;
  if (verify && crc32c(p + 8, len) != get_u32(p + 4)) return EntryStatus::kCorrupt;
  size_t suffix_len = p[16];
  if (kEntryHead - 8 + suffix_len > len) return EntryStatus::kCorrupt;
  out->seq = get_u64(p + 8);
  out->suffix = data.substr(kEntryHead, suffix_len);
  out->payload = data.substr(kEntryHead + suffix_len, len - (kEntryHead - 8) - suffix_len);
  *size = 8 + static_cast<size_t>(len);
  return EntryStatus::kOk;
}

}  // namespace agenttrace::fleet
