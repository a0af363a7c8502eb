// Code that picks between characters a reader cannot tell apart ('a' or
// U+0430, U+200B or U+200C, four apostrophes) or between two separators to
// spell out bits, in any spelling of the characters: raw, "\u2019",
// "\u{2019}", "\x27", "\N{RIGHT SINGLE QUOTATION MARK}",
// String.fromCharCode(0x2019), chr(0x2019). The shapes of a choice:
//
//   ternary      c ? "'" : "\u2019"; Python's X if c else Y; chains of them
//   returns      if (a) return "'"; if (b) return "\u2019"; return "\u02BC"
//   assignments  if (a) s = "'"; else s = "\u2019"
//   array        ["\u200b", "\u200c"][bit], or a small array of them
//   object       {0: "'", 1: "\u2019"}[k]
//   look-alike map {a: "\u0430", e: "\u0435"}: letters and their stand-ins
//   replace      if (asia) d = d.replace(/-/g, "/"): a separator switched
//                under a condition
//
// Data is not a choice (docs/inspect.md): tables whose keys are names (HTML
// entities zwj, InvisibleComma), transliteration maps longer than
// kMaxLookalikeMap, arrays of more than kMaxChoiceArray characters, and
// typographic quotes and dashes are recorded as DataTable; literals in
// comments and regular expressions are not looked at (code_lexer.h).
#include <algorithm>
#include <set>
#include <unordered_map>

#include <unicode/uchar.h>

#include "analyzer/inspect/code_lexer.h"
#include "analyzer/inspect/definitions.h"
#include "analyzer/inspect/scanner.h"
#include "analyzer/unicode_scan.h"
#include "common/hex.h"
#include "common/utf8.h"

namespace agenttrace::analyzer::inspect {

namespace {

constexpr size_t kMaxLiteralBytes = 96;    // "\N{MODIFIER LETTER APOSTROPHE}" and the like
constexpr size_t kMaxBranchGap = 160;       // between the branches of one function
constexpr size_t kMaxLookalikeMap = 16;     // letters and stand-ins; longer is a transliteration table
constexpr size_t kMaxChoiceArray = 4;       // an unindexed array of more is a character table
constexpr size_t kConditionReach = 96;      // how far back a condition is looked for

struct Literal {
  uint64_t start = 0;
  uint64_t end = 0;
  std::u32string text;
};

enum class Slot { kOther, kReturn, kAssign, kThen, kElse, kElement, kObjectValue };

struct Member {
  Literal lit;
  Slot slot = Slot::kOther;
  std::string key;          // the variable assigned, or the object key
  uint64_t key_offset = 0;  // object values: where the key starts
  uint64_t anchor = 0;      // where the statement that holds it starts (`return`, the variable)
};

struct Group {
  std::string shape;  // "returns", "assignments", "ternary", "array", "object"
  std::string scope;  // returns and assignments: the function and the variable
  std::vector<Member> members;
};

bool is_separator(char32_t c) {
  return c == '-' || c == '/' || c == '.' || (c >= 0x2010 && c <= 0x2015) || c == 0x2212 || c == 0x2044 ||
         c == 0x2215 || c == 0xFF0D || c == 0xFF0F;
}

// Quotes, dashes, primes, ellipsis and no-break space: what typography
// code (smart quotes, markdown typographers) chooses between.
bool is_typographic(char32_t c) {
  return c < 0x80 || (c >= 0x2010 && c <= 0x201F) || c == 0x2026 || c == 0x00A0 || c == 0x00AB || c == 0x00BB ||
         c == 0x2039 || c == 0x203A || c == 0x2032 || c == 0x2033 || c == 0x00B4 || c == 0x2212;
}

bool is_keyword(std::string_view w) {
  static const std::set<std::string_view> kWords = {
      "return", "typeof", "instanceof", "in", "of", "new", "void", "delete", "true", "false", "null",
      "undefined", "this", "if", "else", "elif", "not", "and", "or", "is", "None", "True", "False",
      "let", "const", "var", "await", "function"};
  return kWords.count(w) != 0;
}

class LookalikeChoiceScanner final : public Scanner {
 public:
  void feed(const Input& in, uint64_t from, uint64_t to, InspectReport& out) override {
    uint64_t i = std::max(from, resume_);
    while (i < to) {
      const unsigned char c = in.at(i);
      if (!is_quote(c) && c != '(' && c != '.') {
        ++i;
        continue;
      }
      lexer_.advance(in, i);
      if (lexer_.where() != Where::kCode) {
        ++i;
        continue;
      }
      Literal lit;
      if (is_quote(c) && parse_literal(in, i, &lit)) {
        on_literal(in, lit, out);
        i = lit.end;
      } else if (c == '(' && parse_char_call(in, i, &lit, out)) {
        if (!lit.text.empty()) on_literal(in, lit, out);
        i = std::max(lit.end, i + 1);
      } else if (c == '.' && parse_replace(in, i, out, &i)) {
      } else {
        ++i;
      }
    }
    resume_ = i;
    lexer_.advance(in, std::min(i, in.end()));
  }

