// Invisible and look-alike code points (scan_hidden_chars, the scanner the
// trace analyzer uses on payloads), all of them in a text file; in an
// executable or data file only those inside text that reads as a string
// literal of an embedded script (kTextContextBytes, kMinContextLetters).
#include <algorithm>

#include "analyzer/inspect/code_lexer.h"
#include "analyzer/inspect/scanner.h"
#include "analyzer/unicode_scan.h"
#include "common/utf8.h"

namespace agenttrace::analyzer::inspect {

namespace {

// Whether the kTextContextBytes on each side of `off` read as text. A NUL
// ends the context: strings in a binary are NUL-terminated. Whitespace is
// required because Go packs its string constants back to back, and its
// standard library has real ZWJ/ZWNJ constants; scripts and prose have
// spaces or line breaks.
bool text_around(const Input& in, uint64_t off) {
  uint64_t a = std::max(in.base(), off > kTextContextBytes ? off - kTextContextBytes : 0);
  uint64_t b = std::min(in.end(), off + kTextContextBytes);
  for (uint64_t i = off; i > a; --i) {
    if (in.at(i - 1) == 0) {
      a = i;
      break;
    }
  }
  for (uint64_t i = off; i < b; ++i) {
    if (in.at(i) == 0) {
      b = i;
      break;
    }
  }
  while (a < off && (in.at(a) & 0xC0) == 0x80) ++a;  // start on a code point
  size_t ascii = 0, total = 0, letters = 0, spaces = 0;
  for (uint64_t i = a; i < b;) {
    unsigned char c = in.at(i);
    if (c < 0x80) {
      if ((c < 0x20 && !is_space(c)) || c == 0x7F) return false;
      if (is_space(c)) ++spaces;
      ++ascii;
      ++total;
      if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') ++letters;
      ++i;
      continue;
    }
    Utf8Decoded d = decode_utf8_at(in.ptr(i), in.end() - i, 0);
    if (d.len == 0) {
      if (i + 4 > b && b < in.end()) break;  // cut by the window, not invalid
      return false;
    }
    if (d.cp >= 0x80 && d.cp < 0xA0) return false;  // C1 controls
    ++total;
    i += d.len;
  }
  return letters >= kMinContextLetters && spaces > 0 && ascii * 2 >= total;
}

// Whether a quote of one kind stands on each side of `off`, on the same
// line and within kQuoteReach bytes: the code point is inside a string
// literal of an embedded script, not in a table of packed string
// constants (Go and Rust binaries hold real ZWJ and BOM constants).
constexpr size_t kQuoteReach = 256;
bool in_quotes(const Input& in, uint64_t off) {
  int left = 0, right = 0;  // bit 0 ", bit 1 ', bit 2 `
  auto bit = [](unsigned char c) { return c == '"' ? 1 : c == '\'' ? 2 : c == '`' ? 4 : 0; };
  uint64_t floor = std::max(in.base(), off > kQuoteReach ? off - kQuoteReach : 0);
  for (uint64_t i = off; i > floor && in.at(i - 1) != '\n' && in.at(i - 1) != 0; --i) left |= bit(in.at(i - 1));
  uint64_t ceiling = std::min(in.end(), off + kQuoteReach);
  for (uint64_t i = off + 1; i < ceiling && in.at(i) != '\n' && in.at(i) != 0; ++i) right |= bit(in.at(i));
  return (left & right) != 0;
}

class HiddenCharScanner final : public Scanner {
 public:
  void feed(const Input& in, uint64_t from, uint64_t to, InspectReport& out) override {
    uint64_t a = std::max(in.base(), from > kUnicodeMargin ? from - kUnicodeMargin : 0);
    uint64_t b = std::min(in.end(), to + kUnicodeMargin);
    std::string_view v = in.view(a, b);
    ScanResult r = scan_hidden_chars(v, 1000000);
    for (HiddenChar& h : r.chars) {
      uint64_t off = a + h.offset;
      if (off < from || off >= to) continue;
      if (off == 0 && h.code_point == 0xFEFF) continue;  // a byte order mark where it belongs
      if (!in.text() && !(text_around(in, off) && in_quotes(in, off))) continue;
      if (!in.text() && off > lexer_.pos() + kBinaryLexBytes) {
        lexer_.restart_at(std::max(in.base(), off - kBinaryLexBytes));
      }
      lexer_.advance(in, off);
      Where where = lexer_.where();
      // In an executable the lexer may have been misled by machine code
      // before the script; the quotes around it were checked above.
      if (!in.text() && where != Where::kRegex) where = Where::kString;
      ++out.hidden_total;
      if (where == Where::kString) ++out.hidden_in_strings;
      if (where == Where::kRegex) ++out.hidden_in_regex;
      if (out.hidden.size() >= InspectReport::kMaxHidden) continue;
      HiddenCharFinding f;
      f.context = context_around(v, h.offset);
      f.ch = std::move(h);
      f.ch.offset = off;
      f.where = where_name(where);
      out.hidden.push_back(std::move(f));
    }
    if (in.text()) lexer_.advance(in, to);
  }

 private:
  CodeLexer lexer_;
  // In an executable, the text lexed before a finding (back to a NUL at most).
  static constexpr uint64_t kBinaryLexBytes = 4096;
  static constexpr size_t kUnicodeMargin = 256;  // context scan_hidden_chars sees around a piece
};

}  // namespace

std::unique_ptr<Scanner> make_hidden_chars_scanner(const InspectRules&) {
  return std::make_unique<HiddenCharScanner>();
}

}  // namespace agenttrace::analyzer::inspect
