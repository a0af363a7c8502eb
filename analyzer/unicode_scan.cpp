#include "analyzer/unicode_scan.h"

#include <unicode/uchar.h>
#include <unicode/unorm2.h>
#include <unicode/uscript.h>
#include <unicode/uspoof.h>
#include <unicode/utf16.h>

#include <array>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <unordered_map>

#include "common/utf8.h"

namespace agenttrace::analyzer {

namespace {

using Kind = HiddenChar::Kind;

// ---- UTF-8 ------------------------------------------------------------------

using Decoded = Utf8Decoded;
inline Decoded decode_at(const unsigned char* s, size_t n, size_t i) { return decode_utf8_at(s, n, i); }

// The well-formed code point that ends exactly at byte i, with its start in
// *start; len 0 when the byte before i is not the end of one.
inline Decoded decode_before(const unsigned char* s, size_t n, size_t i, size_t* start) {
  if (i == 0 || i > n) return {};
  size_t j = i - 1;
  size_t limit = i >= 4 ? i - 4 : 0;
  while (j > limit && (s[j] & 0xC0) == 0x80) --j;
  Decoded d = decode_at(s, n, j);
  if (d.len == 0 || j + d.len != i) return {};
  *start = j;
  return d;
}

// The start of the code point that covers byte `off`, or `off` itself when
// it is an invalid byte or already a start.
size_t align_to_code_point(const unsigned char* s, size_t n, size_t off) {
  if (off >= n) return n;
  for (size_t k = 0; k < 4 && k <= off; ++k) {
    size_t j = off - k;
    if ((s[j] & 0xC0) != 0x80) {
      Decoded d = decode_at(s, n, j);
      if (d.len != 0 && j + d.len > off) return j;
      break;
    }
  }
  return off;
}

inline bool is_ascii_alpha(unsigned char b) { return ((b | 0x20) >= 'a' && (b | 0x20) <= 'z'); }
inline bool is_ascii_digit(unsigned char b) { return b >= '0' && b <= '9'; }
inline bool is_ascii_alnum(unsigned char b) { return is_ascii_alpha(b) || is_ascii_digit(b); }
inline bool is_tag(uint32_t cp) { return cp >= 0xE0000 && cp <= 0xE007F; }

// ---- hidden code points -------------------------------------------------------

// 0 when `cp` is not hidden, otherwise Kind + 1. Tags first: they are also
// Default_Ignorable, but they are the one class that can spell out text.
int hidden_kind(uint32_t cp) {
  if (cp < 0x80) return 0;
  UChar32 c = static_cast<UChar32>(cp);
  if (is_tag(cp)) return static_cast<int>(Kind::kTag) + 1;
  if (u_hasBinaryProperty(c, UCHAR_VARIATION_SELECTOR)) {
    return static_cast<int>(Kind::kVariationSelector) + 1;
  }
  if (u_hasBinaryProperty(c, UCHAR_BIDI_CONTROL)) return static_cast<int>(Kind::kBidi) + 1;
  if (u_charType(c) == U_FORMAT_CHAR || u_hasBinaryProperty(c, UCHAR_DEFAULT_IGNORABLE_CODE_POINT)) {
    return static_cast<int>(Kind::kInvisible) + 1;
  }
  return 0;
}

std::string char_name(uint32_t cp) {
  char buf[128];
  UErrorCode status = U_ZERO_ERROR;
  int32_t len = u_charName(static_cast<UChar32>(cp), U_UNICODE_CHAR_NAME, buf, sizeof buf, &status);
  if (U_SUCCESS(status) && len > 0) return std::string(buf, static_cast<size_t>(len));
  // Unassigned and control code points have no name; ICU's extended name
  // ("<unassigned-2065>") still says what they are.
  status = U_ZERO_ERROR;
  len = u_charName(static_cast<UChar32>(cp), U_EXTENDED_CHAR_NAME, buf, sizeof buf, &status);
  if (U_SUCCESS(status) && len > 0) return std::string(buf, static_cast<size_t>(len));
  return {};
}

// ---- confusables ------------------------------------------------------------

// Which ASCII character a code point imitates, from Unicode's confusables
// (UTS #39 skeletons through ICU's spoof checker) and, for compatibility
// variants such as fullwidth digits that confusables.txt leaves alone, NFKC.
// A skeleton is not always the character itself ("m" -> "rn", "1" -> "l"),
// so the answer is found by matching skeletons against those of every
// printable ASCII character.
class Confusables {
 public:
  static const Confusables& get() {
    static const Confusables instance;
    return instance;
  }

