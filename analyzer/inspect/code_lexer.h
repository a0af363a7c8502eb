// Where an offset of JavaScript or Python source stands: in code, inside a
// string literal, inside a regular expression (a /.../ literal, or a string
// given to RegExp() or re.compile()), or in a comment. Scanners use it to
// tell data from choices: a Cyrillic range in a regex character class is a
// table of letters, a zero-width space in a string literal is text someone
// will send.
//
// It is a lexer, not a parser, and it streams: advance() is called with
// increasing offsets and reads each byte once, so a 10 MB bundle costs one
// pass. It follows ' " ` strings (template literals with nested ${...}),
// Python triple-quoted strings, // # and /* */ comments, and tells a regex
// literal from a division by what precedes the '/'. A NUL resets it to code:
// in an executable, the text of an embedded script is NUL-terminated and
// the machine code around it must not leave it inside a "string".
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "analyzer/inspect/scanner.h"

namespace agenttrace::analyzer::inspect {

enum class Where : uint8_t { kCode, kString, kRegex, kComment };
const char* where_name(Where w);  // "code", "string", "regex", "comment"

class CodeLexer {
 public:
  // Reads [pos(), to) of `in`, which must hold it.
  void advance(const Input& in, uint64_t to);
  uint64_t pos() const { return pos_; }
  // Forgets everything and goes on from `off` as if it began a file: in an
  // executable only the text near a finding is lexed, not the machine code.
  void restart_at(uint64_t off) {
    *this = CodeLexer{};
    pos_ = off;
  }
  // Where the byte at pos() stands (a quote that opens a string is in
  // code; the one that closes it is in the string).
  Where where() const;

 private:
  enum class State : uint8_t {
    kCode,
    kSingle,
    kDouble,
    kTemplate,
    kTripleSingle,
    kTripleDouble,
    kRegex,
    kRegexClass,
    kLineComment,
    kBlockComment,
  };
  void step(const Input& in, uint64_t i);
  bool regex_allowed() const;
  void enter_string(State s);

  uint64_t pos_ = 0;
  State state_ = State::kCode;
  bool escape_ = false;
  bool string_is_regex_ = false;  // the string is RegExp("...")'s or re.compile("...")'s
  unsigned char prev_sig_ = 0;    // last non-space byte of code
  std::string word_;              // the identifier that ends at prev_sig_, if it is one
  std::string recent_;            // the last kRecent bytes of code, spaces squeezed
  std::vector<int> template_depth_;  // per open `${`: the brace depth it opened at
  int brace_depth_ = 0;
  int skip_ = 0;  // bytes of a token already read (""" , /*, ${)
  static constexpr size_t kRecent = 24;
};

}  // namespace agenttrace::analyzer::inspect
