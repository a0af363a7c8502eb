// Hex digits: one table and one decoder for everything that reads them
// (encoded runs in `inspect`, value echoes, escapes in literals).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace agenttrace {

namespace detail {
constexpr std::array<int8_t, 256> make_hex_digit_values() {
  std::array<int8_t, 256> t{};
  for (auto& v : t) v = -1;
  for (int c = '0'; c <= '9'; ++c) t[c] = static_cast<int8_t>(c - '0');
  for (int c = 'a'; c <= 'f'; ++c) t[c] = static_cast<int8_t>(c - 'a' + 10);
  for (int c = 'A'; c <= 'F'; ++c) t[c] = static_cast<int8_t>(c - 'A' + 10);
  return t;
}
inline constexpr auto kHexDigitValues = make_hex_digit_values();
}  // namespace detail

// 0-15 for a hex digit of either case, -1 for any other byte.
constexpr int hex_digit_value(unsigned char c) { return detail::kHexDigitValues[c]; }

// Decodes pairs of hex digits into `out` (replacing what it held, so a
// caller can reuse one buffer); a last unpaired digit is left out. False,
// with `out` holding the bytes before it, at the first byte that is not a
// hex digit.
bool hex_decode_pairs(std::string_view digits, std::string& out);

// Appends b as two hex digits, lower- or upper-case.
void append_hex_byte(std::string& out, unsigned char b, bool upper = false);

}  // namespace agenttrace
