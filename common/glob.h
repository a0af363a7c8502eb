// Glob patterns for paths and names (the knowledge base, policies, the
// collector's stack paths, fleet host filters).
//   *   any run of characters except '/'
//   **  any run of characters, '/' included
//   ?   one character except '/'
//   [..] a character class, as in fnmatch(3)
#pragma once

#include <string_view>

namespace agenttrace {

bool glob_match(std::string_view pattern, std::string_view text);

}  // namespace agenttrace
