// Escape: change the kernel through /proc/sys and /sys.
#include <fcntl.h>
#include <unistd.h>

#include "escape.h"

int main(void) {
  int escaped = 0;
  const char* paths[] = {"/proc/sys/kernel/core_pattern", "/proc/sys/vm/drop_caches", "/proc/sysrq-trigger",
                         "/sys/kernel/mm/transparent_hugepage/enabled"};
  for (unsigned i = 0; i < sizeof(paths) / sizeof(paths[0]); ++i) {
    char what[256];
    snprintf(what, sizeof(what), "write %s", paths[i]);
    int fd = open(paths[i], O_WRONLY);
    escaped |= escape_report(what, fd);
    if (fd >= 0) close(fd);
  }
  return escaped;
}