  void finish(const Input& in, InspectReport& out) override { flush(in, out); }

  uint64_t keep_from(uint64_t done) const override {
    if (group_.members.empty()) return done;
    uint64_t first = group_.members.front().lit.start;
    return std::min(done, first > 256 ? first - 256 : 0);
  }

 private:
  // ---- spellings ---------------------------------------------------------------

  // A string literal of at most kMaxCandidateCodePoints code points.
  static bool parse_literal(const Input& in, uint64_t i, Literal* lit) {
    const unsigned char q = in.at(i);
    uint64_t j = i + 1;
    const uint64_t limit = std::min(in.end(), i + kMaxLiteralBytes);
    std::u32string text;
    while (j < limit) {
      unsigned char c = in.at(j);
      if (c == q) break;
      if (c == '\n' || c == '\r' || (q == '`' && c == '$')) return false;
      if (text.size() >= kMaxCandidateCodePoints) return false;
      if (c == '\\') {
        uint32_t cp = 0;
        if (!parse_escape(in, j, limit, &cp, &j)) return false;
        // A UTF-16 surrogate pair written as two \u escapes.
        if (cp >= 0xD800 && cp <= 0xDBFF && j + 1 < limit && in.at(j) == '\\') {
          uint32_t lo = 0;
          uint64_t k = j;
          if (parse_escape(in, k, limit, &lo, &k) && lo >= 0xDC00 && lo <= 0xDFFF) {
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            j = k;
          }
        }
        text.push_back(cp);
        continue;
      }
      Utf8Decoded d = decode_utf8_at(in.ptr(j), limit - j, 0);
      if (d.len == 0) return false;
      text.push_back(d.cp);
      j += d.len;
    }
    if (j >= limit || in.at(j) != q || text.empty()) return false;
    *lit = {i, j + 1, std::move(text)};
    return true;
  }

  // One escape at `j` (a backslash): \uXXXX, \u{X...}, \UXXXXXXXX, \xNN,
  // \N{NAME}, \0, \n, \t, \r or an escaped character.
  static bool parse_escape(const Input& in, uint64_t j, uint64_t limit, uint32_t* cp, uint64_t* next) {
    if (j + 1 >= limit) return false;
    const unsigned char e = in.at(j + 1);
    auto hex = [&](uint64_t s, size_t count) -> bool {
      uint32_t v = 0;
      for (size_t d = 0; d < count; ++d) {
        if (s + d >= limit || hex_digit_value(in.at(s + d)) < 0) return false;
        v = v << 4 | static_cast<uint32_t>(hex_digit_value(in.at(s + d)));
      }
      *cp = v;
      *next = s + count;
      return true;
    };
    if (e == 'u' && j + 2 < limit && in.at(j + 2) == '{') {
      uint64_t s = j + 3, k = s;
      uint32_t v = 0;
      while (k < limit && k - s < 6 && hex_digit_value(in.at(k)) >= 0) {
        v = v << 4 | static_cast<uint32_t>(hex_digit_value(in.at(k++)));
      }
      if (k == s || k >= limit || in.at(k) != '}' || v > 0x10FFFF) return false;
      *cp = v;
      *next = k + 1;
      return true;
    }
    if (e == 'u') return hex(j + 2, 4);
    if (e == 'U') return hex(j + 2, 8) && *cp <= 0x10FFFF;
    if (e == 'x') return hex(j + 2, 2);
    if (e == 'N' && j + 2 < limit && in.at(j + 2) == '{') {
      uint64_t k = j + 3;
      while (k < limit && in.at(k) != '}' && k - j < 64) ++k;
      if (k >= limit || in.at(k) != '}') return false;
      std::string name(in.view(j + 3, k));
      UErrorCode err = U_ZERO_ERROR;
      UChar32 c = u_charFromName(U_UNICODE_CHAR_NAME, name.c_str(), &err);
      if (U_FAILURE(err) || c < 0) return false;
      *cp = static_cast<uint32_t>(c);
      *next = k + 1;
      return true;
    }
    static const std::string_view kSimple = "\\'\"`-/.";
    if (kSimple.find(static_cast<char>(e)) != std::string_view::npos) {
      *cp = e;
    } else if (e == 'n') {
      *cp = '\n';
    } else if (e == 't') {
      *cp = '\t';
    } else if (e == 'r') {
      *cp = '\r';
    } else if (e == '0' && (j + 2 >= limit || !is_digit(in.at(j + 2)))) {
      *cp = 0;
    } else {
      return false;
    }
    *next = j + 2;
    return true;
  }

