// `agenttrace diff`: which differences between the requests of runs with
// different inputs follow the input, once what varies by itself is set apart.
//
// Vocabulary used below:
//   slot      one aligned request (or non-HTTP stream) across all runs
//   field     one comparable value of a request: the method, the target, a
//             header value, a JSON leaf, the body text, a layout text
//   unit      a code point, or kByteUnit + b for a byte that is not UTF-8
//   mask      per unit (and per gap between units) of a variant's reference
//             value: whether repeats of that variant differ there
//   block     a replaced range [a_begin, a_end) -> [b_begin, b_end) of the
//             shortest edit script between two unit sequences
#include "analyzer/diff.h"

#include <unicode/uchar.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <optional>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "analyzer/profile.h"
#include "analyzer/unicode_scan.h"
#include "analyzer/value_echo.h"
#include "common/utf8.h"
#include "trace/json.h"

namespace agenttrace::analyzer {

namespace {

using trace::Json;

// ---- UTF-8 ------------------------------------------------------------------

using Decoded = Utf8Decoded;
Decoded decode_at(const unsigned char* s, size_t n, size_t i) { return decode_utf8_at(s, n, i); }

// A value as units, with the byte offset where each unit starts (and the
// size at the end).
struct Text {
  std::string_view bytes;
  std::vector<uint32_t> units;
  std::vector<uint64_t> offs;
};

Text make_text(std::string_view s) {
  Text t;
  t.bytes = s;
  t.units.reserve(s.size());
  t.offs.reserve(s.size() + 1);
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  for (size_t i = 0; i < s.size();) {
    Decoded d = decode_at(p, s.size(), i);
    t.offs.push_back(i);
    if (d.len == 0) {
      t.units.push_back(kByteUnit + p[i]);
      ++i;
    } else {
      t.units.push_back(d.cp);
      i += d.len;
    }
  }
  t.offs.push_back(s.size());
  return t;
}

// ---- shortest edit script ------------------------------------------------------

// Myers' O(ND) algorithm in linear space: find the middle snake, recurse on
// both halves (the bisection of Neil Fraser's diff-match-patch). Common
// prefixes and suffixes are taken off first, so one change in a 100 KB
// prompt costs a scan, not a search. `max_work` bounds the snake steps; past
// it, what is left becomes one block.
class Differ {
 public:
  Differ(const std::vector<uint32_t>& a, const std::vector<uint32_t>& b, uint64_t max_work)
      : a_(a), b_(b), max_work_(max_work) {
    // Round d of the search costs at least d steps, so d never passes this.
    d_cap_ = static_cast<int64_t>(std::sqrt(2.0 * static_cast<double>(max_work))) + 2;
  }

  std::vector<EditBlock> run() {
    diff(0, a_.size(), 0, b_.size());
    return std::move(blocks_);
  }

 private:
  void emit(size_t a0, size_t a1, size_t b0, size_t b1) {
    if (a0 == a1 && b0 == b1) return;
    if (!blocks_.empty() && blocks_.back().a_end == a0 && blocks_.back().b_end == b0) {
      blocks_.back().a_end = a1;
      blocks_.back().b_end = b1;
      return;
    }
    blocks_.push_back({a0, a1, b0, b1});
  }

  void diff(size_t a0, size_t a1, size_t b0, size_t b1) {
    while (a0 < a1 && b0 < b1 && a_[a0] == b_[b0]) ++a0, ++b0;
    while (a0 < a1 && b0 < b1 && a_[a1 - 1] == b_[b1 - 1]) --a1, --b1;
    if (a0 == a1 || b0 == b1) {
      emit(a0, a1, b0, b1);
      return;
    }
    if (a1 - a0 == 1 || b1 - b0 == 1) {
      // One unit against many: it is kept where it first occurs, if at all.
      bool a_single = a1 - a0 == 1;
      const auto& hay = a_single ? b_ : a_;
      size_t h0 = a_single ? b0 : a0, h1 = a_single ? b1 : a1;
      uint32_t needle = a_single ? a_[a0] : b_[b0];
      size_t pos = std::find(hay.begin() + static_cast<ptrdiff_t>(h0), hay.begin() + static_cast<ptrdiff_t>(h1), needle) -
                   hay.begin();
      if (pos == h1) {
        emit(a0, a1, b0, b1);
      } else if (a_single) {
        emit(a0, a0, b0, pos);
        emit(a1, a1, pos + 1, b1);
      } else {
        emit(a0, pos, b0, b0);
        emit(pos + 1, a1, b1, b1);
      }
      return;
    }
    bisect(a0, a1, b0, b1);
  }

  void split(size_t a0, size_t a1, size_t b0, size_t b1, int64_t x, int64_t y) {
    size_t ax = a0 + static_cast<size_t>(x), by = b0 + static_cast<size_t>(y);
    if ((ax == a0 && by == b0) || (ax == a1 && by == b1)) {  // no progress: never expected
      emit(a0, a1, b0, b1);
      return;
    }
    diff(a0, ax, b0, by);
    diff(ax, a1, by, b1);
  }

  void bisect(size_t a0, size_t a1, size_t b0, size_t b1) {
    const int64_t n = static_cast<int64_t>(a1 - a0), m = static_cast<int64_t>(b1 - b0);
    const int64_t max_d = std::min<int64_t>((n + m + 1) / 2, d_cap_);
    const int64_t v_offset = max_d, v_len = 2 * max_d + 2;
    std::vector<int64_t> v1(static_cast<size_t>(v_len), -1), v2(static_cast<size_t>(v_len), -1);
    v1[static_cast<size_t>(v_offset + 1)] = 0;
    v2[static_cast<size_t>(v_offset + 1)] = 0;
    const int64_t delta = n - m;
    const bool front = delta % 2 != 0;  // which direction can meet first
    int64_t k1start = 0, k1end = 0, k2start = 0, k2end = 0;
    const uint32_t* A = a_.data() + a0;
    const uint32_t* B = b_.data() + b0;
    auto at = [](std::vector<int64_t>& v, int64_t i) -> int64_t& { return v[static_cast<size_t>(i)]; };
    for (int64_t d = 0; d < max_d && work_ <= max_work_; ++d) {
      for (int64_t k1 = -d + k1start; k1 <= d - k1end; k1 += 2) {
        const int64_t k1_off = v_offset + k1;
        int64_t x1 = (k1 == -d || (k1 != d && at(v1, k1_off - 1) < at(v1, k1_off + 1))) ? at(v1, k1_off + 1)
                                                                                      : at(v1, k1_off - 1) + 1;
        int64_t y1 = x1 - k1;
        while (x1 < n && y1 < m && A[x1] == B[y1]) ++x1, ++y1, ++work_;
        ++work_;
        at(v1, k1_off) = x1;
        if (x1 > n) {
          k1end += 2;  // ran off the right
        } else if (y1 > m) {
          k1start += 2;  // ran off the bottom
        } else if (front) {
          const int64_t k2_off = v_offset + delta - k1;
          if (k2_off >= 0 && k2_off < v_len && at(v2, k2_off) != -1 && x1 >= n - at(v2, k2_off)) {
            split(a0, a1, b0, b1, x1, y1);
            return;
          }
        }
      }
      for (int64_t k2 = -d + k2start; k2 <= d - k2end; k2 += 2) {
        const int64_t k2_off = v_offset + k2;
        int64_t x2 = (k2 == -d || (k2 != d && at(v2, k2_off - 1) < at(v2, k2_off + 1))) ? at(v2, k2_off + 1)
                                                                                      : at(v2, k2_off - 1) + 1;
        int64_t y2 = x2 - k2;
        while (x2 < n && y2 < m && A[n - x2 - 1] == B[m - y2 - 1]) ++x2, ++y2, ++work_;
        ++work_;
        at(v2, k2_off) = x2;
        if (x2 > n) {
          k2end += 2;
        } else if (y2 > m) {
          k2start += 2;
        } else if (!front) {
          const int64_t k1_off = v_offset + delta - k2;
          if (k1_off >= 0 && k1_off < v_len && at(v1, k1_off) != -1) {
            const int64_t x1 = at(v1, k1_off);
            const int64_t y1 = v_offset + x1 - k1_off;
            if (x1 >= n - x2) {
              split(a0, a1, b0, b1, x1, y1);
              return;
            }
          }
        }
      }
    }
    emit(a0, a1, b0, b1);  // over budget: the rest is one block
  }