  // The UTS #39 skeleton of one code point; empty when ICU has no checker.
  std::u16string skeleton(uint32_t cp) const {
    if (checker_ == nullptr) return {};
    UChar in[2];
    int32_t in_len = 0;
    U16_APPEND_UNSAFE(in, in_len, static_cast<UChar32>(cp));
    UChar out[32];
    UErrorCode status = U_ZERO_ERROR;
    // The checker is only read after construction; ICU documents const use
    // of a USpoofChecker as thread-safe.
    int32_t len = uspoof_getSkeleton(checker_, 0, in, in_len, out, 32, &status);
    if (U_FAILURE(status) || len <= 0) return {};
    return std::u16string(reinterpret_cast<const char16_t*>(out), static_cast<size_t>(len));
  }

  // The imitated printable ASCII character, or 0.
  char imitated_ascii(uint32_t cp) const {
    std::u16string skel = skeleton(cp);
    if (!skel.empty()) {
      auto it = by_skeleton_.find(skel);
      if (it != by_skeleton_.end()) return best_candidate(it->second, cp);
    }
    if (nfkc_ == nullptr || !is_compat_variant(cp)) return 0;
    UChar in[2];
    int32_t in_len = 0;
    U16_APPEND_UNSAFE(in, in_len, static_cast<UChar32>(cp));
    UChar out[8];
    UErrorCode status = U_ZERO_ERROR;
    int32_t out_len = unorm2_normalize(nfkc_, in, in_len, out, 8, &status);
    if (U_SUCCESS(status) && out_len == 1 && out[0] > 0x20 && out[0] < 0x7F) {
      return static_cast<char>(out[0]);
    }
    return 0;
  }

  // Font, width and plain compatibility variants render as the character
  // they decompose to; circled, superscript, ... forms visibly do not.
  static bool is_compat_variant(uint32_t cp) {
    int dt = u_getIntPropertyValue(static_cast<UChar32>(cp), UCHAR_DECOMPOSITION_TYPE);
    return dt == U_DT_FONT || dt == U_DT_WIDE || dt == U_DT_NARROW || dt == U_DT_COMPAT;
  }

 private:
  Confusables() {
    UErrorCode status = U_ZERO_ERROR;
    checker_ = uspoof_open(&status);
    if (U_SUCCESS(status)) uspoof_setChecks(checker_, USPOOF_CONFUSABLE, &status);
    if (U_FAILURE(status)) {
      // ICU's data is linked into libicudata, so this does not happen in
      // practice; if it does, look-alike detection is off rather than the
      // scan failing on a hot path.
      if (checker_ != nullptr) uspoof_close(checker_);
      checker_ = nullptr;
    }
    status = U_ZERO_ERROR;
    nfkc_ = unorm2_getNFKCInstance(&status);
    if (U_FAILURE(status)) nfkc_ = nullptr;
    for (uint32_t c = 0x21; c < 0x7F; ++c) {
      std::u16string skel = skeleton(c);
      if (!skel.empty()) by_skeleton_[skel].push_back(static_cast<char>(c));
    }
  }
  ~Confusables() {
    if (checker_ != nullptr) uspoof_close(checker_);
  }
  Confusables(const Confusables&) = delete;
  Confusables& operator=(const Confusables&) = delete;