  // A number literal: 0x2019, 8217.
  static bool parse_number(const Input& in, uint64_t* j, uint64_t limit, uint32_t* v) {
    uint64_t k = *j;
    uint64_t value = 0;
    if (k + 1 < limit && in.at(k) == '0' && (in.at(k + 1) | 0x20) == 'x') {
      k += 2;
      uint64_t s = k;
      while (k < limit && hex_digit_value(in.at(k)) >= 0 && k - s < 8) value = value << 4 | hex_digit_value(in.at(k++));
      if (k == s) return false;
    } else {
      uint64_t s = k;
      while (k < limit && is_digit(in.at(k)) && k - s < 8) value = value * 10 + (in.at(k++) - '0');
      if (k == s) return false;
    }
    if (value > 0x10FFFF || (k < limit && is_ident(in.at(k)))) return false;
    *v = static_cast<uint32_t>(value);
    *j = k;
    return true;
  }

  static uint64_t skip_space(const Input& in, uint64_t i, uint64_t limit) {
    while (i < limit && is_space(in.at(i))) ++i;
    return i;
  }

  // String.fromCharCode(N), String.fromCodePoint(N), chr(N): a literal of
  // one code point starting at the name. String.fromCharCode(c ? N : M) is
  // a ternary choice on its own, recorded here (lit->text stays empty).
  bool parse_char_call(const Input& in, uint64_t open, Literal* lit, InspectReport& out) {
    uint64_t name_start = open;
    while (name_start > in.base() && open - name_start < 24 &&
           (is_ident(in.at(name_start - 1)) || in.at(name_start - 1) == '.')) {
      --name_start;
    }
    std::string_view name = in.view(name_start, open);
    if (name != "String.fromCharCode" && name != "String.fromCodePoint" && name != "chr") return false;
    if (name == "chr" && name_start > in.base() && in.at(name_start - 1) == '.') return false;
    const uint64_t limit = std::min(in.end(), open + 128);
    uint64_t j = skip_space(in, open + 1, limit);
    uint32_t v = 0;
    if (parse_number(in, &j, limit, &v)) {
      j = skip_space(in, j, limit);
      if (j >= limit || in.at(j) != ')') return false;
      *lit = {name_start, j + 1, std::u32string(1, static_cast<char32_t>(v))};
      return true;
    }
    // (COND ? N : M)
    uint64_t q = j;
    while (q < limit && in.at(q) != '?' && in.at(q) != ')' && in.at(q) != ';') ++q;
    if (q >= limit || in.at(q) != '?') return false;
    uint64_t k = skip_space(in, q + 1, limit);
    uint32_t a = 0, b = 0;
    uint64_t a_at = k;
    if (!parse_number(in, &k, limit, &a)) return false;
    k = skip_space(in, k, limit);
    if (k >= limit || in.at(k) != ':') return false;
    k = skip_space(in, k + 1, limit);
    uint64_t b_at = k;
    if (!parse_number(in, &k, limit, &b)) return false;
    k = skip_space(in, k, limit);
    if (k >= limit || in.at(k) != ')') return false;
    lit->end = k + 1;
    lit->text.clear();
    Group g;
    g.shape = "ternary";
    Member ma, mb;
    ma.lit = {a_at, a_at + 1, std::u32string(1, static_cast<char32_t>(a))};
    mb.lit = {b_at, k, std::u32string(1, static_cast<char32_t>(b))};
    ma.slot = Slot::kThen;
    mb.slot = Slot::kElse;
    g.members = {ma, mb};
    std::vector<std::string> conditions = identifiers(in, j, q);
    evaluate(in, g, out, conditions);
    return true;
  }

