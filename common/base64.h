// Base64 (RFC 4648), standard alphabet with padding, for payload bytes in
// JSON; and the lenient decoding of bare digit runs that `inspect` and the
// value echo search need.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace agenttrace {

std::string base64_encode(std::string_view bytes);
// Accepts the standard and URL-safe alphabets, with or without padding;
// nullopt for anything else.
std::optional<std::string> base64_decode(std::string_view text);

namespace detail {
// The value of each base64 digit of either alphabet; -1 for other bytes.
inline constexpr char kBase64Alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr std::array<int8_t, 256> make_base64_digit_values() {
  std::array<int8_t, 256> t{};
  for (auto& v : t) v = -1;
  for (int i = 0; i < 64; ++i) t[static_cast<uint8_t>(kBase64Alphabet[i])] = static_cast<int8_t>(i);
  t['-'] = 62;  // the URL-safe alphabet
  t['_'] = 63;
  return t;
}
inline constexpr auto kBase64DigitValues = make_base64_digit_values();
}  // namespace detail

// Whether c is a base64 digit of either alphabet (A-Z a-z 0-9 + / - _);
// '=' is padding, not a digit.
constexpr bool is_base64_digit(unsigned char c) { return detail::kBase64DigitValues[c] >= 0; }

// Decodes base64 digits of either alphabet, without padding and whatever
// their number, into `out` (replacing what it held, so a caller can reuse
// one buffer): a last group of two or three digits gives one or two bytes,
// a lone last digit none. False, with `out` holding the bytes decoded so
// far, at the first byte that is not a digit.
bool base64_decode_digits(std::string_view digits, std::string& out);

}  // namespace agenttrace
