// Evasion sample: tasks made with clone(2) and clone3(2) directly, not
// through pthread_create or fork: a thread (CLONE_THREAD) that opens
// /etc/hostname, and a process made by a raw clone3 call that opens
// /etc/machine-id. Prints the ids so a test can match them.
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static char stack[64 * 1024] __attribute__((aligned(16)));
static volatile pid_t thread_done;

static int thread_main(void* arg) {
  (void)arg;
  long fd = syscall(SYS_openat, AT_FDCWD, "/etc/hostname", O_RDONLY);
  if (fd >= 0) syscall(SYS_close, fd);
  thread_done = 1;
  return 0;
}

int main(void) {
  // The kernel clears child_tid and wakes a futex when the thread exits.
  static pid_t child_tid = 1;
  int flags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM |
              CLONE_PARENT_SETTID | CLONE_CHILD_CLEARTID;
  pid_t tid = clone(thread_main, stack + sizeof(stack), flags, NULL, &child_tid, NULL, &child_tid);
  if (tid < 0) return 2;
  while (child_tid != 0) syscall(SYS_futex, &child_tid, 0 /* FUTEX_WAIT */, tid, NULL, NULL, 0);
  printf("clone thread %d opened /etc/hostname: %s\n", tid, thread_done ? "yes" : "no");

  struct clone_args args;
  memset(&args, 0, sizeof(args));
  args.exit_signal = SIGCHLD;
  fflush(stdout);
  long pid = syscall(SYS_clone3, &args, sizeof(args));
  if (pid == 0) {
    long fd = syscall(SYS_openat, AT_FDCWD, "/etc/machine-id", O_RDONLY);
    syscall(SYS_exit_group, fd >= 0 ? 0 : 1);
  }
  if (pid < 0) return 2;
  int status = 0;
  waitpid((pid_t)pid, &status, 0);
  printf("clone3 process %ld exited %d\n", pid, WEXITSTATUS(status));
  return 0;
}