  // X.replace(/-/g, "/"), X.replaceAll("-", "/"), s.replace("-", "/"):
  // one separator for another, recorded when a condition decides it.
  bool parse_replace(const Input& in, uint64_t dot, InspectReport& out, uint64_t* next) {
    const uint64_t limit = std::min(in.end(), dot + 64);
    uint64_t j = dot + 1;
    for (std::string_view call : {std::string_view("replaceAll("), std::string_view("replace(")}) {
      if (j + call.size() <= limit && in.view(j, j + call.size()) == call) {
        j += call.size();
        break;
      }
    }
    if (j == dot + 1) return false;
    j = skip_space(in, j, limit);
    if (j >= limit) return false;
    uint64_t from_at = j;
    char32_t from_char = 0;
    if (in.at(j) == '/') {
      uint64_t k = j + 1;
      uint32_t cp = 0;
      if (k < limit && in.at(k) == '\\') {
        if (!parse_escape(in, k, limit, &cp, &k)) return false;
      } else if (k < limit && in.at(k) < 0x80 && in.at(k) != '/') {
        cp = in.at(k++);
      } else {
        return false;
      }
      if (k >= limit || in.at(k) != '/') return false;
      ++k;
      while (k < limit && is_ident(in.at(k))) ++k;  // flags
      from_char = cp;
      j = k;
    } else if (is_quote(in.at(j))) {
      Literal a;
      if (!parse_literal(in, j, &a) || a.text.size() != 1) return false;
      from_char = a.text[0];
      j = a.end;
    } else {
      return false;
    }
    j = skip_space(in, j, limit);
    if (j >= limit || in.at(j) != ',') return false;
    j = skip_space(in, j + 1, limit);
    Literal to;
    if (j >= limit || !is_quote(in.at(j)) || !parse_literal(in, j, &to) || to.text.size() != 1) return false;
    uint64_t k = skip_space(in, to.end, limit);
    if (k >= limit || in.at(k) != ')') return false;
    *next = k + 1;
    if (from_char == to.text[0] || !is_separator(from_char) || !is_separator(to.text[0])) return true;

    // The statement around it, back to `;`, `{`, `}` or a line break.
    uint64_t floor = std::max(in.base(), dot > kConditionReach ? dot - kConditionReach : 0);
    uint64_t s = dot;
    while (s > floor && std::string_view(";{}\n").find(static_cast<char>(in.at(s - 1))) == std::string_view::npos) --s;
    std::string_view before = in.view(s, dot);
    std::vector<std::string> conditions;
    bool conditional = false;
    size_t at;
    if ((at = before.find("if")) != std::string_view::npos && at + 2 < before.size() &&
        (before[at + 2] == '(' || before[at + 2] == ' ') && (at == 0 || !is_ident(before[at - 1]))) {
      uint64_t open = s + at + 2;
      while (open < dot && in.at(open) != '(') ++open;
      uint64_t close = open;
      int depth = 0;
      for (; close < dot; ++close) {
        if (in.at(close) == '(') ++depth;
        if (in.at(close) == ')' && --depth == 0) break;
      }
      conditional = close < dot;
      if (conditional) conditions = identifiers(in, open + 1, close);
    } else if ((at = before.find('?')) != std::string_view::npos || (at = before.find("&&")) != std::string_view::npos ||
               (at = before.find("||")) != std::string_view::npos) {
      conditional = true;
      uint64_t a = s;
      uint64_t eq = before.rfind('=', at);
      if (eq != std::string_view::npos) a = s + eq + 1;
      conditions = identifiers(in, a, s + at);
    } else {
      // Python: s.replace("-", "/") if asia else s
      uint64_t e = std::min(in.end(), k + 1 + kConditionReach);
      uint64_t stop = k + 1;
      while (stop < e && in.at(stop) != '\n' && in.at(stop) != ';') ++stop;
      std::string_view after = in.view(k + 1, stop);
      size_t ifpos = after.find(" if ");
      size_t elsepos = ifpos == std::string_view::npos ? ifpos : after.find(" else", ifpos);
      if (elsepos != std::string_view::npos) {
        conditional = true;
        conditions = identifiers(in, k + 1 + ifpos + 4, k + 1 + elsepos);
      }
    }
    if (!conditional || out.choices.size() >= InspectReport::kMaxChoices) return true;
    LookalikeChoice c;
    c.offset = from_at;
    c.second_offset = to.start;
    c.first = from_char;
    c.second = to.text[0];
    c.reason = "separator switch";
    c.shape = "replace";
    c.candidates.push_back({from_at, std::u32string(1, from_char), std::string(in.view(from_at, to.start - 1))});
    c.candidates.back().spelling.erase(c.candidates.back().spelling.find_last_not_of(" ,") + 1);
    c.candidates.push_back({to.start, to.text, std::string(in.view(to.start, to.end))});
    c.conditions = std::move(conditions);
    c.function = functions_.function_at(in, dot);
    c.snippet = snippet(in, s, k + 1);
    out.choices.push_back(std::move(c));
    return true;
  }

  // ---- where a literal stands ----------------------------------------------------

  static std::string word_before(const Input& in, uint64_t j, uint64_t* start) {
    uint64_t k = j;
    while (k > in.base() && j - k < 32 && is_ident(in.at(k - 1))) --k;
    *start = k;
    return std::string(in.view(k, j));
  }

