// Evasion sample: reads its whole environment from /proc/self/environ and
// from /proc/<pid>/environ instead of looking variables up one by one.
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

static long slurp(const char* path) {
  char buf[4096];
  long total = 0, n;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  while ((n = read(fd, buf, sizeof(buf))) > 0) total += n;
  close(fd);
  return total;
}

int main(void) {
  char path[64];
  snprintf(path, sizeof(path), "/proc/%d/environ", (int)getpid());
  long a = slurp("/proc/self/environ"), b = slurp(path);
  printf("environment: %s\n", a >= 0 && a == b ? "read twice" : "unreadable");
  return a >= 0 ? 0 : 1;
}