  // Several ASCII characters can share a skeleton ("l", "I", "1", "|"): pick
  // the one of the same kind as the imitating code point (a Cyrillic capital
  // I imitates "I", an Arabic-Indic one imitates "1").
  static char best_candidate(const std::string& candidates, uint32_t cp) {
    UChar32 c = static_cast<UChar32>(cp);
    bool digit = u_charType(c) == U_DECIMAL_DIGIT_NUMBER;
    bool upper = u_isupper(c) || u_istitle(c);
    auto rank = [&](char a) {
      bool a_digit = a >= '0' && a <= '9';
      bool a_upper = a >= 'A' && a <= 'Z';
      bool a_lower = a >= 'a' && a <= 'z';
      if (digit) return a_digit ? 0 : a_upper ? 1 : a_lower ? 2 : 3;
      if (upper) return a_upper ? 0 : a_lower ? 1 : a_digit ? 2 : 3;
      return a_lower ? 0 : a_upper ? 1 : a_digit ? 2 : 3;
    };
    char best = candidates.front();
    for (char a : candidates) {
      if (rank(a) < rank(best)) best = a;
    }
    return best;
  }

  USpoofChecker* checker_ = nullptr;
  const UNormalizer2* nfkc_ = nullptr;
  std::unordered_map<std::u16string, std::string> by_skeleton_;
};

// ---- per-code-point facts, cached ---------------------------------------------

// How a code point takes part in a word, for look-alike detection.
enum class WordClass : uint32_t {
  kBreak = 0,    // ends a word (punctuation, space, symbols, hidden code points)
  kLatin = 1,    // a Latin-script letter that imitates nothing: "é", "ß", "ı"
  kForeign = 2,  // a letter of another script that imitates nothing: "ж", "中"
  kStandIn = 3,  // a letter that imitates an ASCII letter or digit: Cyrillic "а"
  kNeutral = 4,  // marks, Common/Inherited letters: neither Latin nor foreign
  kDigit = 5,    // a non-ASCII decimal digit
};

// Packed facts: bit 31 computed, bits 0-2 hidden_kind(), bits 4-6 WordClass,
// bits 8-15 the imitated ASCII, bit 16 "the imitated ASCII is a look-alike
// letter or digit" (for digits, the imitated ASCII may only be their value).
constexpr uint32_t kComputed = 1u << 31;
constexpr uint32_t kAlnumLookalike = 1u << 16;

inline int info_hidden(uint32_t info) { return static_cast<int>(info & 7u); }
inline WordClass info_word(uint32_t info) { return static_cast<WordClass>((info >> 4) & 7u); }
inline char info_imitates(uint32_t info) { return static_cast<char>((info >> 8) & 0xFFu); }

uint32_t compute_info(uint32_t cp) {
  uint32_t info = kComputed;
  int hidden = hidden_kind(cp);
  if (hidden != 0) return info | static_cast<uint32_t>(hidden);  // and kBreak

  UChar32 c = static_cast<UChar32>(cp);
  WordClass word = WordClass::kBreak;
  char imitates = 0;
  bool alnum = false;
  switch (u_charType(c)) {
    case U_UPPERCASE_LETTER:
    case U_LOWERCASE_LETTER:
    case U_TITLECASE_LETTER:
    case U_MODIFIER_LETTER:
    case U_OTHER_LETTER:
    case U_LETTER_NUMBER: {
      UErrorCode status = U_ZERO_ERROR;
      UScriptCode script = uscript_getScript(c, &status);
      bool native = script == USCRIPT_LATIN || script == USCRIPT_COMMON || script == USCRIPT_INHERITED;
      // Native Latin letters that merely resemble ASCII ("ı" in Turkish "kapı",
      // IPA "ɑ") are ordinary spelling; only letters of other scripts and
      // font/width variants of ASCII are stand-ins.
      if (!native || Confusables::is_compat_variant(cp)) {
        char a = Confusables::get().imitated_ascii(cp);
        if (is_ascii_alnum(static_cast<unsigned char>(a))) {
          word = WordClass::kStandIn;
          imitates = a;
          alnum = true;
          break;
        }
      }
      word = script == USCRIPT_LATIN ? WordClass::kLatin : native ? WordClass::kNeutral : WordClass::kForeign;
      break;
    }
    case U_DECIMAL_DIGIT_NUMBER: {
      word = WordClass::kDigit;
      imitates = Confusables::get().imitated_ascii(cp);
      alnum = is_ascii_alnum(static_cast<unsigned char>(imitates));
      // A digit that looks like nothing in ASCII (Devanagari "१") still stands
      // in for its value when it sits inside an ASCII number.
      if (imitates == 0) imitates = static_cast<char>('0' + u_charDigitValue(c));
      break;
    }
    case U_NON_SPACING_MARK:
    case U_ENCLOSING_MARK:
    case U_COMBINING_SPACING_MARK:
      word = WordClass::kNeutral;
      break;
    default:
      break;
  }
  info |= static_cast<uint32_t>(word) << 4;
  info |= static_cast<uint32_t>(static_cast<unsigned char>(imitates)) << 8;
  if (alnum) info |= kAlnumLookalike;
  return info;
}

// Skeletons cost about a microsecond each, so facts are computed once per
// code point and kept in lazily allocated blocks of 256. Concurrent scans may
// both compute an entry; they store the same value.
class InfoCache {
 public:
  static InfoCache& instance() {
    static InfoCache cache;
    return cache;
  }

