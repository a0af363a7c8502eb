// One exported message as the exporter queues it in memory and keeps it on
// disk while the server is away, little-endian:
//   u32 length of what follows the CRC | u32 CRC-32C of it | u64 sequence |
//   u8 subject suffix length | suffix ("events.open") | payload
// The CRC is filled in when the entry goes to disk, where it guards against
// a damaged spool; in memory nothing can damage it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace agenttrace::fleet {

inline constexpr size_t kEntryHead = 4 + 4 + 8 + 1;
// Nothing the collector makes is near this; a larger length is damage.
inline constexpr uint32_t kMaxEntry = 64u << 20;

struct EntryView {
  uint64_t seq = 0;
  std::string_view suffix;
  std::string_view payload;
};

inline size_t entry_size(size_t suffix_len, size_t payload_len) { return kEntryHead + suffix_len + payload_len; }

// Writes the head and suffix at dst; returns where the payload goes.
uint8_t* put_entry(uint8_t* dst, uint64_t seq, std::string_view suffix, size_t payload_len);

// Fills in the CRC of the entry at `entry`.
void seal_entry(uint8_t* entry);

enum class EntryStatus { kOk, kIncomplete, kCorrupt };

// The entry at the start of `data`: its view and whole size. kIncomplete when
// `data` ends inside it; kCorrupt for a bad length or (with `verify`) CRC.
EntryStatus read_entry(std::string_view data, bool verify, EntryView* out, size_t* size);

}  // namespace agenttrace::fleet
