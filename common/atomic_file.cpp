#include "common/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>

#include "common/error.h"
#include "common/unique_fd.h"

namespace agenttrace {

void write_file_atomic(const std::string& path, const std::string& data, mode_t mode) {
  // Unique per call: two threads may write the same path.
  static std::atomic<unsigned> counter{0};
  std::string tmp = path + ".tmp." + std::to_string(getpid()) + "." + std::to_string(counter++);
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode));
  if (!fd.valid()) throw Error("cannot create " + tmp + ": " + errno_text(errno) + ".");
  auto cleanup_fail = [&](const std::string& what) {
    int err = errno;
    ::unlink(tmp.c_str());
    throw Error("cannot " + what + " " + tmp + ": " + errno_text(err) + ".");
  };
  if (::fchmod(fd.get(), mode) != 0) cleanup_fail("set the mode of");
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd.get(), data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) cleanup_fail("write");
    done += static_cast<size_t>(n);
  }
  if (::close(fd.release()) != 0) cleanup_fail("close");
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    throw Error("cannot rename " + tmp + " to " + path + ": " + errno_text(err) + ".");
  }
}

}  // namespace agenttrace
