// Sample: four threads, each renamed, each looking up its own variable, the
// way runtimes read configuration on worker threads. The BPF test expects one
// getenv per thread with that thread's tid and name.
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define THREADS 4

static pthread_barrier_t ready;

static void* worker(void* arg) {
  long i = (long)arg;
  char name[16], var[32];
  snprintf(name, sizeof(name), "worker-%ld", i);
  snprintf(var, sizeof(var), "AGENTTRACE_THREAD_%ld", i);
  pthread_setname_np(pthread_self(), name);
  pthread_barrier_wait(&ready);
  const char* v = getenv(var);
  printf("%s %s=%s tid=%d\n", name, var, v ? v : "(unset)", gettid());
  return NULL;
}

int main(void) {
  pthread_t t[THREADS];
  pthread_barrier_init(&ready, NULL, THREADS);
  for (long i = 0; i < THREADS; ++i) pthread_create(&t[i], NULL, worker, (void*)i);
  for (int i = 0; i < THREADS; ++i) pthread_join(t[i], NULL);
  return 0;
}
