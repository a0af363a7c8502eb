// Evasion sample: vfork(2) then exec, the way posix_spawn and some shells
// start programs; the parent is suspended until the child execs, and the
// child shares its memory until then.
#define _GNU_SOURCE
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void) {
  fflush(stdout);
  pid_t pid = vfork();
  if (pid == 0) {
    char* const argv[] = {"cat", "/etc/hostname", NULL};
    execv("/bin/cat", argv);
    _exit(127);
  }
  int status = 0;
  if (pid < 0 || waitpid(pid, &status, 0) != pid) return 2;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 3;
}
