#include "cli/output.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include "common/error.h"

namespace agenttrace::cli {

void write_output(const std::string& path, const std::string& text) {
  if (path.empty() || path == "-") {
    if (fwrite(text.data(), 1, text.size(), stdout) != text.size() || fflush(stdout) != 0)
      throw Error("cannot write the report to standard output: " + errno_text(errno));
    return;
  }
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) throw Error("cannot create " + path + ": " + errno_text(errno));
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      throw Error("cannot write " + path + ": " + errno_text(err));
    }
    done += static_cast<size_t>(n);
  }
  if (::close(fd) != 0) throw Error("cannot write " + path + ": " + errno_text(errno));
}

}  // namespace agenttrace::cli
