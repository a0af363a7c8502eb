#include "common/safe_open.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

#include "common/error.h"

namespace agenttrace {

bool split_proc_root(const std::string& path, std::string* root, std::string* rest) {
  static const char kProc[] = "/proc/";
  if (path.rfind(kProc, 0) != 0) return false;
  size_t i = sizeof(kProc) - 1, digits = i;
  // "/proc/self/fd/N/...": a process's root held open as descriptor N (a
  // PerfMap's, past the process's exit) is a root just the same.
  if (path.compare(i, 8, "self/fd/") == 0) {
    size_t n = i + 8, fd_digits = n;
    while (n < path.size() && path[n] >= '0' && path[n] <= '9') ++n;
    if (n == fd_digits || (n != path.size() && path[n] != '/')) return false;
    *root = path.substr(0, n);
    *rest = n == path.size() ? "/" : path.substr(n);
    return true;
  }
  if (path.compare(i, 4, "self") == 0) i += 4;
  else
    while (i < path.size() && path[i] >= '0' && path[i] <= '9') ++i;
  if (i == digits || path.compare(i, 5, "/root") != 0) return false;
  size_t end = i + 5;
  if (end != path.size() && path[end] != '/') return false;
  *root = path.substr(0, end);
  *rest = end == path.size() ? "/" : path.substr(end);
  return true;
}

namespace {

bool is_map_files(const std::string& path) {
  static const char kProc[] = "/proc/";
  if (path.rfind(kProc, 0) != 0) return false;
  size_t i = sizeof(kProc) - 1, digits = i;
  while (i < path.size() && path[i] >= '0' && path[i] <= '9') ++i;
  return i != digits && path.compare(i, 11, "/map_files/") == 0;
}

std::string kind_of(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISLNK(mode)) return "a symbolic link";
  return "not a regular file";
}

SafeFile refuse(SafeFile f, std::string why) {
  f.fd.reset();
  f.error = std::move(why);
  f.refused = true;
  return f;
}

SafeFile fail(SafeFile f, std::string why) {
  f.fd.reset();
  f.error = std::move(why);
  return f;
}

// Opening (the path lookup, the stat calls) runs on a helper thread and is
// waited for at most kOpenDeadline: a lookup that a file system's server
// holds up (FUSE, run by the traced program) must not hold up the thread
// that drains the ring buffer. A helper that does not come back is left to
// finish by itself and a new one takes over; after kMaxStuckHelpers, files
// are refused without trying.
constexpr std::chrono::milliseconds kOpenDeadline{3000};  // generous: a loaded machine is not a stall
constexpr int kMaxStuckHelpers = 4;

class Opener {
 public:
  static Opener& instance() {
    static Opener* opener = new Opener;  // never destroyed: helpers may outlive exit's destructors
    return *opener;
  }

  // Runs `job` on a helper; false when it did not finish in time (it may
  // still run later, on its own).
  bool run(std::function<void()> job) {
    std::lock_guard<std::mutex> serial(serial_);
    if (stuck_ >= kMaxStuckHelpers) return false;
    if (!helper_) helper_ = start_helper();
    auto task = std::make_shared<Task>();
    task->job = std::move(job);
    {
      std::lock_guard<std::mutex> lock(helper_->m);
      helper_->next = task;
    }
    helper_->cv.notify_one();
    std::unique_lock<std::mutex> lock(task->m);
    if (task->cv.wait_for(lock, kOpenDeadline, [&] { return task->done; })) return true;
    // Abandoned: it exits once its task returns.
    {
      std::lock_guard<std::mutex> hl(helper_->m);
      helper_->abandoned = true;
    }
    helper_.reset();
    ++stuck_;
    return false;
  }

 private:
  struct Task {
    std::function<void()> job;
    std::mutex m;
    std::condition_variable cv;
    bool done = false;
  };
  struct Helper {
    std::mutex m;
    std::condition_variable cv;
    std::shared_ptr<Task> next;
    bool abandoned = false;
  };

  static std::shared_ptr<Helper> start_helper() {
    auto h = std::make_shared<Helper>();
    std::thread([h] {
      for (;;) {
        std::shared_ptr<Task> task;
        {
          std::unique_lock<std::mutex> lock(h->m);
          h->cv.wait(lock, [&] { return h->next || h->abandoned; });
          if (!h->next) return;
          task = std::move(h->next);
        }
        task->job();
        {
          std::lock_guard<std::mutex> lock(task->m);
          task->done = true;
        }
        task->cv.notify_one();
        std::lock_guard<std::mutex> lock(h->m);
        if (h->abandoned) return;
      }
    }).detach();
    return h;
  }

