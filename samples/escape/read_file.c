// Escape: read a host secret (argv[1..]: a user's ~/.ssh key, /root's files).
#include <fcntl.h>
#include <unistd.h>

#include "escape.h"

int main(int argc, char** argv) {
  int escaped = 0;
  for (int i = 1; i < argc; ++i) {
    char what[512];
    snprintf(what, sizeof(what), "read %s", argv[i]);
    int fd = open(argv[i], O_RDONLY);
    escaped |= escape_report(what, fd);
    if (fd >= 0) close(fd);
  }
  return escaped;
}
