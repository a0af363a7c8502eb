// Escape: stop the recording: kill or ptrace agenttrace (argv[1]: its host
// PID), and signal the sandbox's init.
#include <signal.h>
#include <stdlib.h>
#include <sys/ptrace.h>

#include "escape.h"

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  pid_t pid = (pid_t)atoi(argv[1]);
  int escaped = escape_report("kill agenttrace", kill(pid, SIGKILL));
  escaped |= escape_report("ptrace agenttrace", ptrace(PTRACE_ATTACH, pid, NULL, NULL));
  escaped |= escape_report("ptrace init", ptrace(PTRACE_ATTACH, 1, NULL, NULL));
  return escaped;
}
