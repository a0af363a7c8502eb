// Evasion sample: reads the time zone file without naming it:
//   1. through a chain of two symbolic links made in a fresh directory
//      (DIR/first -> DIR/second -> /etc/localtime), and
//   2. through a directory fd: openat(open("/etc"), "localtime").
// Prints DIR so a test can match the paths.
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static int read_and_close(int fd) {
  char buf[512];
  if (fd < 0) return -1;
  ssize_t n = read(fd, buf, sizeof(buf));
  close(fd);
  return n > 0 ? 0 : -1;
}

int main(void) {
  char dir[] = "/tmp/agenttrace-evasion-XXXXXX";
  if (!mkdtemp(dir)) return 2;
  char first[64], second[64];
  snprintf(first, sizeof(first), "%s/first", dir);
  snprintf(second, sizeof(second), "%s/second", dir);
  if (symlink("/etc/localtime", second) != 0 || symlink(second, first) != 0) return 2;
  int chain = read_and_close(open(first, O_RDONLY | O_CLOEXEC));
  int etc = open("/etc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  int via_dirfd = read_and_close(openat(etc, "localtime", O_RDONLY | O_CLOEXEC));
  close(etc);
  unlink(first);
  unlink(second);
  rmdir(dir);
  printf("dir %s chain %s dirfd %s\n", dir, chain == 0 ? "ok" : "failed", via_dirfd == 0 ? "ok" : "failed");
  return chain == 0 && via_dirfd == 0 ? 0 : 1;
}
