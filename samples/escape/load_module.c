// Escape: load a kernel module (finit_module of any file; init_module of an
// empty image): refused before the kernel looks at it.
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "escape.h"

int main(void) {
  int fd = open("/dev/null", O_RDONLY);
  int escaped = escape_report("finit_module", syscall(SYS_finit_module, fd, "", 0));
  escaped |= escape_report("init_module", syscall(SYS_init_module, "", 0UL, ""));
  char name[] = "ext4";  // on the stack: resident, so the tracer reads it (see remount_etc.c)
  escaped |= escape_report("delete_module", syscall(SYS_delete_module, name, 0));
  return escaped;
}
