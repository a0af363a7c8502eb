// Escape: gain root through a setuid binary (argv[1]), then try setuid(0).
#include <sys/wait.h>
#include <unistd.h>

#include "escape.h"

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  pid_t pid = fork();
  if (pid == 0) {
    execv(argv[1], argv + 1);
    _exit(127);
  }
  int st;
  waitpid(pid, &st, 0);
  return escape_report("setuid(0)", setuid(0));
}
