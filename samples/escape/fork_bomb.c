// Escape: a fork bomb. Children sleep until the parent is done; it forks
// until the process limit refuses, and says after how many.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "escape.h"

int main(void) {
  setpgid(0, 0);  // its own group, which the clean-up signals
  int n = 0;
  for (; n < 100000; ++n) {
    pid_t pid = fork();
    if (pid == 0) {
      pause();
      _exit(0);
    }
    if (pid < 0) break;
  }
  int err = errno;
  signal(SIGTERM, SIG_IGN);
  kill(0, SIGTERM);
  while (wait(NULL) > 0) {
  }
  printf("forked %d\n", n);
  errno = err;
  return escape_report("fork", n == 100000 ? 0 : -1);
}
