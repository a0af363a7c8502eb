// Opening files that a traced program chose: its perf maps, the libraries
// it opened, the binaries of its stack frames, anything under its
// /proc/PID/root. The program is not trusted (docs/design.md, trust model),
// so such a file is opened
//   - never blocking: first as an O_PATH descriptor, which opens nothing
//     (a FIFO, a tape or a watchdog device is not touched), and read only
//     once fstat says it is a regular file;
//   - without following a symbolic link at its last component (O_NOFOLLOW),
//     or, below /proc/PID/root, resolved inside that root (openat2 with
//     RESOLVE_IN_ROOT and RESOLVE_NO_MAGICLINKS), so a link can name only a
//     file of the program's own root and never a /proc magic link;
//   - not on a FUSE file system, whose server (perhaps the traced program)
//     could make any read wait forever;
//   - only when it is no larger than a limit, so a file cannot balloon
//     agenttrace's memory.
// What is refused says why in one sentence that names the path.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "common/unique_fd.h"

namespace agenttrace {

// Limits (stated in the README's security section).
inline constexpr uint64_t kMaxElfBytes = 1ull << 30;        // an executable or library: 1 GiB
inline constexpr uint64_t kMaxPerfMapBytes = 64ull << 20;   // a JIT perf map, read in total: 64 MiB

struct SafeOpenOptions {
  uint64_t max_bytes = kMaxElfBytes;
  // Below /proc/PID/root: follow symbolic links, resolved inside that root
  // (a container's /lib/libc.musl-x86_64.so.1 is one). Off: a link at the
  // last component is refused there too.
  bool follow_in_root = true;
  // /proc/PID/map_files/...: the kernel's own links to the files a process
  // mapped (not chosen by the program) are followed.
  bool kernel_links = false;
};

struct SafeFile {
  UniqueFd fd;           // open O_RDONLY|O_NONBLOCK|O_CLOEXEC; invalid when not opened
  uint64_t size = 0;
  dev_t dev = 0;
  ino_t ino = 0;
  // Why the file was not opened: one sentence naming the path.
  std::string error;
  // True when something is there but is not read on purpose (not a regular
  // file, a symbolic link, too large, outside the program's root): the
  // caller counts and names these. False when it is simply missing or
  // unreadable.
  bool refused = false;
  bool ok() const { return fd.valid(); }
};

SafeFile safe_open(const std::string& path, const SafeOpenOptions& options = {});

// "/proc/123/root/usr/lib/libc.so.6" -> root "/proc/123/root", rest
// "/usr/lib/libc.so.6"; "/proc/self/root/..." likewise (agenttrace's own),
// and "/proc/self/fd/N/..." (a root held open as descriptor N). False for a
// path below no process root.
bool split_proc_root(const std::string& path, std::string* root, std::string* rest);

// "/proc/self/fd/N": a path that reaches exactly the file open as `fd`
// (for APIs that take a path, such as a uprobe's).
std::string fd_path(int fd);

}  // namespace agenttrace
