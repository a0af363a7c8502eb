// The inside of `agenttrace inspect` (analyzer/inspect.h): the Inspector's
// engine only holds the input and hands it to scanners, each of which looks
// for one kind of thing and records what it finds in the InspectReport.
//
//   source_references  fingerprint sources and their functions (Aho-Corasick)
//   encoded_runs       runs of base64 and hex digits that decode to a list
//   escape_runs        runs of "\xNN" escapes that decode to a list
//   hidden_chars       invisible and look-alike code points
//   lookalike_choices  code that picks between two look-alike literals
//
// Each sees every offset of the input once, in order, in pieces the engine
// chooses; the findings must not depend on where the pieces are cut (the
// unit tests feed the same data at many cuts). docs/inspect.md describes
// what each one finds.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "analyzer/inspect.h"

namespace agenttrace::analyzer::inspect {

inline constexpr uint64_t kNone = ~uint64_t{0};

inline bool is_ident(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '$';
}
inline bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }
inline bool is_space(unsigned char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
inline bool is_quote(unsigned char c) { return c == '"' || c == '\'' || c == '`'; }

class Input;
// The position after the spaces that end just before i (not before the
// start of what `in` holds).
uint64_t skip_space_back(const Input& in, uint64_t i);

// ASCII letters lowered; other bytes as they are.
std::string lower(std::string_view s);
// 0x5a -> "0x5a": how an XOR key is written in encodings and reports.
std::string key_text(int key);

// The part of the input the engine still holds: offsets [base(), end()) of
// the file. It holds at least kFunctionLookback bytes before the first offset
// not yet given to the scanners (and more where a scanner's keep_from() asks
// for it), and kLookahead bytes after the last one given, except at the end
// of the file.
class Input {
 public:
  uint64_t base() const { return base_; }
  uint64_t end() const { return base_ + buf_.size(); }
  unsigned char at(uint64_t off) const { return static_cast<unsigned char>(buf_[off - base_]); }
  const unsigned char* ptr(uint64_t off) const {
    return reinterpret_cast<const unsigned char*>(buf_.data()) + (off - base_);
  }
  std::string_view view(uint64_t a, uint64_t b) const { return std::string_view(buf_).substr(a - base_, b - a); }
  // False for an executable or data file: there text (an embedded script) is
  // told apart from machine code by its surroundings (kTextContextBytes).
  bool text() const { return text_; }

  // The engine's side.
  void reserve(size_t bytes) { buf_.reserve(bytes); }
  void append(std::string_view bytes) { buf_.append(bytes.data(), bytes.size()); }
  void set_text(bool text) { text_ = text; }
  // Releases the bytes before `off` (base() < off <= end()).
  void drop_before(uint64_t off) {
    buf_.erase(0, off - base_);
    base_ = off;
  }

 private:
  std::string buf_;
  uint64_t base_ = 0;
  bool text_ = true;
};

inline uint64_t skip_space_back(const Input& in, uint64_t i) {
  while (i > in.base() && is_space(in.at(i - 1))) --i;
  return i;
}

class Scanner {
 public:
  virtual ~Scanner() = default;
  // Offsets [from, to) are new (from < to); each offset comes once, in order.
  // Bytes after `to` that `in` holds may be read, not scanned: they come
  // again in the next piece.
  virtual void feed(const Input& in, uint64_t from, uint64_t to, InspectReport& out) = 0;
  // After the last feed(), with `in` still ending at the end of the file:
  // what is still open (a run that reaches the end) is recorded.
  virtual void finish(const Input& in, InspectReport& out) {}
  // The first offset this scanner will read again, `done` being the end of
  // the last piece it was fed; the engine keeps the input from there on
  // (besides the kFunctionLookback bytes it always keeps).
  virtual uint64_t keep_from(uint64_t done) const { return done; }
};

// The scanners, in the order each piece is given to them, which is also the
// order their findings are recorded in (and so which ones are kept when a
// list of InspectReport is full). A new scanner is a file
// analyzer/inspect/NAME.cpp that defines make_NAME_scanner(), listed in
// CMakeLists.txt, and one line here.
#define AGENTTRACE_INSPECT_SCANNERS(X) \
  X(source_references)                 \
  X(encoded_runs)                      \
  X(escape_runs)                       \
  X(hidden_chars)                      \
  X(lookalike_choices)

#define AGENTTRACE_DECLARE_SCANNER(name) std::unique_ptr<Scanner> make_##name##_scanner(const InspectRules& rules);
AGENTTRACE_INSPECT_SCANNERS(AGENTTRACE_DECLARE_SCANNER)
#undef AGENTTRACE_DECLARE_SCANNER

// One of each, in the order above.
std::vector<std::unique_ptr<Scanner>> make_scanners(const InspectRules& rules);

}  // namespace agenttrace::analyzer::inspect
