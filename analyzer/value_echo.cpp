#include "analyzer/value_echo.h"

#include <string.h>  // memmem

#include <algorithm>
#include <array>
#include <optional>

#include "common/base64.h"
#include "common/hex.h"
#include "common/utf8.h"

namespace agenttrace::analyzer {

namespace {

// Priorities follow the order of encodings in value_echo.h: when two
// encodings explain the same span, the lower number is reported.
enum Priority : int {
  kPlain,
  kPlainNocase,
  kUrl,
  kJsonEscape,
  kHexEscape,
  kUtf16le,
  kUtf16be,
  kReversed,
  kHex,
  kBase64,
  kXor,
  kXorHex,
  kXorBase64,
};

// UTF-16 code units of a code point.
void utf16_units(uint32_t cp, std::vector<uint16_t>& out) {
  if (cp < 0x10000) {
    out.push_back(static_cast<uint16_t>(cp));
  } else {
    cp -= 0x10000;
    out.push_back(static_cast<uint16_t>(0xD800 | (cp >> 10)));
    out.push_back(static_cast<uint16_t>(0xDC00 | (cp & 0x3FF)));
  }
}

void append_u_escape(std::string& out, uint16_t unit, bool upper) {
  out += "\\u";
  append_hex_byte(out, static_cast<unsigned char>(unit >> 8), upper);
  append_hex_byte(out, static_cast<unsigned char>(unit & 0xFF), upper);
}

// ---- text forms of the value ------------------------------------------------------

struct Needle {
  int priority;
  const char* encoding;
  std::string bytes;
};

// Percent-encoding. `keep` says which bytes stay literal; `space_plus` is
// the form encoding of a space.
template <typename Keep>
std::string percent_encode(std::string_view v, Keep keep, bool upper, bool space_plus) {
  std::string out;
  for (char ch : v) {
    auto b = static_cast<unsigned char>(ch);
    if (space_plus && b == ' ') {
      out += '+';
    } else if (keep(b)) {
      out += ch;
    } else {
      out += '%';
      append_hex_byte(out, b, upper);
    }
  }
  return out;
}

bool is_alnum(unsigned char b) {
  return (b >= '0' && b <= '9') || (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z');
}

// JSON string escaping of a UTF-8 value as the common serializers write it:
// JSON.stringify (only '"', '\\' and controls), PHP (also "\/"), Python's
// ensure_ascii (also non-ASCII as \uXXXX), and everything as \uXXXX.
std::string json_escape(const std::vector<uint32_t>& cps, bool escape_slash, bool escape_non_ascii,
                        bool escape_all, bool upper) {
  std::string out;
  std::vector<uint16_t> units;
  for (uint32_t cp : cps) {
    bool escape = escape_all || (escape_non_ascii && cp >= 0x80) || cp < 0x20;
    if (!escape) {
      if (cp == '"' || cp == '\\' || (cp == '/' && escape_slash)) out += '\\';
      append_utf8(out, cp);
      continue;
    }
    if (!escape_all) {
      const char* short_form = cp == '\n' ? "\\n" : cp == '\r' ? "\\r" : cp == '\t' ? "\\t"
                             : cp == '\b' ? "\\b" : cp == '\f' ? "\\f" : nullptr;
      if (short_form != nullptr) {
        out += short_form;
        continue;
      }
    }
    units.clear();
    utf16_units(cp, units);
    for (uint16_t u : units) append_u_escape(out, u, upper);
  }
  return out;
}

std::vector<Needle> text_forms(std::string_view v) {
  std::vector<Needle> forms;
  forms.push_back({kPlain, "plain", std::string(v)});

  // encodeURIComponent keeps A-Z a-z 0-9 - _ . ! ~ * ' ( ); URLSearchParams
  // keeps only A-Z a-z 0-9 * - . _ and writes a space as '+'.
  auto uri_component = [](unsigned char b) {
    return is_alnum(b) || (b != 0 && std::string_view("-_.!~*'()").find(static_cast<char>(b)) !=
                                         std::string_view::npos);
  };
  auto form_keep = [](unsigned char b) {
    return is_alnum(b) || b == '*' || b == '-' || b == '.' || b == '_';
  };
  auto none = [](unsigned char) { return false; };
  for (bool upper : {true, false}) {
    forms.push_back({kUrl, "url", percent_encode(v, uri_component, upper, false)});
    forms.push_back({kUrl, "url", percent_encode(v, form_keep, upper, true)});
    forms.push_back({kUrl, "url", percent_encode(v, none, upper, false)});
  }

  auto cps = utf8_code_points(v);
  if (cps) {
    for (bool upper : {false, true}) {
      for (bool slash : {false, true}) {
        for (bool non_ascii : {false, true}) {
          forms.push_back({kJsonEscape, "json-escape", json_escape(*cps, slash, non_ascii, false, upper)});
        }
      }
      forms.push_back({kJsonEscape, "json-escape", json_escape(*cps, false, false, true, upper)});
    }
  }

  for (bool upper : {false, true}) {
    std::string out;
    for (char ch : v) {
      out += "\\x";
      append_hex_byte(out, static_cast<unsigned char>(ch), upper);
    }
    forms.push_back({kHexEscape, "hex-escape", std::move(out)});
  }

  if (cps) {
    std::vector<uint16_t> units;
    for (uint32_t cp : *cps) utf16_units(cp, units);
    std::string le, be;
    for (uint16_t u : units) {
      le += static_cast<char>(u & 0xFF);
      le += static_cast<char>(u >> 8);
      be += static_cast<char>(u >> 8);
      be += static_cast<char>(u & 0xFF);
    }
    forms.push_back({kUtf16le, "utf16le", std::move(le)});
    forms.push_back({kUtf16be, "utf16be", std::move(be)});
  }

  forms.push_back({kReversed, "reversed", std::string(v.rbegin(), v.rend())});
  if (cps) {
    std::string out;
    for (auto it = cps->rbegin(); it != cps->rend(); ++it) append_utf8(out, *it);
    forms.push_back({kReversed, "reversed", std::move(out)});
  }

  // A form that is the same bytes as an earlier one (a value with nothing to
  // escape is its own URL form) is searched once, under the earlier name.
  std::vector<Needle> unique;
  for (auto& f : forms) {
    bool seen = std::any_of(unique.begin(), unique.end(),
                            [&](const Needle& u) { return u.bytes == f.bytes; });
    if (!seen && !f.bytes.empty()) unique.push_back(std::move(f));
  }
  return unique;
}

// ---- the search -----------------------------------------------------------------

// Calls on_hit(pos) for each non-overlapping occurrence of needle in hay.
template <typename OnHit>
void for_each_occurrence(std::string_view hay, std::string_view needle, OnHit on_hit) {
  if (needle.empty() || needle.size() > hay.size()) return;
  size_t pos = 0;
  while (pos + needle.size() <= hay.size()) {
    const void* hit = memmem(hay.data() + pos, hay.size() - pos, needle.data(), needle.size());
    if (hit == nullptr) return;
    size_t at = static_cast<size_t>(static_cast<const char*>(hit) - hay.data());
    if (!on_hit(at)) return;
    pos = at + needle.size();
  }
}

struct Hit {
  int priority;
  EchoMatch match;
};

class EchoFinder {
 public:
  EchoFinder(std::string_view data, std::string_view value) : data_(data), value_(value) {
    xor_allowed_ = value.size() >= kMinXorValueLen && distinct_bytes(value) >= 3;
    if (xor_allowed_) diff_pattern_ = diffs(value);
  }

  std::vector<EchoMatch> run() {
    for (const Needle& n : text_forms(value_)) {
      for_each_occurrence(data_, n.bytes, [&](size_t at) {
        return add(n.priority, n.encoding, at, n.bytes.size(), 0);
      });
    }
    search_nocase();
    if (xor_allowed_) search_xor_raw();
    search_hex_runs();
    search_base64_runs();
    return finish();
  }

 private:
  static size_t distinct_bytes(std::string_view v) {
    std::array<bool, 256> seen{};
    size_t n = 0;
    for (char c : v) {
      auto b = static_cast<unsigned char>(c);
      if (!seen[b]) {
        seen[b] = true;
        ++n;
      }
    }
    return n;
  }

  // b[i] ^ b[i+1]: the same for a string and for every XOR image of it, so
  // one search finds the value under all 255 keys at once.
  static std::string diffs(std::string_view b) {
    std::string d;
    if (b.size() < 2) return d;
    d.resize(b.size() - 1);
    for (size_t i = 0; i + 1 < b.size(); ++i) d[i] = static_cast<char>(b[i] ^ b[i + 1]);
    return d;
  }

  // False once the cap is reached, to stop the search that is adding.
  bool add(int priority, const char* encoding, size_t offset, size_t length, int key) {
    if (hits_.size() >= kMaxEchoMatches * 2) return false;  // room for duplicates
    hits_.push_back({priority, EchoMatch{encoding, offset, length, key}});
    return true;
  }

  void search_nocase() {
    bool has_letter = std::any_of(value_.begin(), value_.end(), [](char c) {
      return (c | 0x20) >= 'a' && (c | 0x20) <= 'z';
    });
    if (!has_letter || value_.size() > data_.size()) return;
    auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c | 0x20) : c; };
    std::string hay(data_.size(), '\0');
    std::transform(data_.begin(), data_.end(), hay.begin(), lower);
    std::string needle(value_.size(), '\0');
    std::transform(value_.begin(), value_.end(), needle.begin(), lower);
    for_each_occurrence(hay, needle, [&](size_t at) {
      if (data_.compare(at, value_.size(), value_) == 0) return true;  // reported as plain
      return add(kPlainNocase, "plain-nocase", at, value_.size(), 0);
    });
  }

