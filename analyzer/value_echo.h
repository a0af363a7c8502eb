// Where does a known value (a time zone name "Asia/Shanghai", a host name, a
// machine-id, an environment value, a canary token) come back out in bytes a
// program sends? A program that hides what it learned in its own outgoing
// request rarely sends it verbatim, so the value is looked for under the
// encodings that are one library call away:
//
//   plain          the bytes themselves
//   plain-nocase   ASCII case-insensitively (and not verbatim)
//   url            percent-encoded: encodeURIComponent, every byte as %XX,
//                  form encoding (space as '+'); upper- and lower-case hex
//   json-escape    JSON string escaping: "\/", "\u00e9" (ensure_ascii), or
//                  every character as \uXXXX
//   hex-escape     "\x41\x73..."
//   utf16le/be     UTF-16 code units
//   reversed       byte order, and code point order when that differs
//   hex            hex digits, any case, in any run of hex digits
//   base64         standard or URL-safe alphabet ("base64url" when the
//   base64url      matched characters include '-' or '_'), with or without
//                  padding, at all three byte phases: the value may sit at
//                  any offset inside a longer encoded blob
//   xor            every byte XORed with one key 1-255, raw ...
//   xor+hex        ... inside hex ...
//   xor+base64     ... or inside base64
//
// Offsets and lengths are those of the encoded form in `data`. For base64
// the span covers every character that carries a bit of the value, so its
// first and last character may also carry bits of neighbouring bytes.
//
// Not searched: base64 broken by line wrapping or by a JSON "\/" escape,
// encodings nested more than one deep other than the XOR ones above, and
// case folding beyond ASCII.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace agenttrace::analyzer {

struct EchoMatch {
  std::string encoding;  // one of the names above
  uint64_t offset = 0;   // byte offset in the searched data
  uint64_t length = 0;   // bytes of data the encoded value spans
  int xor_key = 0;       // for "xor", "xor+hex", "xor+base64": 1-255
};

// Values shorter than this are not searched: a 3-byte value such as "UTC"
// or "dev" occurs by accident in any sizeable payload, and so do its hex,
// base64 and XOR images; a hit would say nothing.
inline constexpr size_t kMinEchoValueLen = 4;

// The XOR forms need more: every value of n bytes has 255 XOR images, and
// for short or repetitive values one of them is ordinary text ("1234" XOR 4
// is "5670", "aaaa" XOR 0x41 is four spaces). XOR is searched only for
// values of at least this many bytes with at least three distinct bytes.
inline constexpr size_t kMinXorValueLen = 6;

// At most this many matches are returned, in offset order.
inline constexpr size_t kMaxEchoMatches = 10000;

// All places where `value` appears in `data` under any of the encodings
// above, ordered by offset. Where two encodings explain the same span, only
// the first in the list above is reported (an all-letter value with every
// case flipped is "plain-nocase", not XOR with 0x20). Empty when `value` is
// shorter than `min_len` (or empty). Never throws on any input.
std::vector<EchoMatch> find_value_echo(std::string_view data, std::string_view value,
                                       size_t min_len = kMinEchoValueLen);

}  // namespace agenttrace::analyzer
