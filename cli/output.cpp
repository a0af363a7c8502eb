#include "cli/output.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include "common/error.h"
#include "common/output_file.h"

namespace agenttrace::cli {

void write_output(const std::string& path, const std::string& text) {
  if (path.empty() || path == "-") {
    if (fwrite(text.data(), 1, text.size(), stdout) != text.size() || fflush(stdout) != 0)
      throw Error("cannot write the report to standard output: " + errno_text(errno));
    return;
  }
  UniqueFd fd = create_output_file(path);
  write_all(fd.get(), path, text);
  if (::close(fd.release()) != 0) throw Error("cannot write " + path + ": " + errno_text(errno));
}

}  // namespace agenttrace::cli