  // Finds the value, and when allowed its XOR images, in `bytes`; on_hit gets
  // (index in bytes, key) with key 0 for the value itself.
  template <typename OnHit>
  void search_bytes(std::string_view bytes, OnHit on_hit) {
    if (!xor_allowed_) {
      for_each_occurrence(bytes, value_, [&](size_t at) { return on_hit(at, 0); });
      return;
    }
    std::string d = diffs(bytes);
    for_each_occurrence(d, diff_pattern_, [&](size_t at) {
      int key = static_cast<unsigned char>(bytes[at]) ^ static_cast<unsigned char>(value_[0]);
      return on_hit(at, key);
    });
  }

  void search_xor_raw() {
    search_bytes(data_, [&](size_t at, int key) {
      // key 0 is the value itself, already found as plain.
      return key == 0 || add(kXor, "xor", at, value_.size(), key);
    });
  }

  // Runs of hex digits long enough to hold the value, decoded at both nibble
  // phases.
  void search_hex_runs() {
    const size_t need = 2 * value_.size();
    std::string decoded;
    for (size_t i = 0; i < data_.size();) {
      if (hex_digit_value(static_cast<unsigned char>(data_[i])) < 0) {
        ++i;
        continue;
      }
      size_t start = i;
      while (i < data_.size() && hex_digit_value(static_cast<unsigned char>(data_[i])) >= 0) ++i;
      if (i - start < need) continue;
      for (size_t phase = 0; phase < 2; ++phase) {
        hex_decode_pairs(data_.substr(start + phase, i - start - phase), decoded);
        bool more = true;
        search_bytes(decoded, [&](size_t at, int key) {
          size_t offset = start + phase + 2 * at;
          more = key == 0 ? add(kHex, "hex", offset, need, 0)
                          : add(kXorHex, "xor+hex", offset, need, key);
          return more;
        });
        if (!more) return;
      }
    }
  }

