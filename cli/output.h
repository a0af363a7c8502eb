// Where reports go: a file (created 0600: reports quote what was sent) or
// standard output.
#pragma once

#include <string>

namespace agenttrace::cli {

// Writes `text` to `path` ("-" or empty: standard output); throws Error.
void write_output(const std::string& path, const std::string& text);

}  // namespace agenttrace::cli