  const std::vector<uint32_t>& a_;
  const std::vector<uint32_t>& b_;
  uint64_t max_work_;
  uint64_t work_ = 0;
  int64_t d_cap_ = 0;
  std::vector<EditBlock> blocks_;
};

// ---- characters -------------------------------------------------------------

bool is_word_unit(uint32_t u) {
  if (u < 0x80) return (u >= '0' && u <= '9') || ((u | 0x20) >= 'a' && (u | 0x20) <= 'z');
  return u < kByteUnit && u_isalnum(static_cast<UChar32>(u));
}

// Noise is described by the kinds of characters it was made of: any digit
// stands for any digit, any ASCII letter of a case for any of that case;
// everything else stands for itself. Used only for a variant that was not
// repeated (see `noisy_unit`).
uint32_t char_class(uint32_t u) {
  if (u >= '0' && u <= '9') return '0';
  if (u >= 'a' && u <= 'z') return 'a';
  if (u >= 'A' && u <= 'Z') return 'A';
  return u;
}

using Alphabet = std::unordered_set<uint32_t>;

// A shortest edit script over words first (runs of letters and digits; any
// other unit is a word of its own), then over the units inside each replaced
// run of words. Two random ids "4b0425a4-d5cb" and "75067753-a072" then differ
// in their hex words and keep their '-' in place, where a script over units
// alone is free to pair hex digits across the separator and move it; noise
// masks and their alignment depend on separators staying put. Inside a word
// the script is exact: an inserted zero-width space is still one unit.
std::vector<EditBlock> word_blocks(const std::vector<uint32_t>& a, const std::vector<uint32_t>& b, uint64_t max_work) {
  // What both share at the start and the end, back to a word boundary, is
  // left out: a 100 KB prompt with one change is not cut into words.
  size_t pre = 0, suf = 0;
  while (pre < a.size() && pre < b.size() && a[pre] == b[pre]) ++pre;
  while (suf < a.size() - pre && suf < b.size() - pre && a[a.size() - 1 - suf] == b[b.size() - 1 - suf]) ++suf;
  if (pre == a.size() && pre == b.size()) return {};
  while (pre > 0 && is_word_unit(a[pre - 1])) --pre;
  while (suf > 0 && is_word_unit(a[a.size() - suf])) --suf;
  if (pre > 0 || suf > 0) {
    std::vector<uint32_t> xa(a.begin() + static_cast<ptrdiff_t>(pre), a.end() - static_cast<ptrdiff_t>(suf));
    std::vector<uint32_t> xb(b.begin() + static_cast<ptrdiff_t>(pre), b.end() - static_cast<ptrdiff_t>(suf));
    std::vector<EditBlock> out = word_blocks(xa, xb, max_work);
    for (EditBlock& k : out) {
      k.a_begin += pre;
      k.a_end += pre;
      k.b_begin += pre;
      k.b_end += pre;
    }
    return out;
  }
  std::unordered_map<std::u32string, uint32_t> ids;
  auto words = [&](const std::vector<uint32_t>& u, std::vector<size_t>& starts) {
    std::vector<uint32_t> out;
    for (size_t i = 0; i < u.size();) {
      size_t j = i + 1;
      if (is_word_unit(u[i]))
        while (j < u.size() && is_word_unit(u[j])) ++j;
      std::u32string key(u.begin() + static_cast<ptrdiff_t>(i), u.begin() + static_cast<ptrdiff_t>(j));
      out.push_back(ids.emplace(std::move(key), static_cast<uint32_t>(ids.size())).first->second);
      starts.push_back(i);
      i = j;
    }
    starts.push_back(u.size());
    return out;
  };
  std::vector<size_t> sa, sb;
  std::vector<uint32_t> wa = words(a, sa), wb = words(b, sb);
  std::vector<EditBlock> out;
  auto emit = [&](EditBlock k) {
    if (!out.empty() && out.back().a_end == k.a_begin && out.back().b_end == k.b_begin) {
      out.back().a_end = k.a_end;
      out.back().b_end = k.b_end;
    } else {
      out.push_back(k);
    }
  };
  for (const EditBlock& w : edit_blocks(wa, wb, max_work)) {
    EditBlock k{sa[w.a_begin], sa[w.a_end], sb[w.b_begin], sb[w.b_end]};
    if (k.a_begin == k.a_end || k.b_begin == k.b_end) {
      emit(k);
      continue;
    }
    std::vector<uint32_t> xa(a.begin() + static_cast<ptrdiff_t>(k.a_begin), a.begin() + static_cast<ptrdiff_t>(k.a_end));
    std::vector<uint32_t> xb(b.begin() + static_cast<ptrdiff_t>(k.b_begin), b.begin() + static_cast<ptrdiff_t>(k.b_end));
    for (const EditBlock& u : edit_blocks(xa, xb, max_work))
      emit({k.a_begin + u.a_begin, k.a_begin + u.a_end, k.b_begin + u.b_begin, k.b_begin + u.b_end});
  }
  return out;
}

std::string unit_label(uint32_t u) {
  if (u >= kByteUnit) {
    char buf[40];
    std::snprintf(buf, sizeof buf, "byte 0x%02X (not UTF-8)", u - kByteUnit);
    return buf;
  }
  return code_point_label(u);
}

// `s` for a person: hidden code points as <U+XXXX>, controls escaped, and the
// middle elided past `max` code points.
std::string visible(std::string_view s, size_t max) {
  Text t = make_text(s);
  size_t n = t.units.size();
  if (n == 0) return "";
  if (n <= max) return context_around(s, 0, n - 1);
  size_t half = max / 2;
  std::string_view head = s.substr(0, t.offs[half]);
  std::string_view tail = s.substr(t.offs[n - half]);
  return context_around(head, 0, half) + " … " + context_around(tail, 0, half);
}

// ---- noise masks --------------------------------------------------------------

struct Mask {
  bool known = false;          // learned from two or more runs of the variant
  std::vector<uint8_t> unit;   // per unit of the reference value
  std::vector<uint8_t> gap;    // per gap 0..n: something was inserted there
  size_t count = 0;            // noisy units
};

bool gap_noisy(const Mask& m, size_t g) {
  if (g < m.gap.size() && m.gap[g]) return true;
  if (g > 0 && g - 1 < m.unit.size() && m.unit[g - 1]) return true;
  return g < m.unit.size() && m.unit[g];
}

// Noise widened to whole words (runs of letters and digits): a random id
// whose two draws share a letter by chance is still masked as a whole, while
// the punctuation between words (a timestamp's separators) and the text
// around them stay compared.
void widen_to_words(Mask& m, const std::vector<uint32_t>& units) {
  const size_t n = units.size();
  for (size_t s = 0; s < n;) {
    if (!is_word_unit(units[s])) {
      ++s;
      continue;
    }
    size_t e = s;
    bool noisy = false;
    while (e < n && is_word_unit(units[e])) noisy |= m.unit[e++] != 0;
    for (size_t g = s + 1; g < e && !noisy; ++g) noisy = m.gap[g] != 0;  // inside the word
    if (noisy) {
      for (size_t i = s; i < e; ++i) m.unit[i] = 1;
      for (size_t g = s; g <= e; ++g) m.gap[g] = 1;
    }
    s = e;
  }
  m.count = static_cast<size_t>(std::count(m.unit.begin(), m.unit.end(), 1));
}

// Where the reference differs from any other repeat, widened to words. The
// kinds of characters masked go to `alphabet`.
Mask learn_mask(const Text& ref, const std::vector<Text>& others, uint64_t max_work, Alphabet& alphabet) {
  Mask m;
  const size_t n = ref.units.size();
  m.known = !others.empty();
  m.unit.assign(n, 0);
  m.gap.assign(n + 1, 0);
  for (const Text& o : others) {
    if (o.bytes == ref.bytes) continue;
    for (const EditBlock& b : word_blocks(ref.units, o.units, max_work)) {
      for (size_t i = b.a_begin; i < b.a_end; ++i) m.unit[i] = 1;
      for (size_t i = b.b_begin; i < b.b_end; ++i)
        if (is_word_unit(o.units[i])) alphabet.insert(char_class(o.units[i]));
      if (b.a_begin != b.a_end) continue;
      const size_t g = b.a_begin;
      m.gap[g] = 1;
      // Letters or digits inserted against a word make that word noise ("9"
      // became "19"); a whole word inserted next to it ("x " before
      // "Hello") does not.
      if (g < n && is_word_unit(ref.units[g]) && is_word_unit(o.units[b.b_end - 1])) m.unit[g] = 1;
      if (g > 0 && is_word_unit(ref.units[g - 1]) && is_word_unit(o.units[b.b_begin])) m.unit[g - 1] = 1;
    }
  }
  widen_to_words(m, ref.units);
  for (size_t i = 0; i < n; ++i)
    if (m.unit[i]) alphabet.insert(char_class(ref.units[i]));
  return m;
}

// ---- the varied value ------------------------------------------------------------

// The varied value and, for a URL, the parts a client sends on their own:
// the authority and host (Host header, SNI-derived names), the path (a
// prefix of every target). Longest first, so a host inside the URL is not
// matched on its own.
std::vector<std::string> derived_values(const std::string& v) {
  std::vector<std::string> out;
  auto add = [&](std::string s) {
    if (s.size() >= kMinEchoValueLen && std::find(out.begin(), out.end(), s) == out.end()) out.push_back(std::move(s));
  };
  add(v);
  size_t scheme = v.find("://");
  if (scheme != std::string::npos && scheme > 0) {
    size_t a = scheme + 3;
    size_t e = v.find_first_of("/?#", a);
    if (e == std::string::npos) e = v.size();
    std::string authority = v.substr(a, e - a);
    size_t at = authority.rfind('@');
    if (at != std::string::npos) authority = authority.substr(at + 1);
    add(authority);
    std::string host = authority;
    if (!host.empty() && host[0] == '[') {
      size_t rb = host.find(']');
      if (rb != std::string::npos) host = host.substr(1, rb - 1);
    } else if (size_t colon = host.rfind(':'); colon != std::string::npos) {
      host = host.substr(0, colon);
    }
    add(host);
    std::string path = v.substr(e);
    path = path.substr(0, path.find_first_of("?#"));
    while (!path.empty() && path.back() == '/') path.pop_back();
    add(path);
    std::string trimmed = v;
    while (!trimmed.empty() && trimmed.back() == '/') trimmed.pop_back();
    add(trimmed);
  }
  std::stable_sort(out.begin(), out.end(), [](const std::string& x, const std::string& y) { return x.size() > y.size(); });
  return out;
}

// Encodings that carry a value the way any client would (in a URL, in a
// JSON string, with a host name's case folded). The others in value_echo.h
// (base64, hex, XOR, reversed, UTF-16) are what hiding looks like: a
// difference in those forms stays suspicious.
int transport_encoding(const std::string& encoding) {
  if (encoding == "plain") return 0;
  if (encoding == "plain-nocase") return 1;
  if (encoding == "url") return 2;
  if (encoding == "json-escape") return 3;
  return -1;
}
const char* kTransportNames[] = {"plain", "plain-nocase", "url", "json-escape"};
constexpr uint32_t kPlaceholder = 0x200000;  // + transport encoding: beyond any unit

struct Echo {
  size_t begin = 0, end = 0;  // units of the value's Text
  std::string encoding;
};

// The value's text with every transport echo of the varied values replaced
// by one placeholder unit per encoding, so that "Asia/Shanghai" and
// "Asia/Hong_Kong" in the same place compare equal (and are then listed as
// expected), while the text around them is still compared unit by unit.
struct Side {
  const Text* text = nullptr;
  const Mask* mask = nullptr;
  bool truncated = false;
  std::vector<uint32_t> sub;     // units with placeholders
  std::vector<size_t> begin;     // original unit where each sub unit starts; plus the end
  std::vector<Echo> transport;   // in order, not overlapping
  std::vector<Echo> hidden;      // obfuscated echoes (may overlap anything)
};

void find_echoes(Side& side, const std::vector<std::string>& values) {
  const Text& t = *side.text;
  auto unit_at = [&](uint64_t byte) {
    return static_cast<size_t>(std::upper_bound(t.offs.begin(), t.offs.end(), byte) - t.offs.begin()) - 1;
  };
  auto unit_end = [&](uint64_t byte) {
    return static_cast<size_t>(std::lower_bound(t.offs.begin(), t.offs.end(), byte) - t.offs.begin());
  };
  std::vector<Echo> transport;
  for (const std::string& v : values) {
    for (const EchoMatch& m : find_value_echo(t.bytes, v)) {
      Echo e{unit_at(m.offset), std::min(unit_end(m.offset + m.length), t.units.size()), m.encoding};
      if (e.begin >= e.end) continue;
      (transport_encoding(m.encoding) >= 0 ? transport : side.hidden).push_back(std::move(e));
    }
  }
  std::sort(transport.begin(), transport.end(), [](const Echo& x, const Echo& y) {
    return x.begin != y.begin ? x.begin < y.begin : x.end > y.end;
  });
  size_t last_end = 0;
  for (Echo& e : transport) {
    if (e.begin < last_end) continue;
    last_end = e.end;
    side.transport.push_back(std::move(e));
  }
  side.sub.clear();
  side.begin.clear();
  side.sub.reserve(t.units.size());
  side.begin.reserve(t.units.size() + 1);
  size_t i = 0;
  for (const Echo& e : side.transport) {
    for (; i < e.begin; ++i) {
      side.sub.push_back(t.units[i]);
      side.begin.push_back(i);
    }
    side.sub.push_back(kPlaceholder + static_cast<uint32_t>(transport_encoding(e.encoding)));
    side.begin.push_back(e.begin);
    i = e.end;
  }
  for (; i < t.units.size(); ++i) {
    side.sub.push_back(t.units[i]);
    side.begin.push_back(i);
  }
  side.begin.push_back(t.units.size());
}

constexpr uint32_t kNoise = 0x300000;  // a run of noisy units, in a collapsed sequence
bool is_placeholder(uint32_t u) { return u >= kPlaceholder && u < kNoise; }

// Whether sub unit i of a side is noise in that side's variant.
bool noisy_unit(const Side& side, size_t i) {
  if (!side.mask->known || is_placeholder(side.sub[i])) return false;
  size_t u = side.begin[i];
  return u < side.mask->unit.size() && side.mask->unit[u] != 0;
}

// The units of sub range [s, e) that are not noise, in order.
std::vector<uint32_t> stable_units(const Side& side, size_t s, size_t e) {
  std::vector<uint32_t> out;
  for (size_t i = s; i < e; ++i)
    if (!noisy_unit(side, i)) out.push_back(side.sub[i]);
  return out;
}

// A variant that ran once has no mask of its own. It is given the other
// side's, carried over a first alignment of the two texts: where a block of
// that alignment has noise on the masked side, the units facing it are
// noise too if they are of a kind the repeats showed varying in this field
// (digits where digits varied; a zero-width space only where one varied),
// widened to words like a learned mask.
Mask project_mask(const Side& from, const Side& to, const Alphabet& alphabet, uint64_t max_work) {
  Mask m;
  m.known = true;
  const size_t n = to.text->units.size();
  m.unit.assign(n, 0);
  m.gap.assign(n + 1, 0);
  for (const EditBlock& k : word_blocks(from.sub, to.sub, max_work)) {
    bool noise = k.a_begin == k.a_end && gap_noisy(*from.mask, from.begin[k.a_begin]);
    for (size_t i = k.a_begin; i < k.a_end && !noise; ++i) noise = noisy_unit(from, i);
    if (!noise) continue;
    if (k.b_begin == k.b_end) m.gap[to.begin[k.b_begin]] = 1;
    for (size_t j = k.b_begin; j < k.b_end; ++j)
      if (!is_placeholder(to.sub[j]) && alphabet.count(char_class(to.sub[j])) != 0) m.unit[to.begin[j]] = 1;
  }
  widen_to_words(m, to.text->units);
  return m;
}

// A side's sub units with every run of noise as one kNoise unit. Aligning
// these instead of the raw texts keeps the edit script from pairing the
// characters of two random ids across a separator both sides have ("d-42e9"
// against "102" would move the '-'): noise lines up with noise as a whole,
// and what is left is compared exactly.
struct Collapsed {
  std::vector<uint32_t> units;
  std::vector<size_t> begin;  // sub unit where each starts; plus the end
};

Collapsed collapse(const Side& side) {
  Collapsed c;
  const size_t n = side.sub.size();
  c.units.reserve(n);
  c.begin.reserve(n + 1);
  for (size_t i = 0; i < n;) {
    c.begin.push_back(i);
    if (noisy_unit(side, i)) {
      c.units.push_back(kNoise);
      while (i < n && noisy_unit(side, i)) ++i;
    } else {
      c.units.push_back(side.sub[i]);
      ++i;
    }
  }
  c.begin.push_back(n);
  return c;
}

// ---- fields ---------------------------------------------------------------------

struct Field {
  std::string part;
  std::string location;
  char type = 's';  // 's' text; JSON: 'n' number, 'b' boolean, 'z' null, 'o' object, 'a' array
  std::string text;
  bool truncated = false;
  std::vector<uint64_t> byte_map;  // layout texts: source offset of each byte (and the end)
  // JSON strings: the literal as written (quotes and escapes) and its offset
  // in the body, to compare how equal text was escaped.
  std::string raw;
  uint64_t raw_offset = 0;
};

Field text_field(std::string part, std::string location, std::string text, bool truncated = false) {
  Field f;
  f.part = std::move(part);
  f.location = std::move(location);
  f.text = std::move(text);
  f.truncated = truncated;
  return f;
}

struct FieldSet {
  std::vector<std::string> order;
  std::unordered_map<std::string, Field> map;
  void add(std::string key, Field f) {
    auto [it, inserted] = map.emplace(key, std::move(f));
    if (inserted) order.push_back(std::move(key));
  }
  const Field* find(const std::string& key) const {
    auto it = map.find(key);
    return it == map.end() ? nullptr : &it->second;
  }
};

std::string lower_ascii(std::string s) {
  for (char& c : s)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
  return s;
}

std::string path_member(const std::string& parent, const std::string& key) {
  bool ident = !key.empty() && !(key[0] >= '0' && key[0] <= '9');
  for (char c : key)
    ident = ident && ((c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') || c == '_');
  if (ident) return parent + "." + key;
  std::string out = parent + "['";
  for (char c : key) {
    if (c == '\'' || c == '\\') out += '\\';
    out += c;
  }
  return out + "']";
}

// Deeper than this a subtree is one value (its serialization): nobody nests
// a request that deep, and the walk stays bounded.
constexpr int kMaxJsonDepth = 128;

void flatten(const Json& j, const std::string& path, int depth, FieldSet& out) {
  Field f;
  f.part = "json";
  f.location = path;
  switch (j.type()) {
    case Json::value_t::object:
    case Json::value_t::array:
      if (depth >= kMaxJsonDepth) {
        f.type = 'n';
        f.text = j.dump(-1, ' ', false, Json::error_handler_t::replace);
        out.add("json:" + path, std::move(f));
        return;
      }
      f.type = j.is_object() ? 'o' : 'a';
      out.add("json:" + path, std::move(f));
      if (j.is_object()) {
        for (auto it = j.begin(); it != j.end(); ++it) flatten(it.value(), path_member(path, it.key()), depth + 1, out);
      } else {
        for (size_t i = 0; i < j.size(); ++i) flatten(j[i], path + "[" + std::to_string(i) + "]", depth + 1, out);
      }
      return;
    case Json::value_t::string:
      f.text = j.get_ref<const std::string&>();
      break;
    case Json::value_t::boolean:
      f.type = 'b';
      f.text = j.dump();
      break;
    case Json::value_t::null:
      f.type = 'z';
      f.text = "null";
      break;
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned:
    case Json::value_t::number_float:
      f.type = 'n';
      f.text = j.dump();
      break;
    default:
      return;
  }
  out.add("json:" + path, std::move(f));
}

// What the JSON tree does not show: key order, whitespace and duplicate
// keys. Keys stay as written, string values become "", numbers 0; `map`
// gives the body offset of every byte. Each string value's literal goes to
// `literals` by JSON path, so that equal text escaped another way ("é" and
// "\u00e9", "/" and "\/") can be told apart where the text itself is equal.
std::string json_layout(std::string_view raw, std::vector<uint64_t>& map,
                        std::unordered_map<std::string, std::pair<uint64_t, std::string>>& literals) {
  std::string out;
  auto put = [&](std::string_view s, uint64_t at) {
    out += s;
    map.insert(map.end(), s.size(), at);
  };
  struct Frame {
    bool object = false;
    size_t index = 0;
    std::string key;
  };
  std::vector<Frame> stack;
  auto path = [&] {
    std::string p = "$";
    for (const Frame& f : stack) p = f.object ? path_member(p, f.key) : p + "[" + std::to_string(f.index) + "]";
    return p;
  };
  const size_t n = raw.size();
  for (size_t i = 0; i < n;) {
    char c = raw[i];
    if (c == '"') {
      size_t j = i + 1;
      while (j < n && raw[j] != '"') j += raw[j] == '\\' ? 2 : 1;
      size_t end = std::min(j + 1, n);
      std::string_view literal = raw.substr(i, end - i);
      size_t k = end;
      while (k < n && (raw[k] == ' ' || raw[k] == '\t' || raw[k] == '\n' || raw[k] == '\r')) ++k;
      if (k < n && raw[k] == ':') {
        put(literal, i);  // a key: part of the structure
        if (!stack.empty() && stack.back().object) {
          Json key = Json::parse(literal, nullptr, false);
          stack.back().key = key.is_string() ? key.get<std::string>() : std::string(literal);
        }
      } else {
        put("\"\"", i);
        if (stack.size() <= static_cast<size_t>(kMaxJsonDepth)) literals[path()] = {i, std::string(literal)};
      }
      i = end;
    } else if (c == '-' || (c >= '0' && c <= '9')) {
      size_t j = i;
      while (j < n && (raw[j] == '-' || raw[j] == '+' || raw[j] == '.' || raw[j] == 'e' || raw[j] == 'E' ||
                       (raw[j] >= '0' && raw[j] <= '9')))
        ++j;
      put("0", i);
      i = j;
    } else {
      if (c == '{' || c == '[') stack.push_back(Frame{c == '{', 0, ""});
      if ((c == '}' || c == ']') && !stack.empty()) stack.pop_back();
      if (c == ',' && !stack.empty() && !stack.back().object) ++stack.back().index;
      put(raw.substr(i, 1), i);
      ++i;
    }
  }
  map.push_back(n);
  return out;
}

// The header section's layout: the order of the fields, the case of their
// names, the whitespace around values and the line endings; values are '…'.
std::string header_layout(std::string_view head, std::vector<uint64_t>& map) {
  std::string out;
  auto put = [&](std::string_view s, uint64_t at) {
    out += s;
    map.insert(map.end(), s.size(), at);
  };
  size_t p = 0;
  bool first = true;
  while (p < head.size()) {
    size_t nl = head.find('\n', p);
    size_t next = nl == std::string_view::npos ? head.size() : nl + 1;
    size_t end = nl == std::string_view::npos ? head.size() : nl;
    if (end > p && head[end - 1] == '\r') --end;
    std::string_view line = head.substr(p, end - p);
    if (!first && !line.empty()) {
      size_t colon = line.find(':');
      if (colon == std::string_view::npos) {
        put(line, p);
      } else {
        put(line.substr(0, colon + 1), p);
        size_t v = colon + 1;
        size_t v_end = line.size();
        while (v < v_end && (line[v] == ' ' || line[v] == '\t')) ++v;
        while (v_end > v && (line[v_end - 1] == ' ' || line[v_end - 1] == '\t')) --v_end;
        put(line.substr(colon + 1, v - colon - 1), p + colon + 1);
        if (v < v_end) put("…", p + v);
        put(line.substr(v_end), p + v_end);
      }
    }
    put(head.substr(end, next - end), end);  // the line ending as sent
    first = false;
    p = next;
  }
  map.push_back(head.size());
  return out;
}

bool head_complete(std::string_view head) {
  return head.size() >= 2 && head.back() == '\n' &&
         (head[head.size() - 2] == '\n' || (head.size() >= 3 && head.substr(head.size() - 3) == "\n\r\n"));
}

FieldSet request_fields(const HttpRequest& r, const Json* json) {
  FieldSet fs;
  fs.add("line:method", text_field("request-line", "method", r.method));
  fs.add("line:target", text_field("request-line", "target", r.target));
  fs.add("line:version", text_field("request-line", "version", r.version));
  std::map<std::string, int> seen;
  for (const auto& [name, value] : r.headers) {
    std::string lname = lower_ascii(name);
    int k = ++seen[lname];
    std::string suffix = k > 1 ? " #" + std::to_string(k) : "";
    // Content-Length follows the body, which is compared itself: a varied
    // value of another length must not show up twice.
    std::string v = lname == "content-length" ? std::string() : value;
    fs.add("hdr:" + lname + suffix, text_field("header", name + suffix, std::move(v)));
  }
  if (json != nullptr) {
    flatten(*json, "$", 0, fs);
    Field layout = text_field("json-layout", "JSON layout", "");
    std::unordered_map<std::string, std::pair<uint64_t, std::string>> literals;
    layout.text = json_layout(r.body, layout.byte_map, literals);
    fs.add("json-layout", std::move(layout));
    for (auto& [path, literal] : literals) {
      auto it = fs.map.find("json:" + path);
      if (it == fs.map.end() || it->second.type != 's') continue;
      it->second.raw_offset = literal.first;
      it->second.raw = std::move(literal.second);
    }
  } else {
    fs.add("body", text_field("body", "body", r.body, r.truncated));
  }
  Field layout = text_field("header-layout", "header section", "", !head_complete(r.head));
  layout.text = header_layout(r.head, layout.byte_map);
  fs.add("header-layout", std::move(layout));
  return fs;
}

// The alignment key: method and path, without the query, the scheme and
// authority of an absolute-form target, and the varied value's echoes (a
// base URL's path prefix, a value inside the path).
std::string request_key(const HttpRequest& r, const std::vector<std::string>& values) {
  std::string path = r.target;
  if (!path.empty() && path[0] != '/') {
    size_t s = path.find("://");
    if (s != std::string::npos) {
      size_t p = path.find('/', s + 3);
      path = p == std::string::npos ? "/" : path.substr(p);
    }
  }
  path = path.substr(0, path.find_first_of("?#"));
  std::vector<std::pair<uint64_t, uint64_t>> spans;
  for (const std::string& v : values)
    for (const EchoMatch& m : find_value_echo(path, v))
      if (transport_encoding(m.encoding) >= 0) spans.emplace_back(m.offset, m.offset + m.length);
  std::sort(spans.begin(), spans.end());
  std::string out;
  uint64_t at = 0;
  for (auto [b, e] : spans) {
    if (b >= at) out.append(path, at, b - at);
    at = std::max(at, e);
  }
  if (at < path.size()) out.append(path, at);
  return r.method + " " + out;
}

// ---- learning -----------------------------------------------------------------

// What the repeats of one variant show about one field of one slot.
struct Learned {
  size_t runs = 0;     // runs of the variant that sent the slot
  size_t present = 0;  // ... and had this field
  int ref = -1;        // the run whose value is the reference
  char type = 0;
  bool type_varies = false;
  bool value_varies = false;
  bool raw_varies = false;  // JSON strings: written differently between repeats
  Mask mask;           // text fields
  std::vector<int> present_runs;  // the runs that had this field, the reference first
};

struct SlotInfo {
  bool stream = false;
  size_t number = 0;  // request number, or stream number
  std::string method, target;
  std::vector<int> item;  // per run: request or stream index, -1 when absent
  std::vector<std::optional<FieldSet>> fields;  // per run
  std::vector<std::string> keys;                // union, in order of first appearance
  std::unordered_map<std::string, std::vector<Learned>> learned;  // key -> per variant
  std::unordered_map<std::string, Alphabet> alphabet;             // key -> all variants' noise kinds
};

// ---- comparing ---------------------------------------------------------------

struct Ctx {
  const DiffOptions* options = nullptr;
  VariantComparison* out = nullptr;
  std::vector<std::string> values;  // both variants' varied values, derived, longest first
  const SlotInfo* slot = nullptr;
  std::set<std::string>* notes = nullptr;
};

void push(Ctx& ctx, Difference d, bool suspicious) {
  auto& list = suspicious ? ctx.out->suspicious : ctx.out->expected;
  size_t& omitted = suspicious ? ctx.out->suspicious_omitted : ctx.out->expected_omitted;
  if (list.size() >= ctx.options->max_differences) {
    ++omitted;
    return;
  }
  list.push_back(std::move(d));
}

Difference base_difference(const Ctx& ctx, const Field& f) {
  Difference d;
  d.request = ctx.slot->number;
  d.method = ctx.slot->method;
  d.target = ctx.slot->target;
  d.part = f.part;
  d.location = f.location;
  return d;
}

uint64_t mapped(const Field& f, uint64_t text_byte) {
  if (f.byte_map.empty()) return text_byte;
  return f.byte_map[std::min<uint64_t>(text_byte, f.byte_map.size() - 1)];
}

std::string echo_phrase(const Side& side, size_t u0, size_t u1) {
  for (const Echo& e : side.hidden)
    if (e.begin < std::max(u1, u0 + 1) && e.end > u0) return "the varied value, " + e.encoding + "-encoded";
  return "";
}

// A phrase for what the differing units are.
std::string describe_units(const std::vector<DiffCodePoint>& cps, std::string_view before, std::string_view after) {
  std::set<std::string> kinds;
  for (std::string_view s : {before, after})
    for (const HiddenChar& h : scan_hidden_chars(s, 64).chars)
      kinds.insert(h.kind == HiddenChar::Kind::kLookalike ? std::string("look-alike character")
                                                         : std::string("hidden code point (") + kind_name(h.kind) + ")");
  if (!kinds.empty()) {
    std::string out;
    for (const auto& k : kinds) out += (out.empty() ? "" : ", ") + k;
    return out;
  }
  bool space = false, punct = false, word = false, other = false;
  for (const DiffCodePoint& c : cps) {
    uint32_t u = c.byte ? kByteUnit + c.code_point : c.code_point;
    if (u >= kByteUnit) other = true;
    else if (u_isUWhiteSpace(static_cast<UChar32>(u))) space = true;
    else if (u_ispunct(static_cast<UChar32>(u)) || (u < 0x80 && u > 0x20 && !is_word_unit(u))) punct = true;
    else if (is_word_unit(u)) word = true;
    else other = true;
  }
  std::vector<std::string> parts;
  if (space) parts.push_back("whitespace");
  if (punct) parts.push_back("punctuation");
  if (word) parts.push_back("letters or digits");
  if (other) parts.push_back("other characters");
  if (parts.empty()) return "text";
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) out += (i == 0 ? "" : i + 1 == parts.size() ? " and " : ", ") + parts[i];
  return out;
}

void add_code_point(std::vector<DiffCodePoint>& cps, uint32_t u, bool added) {
  constexpr size_t kMaxCodePoints = 16;
  for (const auto& c : cps)
    if ((c.byte ? kByteUnit + c.code_point : c.code_point) == u && c.added == added) return;
  if (cps.size() >= kMaxCodePoints) return;
  DiffCodePoint c;
  c.byte = u >= kByteUnit;
  c.code_point = c.byte ? u - kByteUnit : u;
  c.added = added;
  c.label = unit_label(u);
  cps.push_back(std::move(c));
}

// Sub-unit range [s, e) of a side, as original units.
std::pair<size_t, size_t> orig_range(const Side& side, size_t s, size_t e) { return {side.begin[s], side.begin[e]}; }

Difference text_difference(const Ctx& ctx, const Field& fa, const Side& a, const Side& b, size_t as, size_t ae,
                           size_t bs, size_t be) {
  Difference d = base_difference(ctx, fa);
  auto [ua0, ua1] = orig_range(a, as, ae);
  auto [ub0, ub1] = orig_range(b, bs, be);
  const Text& ta = *a.text;
  const Text& tb = *b.text;
  d.change = ua0 == ua1 ? "inserted" : ub0 == ub1 ? "deleted" : "changed";
  d.offset = ua0;
  d.byte_offset = mapped(fa, ta.offs[ua0]);
  std::string_view before = ta.bytes.substr(ta.offs[ua0], ta.offs[ua1] - ta.offs[ua0]);
  std::string_view after = tb.bytes.substr(tb.offs[ub0], tb.offs[ub1] - tb.offs[ub0]);
  d.before = visible(before, ctx.options->max_text);
  d.after = visible(after, ctx.options->max_text);
  d.context_before = context_around(ta.bytes, ta.offs[ua0]);
  d.context_after = context_around(tb.bytes, tb.offs[ub0]);
  // The code points that make the difference: what differs once noise is
  // taken out of both sides; every code point of the block when noise alone
  // is what is out of place (random-looking text inserted where the other
  // variant has none).
  std::vector<uint32_t> sa = stable_units(a, as, ae), sb = stable_units(b, bs, be);
  for (const EditBlock& k : edit_blocks(sa, sb, ctx.options->max_edit_work)) {
    for (size_t i = k.a_begin; i < k.a_end; ++i)
      if (!is_placeholder(sa[i])) add_code_point(d.code_points, sa[i], false);
    for (size_t i = k.b_begin; i < k.b_end; ++i)
      if (!is_placeholder(sb[i])) add_code_point(d.code_points, sb[i], true);
  }
  if (d.code_points.empty()) {
    for (size_t i = as; i < ae; ++i)
      if (!is_placeholder(a.sub[i])) add_code_point(d.code_points, a.sub[i], false);
    for (size_t i = bs; i < be; ++i)
      if (!is_placeholder(b.sub[i])) add_code_point(d.code_points, b.sub[i], true);
  }
  bool ph_a = false, ph_b = false;
  for (size_t i = as; i < ae; ++i) ph_a |= is_placeholder(a.sub[i]);
  for (size_t i = bs; i < be; ++i) ph_b |= is_placeholder(b.sub[i]);
  std::string echo = echo_phrase(a, ua0, ua1);
  if (echo.empty()) echo = echo_phrase(b, ub0, ub1);
  if (ph_a && ph_b) d.reason = "the varied value, in another form";
  else if (ph_a || ph_b) d.reason = "the varied value, with other changes";
  else if (!echo.empty()) d.reason = echo;
  else d.reason = describe_units(d.code_points, before, after);
  return d;
}

// The varied value (sub unit ia of the base, ib of the other, or nothing
// there when at the end) as an expected difference.
Difference echo_difference(const Ctx& ctx, const Field& fa, const Side& a, const Side& b, size_t as, size_t ae,
                           size_t bs, size_t be, const std::string& how) {
  Difference d = base_difference(ctx, fa);
  const Text& ta = *a.text;
  const Text& tb = *b.text;
  auto [ua0, ua1] = orig_range(a, as, ae);
  auto [ub0, ub1] = orig_range(b, bs, be);
  d.change = ua0 == ua1 ? "inserted" : ub0 == ub1 ? "deleted" : "changed";
  d.offset = ua0;
  d.byte_offset = mapped(fa, ta.offs[ua0]);
  d.before = visible(ta.bytes.substr(ta.offs[ua0], ta.offs[ua1] - ta.offs[ua0]), ctx.options->max_text);
  d.after = visible(tb.bytes.substr(tb.offs[ub0], tb.offs[ub1] - tb.offs[ub0]), ctx.options->max_text);
  d.context_before = context_around(ta.bytes, ta.offs[ua0]);
  d.context_after = context_around(tb.bytes, tb.offs[ub0]);
  // Only code points a reader could not see for themselves are listed.
  for (size_t u = ua0; u < ua1; ++u)
    if (ta.units[u] >= 0x80) add_code_point(d.code_points, ta.units[u], false);
  for (size_t u = ub0; u < ub1; ++u)
    if (tb.units[u] >= 0x80) add_code_point(d.code_points, tb.units[u], true);
  d.reason = how;
  return d;
}

std::string transport_name(uint32_t placeholder) { return kTransportNames[placeholder - kPlaceholder]; }

// Unit range [s, e) of an edit script's first text, carried into its second
// text. A bound inside a replaced block takes the whole block; an insertion
// at a bound is included.
std::pair<size_t, size_t> map_range(const std::vector<EditBlock>& blocks, size_t s, size_t e) {
  auto map = [&](size_t p, bool is_end) {
    size_t pa = 0, pb = 0;
    for (const EditBlock& k : blocks) {
      if (p < k.a_begin || (p == k.a_begin && (!is_end || k.a_begin < k.a_end))) return pb + (p - pa);
      if (p < k.a_end || (is_end && p == k.a_end)) return is_end ? k.b_end : k.b_begin;
      pa = k.a_end;
      pb = k.b_end;
    }
    return pb + (p - pa);
  };
  return {map(s, false), map(e, true)};
}

// The values one variant's repeats sent for a text field, to tell a clock
// that ticked during the runs from an input: where one variant's repeats
// vary and the other's do not, the constant value is noise too if one of
// the varying variant's repeats sent it in the same place.
struct Repeats {
  const Text* ref = nullptr;
  std::vector<const Field*> fields;  // every repeat's field, the reference's included
  uint64_t max_work = 0;
  std::vector<std::optional<std::pair<Text, std::vector<EditBlock>>>> aligned;  // lazily

  // Whether some repeat has `value` where the reference has units [u0, u1).
  bool sent(size_t u0, size_t u1, std::string_view value) {
    aligned.resize(fields.size());
    for (size_t i = 0; i < fields.size(); ++i) {
      if (fields[i]->text == ref->bytes) {
        if (ref->bytes.substr(ref->offs[u0], ref->offs[u1] - ref->offs[u0]) == value) return true;
        continue;
      }
      if (!aligned[i]) {
        Text t = make_text(fields[i]->text);
        std::vector<EditBlock> blocks = word_blocks(ref->units, t.units, max_work);
        aligned[i].emplace(std::move(t), std::move(blocks));
      }
      const auto& [t, blocks] = *aligned[i];
      auto [v0, v1] = map_range(blocks, u0, u1);
      if (v1 >= v0 && v1 < t.offs.size() && t.bytes.substr(t.offs[v0], t.offs[v1] - t.offs[v0]) == value) return true;
    }
    return false;
  }
};

// One text field, base against other.
void compare_text(Ctx& ctx, const Field& fa, const Mask& ma, const Field& fb, const Mask& mb, const Alphabet& alphabet,
                  const std::vector<const Field*>& repeats_a = {}, const std::vector<const Field*>& repeats_b = {}) {
  if (fa.text == fb.text) return;
  Text ta = make_text(fa.text), tb = make_text(fb.text);
  Repeats ra{&ta, repeats_a, ctx.options->max_edit_work, {}}, rb{&tb, repeats_b, ctx.options->max_edit_work, {}};
  Side a, b;
  a.text = &ta;
  a.mask = &ma;
  a.truncated = fa.truncated;
  b.text = &tb;
  b.mask = &mb;
  b.truncated = fb.truncated;
  find_echoes(a, ctx.values);
  find_echoes(b, ctx.values);
  Mask projected;
  if (ma.known && !mb.known) {
    projected = project_mask(a, b, alphabet, ctx.options->max_edit_work);
    b.mask = &projected;
  } else if (mb.known && !ma.known) {
    projected = project_mask(b, a, alphabet, ctx.options->max_edit_work);
    a.mask = &projected;
  }
  const Collapsed ca = collapse(a), cb = collapse(b);
  std::vector<EditBlock> blocks = word_blocks(ca.units, cb.units, ctx.options->max_edit_work);

  // Equal units: noise against noise, and the varied value in the same
  // place and form (expected when its text differs).
  auto equal_run = [&](size_t c0, size_t c1, size_t d0) {
    for (size_t i = c0; i < c1; ++i) {
      size_t j = d0 + (i - c0);
      uint32_t u = ca.units[i];
      if (u != kNoise && !is_placeholder(u)) continue;
      auto [x0, x1] = orig_range(a, ca.begin[i], ca.begin[i + 1]);
      auto [y0, y1] = orig_range(b, cb.begin[j], cb.begin[j + 1]);
      std::string_view va = ta.bytes.substr(ta.offs[x0], ta.offs[x1] - ta.offs[x0]);
      std::string_view vb = tb.bytes.substr(tb.offs[y0], tb.offs[y1] - tb.offs[y0]);
      if (va == vb) continue;
      if (u == kNoise) {
        ++ctx.out->noise_masked;
        continue;
      }
      push(ctx,
           echo_difference(ctx, fa, a, b, ca.begin[i], ca.begin[i + 1], cb.begin[j], cb.begin[j + 1],
                           "the varied value (" + transport_name(u) + ")"),
           false);
    }
  };

  // Suspicious blocks a few equal units apart are one difference: a date
  // written in another format is one change, not four.
  constexpr size_t kMergeGap = 3;
  bool pending = false;
  EditBlock cur{};  // in sub units
  auto flush = [&] {
    if (!pending) return;
    push(ctx, text_difference(ctx, fa, a, b, cur.a_begin, cur.a_end, cur.b_begin, cur.b_end), true);
    pending = false;
  };
  bool truncation_dropped = false;
  size_t pa = 0, pb = 0;
  for (const EditBlock& k : blocks) {
    equal_run(pa, k.a_begin, pb);
    bool gap_is_plain = true;  // the equal run before this block is plain text
    for (size_t i = pa; i < k.a_begin; ++i) gap_is_plain &= ca.units[i] != kNoise && !is_placeholder(ca.units[i]);
    pa = k.a_end;
    pb = k.b_end;
    const size_t as = ca.begin[k.a_begin], ae = ca.begin[k.a_end];
    const size_t bs = cb.begin[k.b_begin], be = cb.begin[k.b_end];

    bool a_placeholders = true, b_placeholders = true, a_noise = true, b_noise = true;
    for (size_t i = k.a_begin; i < k.a_end; ++i) {
      a_placeholders &= is_placeholder(ca.units[i]);
      a_noise &= ca.units[i] == kNoise;
    }
    for (size_t i = k.b_begin; i < k.b_end; ++i) {
      b_placeholders &= is_placeholder(cb.units[i]);
      b_noise &= cb.units[i] == kNoise;
    }
    const bool a_empty = k.a_begin == k.a_end, b_empty = k.b_begin == k.b_end;

    // The varied value appearing on one side only: expected.
    if (a_placeholders && b_placeholders && a_empty != b_empty) {
      flush();
      uint32_t u = a_empty ? cb.units[k.b_begin] : ca.units[k.a_begin];
      push(ctx, echo_difference(ctx, fa, a, b, as, ae, bs, be, "the varied value (" + transport_name(u) + "), in one variant only"),
           false);
      continue;
    }
    // Noise against noise, or noise against nothing where the other
    // variant's repeats also inserted or dropped something.
    if (a_noise && b_noise) {
      bool noise = (!a_empty && !b_empty) || (a_empty && gap_noisy(*a.mask, a.begin[as])) ||
                   (b_empty && gap_noisy(*b.mask, b.begin[bs]));
      if (noise) {
        ++ctx.out->noise_masked;
        flush();
        continue;
      }
    }
    // Noise on one side facing plain text that the noisy side's repeats
    // also sent there: the value changed with time, not with the input.
    auto plain = [](const Collapsed& c, size_t i0, size_t i1) {
      for (size_t i = i0; i < i1; ++i)
        if (c.units[i] == kNoise || is_placeholder(c.units[i])) return false;
      return true;
    };
    auto seen_in = [&](Repeats& noisy, const Side& ns, size_t n0, size_t n1, const Text& pt, const Side& ps, size_t p0,
                       size_t p1) {
      auto [x0, x1] = orig_range(ps, p0, p1);
      auto [y0, y1] = orig_range(ns, n0, n1);
      return noisy.sent(y0, y1, pt.bytes.substr(pt.offs[x0], pt.offs[x1] - pt.offs[x0]));
    };
    if ((b_noise && !b_empty && plain(ca, k.a_begin, k.a_end) && seen_in(rb, b, bs, be, ta, a, as, ae)) ||
        (a_noise && !a_empty && plain(cb, k.b_begin, k.b_end) && seen_in(ra, a, as, ae, tb, b, bs, be))) {
      ++ctx.out->noise_masked;
      flush();
      continue;
    }
    // A capture cut short ends at the budget, not where the request ends:
    // the last block of a truncated text says nothing about the input.
    if ((a.truncated && k.a_end == ca.units.size()) || (b.truncated && k.b_end == cb.units.size())) {
      truncation_dropped = true;
      flush();
      continue;
    }
    if (pending && gap_is_plain && as - cur.a_end <= kMergeGap && bs - cur.b_end <= kMergeGap) {
      cur.a_end = ae;
      cur.b_end = be;
      continue;
    }
    flush();
    pending = true;
    cur = EditBlock{as, ae, bs, be};
  }
  flush();
  equal_run(pa, ca.units.size(), pb);
  if (truncation_dropped)
    ctx.notes->insert("request " + std::to_string(ctx.slot->number) + " (" + ctx.slot->method + " " + ctx.slot->target +
                      "): the capture ends inside " + fa.location + "; its end is not compared");
}

const char* type_name(char t) {
  switch (t) {
    case 's': return "string";
    case 'n': return "number";
    case 'b': return "boolean";
    case 'z': return "null";
    case 'o': return "object";
    case 'a': return "array";
  }
  return "value";
}

// The same JSON text, escaped another way in each variant.
Difference escape_difference(const Ctx& ctx, const Field& fa, const Field& fb) {
  Difference d = base_difference(ctx, fa);
  d.part = "json-layout";
  d.change = "changed";
  Text ta = make_text(fa.raw), tb = make_text(fb.raw);
  auto blocks = edit_blocks(ta.units, tb.units, ctx.options->max_edit_work);
  size_t a0 = blocks.empty() ? 0 : blocks.front().a_begin, a1 = blocks.empty() ? 0 : blocks.back().a_end;
  size_t b0 = blocks.empty() ? 0 : blocks.front().b_begin, b1 = blocks.empty() ? 0 : blocks.back().b_end;
  d.offset = a0;
  d.byte_offset = fa.raw_offset + ta.offs[a0];
  d.before = visible(fa.raw.substr(ta.offs[a0], ta.offs[a1] - ta.offs[a0]), ctx.options->max_text);
  d.after = visible(fb.raw.substr(tb.offs[b0], tb.offs[b1] - tb.offs[b0]), ctx.options->max_text);
  d.context_before = context_around(fa.raw, ta.offs[a0]);
  d.context_after = context_around(fb.raw, tb.offs[b0]);
  for (const EditBlock& k : blocks) {
    for (size_t i = k.a_begin; i < k.a_end; ++i) add_code_point(d.code_points, ta.units[i], false);
    for (size_t i = k.b_begin; i < k.b_end; ++i) add_code_point(d.code_points, tb.units[i], true);
  }
  d.reason = "the same text, escaped differently";
  return d;
}

bool under(const std::string& key, const std::set<std::string>& prefixes) {
  for (const std::string& p : prefixes)
    if (key.size() > p.size() && key.compare(0, p.size(), p) == 0 && (key[p.size()] == '.' || key[p.size()] == '['))
      return true;
  return false;
}

// A field present in one variant only, or of another type.
Difference structure_difference(const Ctx& ctx, const Field& f, const std::string& change, const Field* before,
                                const Field* after, const std::string& reason) {
  Difference d = base_difference(ctx, f);
  d.change = change;
  auto show = [&](const Field* x) {
    if (x == nullptr) return std::string();
    if (x->type == 'o' || x->type == 'a') return std::string(x->type == 'o' ? "{…}" : "[…]");
    return visible(x->text, ctx.options->max_text);
  };
  d.before = show(before);
  d.after = show(after);
  if (before != nullptr) d.context_before = context_around(before->text, 0);
  if (after != nullptr) d.context_after = context_around(after->text, 0);
  d.reason = reason;
  return d;
}

void compare_slot(Ctx& ctx, SlotInfo& slot, size_t va, size_t vb, const std::vector<std::string>& variants) {
  ctx.slot = &slot;
  const Mask empty_known{true, {}, {}, 0};
  std::set<std::string> reported;  // JSON paths reported as added, removed or retyped
  bool json_structure = false, header_structure = false;
  auto field_of = [&](int run, const std::string& key) -> const Field* {
    return slot.fields[run] ? slot.fields[run]->find(key) : nullptr;
  };
  for (int pass = 0; pass < 2; ++pass) {
    for (const std::string& key : slot.keys) {
      bool layout = key == "json-layout" || key == "header-layout";
      if (layout != (pass == 1)) continue;
      if (key == "json-layout" && json_structure) continue;
      if (key == "header-layout" && header_structure) continue;
      const Learned& la = slot.learned[key][va];
      const Learned& lb = slot.learned[key][vb];
      if (la.present == 0 && lb.present == 0) continue;
      bool json_key = key.compare(0, 5, "json:") == 0;
      if (json_key && under(key, reported)) continue;
      bool presence_noise = (la.present > 0 && la.present < la.runs) || (lb.present > 0 && lb.present < lb.runs);
      if (la.present == 0 || lb.present == 0) {
        if (presence_noise) {
          ++ctx.out->noise_masked;
          continue;
        }
        const Field* fa = la.present ? field_of(la.ref, key) : nullptr;
        const Field* fb = lb.present ? field_of(lb.ref, key) : nullptr;
        const Field& f = fa ? *fa : *fb;
        push(ctx, structure_difference(ctx, f, fa ? "removed" : "added", fa, fb,
                                       std::string("sent by ") + (fa ? variants[va] : variants[vb]) + " only"),
             true);
        if (json_key) reported.insert(key);
        json_structure |= json_key;
        header_structure |= key.compare(0, 4, "hdr:") == 0;
        continue;
      }
      const Field& fa = *field_of(la.ref, key);
      const Field& fb = *field_of(lb.ref, key);
      if (la.type_varies || lb.type_varies) {
        if (la.type != lb.type || la.type_varies != lb.type_varies) ++ctx.out->noise_masked;
        continue;
      }
      if (la.type != lb.type) {
        push(ctx, structure_difference(ctx, fa, "type", &fa, &fb,
                                       std::string(type_name(la.type)) + " became " + type_name(lb.type)),
             true);
        reported.insert(key);
        json_structure = true;
        continue;
      }
      if (la.type == 'o' || la.type == 'a') continue;
      if (la.type == 's') {
        auto repeats = [&](const Learned& l) {
          std::vector<const Field*> out;
          for (int r : l.present_runs) out.push_back(field_of(r, key));
          return out;
        };
        compare_text(ctx, fa, la.mask, fb, lb.mask, slot.alphabet[key], repeats(la), repeats(lb));
        if (fa.text == fb.text && fa.raw != fb.raw && !la.raw_varies && !lb.raw_varies)
          push(ctx, escape_difference(ctx, fa, fb), true);
        continue;
      }
      // Numbers, booleans, null: one value, noise when it varies anywhere.
      if (la.value_varies || lb.value_varies) {
        if (fa.text != fb.text) ++ctx.out->noise_masked;
        continue;
      }
      static const Alphabet kNone;
      static const Mask kUnknown;
      compare_text(ctx, fa, la.present > 1 ? empty_known : kUnknown, fb, lb.present > 1 ? empty_known : kUnknown, kNone);
    }
  }
}

std::string masked_sample(const Text& t, const Mask& m) {
  std::string masked;
  uint64_t first = 0;
  bool found = false;
  for (size_t i = 0; i < t.units.size(); ++i) {
    if (m.unit[i]) {
      if (!found) first = masked.size();
      found = true;
      masked += "·";
    } else {
      masked.append(t.bytes.substr(t.offs[i], t.offs[i + 1] - t.offs[i]));
    }
  }
  return context_around(masked, first, 32);
}

}  // namespace

std::vector<uint32_t> decode_units(std::string_view utf8) { return make_text(utf8).units; }

std::vector<EditBlock> edit_blocks(const std::vector<uint32_t>& a, const std::vector<uint32_t>& b, uint64_t max_work) {
  return Differ(a, b, max_work).run();
}

void add_stream(RunCapture& run, std::string_view stream) {
  if (stream.empty()) return;
  HttpParse p = parse_http_stream(stream);
  for (HttpRequest& r : p.requests) run.requests.push_back(std::move(r));
  if (p.consumed < stream.size()) run.raw_streams.emplace_back(stream.substr(p.consumed));
}

RunCapture capture_of(const Profile& p, const std::string& variant, const std::string& value) {
  RunCapture run;
  run.variant = variant;
  run.varied_value = value;
  std::set<uint32_t> tls_conns;
  for (const auto& s : p.streams)
    if (s.tls && s.conn) tls_conns.insert(s.conn);
  std::vector<const PayloadStream*> streams;
  for (const auto& s : p.streams) {
    if (s.data.empty() || s.segments.empty()) continue;
    if (!s.tls && s.conn && tls_conns.count(s.conn)) continue;  // ciphertext of captured plaintext
    if (s.peer.ends_with(":53")) continue;                      // name lookups are not requests
    if (!s.tls && s.peer.empty()) continue;                     // no IP peer: a host query
    streams.push_back(&s);
  }
  std::sort(streams.begin(), streams.end(), [](auto* a, auto* b) { return a->segments[0].event < b->segments[0].event; });
  for (const auto* s : streams) add_stream(run, s->data);
  return run;
}

DiffReport diff_runs(const std::vector<RunCapture>& runs, const DiffOptions& options) {
  DiffReport report;
  std::set<std::string> notes;
  if (runs.empty()) {
    report.notes.push_back("no runs to compare");
    return report;
  }
  // Variants in order of first appearance; runs ordered base first.
  std::vector<std::vector<size_t>> runs_of;
  std::vector<std::string> value_of;
  std::vector<size_t> variant_of(runs.size());
  for (size_t r = 0; r < runs.size(); ++r) {
    auto it = std::find(report.variants.begin(), report.variants.end(), runs[r].variant);
    size_t v = static_cast<size_t>(it - report.variants.begin());
    if (it == report.variants.end()) {
      report.variants.push_back(runs[r].variant);
      runs_of.emplace_back();
      value_of.push_back(runs[r].varied_value);
    }
    runs_of[v].push_back(r);
    variant_of[r] = v;
  }
  const size_t nv = report.variants.size();
  for (auto& rs : runs_of) report.runs.push_back(rs.size());
  std::vector<std::vector<std::string>> derived(nv);
  for (size_t v = 0; v < nv; ++v) derived[v] = derived_values(value_of[v]);
  std::vector<size_t> order;
  for (auto& rs : runs_of) order.insert(order.end(), rs.begin(), rs.end());

  // ---- align requests: progressively, each run against the slots so far.
  std::vector<SlotInfo> slots;
  {
    std::unordered_map<std::string, uint32_t> key_ids;
    auto id_of = [&](const std::string& k) {
      auto [it, _] = key_ids.emplace(k, static_cast<uint32_t>(key_ids.size()));
      return it->second;
    };
    std::vector<uint32_t> slot_keys;
    for (size_t r : order) {
      std::vector<uint32_t> keys;
      for (const HttpRequest& q : runs[r].requests) keys.push_back(id_of(request_key(q, derived[variant_of[r]])));
      std::vector<SlotInfo> next;
      std::vector<uint32_t> next_keys;
      auto keep = [&](size_t s) {
        next.push_back(std::move(slots[s]));
        next_keys.push_back(slot_keys[s]);
      };
      auto fresh = [&](size_t i) {
        SlotInfo s;
        s.item.assign(runs.size(), -1);
        s.item[r] = static_cast<int>(i);
        next.push_back(std::move(s));
        next_keys.push_back(keys[i]);
      };
      size_t ps = 0, pr = 0;
      for (const EditBlock& b : edit_blocks(slot_keys, keys, options.max_edit_work)) {
        for (; ps < b.a_begin; ++ps, ++pr) {
          slots[ps].item[r] = static_cast<int>(pr);
          keep(ps);
        }
        for (; ps < b.a_end; ++ps) keep(ps);
        for (; pr < b.b_end; ++pr) fresh(pr);
      }
      for (; ps < slots.size(); ++ps, ++pr) {
        slots[ps].item[r] = static_cast<int>(pr);
        keep(ps);
      }
      slots = std::move(next);
      slot_keys = std::move(next_keys);
    }
    for (size_t i = 0; i < slots.size(); ++i) slots[i].number = i;
    report.requests = slots.size();
    size_t streams = 0;
    for (const RunCapture& rc : runs) streams = std::max(streams, rc.raw_streams.size());
    for (size_t i = 0; i < streams; ++i) {
      SlotInfo s;
      s.stream = true;
      s.number = i;
      s.item.assign(runs.size(), -1);
      for (size_t r = 0; r < runs.size(); ++r)
        if (i < runs[r].raw_streams.size()) s.item[r] = static_cast<int>(i);
      slots.push_back(std::move(s));
    }
  }

  // ---- fields of every run in every slot, and what repeats teach.
  for (SlotInfo& slot : slots) {
    slot.fields.resize(runs.size());
    for (size_t r : order) {
      if (slot.item[r] < 0) continue;
      if (slot.stream) {
        if (slot.method.empty() && slot.target.empty()) slot.target = "stream " + std::to_string(slot.number);
      } else if (slot.method.empty()) {
        slot.method = runs[r].requests[slot.item[r]].method;
        slot.target = runs[r].requests[slot.item[r]].target;
      }
    }
    // JSON when every run's body is JSON; one run that is not (cut short,
    // another serializer) makes the whole slot compare as text.
    std::vector<Json> parsed(runs.size());
    bool json = !slot.stream;
    bool any = false;
    for (size_t r : order) {
      if (!json || slot.item[r] < 0) continue;
      const HttpRequest& q = runs[r].requests[slot.item[r]];
      size_t first = q.body.find_first_not_of(" \t\r\n");
      if (q.truncated || first == std::string::npos || (q.body[first] != '{' && q.body[first] != '[')) {
        json = false;
        break;
      }
      parsed[r] = Json::parse(q.body, nullptr, false);
      if (parsed[r].is_discarded()) json = false;
      any = true;
    }
    json = json && any;
    for (size_t r : order) {
      if (slot.item[r] < 0) continue;
      if (slot.stream) {
        FieldSet fs;
        fs.add("stream", text_field("stream", "stream " + std::to_string(slot.number), runs[r].raw_streams[slot.item[r]]));
        slot.fields[r] = std::move(fs);
      } else {
        const HttpRequest& q = runs[r].requests[slot.item[r]];
        slot.fields[r] = request_fields(q, json ? &parsed[r] : nullptr);
        parsed[r] = Json();  // flattened: the tree is no longer needed
        if (q.truncated)
          notes.insert("request " + std::to_string(slot.number) + " (" + slot.method + " " + slot.target +
                       ") was cut short in a run of " + report.variants[variant_of[r]]);
      }
    }
    std::unordered_set<std::string> seen;
    for (size_t r : order)
      if (slot.fields[r])
        for (const std::string& k : slot.fields[r]->order)
          if (seen.insert(k).second) slot.keys.push_back(k);

    for (const std::string& key : slot.keys) {
      std::vector<Learned>& per = slot.learned[key];
      per.resize(nv);
      Alphabet& alphabet = slot.alphabet[key];
      for (size_t v = 0; v < nv; ++v) {
        Learned& l = per[v];
        std::vector<const Field*> present;
        for (size_t r : runs_of[v]) {
          if (slot.item[r] < 0) continue;
          ++l.runs;
          const Field* f = slot.fields[r]->find(key);
          if (f == nullptr) continue;
          if (present.empty()) {
            l.ref = static_cast<int>(r);
            l.type = f->type;
          }
          l.type_varies |= f->type != l.type;
          present.push_back(f);
          l.present_runs.push_back(static_cast<int>(r));
        }
        l.present = present.size();
        if (present.empty()) continue;
        l.value_varies = false;
        for (const Field* f : present) {
          l.value_varies |= f->text != present.front()->text;
          l.raw_varies |= f->raw != present.front()->raw;
        }
        if (l.type == 's' && !l.type_varies) {
          Text ref = make_text(present.front()->text);
          std::vector<Text> others;
          for (size_t i = 1; i < present.size(); ++i) others.push_back(make_text(present[i]->text));
          l.mask = learn_mask(ref, others, options.max_edit_work, alphabet);
        }
      }
    }
  }

  // ---- the noise list.
  for (SlotInfo& slot : slots) {
    for (const std::string& key : slot.keys) {
      const std::vector<Learned>& per = slot.learned[key];
      NoiseLocation nl;
      for (size_t v = 0; v < nv; ++v) {
        const Learned& l = per[v];
        bool presence = l.present > 0 && l.present < l.runs;
        bool whole = presence || l.type_varies || (l.type != 's' && l.value_varies);
        bool text = l.type == 's' && !l.type_varies && l.mask.count > 0;
        if (!whole && !text) continue;
        const Field* f = slot.fields[l.ref]->find(key);
        if (nl.variants.empty()) {
          nl.request = slot.number;
          nl.method = slot.method;
          nl.target = slot.target;
          nl.part = f->part;
          nl.location = f->location;
          nl.whole_value = whole;
          if (text) {
            nl.code_points = l.mask.count;
            nl.sample = masked_sample(make_text(f->text), l.mask);
          } else {
            nl.sample = presence ? "sent in some runs only" : l.type_varies ? "type varies" : "value varies";
          }
        }
        nl.variants.push_back(report.variants[v]);
      }
      if (!nl.variants.empty()) report.noise.push_back(std::move(nl));
    }
  }

  // ---- base against each other variant.
  bool any_repeats = false;
  for (size_t v = 0; v < nv; ++v) {
    if (runs_of[v].size() > 1) any_repeats = true;
    else if (nv > 1)
      notes.insert(report.variants[v] + " ran once: no noise is learned from it; its side of a difference counts as noise only "
                                        "where another variant's repeats vary and with the same kinds of characters");
  }
  if (!any_repeats) notes.insert("no variant was repeated: nothing is known to be noise, every difference is reported");
  if (nv == 1) notes.insert("only one variant: nothing to compare");

  for (size_t vb = 1; vb < nv; ++vb) {
    auto t0 = std::chrono::steady_clock::now();
    VariantComparison cmp;
    cmp.base = report.variants[0];
    cmp.other = report.variants[vb];
    cmp.base_value = value_of[0];
    cmp.other_value = value_of[vb];
    cmp.base_runs = runs_of[0].size();
    cmp.other_runs = runs_of[vb].size();
    Ctx ctx;
    ctx.options = &options;
    ctx.out = &cmp;
    ctx.notes = &notes;
    ctx.values = derived[0];
    for (const std::string& v : derived[vb])
      if (std::find(ctx.values.begin(), ctx.values.end(), v) == ctx.values.end()) ctx.values.push_back(v);
    std::stable_sort(ctx.values.begin(), ctx.values.end(),
                     [](const std::string& x, const std::string& y) { return x.size() > y.size(); });
    for (SlotInfo& slot : slots) {
      size_t in_a = 0, in_b = 0;
      for (size_t r : runs_of[0]) in_a += slot.item[r] >= 0;
      for (size_t r : runs_of[vb]) in_b += slot.item[r] >= 0;
      if (in_a == 0 && in_b == 0) continue;
      bool partial = (in_a > 0 && in_a < runs_of[0].size()) || (in_b > 0 && in_b < runs_of[vb].size());
      if (in_a == 0 || in_b == 0) {
        if (partial) {
          ++cmp.noise_masked;
          continue;
        }
        ctx.slot = &slot;
        Difference d;
        d.request = slot.number;
        d.method = slot.method;
        d.target = slot.target;
        d.part = slot.stream ? "stream" : "request";
        d.location = slot.stream ? slot.target : slot.method + " " + slot.target;
        d.change = in_a ? "removed" : "added";
        (in_a ? d.before : d.after) = visible(d.location, options.max_text);
        d.reason = "sent by " + (in_a ? cmp.base : cmp.other) + " only";
        push(ctx, std::move(d), true);
        continue;
      }
      ++cmp.requests_compared;
      compare_slot(ctx, slot, 0, vb, report.variants);
    }
    cmp.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    report.input_dependent |= !cmp.suspicious.empty() || cmp.suspicious_omitted > 0;
    report.comparisons.push_back(std::move(cmp));
  }
  report.notes.assign(notes.begin(), notes.end());
  return report;
}

}  // namespace agenttrace::analyzer
