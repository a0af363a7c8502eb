// Sample: thousands of threads that die inside getenv, then lookups that
// must still be recorded (tests/bpf/reliability_test.cpp).
//
//   ustash_storm PROCESSES THREADS LOOKUPS
//
// Each of PROCESSES children starts THREADS threads that call getenv over an
// environment whose first entry points at an unreadable page: each thread
// faults inside getenv, and its SIGSEGV handler, still inside the call,
// counts itself and waits. When every thread is inside, the child _exit()s,
// so every one of them dies inside getenv and getenv's return probe never
// runs for it. The parent then looks up AGENTTRACE_AFTER_STORM LOOKUPS times.
// Prints "processes=P threads=T inside=N lookups=L"; N is exact: a thread
// counts itself only from within getenv.
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char** environ;

static atomic_int* inside;  // shared with the parent

static void on_fault(int sig) {
  (void)sig;
  atomic_fetch_add(inside, 1);
  for (;;) pause();
}

static void* worker(void* arg) {
  (void)arg;
  getenv("AGENTTRACE_STORM");  // faults on the environment's first entry
  return NULL;
}

static void child(int threads, char** bad_env) {
  struct sigaction sa = {0};
  sa.sa_handler = on_fault;
  sigaction(SIGSEGV, &sa, NULL);
  int before = atomic_load(inside);
  environ = bad_env;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 64 * 1024);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  for (int i = 0; i < threads; ++i) {
    pthread_t t;
    if (pthread_create(&t, &attr, worker, NULL) != 0) _exit(2);
  }
  // Every thread inside getenv (at most 60 s), then all die at once.
  struct timespec tick = {0, 1000000};
  for (int waited = 0; atomic_load(inside) - before < threads && waited < 60000; ++waited) nanosleep(&tick, NULL);
  _exit(atomic_load(inside) - before == threads ? 0 : 3);
}

int main(int argc, char** argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: ustash_storm PROCESSES THREADS LOOKUPS\n");
    return 2;
  }
  int processes = atoi(argv[1]), threads = atoi(argv[2]), lookups = atoi(argv[3]);
  inside = mmap(NULL, sizeof(*inside), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  char* unreadable = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (inside == MAP_FAILED || unreadable == MAP_FAILED) return 2;
  char* bad_env[] = {unreadable, NULL};
  int failed = 0;
  for (int p = 0; p < processes; ++p) {
    pid_t pid = fork();
    if (pid < 0) return 2;
    if (pid == 0) child(threads, bad_env);
    int status = 0;
    waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) ++failed;
  }
  int found = 0;
  for (int i = 0; i < lookups; ++i) found += getenv("AGENTTRACE_AFTER_STORM") != NULL;
  printf("processes=%d threads=%d inside=%d lookups=%d\n", processes, threads, atomic_load(inside), lookups);
  return failed ? 1 : 0;
}