  Member classify(const Input& in, const Literal& lit) {
    Member m;
    m.lit = lit;
    m.anchor = lit.start;
    uint64_t j = skip_space_back(in, lit.start);
    if (j <= in.base()) return m;
    const unsigned char p = in.at(j - 1);
    uint64_t ws = 0;
    std::string w = word_before(in, j, &ws);
    if (w == "return") {
      m.slot = Slot::kReturn;
      m.anchor = ws;
      m.key = functions_.function_at(in, lit.start);
    } else if (w == "else") {
      m.slot = Slot::kElse;
    } else if (p == '?' && !(j >= in.base() + 2 && in.at(j - 2) == '?')) {
      m.slot = Slot::kThen;
    } else if (p == ':') {
      uint64_t k = skip_space_back(in, j - 1);
      uint64_t key_start = k;
      std::string key;
      if (k > in.base() && is_quote(in.at(k - 1))) {
        unsigned char q = in.at(k - 1);
        uint64_t s = k - 1;
        while (s > in.base() && k - s < 64 && in.at(s - 1) != q) --s;
        if (s > in.base() && in.at(s - 1) == q) {
          key_start = s - 1;
          key = std::string(in.view(s, k - 1));
        }
      } else {
        key = word_before(in, k, &key_start);
      }
      uint64_t b = skip_space_back(in, key_start);
      if (!key.empty() && b > in.base() && (in.at(b - 1) == '{' || in.at(b - 1) == ',')) {
        m.slot = Slot::kObjectValue;
        m.key = key;
        m.key_offset = key_start;
      } else {
        m.slot = Slot::kElse;
      }
    } else if (p == '=' && j >= in.base() + 2 && std::string_view("=!<>").find(static_cast<char>(in.at(j - 2))) == std::string_view::npos) {
      uint64_t op = j - 1;
      if (std::string_view("+-*/%&|^").find(static_cast<char>(in.at(op - 1))) != std::string_view::npos) --op;
      uint64_t vs = 0;
      std::string var = word_before(in, skip_space_back(in, op), &vs);
      if (!var.empty() && !is_keyword(var)) {
        m.slot = Slot::kAssign;
        m.anchor = vs;
        m.key = functions_.function_at(in, lit.start) + "/" + var;
      }
    } else if (p == '[' || p == ',') {
      m.slot = Slot::kElement;
    }
    return m;
  }

  // Whether `next` goes on the group: the same kind of place, close enough,
  // and nothing but the syntax of the shape between them.
  bool continues(const Input& in, const Member& prev, const Member& next) const {
    const uint64_t gap_start = prev.lit.end, gap_end = next.lit.start;
    if (gap_end < gap_start) return false;
    std::string g;
    for (uint64_t i = gap_start; i < gap_end && g.size() < 256; ++i) {
      if (!is_space(in.at(i))) g += static_cast<char>(in.at(i));
    }
    const size_t gap = gap_end - gap_start;
    switch (group_shape(prev)) {
      case 'r':
        return next.slot == Slot::kReturn && next.key == prev.key && gap <= kMaxBranchGap;
      case 'a':
        return next.slot == Slot::kAssign && next.key == prev.key && gap <= kMaxBranchGap;
      case 't': {
        if (gap > kMaxChoiceGap) return false;
        if (next.slot != Slot::kElse && next.slot != Slot::kThen) return false;
        if (g == ":") return true;
        std::string_view raw = in.view(gap_start, gap_end);
        size_t ifpos = raw.find(" if ");
        if (ifpos != std::string_view::npos && raw.find(" else ", ifpos) != std::string_view::npos) return true;
        // a chain: "x" : c2 ? "y"
        return g.size() > 2 && g.front() == ':' && g.back() == '?' &&
               g.find_first_of("\"'`;{}") == std::string::npos;
      }
      case 'e':
        return next.slot == Slot::kElement && g == "," && gap <= kMaxChoiceGap;
      case 'o':
        return next.slot == Slot::kObjectValue && gap <= kMaxChoiceGap && g.size() >= 3 && g.front() == ',' &&
               g.back() == ':';
      default:
        return false;
    }
  }

  static char group_shape(const Member& m) {
    switch (m.slot) {
      case Slot::kReturn: return 'r';
      case Slot::kAssign: return 'a';
      case Slot::kThen:
      case Slot::kElse: return 't';
      case Slot::kElement: return 'e';
      case Slot::kObjectValue: return 'o';
      default: return 0;
    }
  }

