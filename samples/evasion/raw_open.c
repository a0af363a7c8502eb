// Sample: opens files without the C library's open wrappers: raw
// syscall(SYS_openat), raw open(2), a relative path after chdir, and openat
// with a directory fd. Every one must appear with its absolute path.
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

static void report(const char* how, long fd) {
  printf("%s -> %ld\n", how, fd);
  if (fd >= 0) close((int)fd);
}

int main(void) {
  report("SYS_openat /etc/hostname", syscall(SYS_openat, AT_FDCWD, "/etc/hostname", O_RDONLY));
  report("SYS_open /etc/passwd", syscall(SYS_open, "/etc/passwd", O_RDONLY));
  if (chdir("/usr/share") != 0) return 1;
  report("SYS_open zoneinfo/UTC (cwd /usr/share)", syscall(SYS_open, "zoneinfo/UTC", O_RDONLY));
  long dir = syscall(SYS_openat, AT_FDCWD, "/etc", O_RDONLY | O_DIRECTORY);
  report("SYS_openat ../etc/os-release relative to /etc",
         syscall(SYS_openat, (int)dir, "../etc/./os-release", O_RDONLY));
  report("SYS_open /nonexistent/agenttrace", syscall(SYS_open, "/nonexistent/agenttrace", O_RDONLY));
  return 0;
}
