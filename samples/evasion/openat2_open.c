// Evasion sample: opens a file with openat2(2), which has no C library
// wrapper in glibc 2.36 and takes its flags in a struct instead of registers.
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(void) {
  struct open_how how;
  memset(&how, 0, sizeof(how));
  how.flags = O_RDONLY | O_CLOEXEC;
  how.resolve = RESOLVE_NO_MAGICLINKS;
  long fd = syscall(SYS_openat2, AT_FDCWD, "/etc/machine-id", &how, sizeof(how));
  printf("openat2 /etc/machine-id -> %s\n", fd >= 0 ? "ok" : "failed");
  if (fd >= 0) close((int)fd);
  return fd >= 0 ? 0 : 1;
}