  uint32_t get(uint32_t cp) {
    std::atomic<uint32_t>* block = blocks_[cp >> 8].load(std::memory_order_acquire);
    if (block == nullptr) block = install(cp >> 8);
    std::atomic<uint32_t>& slot = block[cp & 0xFF];
    uint32_t info = slot.load(std::memory_order_relaxed);
    if (info == 0) {
      info = compute_info(cp);
      slot.store(info, std::memory_order_relaxed);
    }
    return info;
  }

  ~InfoCache() {
    for (auto& b : blocks_) delete[] b.load(std::memory_order_relaxed);
  }

 private:
  InfoCache() = default;

  std::atomic<uint32_t>* install(size_t index) {
    auto* fresh = new std::atomic<uint32_t>[256]();
    std::atomic<uint32_t>* expected = nullptr;
    if (blocks_[index].compare_exchange_strong(expected, fresh, std::memory_order_acq_rel)) {
      return fresh;
    }
    delete[] fresh;
    return expected;
  }

  std::array<std::atomic<std::atomic<uint32_t>*>, 0x110000 / 256> blocks_{};
};

inline bool has(uint32_t cp, UProperty p) { return u_hasBinaryProperty(static_cast<UChar32>(cp), p); }

// ---- the scan ----------------------------------------------------------------

class Scanner {
 public:
  Scanner(std::string_view text, size_t max_findings)
      : s_(reinterpret_cast<const unsigned char*>(text.data())),
        n_(text.size()),
        max_(max_findings),
        cache_(InfoCache::instance()) {}

  ScanResult run() {
    size_t i = 0;
    size_t floor = 0;  // where the next word may start: never inside a scanned one
    while (i < n_ && !result_.truncated) {
      i = skip_ascii(i);
      if (i >= n_) break;
      Decoded d = decode_at(s_, n_, i);
      if (d.len == 0) {
        ++result_.invalid_utf8_bytes;
        ++i;
        continue;
      }
      uint32_t info = cache_.get(d.cp);
      if (int hidden = info_hidden(info); hidden != 0) {
        auto kind = static_cast<Kind>(hidden - 1);
        if (kind == Kind::kTag) {
          i = scan_tag_run(i);
          continue;
        }
        if (!exempt(i, d)) add(i, d.cp, kind, 0);
        i += d.len;
        continue;
      }
      if (info_word(info) != WordClass::kBreak) {
        i = scan_word(i, floor);
        floor = i;
        continue;
      }
      i += d.len;
    }
    return std::move(result_);
  }

 private:
  // ASCII is never hidden and only matters to look-alikes as the letters
  // around a non-ASCII one, which scan_word() walks back over; so it is
  // skipped eight bytes at a time.
  size_t skip_ascii(size_t i) const {
    while (i + 8 <= n_) {
      uint64_t word;
      std::memcpy(&word, s_ + i, 8);
      if (word & 0x8080808080808080ull) break;
      i += 8;
    }
    while (i < n_ && s_[i] < 0x80) ++i;
    return i;
  }

