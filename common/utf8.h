// UTF-8, strictly: one decoder and one encoder for everything that reads or
// writes code points (hidden-character scans, diffs, value echoes, triage),
// so byte offsets and code points agree everywhere.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace agenttrace {

// One decoded code point; len 0 means the byte at that position does not
// start a well-formed sequence (it is then skipped as one invalid byte).
struct Utf8Decoded {
  uint32_t cp = 0;
  uint32_t len = 0;
};

// Strict UTF-8 (Unicode table 3-7): no overlongs, no surrogates, nothing
// above U+10FFFF, no truncated sequences.
inline Utf8Decoded decode_utf8_at(const unsigned char* s, size_t n, size_t i) {
  if (i >= n) return {};
  uint32_t b0 = s[i];
  if (b0 < 0x80) return {b0, 1};
  auto cont = [&](size_t k, unsigned lo, unsigned hi) { return i + k < n && s[i + k] >= lo && s[i + k] <= hi; };
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    if (!cont(1, 0x80, 0xBF)) return {};
    return {((b0 & 0x1F) << 6) | (s[i + 1] & 0x3Fu), 2};
  }
  if (b0 >= 0xE0 && b0 <= 0xEF) {
    unsigned lo = b0 == 0xE0 ? 0xA0 : 0x80;
    unsigned hi = b0 == 0xED ? 0x9F : 0xBF;
    if (!cont(1, lo, hi) || !cont(2, 0x80, 0xBF)) return {};
    return {((b0 & 0x0F) << 12) | ((s[i + 1] & 0x3Fu) << 6) | (s[i + 2] & 0x3Fu), 3};
  }
  if (b0 >= 0xF0 && b0 <= 0xF4) {
    unsigned lo = b0 == 0xF0 ? 0x90 : 0x80;
    unsigned hi = b0 == 0xF4 ? 0x8F : 0xBF;
    if (!cont(1, lo, hi) || !cont(2, 0x80, 0xBF) || !cont(3, 0x80, 0xBF)) return {};
    return {((b0 & 0x07) << 18) | ((s[i + 1] & 0x3Fu) << 12) | ((s[i + 2] & 0x3Fu) << 6) | (s[i + 3] & 0x3Fu), 4};
  }
  return {};
}

// The code points of `s`, or nullopt when any byte of it is not part of a
// well-formed sequence.
inline std::optional<std::vector<uint32_t>> utf8_code_points(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  std::vector<uint32_t> out;
  for (size_t i = 0; i < s.size();) {
    Utf8Decoded d = decode_utf8_at(p, s.size(), i);
    if (d.len == 0) return std::nullopt;
    out.push_back(d.cp);
    i += d.len;
  }
  return out;
}

inline void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

}  // namespace agenttrace
