#include "analyzer/inspect/code_lexer.h"

#include <array>
#include <string_view>

namespace agenttrace::analyzer::inspect {

const char* where_name(Where w) {
  switch (w) {
    case Where::kCode: return "code";
    case Where::kString: return "string";
    case Where::kRegex: return "regex";
    case Where::kComment: return "comment";
  }
  return "code";
}

Where CodeLexer::where() const {
  switch (state_) {
    case State::kCode: return Where::kCode;
    case State::kSingle:
    case State::kDouble:
    case State::kTemplate:
    case State::kTripleSingle:
    case State::kTripleDouble: return string_is_regex_ ? Where::kRegex : Where::kString;
    case State::kRegex:
    case State::kRegexClass: return Where::kRegex;
    case State::kLineComment:
    case State::kBlockComment: return Where::kComment;
  }
  return Where::kCode;
}

void CodeLexer::advance(const Input& in, uint64_t to) {
  if (pos_ < in.base()) restart_at(in.base());  // what was dropped unread: start afresh
  for (; pos_ < to; ++pos_) {
    if (skip_ > 0) {
      --skip_;
      continue;
    }
    step(in, pos_);
  }
}

// A '/' starts a regular expression after an operator, an opening bracket,
// a separator or a keyword; after a name, a number or a closing bracket it
// divides.
bool CodeLexer::regex_allowed() const {
  if (prev_sig_ == 0) return true;
  if (std::string_view("(,=:[!&|?{};+-*%<>~^").find(static_cast<char>(prev_sig_)) != std::string_view::npos) {
    return true;
  }
  static constexpr std::array<std::string_view, 13> kKeywords = {
      "return", "typeof", "case", "in", "of", "void", "delete", "throw", "else", "do", "yield", "await", "new"};
  for (std::string_view k : kKeywords) {
    if (word_ == k) return true;
  }
  return false;
}

void CodeLexer::enter_string(State s) {
  state_ = s;
  escape_ = false;
  // RegExp("[а-я]"), new RegExp('...'), re.compile(r"..."): the string is a pattern.
  std::string_view r(recent_);
  if (!r.empty() && (r.back() == 'r' || r.back() == 'b' || r.back() == 'R')) r.remove_suffix(1);
  if (!r.empty() && (r.back() == 'r' || r.back() == 'b' || r.back() == 'R')) r.remove_suffix(1);
  static constexpr std::array<std::string_view, 9> kPatternCalls = {
      "RegExp(", "re.compile(", "re.match(", "re.search(", "re.sub(", "re.findall(", "re.split(", "re.fullmatch(",
      "re.finditer("};
  string_is_regex_ = false;
  for (std::string_view call : kPatternCalls) {
    if (r.size() >= call.size() && r.substr(r.size() - call.size()) == call) string_is_regex_ = true;
  }
}

void CodeLexer::step(const Input& in, uint64_t i) {
  const unsigned char c = in.at(i);
  const unsigned char next = i + 1 < in.end() ? in.at(i + 1) : 0;
  const unsigned char next2 = i + 2 < in.end() ? in.at(i + 2) : 0;
  if (c == 0) {
    restart_at(pos_);
    return;
  }
  auto to_code = [&](unsigned char last) {
    state_ = State::kCode;
    escape_ = false;
    prev_sig_ = last;
    word_.clear();
  };
  // Strings and regular expressions: a backslash escapes the next byte.
  const bool escapes =
      state_ != State::kCode && state_ != State::kLineComment && state_ != State::kBlockComment;
  if (escapes && escape_) {
    escape_ = false;
    return;
  }
  if (escapes && c == '\\') {
    escape_ = true;
    return;
  }
  switch (state_) {
    case State::kCode:
      break;
    case State::kSingle:
    case State::kDouble:
      if (c == (state_ == State::kSingle ? '\'' : '"')) {
        to_code(c);
      } else if (c == '\n') {
        to_code(c);  // unterminated: code again on the next line
      }
      return;
    case State::kTemplate:
      if (c == '`') {
        to_code(c);
      } else if (c == '$' && next == '{') {
        template_depth_.push_back(brace_depth_);
        state_ = State::kCode;
        prev_sig_ = '{';
        word_.clear();
        skip_ = 1;
      }
      return;
    case State::kTripleSingle:
    case State::kTripleDouble: {
      const unsigned char q = state_ == State::kTripleSingle ? '\'' : '"';
      if (c == q && next == q && next2 == q) {
        to_code(c);
        skip_ = 2;
      }
      return;
    }
    case State::kRegex:
      if (c == '[') {
        state_ = State::kRegexClass;
      } else if (c == '/') {
        to_code(')');  // what follows a regex divides, as after a name
      } else if (c == '\n') {
        to_code(c);
      }
      return;
    case State::kRegexClass:
      if (c == ']') {
        state_ = State::kRegex;
      } else if (c == '\n') {
        to_code(c);
      }
      return;
    case State::kLineComment:
      if (c == '\n') to_code(prev_sig_);
      return;
    case State::kBlockComment:
      if (c == '*' && next == '/') {
        to_code(prev_sig_);
        skip_ = 1;
      }
      return;
  }

  // Code.
  if (is_space(c)) {
    if (!recent_.empty() && recent_.back() != ' ') recent_.push_back(' ');
    if (c == '\n') word_.clear();
    return;
  }
  if (c == '/' && next == '/') {
    state_ = State::kLineComment;
    return;
  }
  if (c == '/' && next == '*') {
    state_ = State::kBlockComment;
    skip_ = 1;
    return;
  }
  if (c == '/' && regex_allowed()) {
    state_ = State::kRegex;
    escape_ = false;
    return;
  }
  // '#': a Python comment or a shebang; not `obj.#field`, nor a class's
  // `#field = ...` after `{`, `;` or `}`.
  if (c == '#' && prev_sig_ != '.' && !(is_ident(next) && (prev_sig_ == '{' || prev_sig_ == ';' || prev_sig_ == '}'))) {
    state_ = State::kLineComment;
    return;
  }
  if (c == '"' || c == '\'') {
    if (next == c && next2 == c) {
      enter_string(c == '"' ? State::kTripleDouble : State::kTripleSingle);
      skip_ = 2;
    } else {
      enter_string(c == '"' ? State::kDouble : State::kSingle);
    }
    return;
  }
  if (c == '`') {
    enter_string(State::kTemplate);
    return;
  }
  if (c == '{') {
    ++brace_depth_;
  } else if (c == '}') {
    if (!template_depth_.empty() && brace_depth_ == template_depth_.back()) {
      template_depth_.pop_back();
      state_ = State::kTemplate;
      escape_ = false;
      string_is_regex_ = false;
      return;
    }
    --brace_depth_;
  }
  if (is_ident(c)) {
    if (!is_ident(prev_sig_) || (i > 0 && i > in.base() && !is_ident(in.at(i - 1)))) word_.clear();
    if (word_.size() < 16) word_.push_back(static_cast<char>(c));
  } else {
    word_.clear();
  }
  prev_sig_ = c;
  recent_.push_back(static_cast<char>(c));
  if (recent_.size() > kRecent) recent_.erase(0, recent_.size() - kRecent);
}

}  // namespace agenttrace::analyzer::inspect
