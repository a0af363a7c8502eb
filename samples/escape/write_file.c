// Escape: write a file outside the workspace (argv[1]: host /tmp, /root,
// a user's HOME, /etc, /usr): the sandbox shows the host read-only, its own
// tmpfs where writing is allowed, and the host's homes not at all.
#include <fcntl.h>
#include <unistd.h>

#include "escape.h"

int main(int argc, char** argv) {
  int escaped = 0;
  for (int i = 1; i < argc; ++i) {
    int fd = open(argv[i], O_WRONLY | O_CREAT | O_APPEND, 0644);
    char what[512];
    snprintf(what, sizeof(what), "write %s", argv[i]);
    escaped |= escape_report(what, fd);
    if (fd >= 0) {
      if (write(fd, "escaped\n", 8) != 8) perror("write");
      close(fd);
    }
  }
  return escaped;
}
