// Escape: remount the read-only /etc (and the root) writable, then write
// /etc/passwd. mount(2) is refused by the system-call filter.
#include <fcntl.h>
#include <sys/mount.h>
#include <unistd.h>

#include "escape.h"

int main(void) {
  int escaped = escape_report("remount /etc", mount(NULL, "/etc", NULL, MS_REMOUNT | MS_BIND, NULL));
  escaped |= escape_report("remount /", mount(NULL, "/", NULL, MS_REMOUNT, NULL));
  int fd = open("/etc/passwd", O_WRONLY | O_APPEND);
  escaped |= escape_report("write /etc/passwd", fd);
  return escaped;
}