  void add(size_t offset, uint32_t cp, Kind kind, char imitates) {
    if (result_.chars.size() >= max_) {
      result_.truncated = true;
      return;
    }
    HiddenChar h;
    h.offset = offset;
    h.code_point = cp;
    h.name = char_name(cp);
    h.kind = kind;
    if (imitates != 0) h.imitates.assign(1, imitates);
    result_.chars.push_back(std::move(h));
  }

  // The word (letters, digits, marks) around the non-ASCII code point at
  // `at`: its ASCII start is found by walking back. Returns the word's end.
  size_t scan_word(size_t at, size_t floor) {
    size_t start = at;
    while (start > floor && is_ascii_alnum(s_[start - 1])) --start;
    size_t latin = 0, ascii_digits = 0, foreign = 0;
    candidates_.clear();
    size_t j = start;
    while (j < n_) {
      unsigned char b = s_[j];
      if (b < 0x80) {
        if (is_ascii_alpha(b)) {
          ++latin;
        } else if (is_ascii_digit(b)) {
          ++ascii_digits;
        } else {
          break;
        }
        ++j;
        continue;
      }
      Decoded d = decode_at(s_, n_, j);
      if (d.len == 0) break;
      uint32_t info = cache_.get(d.cp);
      WordClass word = info_word(info);
      if (word == WordClass::kBreak) break;
      if (word == WordClass::kLatin) ++latin;
      if (word == WordClass::kForeign) ++foreign;
      if (word == WordClass::kStandIn || word == WordClass::kDigit) {
        candidates_.push_back({j, d.cp, info});
      }
      j += d.len;
    }
    // A word with letters of another script that imitate nothing is written
    // in that script (or mixes scripts openly, "iPhoneом"): nothing is
    // standing in for anything.
    if (foreign != 0) return j;
    for (const Candidate& c : candidates_) {
      bool flag = info_word(c.info) == WordClass::kStandIn
                      ? latin > 0
                      : ascii_digits > 0 || (latin > 0 && (c.info & kAlnumLookalike) != 0);
      if (flag) add(c.offset, c.cp, Kind::kLookalike, info_imitates(c.info));
    }
    return j;
  }

  // A run of tag characters is reported code point by code point, unless it
  // is the tag part of an RGI emoji tag sequence (the flags of England,
  // Scotland and Wales), the one legitimate use of tags.
  size_t scan_tag_run(size_t i) {
    size_t j = i;
    size_t count = 0;
    while (j < n_) {
      Decoded d = decode_at(s_, n_, j);
      if (d.len == 0 || !is_tag(d.cp)) break;
      j += d.len;
      ++count;
    }
    size_t base_start = 0;
    Decoded base = decode_before(s_, n_, i, &base_start);
    if (base.len != 0 && count <= 16 && has(base.cp, UCHAR_EMOJI)) {
      std::u16string seq;
      auto append = [&](uint32_t cp) {
        UChar buf[2];
        int32_t len = 0;
        U16_APPEND_UNSAFE(buf, len, static_cast<UChar32>(cp));
        seq.append(reinterpret_cast<const char16_t*>(buf), static_cast<size_t>(len));
      };
      append(base.cp);
      for (size_t k = i; k < j; k += 4) append(decode_at(s_, n_, k).cp);
      if (u_stringHasBinaryProperty(reinterpret_cast<const UChar*>(seq.data()),
                                    static_cast<int32_t>(seq.size()),
                                    UCHAR_RGI_EMOJI_TAG_SEQUENCE)) {
        return j;
      }
    }
    for (size_t k = i; k < j && !result_.truncated; k += 4) {
      add(k, decode_at(s_, n_, k).cp, Kind::kTag, 0);
    }
    return j;
  }

  // Joiners and presentation selectors where the text needs them.
  bool exempt(size_t i, const Decoded& d) const {
    switch (d.cp) {
      case 0x200D:  // ZERO WIDTH JOINER
        return after_virama(i) || in_emoji_zwj_sequence(i, d.len);
      case 0x200C:  // ZERO WIDTH NON-JOINER
        return after_virama(i) || in_joining_context(i, d.len);
      case 0xFE0E:  // VARIATION SELECTOR-15, text presentation
      case 0xFE0F:  // VARIATION SELECTOR-16, emoji presentation
        return in_presentation_sequence(i, d.len);
      default:
        return false;
    }
  }

