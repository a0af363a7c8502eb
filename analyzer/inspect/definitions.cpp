#include "analyzer/inspect/definitions.h"

#include <algorithm>
#include <string_view>
#include <unordered_set>

namespace agenttrace::analyzer::inspect {

namespace {

bool keyword_at(const Input& in, uint64_t i, std::string_view word) {
  if (i + word.size() > in.end()) return false;
  if (in.view(i, i + word.size()) != word) return false;
  if (i > in.base() && is_ident(in.at(i - 1))) return false;
  return i + word.size() == in.end() || !is_ident(in.at(i + word.size()));
}

uint64_t skip_space(const Input& in, uint64_t i) {
  while (i < in.end() && is_space(in.at(i))) ++i;
  return i;
}
std::string ident_at(const Input& in, uint64_t i) {
  uint64_t j = i;
  while (j < in.end() && j - i < 64 && is_ident(in.at(j))) ++j;
  if (j == i || is_digit(in.at(i)) || (j < in.end() && is_ident(in.at(j)))) return {};
  return std::string(in.view(i, j));
}
// The identifier that ends just before i.
std::string ident_before(const Input& in, uint64_t i, uint64_t* start = nullptr) {
  uint64_t j = i;
  while (j > in.base() && i - j < 64 && is_ident(in.at(j - 1))) --j;
  if (j == i || is_digit(in.at(j)) || (j > in.base() && is_ident(in.at(j - 1)))) return {};
  if (start != nullptr) *start = j;
  return std::string(in.view(j, i));
}

// The NAME in `NAME = <here>`, `NAME: <here>`, `obj.NAME = async <here>`.
std::string assigned_name(const Input& in, uint64_t i) {
  uint64_t j = skip_space_back(in, i);
  if (j >= in.base() + 5 && in.view(j - 5, j) == "async" && (j - 5 == in.base() || !is_ident(in.at(j - 6)))) {
    j = skip_space_back(in, j - 5);
  }
  if (j <= in.base() + 1) return {};
  unsigned char op = in.at(j - 1);
  if (op == '=') {
    unsigned char before = in.at(j - 2);
    if (std::string_view("=!<>+-*/%&|^?").find(static_cast<char>(before)) != std::string_view::npos) return {};
  } else if (op != ':') {
    return {};
  }
  std::string name = ident_before(in, skip_space_back(in, j - 1));
  static const std::unordered_set<std::string> kNotNames = {"default", "case", "return"};
  return kNotNames.count(name) != 0 ? std::string() : name;
}

// `function NAME(`, `function* NAME(`; anonymous: `NAME = function`.
std::string def_function(const Input& in, uint64_t i) {
  if (!keyword_at(in, i, "function")) return {};
  uint64_t j = skip_space(in, i + 8);
  if (j < in.end() && in.at(j) == '*') j = skip_space(in, j + 1);
  std::string name = ident_at(in, j);
  if (!name.empty()) {
    uint64_t k = skip_space(in, j + name.size());
    return k < in.end() && in.at(k) == '(' ? name : std::string();
  }
  return assigned_name(in, i);
}

// `def NAME(` and `async def NAME(`.
std::string def_python(const Input& in, uint64_t i) {
  if (!keyword_at(in, i, "def")) return {};
  uint64_t j = skip_space(in, i + 3);
  if (j == i + 3) return {};
  std::string name = ident_at(in, j);
  uint64_t k = skip_space(in, j + name.size());
  return !name.empty() && k < in.end() && in.at(k) == '(' ? name : std::string();
}

// `NAME = (a, b) =>`, `NAME = async x =>`: only arrows given a name.
std::string def_arrow(const Input& in, uint64_t i) {
  uint64_t j = skip_space_back(in, i);
  if (j <= in.base()) return {};
  if (in.at(j - 1) == ')') {
    uint64_t open = matching_open(in, j - 1);
    if (open == kNone) return {};
    j = open;
  } else {
    uint64_t start;
    if (ident_before(in, j, &start).empty()) return {};
    j = start;
  }
  return assigned_name(in, j);
}

// `NAME(args) {`: a method, or a C function; not `if (...) {` and the like.
std::string def_method(const Input& in, uint64_t i) {
  uint64_t j = skip_space_back(in, i);
  if (j <= in.base() || in.at(j - 1) != ')') return {};
  uint64_t open = matching_open(in, j - 1);
  if (open == kNone) return {};
  std::string name = ident_before(in, skip_space_back(in, open));
  static const std::unordered_set<std::string> kKeywords = {
      "if", "for", "while", "switch", "catch", "with", "function", "return", "typeof", "do", "else",
      "in", "of", "new", "await", "yield", "super", "elif", "sizeof", "foreach"};
  return kKeywords.count(name) != 0 ? std::string() : name;
}


}  // namespace

uint64_t matching_open(const Input& in, uint64_t close) {
  int depth = 0;
  uint64_t limit = close > in.base() + 1024 ? close - 1024 : in.base();
  for (uint64_t k = close + 1; k > limit; --k) {
    unsigned char c = in.at(k - 1);
    if (c == ')') ++depth;
    if (c == '(' && --depth == 0) return k - 1;
  }
  return kNone;
}

std::string FunctionFinder::function_at(const Input& in, uint64_t offset) {
  uint64_t floor = std::max(in.base(), offset > kFunctionLookback ? offset - kFunctionLookback : 0);
  if (offset < cursor_) {
    // Out of order (a wildcard match reaching back): a fresh look.
    Def saved = last_;
    last_ = {};
    scan_defs(in, floor, offset);
    Def found = last_;
    last_ = saved;
    return found.name.empty() ? "unknown" : found.name;
  }
  uint64_t from = std::max(cursor_, floor);
  if (from > cursor_) last_ = {};
  scan_defs(in, from, offset);
  cursor_ = offset;
  if (last_.name.empty() || offset - last_.offset > kFunctionLookback) return "unknown";
  return last_.name;
}

void FunctionFinder::scan_defs(const Input& in, uint64_t a, uint64_t b) {
  for (uint64_t i = a; i < b; ++i) {
    unsigned char c = in.at(i);
    if (c != 'f' && c != 'd' && c != 'l' && c != '=' && c != '{') continue;
    std::string name;
    if (c == 'f') {
      name = def_function(in, i);
    } else if (c == 'd') {
      name = def_python(in, i);
    } else if (c == 'l') {
      if (keyword_at(in, i, "lambda")) name = assigned_name(in, i);
    } else if (c == '=') {
      if (i + 1 < in.end() && in.at(i + 1) == '>') name = def_arrow(in, i);
    } else {
      name = def_method(in, i);
    }
    if (!name.empty()) last_ = {i, std::move(name)};
  }
}

}  // namespace agenttrace::analyzer::inspect
