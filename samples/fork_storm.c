// Sample: a storm of short-lived processes and threads, for the reliability
// test. Makes, in this order:
//   N processes that exit at once with status i % 7 (fork),
//   N processes that exec /bin/true (fork + exec),
//   N/2 processes that exec /bin/true from vfork,
//   N/10 chains of a child whose own child execs /bin/true,
//   N threads (pthread_create), 8 at a time.
// Prints what it made and the sum of the exit statuses it reaped, the same on
// every run, and exits 5, so a test can check that tracing changes neither.
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static int reap(pid_t pid) {
  int status = 0;
  if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) return -1000;
  return WEXITSTATUS(status);
}

static void* thread_main(void* arg) { return arg; }

int main(int argc, char** argv) {
  int n = argc > 1 ? atoi(argv[1]) : 100;
  int processes = 0, execs = 0, threads = 0, status_sum = 0;
  char* const true_argv[] = {"true", NULL};
  fflush(stdout);

  for (int i = 0; i < n; ++i, ++processes) {
    pid_t pid = fork();
    if (pid == 0) _exit(i % 7);
    status_sum += reap(pid);
  }
  for (int i = 0; i < n; ++i, ++processes, ++execs) {
    pid_t pid = fork();
    if (pid == 0) {
      execv("/bin/true", true_argv);
      _exit(127);
    }
    status_sum += reap(pid);
  }
  for (int i = 0; i < n / 2; ++i, ++processes, ++execs) {
    pid_t pid = vfork();
    if (pid == 0) {
      execv("/bin/true", true_argv);
      _exit(127);
    }
    status_sum += reap(pid);
  }
  for (int i = 0; i < n / 10; ++i, processes += 2, ++execs) {
    pid_t pid = fork();
    if (pid == 0) {
      pid_t inner = fork();
      if (inner == 0) {
        execv("/bin/true", true_argv);
        _exit(127);
      }
      _exit(reap(inner) == 0 ? 3 : 4);
    }
    status_sum += reap(pid);
  }
  for (int i = 0; i < n; i += 8) {
    pthread_t t[8];
    int made = 0;
    for (int j = 0; j < 8 && i + j < n; ++j)
      if (pthread_create(&t[made], NULL, thread_main, NULL) == 0) ++made;
    for (int j = 0; j < made; ++j) pthread_join(t[j], NULL);
    threads += made;
  }
  printf("processes=%d execs=%d threads=%d status_sum=%d\n", processes, execs, threads, status_sum);
  return 5;
}
