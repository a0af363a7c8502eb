// Escape: raise capabilities through a new user namespace (unshare and
// clone with CLONE_NEWUSER), where the caller would be root.

#include <sched.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "escape.h"

int main(void) {
  int escaped = escape_report("unshare(CLONE_NEWUSER)", unshare(CLONE_NEWUSER));
  long pid = syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, NULL, NULL, NULL, 0);
  if (pid == 0) _exit(0);
  escaped |= escape_report("clone(CLONE_NEWUSER)", pid);
  return escaped;
}
