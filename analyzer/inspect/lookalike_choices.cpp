// Code that picks between two single-character literals a reader cannot
// tell apart ('a' or U+0430, U+200B or U+200C) to spell out bits: a
// ternary, table or array of the two (docs/inspect.md).
#include <algorithm>
#include <unordered_map>

#include "analyzer/inspect/scanner.h"
#include "analyzer/unicode_scan.h"
#include "common/hex.h"
#include "common/utf8.h"

namespace agenttrace::analyzer::inspect {

namespace {

class LookalikeChoiceScanner final : public Scanner {
 public:
  void feed(const Input& in, uint64_t from, uint64_t to, InspectReport& out) override {
    uint64_t i = std::max(from, literal_resume_);
    while (i < to) {
      const unsigned char* p = in.ptr(i);
      size_t n = to - i;
      size_t k = 0;
      while (k < n && !is_quote(p[k])) ++k;
      if (k == n) {
        i = to;
        break;
      }
      i += k;
      Literal lit;
      if (parse_literal(in, i, &lit)) {
        on_literal(in, lit, out);
        i = lit.end;
      } else {
        ++i;
      }
    }
    literal_resume_ = i;
  }

 private:
  // Single-character string literals: 'a', "\u0430", '\u{200B}', "\x61",
  // or the character itself.
  struct Literal {
    uint64_t start = 0;
    uint64_t end = 0;
    uint32_t cp = 0;
  };

  static bool parse_literal(const Input& in, uint64_t i, Literal* lit) {
    unsigned char q = in.at(i);
    uint64_t j = i + 1;
    uint64_t limit = std::min(in.end(), i + 16);
    if (j >= limit) return false;
    uint32_t cp = 0;
    if (in.at(j) == '\\') {
      if (j + 1 >= limit) return false;
      unsigned char e = in.at(j + 1);
      auto hex_digits = [&](uint64_t s, size_t count, uint64_t* next) -> bool {
        uint32_t v = 0;
        for (size_t d = 0; d < count; ++d) {
          if (s + d >= limit || hex_digit_value(in.at(s + d)) < 0) return false;
          v = v << 4 | static_cast<uint32_t>(hex_digit_value(in.at(s + d)));
        }
        cp = v;
        *next = s + count;
        return true;
      };
      if (e == 'u' && j + 2 < limit && in.at(j + 2) == '{') {
        uint64_t s = j + 3, k = s;
        uint32_t v = 0;
        while (k < limit && k - s < 6 && hex_digit_value(in.at(k)) >= 0) {
          v = v << 4 | static_cast<uint32_t>(hex_digit_value(in.at(k++)));
        }
        if (k == s || k >= limit || in.at(k) != '}') return false;
        cp = v;
        j = k + 1;
      } else if (e == 'u') {
        if (!hex_digits(j + 2, 4, &j)) return false;
      } else if (e == 'U') {
        if (!hex_digits(j + 2, 8, &j)) return false;
      } else if (e == 'x') {
        if (!hex_digits(j + 2, 2, &j)) return false;
      } else if (e == '\\' || e == '\'' || e == '"' || e == '`') {
        cp = e;
        j += 2;
      } else {
        return false;
      }
    } else {
      Utf8Decoded d = decode_utf8_at(in.ptr(j), limit - j, 0);
      if (d.len == 0 || d.cp == q || d.cp == '\n' || d.cp == '\r') return false;
      cp = d.cp;
      j += d.len;
    }
    if (j >= limit || in.at(j) != q || cp > 0x10FFFF) return false;
    *lit = {i, j + 1, cp};
    return true;
  }

