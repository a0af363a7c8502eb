// Glob patterns for paths and names in the knowledge base.
//   *   any run of characters except '/'
//   **  any run of characters, '/' included
//   ?   one character except '/'
//   [..] a character class, as in fnmatch(3)
#pragma once

#include <string_view>

namespace agenttrace::analyzer {

bool glob_match(std::string_view pattern, std::string_view text);

}  // namespace agenttrace::analyzer