  std::mutex serial_;
  std::shared_ptr<Helper> helper_;
  int stuck_ = 0;
};

SafeFile open_now(const std::string& path, const SafeOpenOptions& options);

}  // namespace

std::string fd_path(int fd) { return "/proc/self/fd/" + std::to_string(fd); }

SafeFile safe_open(const std::string& path, const SafeOpenOptions& options) {
  auto result = std::make_shared<SafeFile>();
  // The task owns what it touches: if it is abandoned, what it opens late
  // is closed when it ends.
  std::string p = path;
  SafeOpenOptions o = options;
  if (Opener::instance().run([result, p, o] { *result = open_now(p, o); })) return std::move(*result);
  SafeFile f;
  f.refused = true;
  f.error = path + " was not read: opening it did not finish within " +
            std::to_string(kOpenDeadline.count()) + " ms (a file system's server may be holding it up)";
  return f;
}

namespace {

SafeFile open_now(const std::string& path, const SafeOpenOptions& options) {
  SafeFile f;
  // Step 1: an O_PATH descriptor names the file without opening it.
  UniqueFd handle;
  std::string root, rest;
  if (split_proc_root(path, &root, &rest)) {
    UniqueFd root_fd(::open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!root_fd.valid()) return fail(std::move(f), "cannot reach " + root + ": " + errno_text(errno));
    struct open_how how {};
    how.flags = O_PATH | O_CLOEXEC | (options.follow_in_root ? 0 : O_NOFOLLOW);
    how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
    long fd = syscall(SYS_openat2, root_fd.get(), rest.c_str(), &how, sizeof(how));
    if (fd < 0) {
      int err = errno;
      if (err == ELOOP || err == EXDEV)
        return refuse(std::move(f), path + " was not read: resolving it inside the process's root needs a link that is not allowed");
      if (err == ENOSYS) return fail(std::move(f), path + " was not read: this kernel has no openat2");
      return fail(std::move(f), "cannot open " + path + ": " + errno_text(err));
    }
    handle.reset(static_cast<int>(fd));
  } else {
    int flags = O_PATH | O_CLOEXEC | (options.kernel_links && is_map_files(path) ? 0 : O_NOFOLLOW);
    handle.reset(::open(path.c_str(), flags));
    if (!handle.valid()) return fail(std::move(f), "cannot open " + path + ": " + errno_text(errno));
  }
  struct stat st;
  if (fstat(handle.get(), &st) != 0) return fail(std::move(f), "cannot stat " + path + ": " + errno_text(errno));
  if (!S_ISREG(st.st_mode)) return refuse(std::move(f), path + " was not read: it is " + kind_of(st.st_mode) + ", not a regular file");
  auto too_large = [&](off_t size) {
    return path + " was not read: it has " + std::to_string(size) + " bytes, more than the " +
           std::to_string(options.max_bytes) + " agenttrace reads of a file a traced program chose";
  };
  if (static_cast<uint64_t>(st.st_size) > options.max_bytes) return refuse(std::move(f), too_large(st.st_size));
  // A FUSE file is served by a process, possibly the traced program itself,
  // which could make every read wait forever.
  struct statfs fs;
  constexpr long kFuseSuperMagic = 0x65735546;
  if (fstatfs(handle.get(), &fs) == 0 && static_cast<long>(fs.f_type) == kFuseSuperMagic)
    return refuse(std::move(f), path + " was not read: it is on a FUSE file system, whose server could make reading it wait forever");
  // Step 2: the very file the handle names, opened for reading. O_NONBLOCK
  // still: a regular file on a FUSE mount answers through its server.
  f.fd.reset(::open(fd_path(handle.get()).c_str(), O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
  if (!f.fd.valid()) return fail(std::move(f), "cannot open " + path + ": " + errno_text(errno));
  struct stat again;
  if (fstat(f.fd.get(), &again) != 0 || again.st_dev != st.st_dev || again.st_ino != st.st_ino || !S_ISREG(again.st_mode))
    return refuse(std::move(f), path + " was not read: it changed while it was opened");
  if (static_cast<uint64_t>(again.st_size) > options.max_bytes) return refuse(std::move(f), too_large(again.st_size));
  f.size = static_cast<uint64_t>(again.st_size);
  f.dev = again.st_dev;
  f.ino = again.st_ino;
  return f;
}

}  // namespace
}  // namespace agenttrace