  // Runs of base64 digits (either alphabet) long enough to hold the value,
  // decoded from each of the four character phases. A value that sits at
  // byte phase 0, 1 or 2 of a longer encoded blob is then plain bytes in one
  // of those decodings, whatever surrounds it.
  void search_base64_runs() {
    const size_t need = (4 * value_.size() + 2) / 3;  // fewest characters that hold it
    std::string decoded;
    for (size_t i = 0; i < data_.size();) {
      if (!is_base64_digit(static_cast<unsigned char>(data_[i]))) {
        ++i;
        continue;
      }
      size_t start = i;
      while (i < data_.size() && is_base64_digit(static_cast<unsigned char>(data_[i]))) ++i;
      if (i - start < need) continue;
      for (size_t phase = 0; phase < 4; ++phase) {
        size_t from = start + phase;
        if (from >= i) break;
        base64_decode_digits(data_.substr(from, i - from), decoded);
        bool more = true;
        search_bytes(decoded, [&](size_t at, int key) {
          // Byte b is in characters b%3 and b%3+1 of group b/3.
          size_t last = at + value_.size() - 1;
          size_t first_char = from + 4 * (at / 3) + at % 3;
          size_t end_char = from + 4 * (last / 3) + last % 3 + 2;
          size_t length = end_char - first_char;
          if (key != 0) {
            more = add(kXorBase64, "xor+base64", first_char, length, key);
          } else {
            std::string_view span = data_.substr(first_char, length);
            bool url = span.find_first_of("-_") != std::string_view::npos;
            more = add(kBase64, url ? "base64url" : "base64", first_char, length, 0);
          }
          return more;
        });
        if (!more) return;
      }
    }
  }

  std::vector<EchoMatch> finish() {
    std::sort(hits_.begin(), hits_.end(), [](const Hit& a, const Hit& b) {
      if (a.match.offset != b.match.offset) return a.match.offset < b.match.offset;
      if (a.match.length != b.match.length) return a.match.length < b.match.length;
      return a.priority < b.priority;
    });
    std::vector<EchoMatch> out;
    for (size_t i = 0; i < hits_.size() && out.size() < kMaxEchoMatches; ++i) {
      if (i > 0 && hits_[i].match.offset == hits_[i - 1].match.offset &&
          hits_[i].match.length == hits_[i - 1].match.length) {
        continue;
      }
      out.push_back(std::move(hits_[i].match));
    }
    return out;
  }

  std::string_view data_;
  std::string_view value_;
  bool xor_allowed_ = false;
  std::string diff_pattern_;
  std::vector<Hit> hits_;
};

}  // namespace

std::vector<EchoMatch> find_value_echo(std::string_view data, std::string_view value, size_t min_len) {
  if (value.empty() || value.size() < min_len) return {};
  return EchoFinder(data, value).run();
}

}  // namespace agenttrace::analyzer