  void on_literal(const Input& in, const Literal& lit, InspectReport& out) {
    // A key of an object or dict ({'a': ...}, `case "x":`) is not a candidate
    // and does not end the table it is in.
    uint64_t after = lit.end;
    while (after < in.end() && after - lit.end < 8 && is_space(in.at(after))) ++after;
    if (after < in.end() && in.at(after) == ':') {
      uint64_t b = skip_space_back(in, lit.start);
      if (b > in.base() && (in.at(b - 1) == '{' || in.at(b - 1) == ',')) return;
    }
    Member m = classify(in, lit);
    if (!group_.members.empty()) {
      const Member& last = group_.members.back();
      // Python's `x = "a" if c else "b"`: the first is an assignment.
      bool python_ternary = m.slot == Slot::kElse && lit.start >= last.lit.end &&
                            lit.start - last.lit.end <= kMaxChoiceGap && group_.members.size() == 1 &&
                            in.view(last.lit.end, lit.start).find(" if ") != std::string_view::npos;
      if (python_ternary) {
        group_.members.back().slot = Slot::kThen;
        group_.shape = "ternary";
        group_.members.push_back(std::move(m));
        return;
      }
      if (continues(in, last, m)) {
        group_.members.push_back(std::move(m));
        return;
      }
      flush(in, out);
    }
    if (m.slot == Slot::kOther) return;
    // An array starts at its bracket; a ternary at its `?` (an else alone
    // is a Python one, or a chain whose start was not a candidate).
    if (m.slot == Slot::kElement && in.at(skip_space_back(in, lit.start) - 1) != '[') return;
    static const char* kShapes[] = {"", "returns", "assignments", "ternary", "ternary", "array", "object"};
    group_.shape = kShapes[static_cast<int>(m.slot)];
    group_.members.push_back(std::move(m));
  }

  // ---- what a group is -------------------------------------------------------------

  const std::u16string& skeleton(uint32_t cp) {
    auto it = skeleton_cache_.find(cp);
    if (it != skeleton_cache_.end()) return it->second;
    return skeleton_cache_[cp] = confusable_skeleton(cp);
  }
  std::u16string skeleton(const std::u32string& s) {
    std::u16string out;
    for (char32_t c : s) {
      const std::u16string& k = skeleton(c);
      if (k.empty()) return {};
      out += k;
    }
    return out;
  }
  bool hidden_cp(uint32_t cp) {
    auto it = hidden_cache_.find(cp);
    if (it != hidden_cache_.end()) return it->second;
    std::string s;
    append_utf8(s, cp);
    ScanResult r = scan_hidden_chars(s);
    bool hidden = !r.chars.empty() && r.chars[0].kind != HiddenChar::Kind::kLookalike;
    return hidden_cache_[cp] = hidden;
  }

  enum class Kind { kNone, kInvisible, kLookalike, kTypography };
  // Whether the distinct texts are invisible (other than VS15/VS16, the
  // text/emoji presentation switch every emoji library has) or all look
  // alike (equal UTS #39 skeletons, some of them not ASCII), and if they
  // look alike only as typography does. `why` names it.
  Kind confusable(const std::vector<std::u32string>& texts, std::string* why) {
    bool all_hidden = true;
    for (const auto& t : texts) {
      for (char32_t c : t) all_hidden = all_hidden && hidden_cp(c);
    }
    if (all_hidden) {
      bool presentation = texts.size() == 2 && texts[0].size() == 1 && texts[1].size() == 1 &&
                          std::min(texts[0][0], texts[1][0]) == 0xFE0E && std::max(texts[0][0], texts[1][0]) == 0xFE0F;
      if (presentation) return Kind::kNone;
      *why = texts.size() == 2 ? "invisible pair" : "invisible characters (" + std::to_string(texts.size()) + ")";
      return Kind::kInvisible;
    }
    // Glyphs that draw (box drawing, block elements, geometric shapes,
    // Braille): a scrollbar's half blocks or a border's corners are mirror
    // images that UTS #39 calls confusable, but on screen they are what the
    // program draws, and a reader sees which one is there.
    bool all_drawing = true;
    for (const auto& t : texts)
      for (char32_t c : t) all_drawing = all_drawing && ((c >= 0x2500 && c <= 0x25FF) || (c >= 0x2800 && c <= 0x28FF));
    if (all_drawing) return Kind::kNone;
    std::u16string k = skeleton(texts[0]);
    if (k.empty()) return Kind::kNone;
    bool non_ascii = false, typographic = true;
    for (const auto& t : texts) {
      if (skeleton(t) != k) return Kind::kNone;
      for (char32_t c : t) {
        non_ascii = non_ascii || c >= 0x80;
        typographic = typographic && is_typographic(c);
      }
    }
    if (!non_ascii) return Kind::kNone;  // "l" and "1", "rn" and "m": ASCII a reader sees
    std::string shown;
    for (char16_t c : k) append_utf8(shown, c);
    *why = "look-alike of " + std::string(shown == "'" ? "\"" : "'") + shown + (shown == "'" ? "\"" : "'");
    return typographic ? Kind::kTypography : Kind::kLookalike;
  }