  // RFC 5892 A.1/A.2: a joiner right after a virama shapes a conjunct.
  bool after_virama(size_t i) const {
    size_t start = 0;
    Decoded prev = decode_before(s_, n_, i, &start);
    return prev.len != 0 && u_getCombiningClass(static_cast<UChar32>(prev.cp)) == 9;
  }

  // RFC 5892 A.1: (L|D) T* ZWNJ T* (R|D), the Arabic-script joining context
  // in which a non-joiner is ordinary spelling (Persian "می‌خواهم").
  bool in_joining_context(size_t i, size_t len) const {
    auto joining = [](uint32_t cp) {
      return u_getIntPropertyValue(static_cast<UChar32>(cp), UCHAR_JOINING_TYPE);
    };
    size_t p = i;
    bool left = false;
    for (int k = 0; k < 8; ++k) {
      size_t start = 0;
      Decoded prev = decode_before(s_, n_, p, &start);
      if (prev.len == 0) break;
      int jt = joining(prev.cp);
      if (jt == U_JT_TRANSPARENT) {
        p = start;
        continue;
      }
      left = jt == U_JT_LEFT_JOINING || jt == U_JT_DUAL_JOINING;
      break;
    }
    if (!left) return false;
    size_t q = i + len;
    for (int k = 0; k < 8; ++k) {
      Decoded next = decode_at(s_, n_, q);
      if (next.len == 0) break;
      int jt = joining(next.cp);
      if (jt == U_JT_TRANSPARENT) {
        q += next.len;
        continue;
      }
      return jt == U_JT_RIGHT_JOINING || jt == U_JT_DUAL_JOINING;
    }
    return false;
  }

  // UTS #51 emoji_zwj_element ZWJ emoji_zwj_element, where an element is a
  // pictographic code point, optionally followed by VS16 or a skin-tone
  // modifier. Extended_Pictographic also covers code points reserved for
  // future emoji, so sequences newer than ICU's data still pass.
  bool in_emoji_zwj_sequence(size_t i, size_t len) const {
    size_t start = 0;
    Decoded prev = decode_before(s_, n_, i, &start);
    if (prev.len == 0) return false;
    bool left = has(prev.cp, UCHAR_EXTENDED_PICTOGRAPHIC) || has(prev.cp, UCHAR_EMOJI_MODIFIER);
    if (!left && prev.cp == 0xFE0F) {
      size_t start2 = 0;
      Decoded prev2 = decode_before(s_, n_, start, &start2);
      left = prev2.len != 0 && has(prev2.cp, UCHAR_EXTENDED_PICTOGRAPHIC);
    }
    if (!left) return false;
    Decoded next = decode_at(s_, n_, i + len);
    return next.len != 0 &&
           (has(next.cp, UCHAR_EXTENDED_PICTOGRAPHIC) || has(next.cp, UCHAR_EMOJI_PRESENTATION));
  }

  // VS15/VS16 right after an emoji character ("❤️", "☺︎"), or in a keycap
  // sequence [0-9#*] VS16 U+20E3 ("1️⃣"). A second selector, or one after
  // ordinary text, is reported.
  bool in_presentation_sequence(size_t i, size_t len) const {
    size_t start = 0;
    Decoded prev = decode_before(s_, n_, i, &start);
    if (prev.len == 0) return false;
    if (prev.cp < 0x80) {
      bool keycap_base = is_ascii_digit(static_cast<unsigned char>(prev.cp)) || prev.cp == '#' ||
                         prev.cp == '*';
      Decoded next = decode_at(s_, n_, i + len);
      return keycap_base && next.len != 0 && next.cp == 0x20E3;
    }
    return has(prev.cp, UCHAR_EMOJI);
  }

  struct Candidate {
    size_t offset;
    uint32_t cp;
    uint32_t info;
  };