  void on_literal(const Input& in, const Literal& lit, InspectReport& out) {
    bool ascii_alnum = lit.cp < 0x80 && is_ident(static_cast<unsigned char>(lit.cp)) && lit.cp != '_' && lit.cp != '$';
    if ((!ascii_alnum && lit.cp < 0x80) || in_line_comment(in, lit.start)) {
      have_prev_literal_ = false;
      return;
    }
    // `{a: "\u0430"}`: a bare key and its look-alike.
    if (lit.cp >= 0x80) {
      uint64_t j = skip_space_back(in, lit.start);
      if (j > in.base() + 2 && in.at(j - 1) == ':') {
        uint64_t k = skip_space_back(in, j - 1);
        if (k > in.base() + 1 && is_ident(in.at(k - 1)) && !is_ident(in.at(k - 2)) && in.at(k - 2) != '.') {
          uint32_t key = in.at(k - 1);
          if (std::string reason = pair_reason(key, lit.cp); !reason.empty()) {
            add_choice(in, k - 1, lit.start, key, lit.cp, std::move(reason), lit.end, out);
          }
        }
      }
    }
    if (have_prev_literal_ && lit.start - prev_literal_.end <= kMaxChoiceGap) {
      Gap gap = classify_gap(in, prev_literal_.end, lit.start);
      // A table of several ("\u200b","\u200c","\u200d"): one finding.
      bool continues = !out.choices.empty() && last_choice_end_ == prev_literal_.end;
      bool opens = gap != Gap::kElement || continues || opens_bracket(in, prev_literal_.start);
      if (gap != Gap::kNone && opens) {
        if (std::string reason = pair_reason(prev_literal_.cp, lit.cp); !reason.empty()) {
          add_choice(in, prev_literal_.start, lit.start, prev_literal_.cp, lit.cp, std::move(reason), lit.end, out);
        }
      }
    }
    prev_literal_ = lit;
    have_prev_literal_ = true;
  }

  // What separates two alternatives: `?X:Y` and `{'a':X}` (kAlternative),
  // `{0:X,1:Y}` and `{'a':X,'b':Y}` (kAlternative), Python's `X if c else Y`
  // (kAlternative), or a bare `,` (kElement: only a choice when the pair
  // opens a bracket, `[X,Y]`, not in the middle of a longer tuple).
  enum class Gap { kNone, kAlternative, kElement };
  static Gap classify_gap(const Input& in, uint64_t a, uint64_t b) {
    std::string g;
    for (uint64_t i = a; i < b; ++i) {
      if (!is_space(in.at(i))) g += static_cast<char>(in.at(i));
    }
    if (g == ":") return Gap::kAlternative;
    if (g == ",") return Gap::kElement;
    if (g.size() >= 3 && g.front() == ',' && g.back() == ':') {
      std::string_view key = std::string_view(g).substr(1, g.size() - 2);
      if (key.size() >= 2 && is_quote(static_cast<unsigned char>(key.front())) && key.back() == key.front()) {
        key = key.substr(1, key.size() - 2);
      }
      bool ident = !key.empty() && std::all_of(key.begin(), key.end(), [](char c) {
        return is_ident(static_cast<unsigned char>(c));
      });
      return ident ? Gap::kAlternative : Gap::kNone;
    }
    std::string_view raw = in.view(a, b);
    size_t ifpos = raw.find(" if ");
    bool python = ifpos != std::string_view::npos && raw.find(" else ", ifpos) != std::string_view::npos;
    return python ? Gap::kAlternative : Gap::kNone;
  }

  static bool opens_bracket(const Input& in, uint64_t start) {
    uint64_t j = skip_space_back(in, start);
    return j > in.base() && (in.at(j - 1) == '[' || in.at(j - 1) == '(' || in.at(j - 1) == '{');
  }

  // Whether `off` is inside a `//` or `#` comment that started on its line
  // (quotes before it on the line are followed, so "#fff" is not one). A
  // line longer than 512 bytes (minified code) is taken as code.
  static bool in_line_comment(const Input& in, uint64_t off) {
    uint64_t floor = std::max(in.base(), off > 512 ? off - 512 : 0);
    uint64_t line = off;
    while (line > floor && in.at(line - 1) != '\n') --line;
    if (line == floor && floor > 0 && (floor == in.base() || in.at(floor - 1) != '\n')) return false;
    unsigned char quote = 0;
    for (uint64_t i = line; i < off; ++i) {
      unsigned char c = in.at(i);
      if (quote != 0) {
        if (c == '\\') {
          ++i;
        } else if (c == quote) {
          quote = 0;
        }
        continue;
      }
      if (is_quote(c)) {
        quote = c;
      } else if (c == '#' && (i == line || in.at(i - 1) != '.')) {
        return true;
      } else if (c == '/' && i + 1 < off && in.at(i + 1) == '/') {
        return true;
      }
    }
    return false;
  }