  void flush(const Input& in, InspectReport& out) {
    if (!group_.members.empty()) evaluate(in, group_, out, {});
    group_ = {};
  }

  void evaluate(const Input& in, const Group& g, InspectReport& out, std::vector<std::string> conditions) {
    const auto& ms = g.members;
    std::string shape = g.shape;
    const uint64_t first = ms.front().slot == Slot::kObjectValue ? ms.front().key_offset : ms.front().lit.start;
    const uint64_t stop = ms.back().lit.end;
    if (shape == "object") {
      bool letter_keys = true, named = false, numeric = true;
      for (const Member& m : ms) {
        letter_keys = letter_keys && m.key.size() == 1 && is_ident(m.key[0]) && m.key[0] != '_' && m.key[0] != '$';
        named = named || (m.key.size() >= 2 && !std::all_of(m.key.begin(), m.key.end(), [](char c) { return is_digit(c); }));
        numeric = numeric && !m.key.empty() && std::all_of(m.key.begin(), m.key.end(), [](char c) { return is_digit(c); });
      }
      if (letter_keys && !numeric) {
        // {a: "\u0430"}: each key beside its stand-in.
        std::string why;
        for (const Member& m : ms) {
          std::u32string key(1, static_cast<char32_t>(m.key[0]));
          if (confusable({key, m.lit.text}, &why) != Kind::kLookalike) return;
        }
        confusable({std::u32string(1, static_cast<char32_t>(ms.front().key[0])), ms.front().lit.text}, &why);
        if (ms.size() > kMaxLookalikeMap) return add_data(in, "transliteration map", ms.size(), first, stop, out);
        LookalikeChoice c;
        c.offset = first;
        c.second_offset = ms.back().lit.start;
        c.first = static_cast<unsigned char>(ms.front().key[0]);
        c.second = ms.front().lit.text[0];
        c.reason = why;
        c.shape = "look-alike map";
        for (const Member& m : ms) c.candidates.push_back(candidate(in, m.lit));
        return add_choice(in, std::move(c), stop, out);
      }
      if (named) {
        // zwj: "\u200D", InvisibleComma: "\u2063": a table of characters by
        // name, recorded when one of them hides or stands in for ASCII.
        bool notable = false;
        for (const Member& m : ms) {
          if (m.lit.text.size() != 1) continue;  // words of a translation are not characters by name
          for (char32_t c : m.lit.text) {
            if (c < 0x80) continue;
            const std::u16string& k = skeleton(c);
            notable = notable || hidden_cp(c) || (k.size() == 1 && k[0] < 0x80);
          }
        }
        if (notable) add_data(in, "named table", ms.size(), first, stop, out);
        return;
      }
    }
    std::vector<std::u32string> texts = distinct(ms);
    if (texts.size() < 2) return;
    std::string why;
    Kind kind = confusable(texts, &why);
    if (kind == Kind::kNone) return;
    if (kind == Kind::kTypography) return add_data(in, "typography", ms.size(), first, stop, out);
    if (shape == "array" || shape == "object") {
      // [..][i] or {..}[k]: indexed by a computed value.
      uint64_t k = stop;
      while (k < in.end() && k - stop < 8 && is_space(in.at(k))) ++k;
      bool closed = k < in.end() && (in.at(k) == ']' || in.at(k) == '}');
      uint64_t after = closed ? k + 1 : k;
      while (after < in.end() && after - k < 8 && is_space(in.at(after))) ++after;
      bool indexed = closed && after < in.end() && in.at(after) == '[';
      if (!indexed && (!closed || ms.size() > kMaxChoiceArray)) {
        return add_data(in, "character table", ms.size(), first, stop, out);
      }
    }
    if (conditions.empty()) {
      for (const Member& m : ms) {
        for (std::string& n : member_conditions(in, m)) conditions.push_back(std::move(n));
      }
    }
    LookalikeChoice c;
    c.offset = first;
    c.second_offset = ms.back().lit.start;
    c.first = texts[0][0];
    c.second = texts[1][0];
    c.reason = why;
    c.shape = shape;
    for (const Member& m : ms) c.candidates.push_back(candidate(in, m.lit));
    std::vector<std::string> unique;
    for (auto& n : conditions) {
      if (std::find(unique.begin(), unique.end(), n) == unique.end()) unique.push_back(std::move(n));
    }
    c.conditions = std::move(unique);
    add_choice(in, std::move(c), stop, out);
  }

  static std::vector<std::u32string> distinct(const std::vector<Member>& ms) {
    std::vector<std::u32string> texts;
    for (const Member& m : ms) {
      if (std::find(texts.begin(), texts.end(), m.lit.text) == texts.end()) texts.push_back(m.lit.text);
    }
    return texts;
  }