  const unsigned char* s_;
  size_t n_;
  size_t max_;
  InfoCache& cache_;
  ScanResult result_;
  std::vector<Candidate> candidates_;
};

void append_u_escape(std::string& out, uint32_t cp) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "<U+%04X>", cp);
  out += buf;
}

}  // namespace

ScanResult scan_hidden_chars(std::string_view utf8, size_t max_findings) {
  return Scanner(utf8, max_findings).run();
}

std::string context_around(std::string_view utf8, uint64_t offset, size_t radius) {
  const auto* s = reinterpret_cast<const unsigned char*>(utf8.data());
  size_t n = utf8.size();
  size_t at = align_to_code_point(s, n, offset > n ? n : static_cast<size_t>(offset));
  // Invalid bytes count as one code point each, as the scan skips them.
  size_t from = at;
  for (size_t k = 0; k < radius && from > 0; ++k) {
    size_t start = 0;
    Decoded d = decode_before(s, n, from, &start);
    from = d.len != 0 ? start : from - 1;
  }
  size_t to = at;
  for (size_t k = 0; k <= radius && to < n; ++k) {
    Decoded d = decode_at(s, n, to);
    to += d.len != 0 ? d.len : 1;
  }

  std::string out;
  out.reserve(to - from + 16);
  char buf[8];
  for (size_t p = from; p < to;) {
    unsigned char b = s[p];
    if (b < 0x80) {
      if (b == '\n') {
        out += "\\n";
      } else if (b == '\r') {
        out += "\\r";
      } else if (b == '\t') {
        out += "\\t";
      } else if (b < 0x20 || b == 0x7F) {
        std::snprintf(buf, sizeof buf, "\\x%02X", b);
        out += buf;
      } else {
        out += static_cast<char>(b);
      }
      ++p;
      continue;
    }
    Decoded d = decode_at(s, n, p);
    if (d.len == 0) {
      std::snprintf(buf, sizeof buf, "\\x%02X", b);
      out += buf;
      ++p;
      continue;
    }
    bool mark = hidden_kind(d.cp) != 0 || d.cp <= 0x9F || d.cp == 0x2028 || d.cp == 0x2029;
    if (mark) {
      append_u_escape(out, d.cp);
    } else {
      out.append(utf8.data() + p, d.len);
    }
    p += d.len;
  }
  return out;
}

std::string decode_tag_run(std::string_view utf8, uint64_t offset) {
  const auto* s = reinterpret_cast<const unsigned char*>(utf8.data());
  size_t n = utf8.size();
  if (offset >= n) return {};
  size_t p = align_to_code_point(s, n, static_cast<size_t>(offset));
  Decoded d = decode_at(s, n, p);
  if (d.len == 0 || !is_tag(d.cp)) return {};
  for (;;) {
    size_t start = 0;
    Decoded prev = decode_before(s, n, p, &start);
    if (prev.len == 0 || !is_tag(prev.cp)) break;
    p = start;
  }
  std::string out;
  while (p < n) {
    d = decode_at(s, n, p);
    if (d.len == 0 || !is_tag(d.cp)) break;
    if (d.cp >= 0xE0020 && d.cp <= 0xE007E) out += static_cast<char>(d.cp - 0xE0000);
    p += d.len;
  }
  return out;
}

std::u16string confusable_skeleton(uint32_t cp) { return Confusables::get().skeleton(cp); }

std::string code_point_label(uint32_t cp) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "U+%04X", cp);
  std::string label = buf;
  std::string name = cp <= 0x10FFFF ? char_name(cp) : std::string();
  if (!name.empty()) label += " " + name;
  return label;
}

const char* kind_name(HiddenChar::Kind kind) {
  switch (kind) {
    case Kind::kInvisible:
      return "invisible";
    case Kind::kBidi:
      return "bidi";
    case Kind::kTag:
      return "tag";
    case Kind::kVariationSelector:
      return "variation-selector";
    case Kind::kLookalike:
      return "lookalike";
  }
  return "unknown";
}

}  // namespace agenttrace::analyzer
