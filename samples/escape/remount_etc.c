// Escape: remount the read-only /etc (and the root) writable, then write
// /etc/passwd. mount(2) is refused by the system-call filter.
#include <fcntl.h>
#include <sys/mount.h>
#include <unistd.h>

#include "escape.h"

int main(void) {
  // The targets live on the stack: a call the filter refuses never makes the
  // kernel fault in the page a string literal is on, and the tracer can only
  // read resident memory (it then records the path as unreadable).
  char etc[] = "/etc", root[] = "/";
  int escaped = escape_report("remount /etc", mount(NULL, etc, NULL, MS_REMOUNT | MS_BIND, NULL));
  escaped |= escape_report("remount /", mount(NULL, root, NULL, MS_REMOUNT, NULL));
  int fd = open("/etc/passwd", O_WRONLY | O_APPEND);
  escaped |= escape_report("write /etc/passwd", fd);
  return escaped;
}