  static ChoiceCandidate candidate(const Input& in, const Literal& lit) {
    return {lit.start, lit.text, std::string(in.view(lit.start, lit.end))};
  }

  // The names a branch's condition tests: `if (!a && !b) return`, `c ? X`,
  // Python's `if c:` before a return.
  std::vector<std::string> member_conditions(const Input& in, const Member& m) {
    uint64_t j = skip_space_back(in, m.anchor);
    if (j <= in.base()) return {};
    if (m.slot == Slot::kThen) {
      uint64_t q = j - 1;  // the '?'
      uint64_t floor = std::max(in.base(), q > kConditionReach ? q - kConditionReach : 0);
      uint64_t s = q;
      int depth = 0;
      while (s > floor) {
        unsigned char c = in.at(s - 1);
        if (c == ')' || c == ']') ++depth;
        if (c == '(' || c == '[') {
          if (depth == 0) break;
          --depth;
        }
        if (depth == 0 && std::string_view("=,;{}:").find(static_cast<char>(c)) != std::string_view::npos) break;
        --s;
      }
      return identifiers(in, s, q);
    }
    if (m.slot != Slot::kReturn && m.slot != Slot::kAssign) return {};
    if (in.at(j - 1) == ')') {
      uint64_t open = matching_open(in, j - 1);
      if (open == kNone) return {};
      uint64_t ws = 0;
      if (word_before(in, skip_space_back(in, open), &ws) != "if") return {};
      return identifiers(in, open + 1, j - 1);
    }
    if (in.at(j - 1) == ':') {  // Python: `if c:` / `elif c:` on the line before
      uint64_t line = j - 1;
      while (line > in.base() && j - line < kConditionReach && in.at(line - 1) != '\n') --line;
      std::string_view l = in.view(line, j - 1);
      size_t at = l.find("if ");
      if (at != std::string_view::npos) return identifiers(in, line + at + 3, j - 1);
    }
    return {};
  }

  static std::vector<std::string> identifiers(const Input& in, uint64_t a, uint64_t b) {
    std::vector<std::string> out;
    for (uint64_t i = a; i < b;) {
      if (is_quote(in.at(i))) {  // skip string literals
        unsigned char q = in.at(i++);
        while (i < b && in.at(i) != q) i += in.at(i) == '\\' ? 2 : 1;
        ++i;
        continue;
      }
      if (!is_ident(in.at(i)) || is_digit(in.at(i))) {
        ++i;
        continue;
      }
      uint64_t s = i;
      while (i < b && is_ident(in.at(i))) ++i;
      std::string w(in.view(s, i));
      bool member = s > a && in.at(s - 1) == '.';
      if (!member && !is_keyword(w) && std::find(out.begin(), out.end(), w) == out.end()) out.push_back(w);
    }
    return out;
  }

  // ---- recording ---------------------------------------------------------------------

  std::string snippet(const Input& in, uint64_t from, uint64_t stop) const {
    uint64_t a = std::max(in.base(), from > 24 ? from - 24 : 0);
    uint64_t b = std::min(in.end(), stop + 24);
    while (a < from && (in.at(a) & 0xC0) == 0x80) ++a;  // whole code points only
    while (b < in.end() && (in.at(b) & 0xC0) == 0x80) ++b;
    std::string_view v = in.view(a, b);
    size_t radius = static_cast<size_t>(stop - from) / 2 + 24;
    return context_around(v, (from - a) + (stop - from) / 2, radius);
  }

  void add_choice(const Input& in, LookalikeChoice c, uint64_t stop, InspectReport& out) {
    if (out.choices.size() >= InspectReport::kMaxChoices) return;
    c.function = functions_.function_at(in, c.offset);
    c.snippet = snippet(in, c.offset, stop);
    out.choices.push_back(std::move(c));
  }

  void add_data(const Input& in, const char* kind, size_t entries, uint64_t from, uint64_t stop, InspectReport& out) {
    if (out.data.size() >= InspectReport::kMaxData) return;
    out.data.push_back({from, stop, kind, entries, snippet(in, from, std::min(stop, from + 64))});
  }

  uint64_t resume_ = 0;
  CodeLexer lexer_;
  FunctionFinder functions_;
  Group group_;
  std::unordered_map<uint32_t, bool> hidden_cache_;
  std::unordered_map<uint32_t, std::u16string> skeleton_cache_;
};

}  // namespace

std::unique_ptr<Scanner> make_lookalike_choices_scanner(const InspectRules&) {
  return std::make_unique<LookalikeChoiceScanner>();
}

}  // namespace agenttrace::analyzer::inspect
