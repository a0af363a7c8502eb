// Evasion sample: sets a variable with setenv(3) and execs a program that
// reads it, so the value reaches the reader through exec, not through any
// file or call of the first program.
//   setenv_exec            sets AGENTTRACE_HANDOFF and execs itself with --child
//   setenv_exec --child    looks AGENTTRACE_HANDOFF up
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char** argv) {
  if (argc > 1 && strcmp(argv[1], "--child") == 0) {
    const char* v = getenv("AGENTTRACE_HANDOFF");
    printf("child sees AGENTTRACE_HANDOFF=%s\n", v ? v : "(unset)");
    return v ? 0 : 1;
  }
  if (setenv("AGENTTRACE_HANDOFF", "Asia/Shanghai", 1) != 0) return 2;
  execl("/proc/self/exe", "setenv_exec", "--child", (char*)NULL);
  return 127;
}
