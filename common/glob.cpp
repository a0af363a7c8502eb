#include "common/glob.h"

#include <vector>

namespace agenttrace {

namespace {

enum class Tok { kLiteral, kOne, kClass, kStar, kDoubleStar, kDirs };

struct Token {
  Tok type;
  char c = 0;
  std::string_view cls = {};  // inside [..], for kClass
  bool negate = false;
};

std::vector<Token> tokenize(std::string_view p) {
  std::vector<Token> out;
  for (size_t i = 0; i < p.size();) {
    char c = p[i];
    if (c == '*') {
      if (i + 1 < p.size() && p[i + 1] == '*') {
        if (i + 2 < p.size() && p[i + 2] == '/') {
          out.push_back({Tok::kDirs});  // "**/": zero or more whole directories
          i += 3;
        } else {
          out.push_back({Tok::kDoubleStar});
          i += 2;
        }
        while (i < p.size() && p[i] == '*') ++i;
      } else {
        out.push_back({Tok::kStar});
        ++i;
      }
    } else if (c == '?') {
      out.push_back({Tok::kOne});
      ++i;
    } else if (c == '[') {
      size_t j = i + 1;
      bool negate = false;
      if (j < p.size() && (p[j] == '!' || p[j] == '^')) {
        negate = true;
        ++j;
      }
      size_t start = j;
      if (j < p.size() && p[j] == ']') ++j;  // a leading ']' is literal
      while (j < p.size() && p[j] != ']') ++j;
      if (j >= p.size()) {  // no closing bracket: '[' is literal
        out.push_back({Tok::kLiteral, '['});
        ++i;
      } else {
        Token t{Tok::kClass};
        t.cls = p.substr(start, j - start);
        t.negate = negate;
        out.push_back(t);
        i = j + 1;
      }
    } else {
      out.push_back({Tok::kLiteral, c});
      ++i;
    }
  }
  return out;
}

bool in_class(const Token& t, char c) {
  bool matched = false;
  const auto& s = t.cls;
  for (size_t i = 0; i < s.size(); ++i) {
    if (i + 2 < s.size() && s[i + 1] == '-') {
      if (c >= s[i] && c <= s[i + 2]) matched = true;
      i += 2;
    } else if (s[i] == c) {
      matched = true;
    }
  }
  return matched != t.negate;
}

}  // namespace

bool glob_match(std::string_view pattern, std::string_view text) {
  // Dynamic programming over (pattern token, text prefix): linear in the
  // product of their lengths whatever the pattern, so a user's knowledge-base
  // file cannot make matching explode.
  const auto tokens = tokenize(pattern);
  const size_t n = text.size();
  std::vector<char> cur(n + 1, 0), next(n + 1, 0);
  cur[0] = 1;
  for (const Token& t : tokens) {
    std::fill(next.begin(), next.end(), 0);
    switch (t.type) {
      case Tok::kLiteral:
        for (size_t j = 0; j < n; ++j) next[j + 1] = cur[j] && text[j] == t.c;
        break;
      case Tok::kOne:
        for (size_t j = 0; j < n; ++j) next[j + 1] = cur[j] && text[j] != '/';
        break;
      case Tok::kClass:
        for (size_t j = 0; j < n; ++j) next[j + 1] = cur[j] && text[j] != '/' && in_class(t, text[j]);
        break;
      case Tok::kStar:
        next[0] = cur[0];
        for (size_t j = 1; j <= n; ++j) next[j] = cur[j] || (next[j - 1] && text[j - 1] != '/');
        break;
      case Tok::kDoubleStar:
        next[0] = cur[0];
        for (size_t j = 1; j <= n; ++j) next[j] = cur[j] || next[j - 1];
        break;
      case Tok::kDirs: {
        bool any = false;  // some prefix up to here matched before the "**/"
        for (size_t j = 0; j <= n; ++j) {
          next[j] = cur[j] || (j > 0 && text[j - 1] == '/' && any);
          if (cur[j]) any = true;
        }
        break;
      }
    }
    std::swap(cur, next);
  }
  return cur[n];
}

}  // namespace agenttrace