  // Why choosing between a and b hides something, or empty: both invisible
  // (other than VS15/VS16, the text/emoji presentation switch every emoji
  // library has), or one an ASCII letter or digit and the other a code point
  // confusable with it (same UTS #39 skeleton). Two non-ASCII look-alikes
  // (curly quotes, breve and caron) are Unicode tables, not a hiding place.
  std::string pair_reason(uint32_t a, uint32_t b) {
    if (a == b) return {};
    if (hidden_cp(a) && hidden_cp(b)) {
      bool presentation = (a == 0xFE0E && b == 0xFE0F) || (a == 0xFE0F && b == 0xFE0E);
      return presentation ? std::string() : "invisible pair";
    }
    if ((a < 0x80) == (b < 0x80)) return {};
    uint32_t ascii = a < 0x80 ? a : b;
    if (!is_ident(static_cast<unsigned char>(ascii)) || ascii == '_' || ascii == '$') return {};
    const std::u16string& sa = skeleton(a);
    if (sa.empty() || sa != skeleton(b)) return {};
    return std::string("look-alike of '") + static_cast<char>(ascii) + "'";
  }

  bool hidden_cp(uint32_t cp) {
    auto it = hidden_cache_.find(cp);
    if (it != hidden_cache_.end()) return it->second;
    std::string s;
    append_utf8(s, cp);
    ScanResult r = scan_hidden_chars(s);
    bool hidden = !r.chars.empty() && r.chars[0].kind != HiddenChar::Kind::kLookalike;
    hidden_cache_[cp] = hidden;
    return hidden;
  }

  const std::u16string& skeleton(uint32_t cp) {
    auto it = skeleton_cache_.find(cp);
    if (it != skeleton_cache_.end()) return it->second;
    return skeleton_cache_[cp] = confusable_skeleton(cp);
  }

  void add_choice(const Input& in, uint64_t first_off, uint64_t second_off, uint32_t first, uint32_t second,
                  std::string reason, uint64_t stop, InspectReport& out) {
    if (!out.choices.empty() && first_off <= last_choice_end_ + kMaxChoiceGap &&
        first_off >= out.choices.back().offset) {
      // The same table goes on ({a:"\u0430",e:"\u0435"}): one finding.
      out.choices.back().second_offset = second_off;
      last_choice_end_ = stop;
      return;
    }
    last_choice_end_ = stop;
    if (out.choices.size() >= InspectReport::kMaxChoices) return;
    LookalikeChoice c;
    c.offset = first_off;
    c.second_offset = second_off;
    c.first = first;
    c.second = second;
    c.reason = std::move(reason);
    // The code from a little before the first to a little after the second,
    // hidden code points spelled <U+200B> by context_around().
    uint64_t a = std::max(in.base(), first_off > 24 ? first_off - 24 : 0);
    uint64_t b = std::min(in.end(), stop + 24);
    std::string_view v = in.view(a, b);
    size_t radius = static_cast<size_t>(stop - first_off) / 2 + 24;
    c.snippet = context_around(v, (first_off - a) + (stop - first_off) / 2, radius);
    out.choices.push_back(std::move(c));
  }


  uint64_t literal_resume_ = 0;
  Literal prev_literal_;
  bool have_prev_literal_ = false;
  uint64_t last_choice_end_ = 0;
  std::unordered_map<uint32_t, bool> hidden_cache_;
  std::unordered_map<uint32_t, std::u16string> skeleton_cache_;
};

}  // namespace

std::unique_ptr<Scanner> make_lookalike_choices_scanner(const InspectRules&) {
  return std::make_unique<LookalikeChoiceScanner>();
}

}  // namespace agenttrace::analyzer::inspect
