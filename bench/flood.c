// Event flood for the collector's throughput: THREADS threads call stat()
// on a path that does not exist (one small "stat" event each, no file
// system work) as fast as they can for SECONDS, or at a fixed total RATE
// (calls per second) when given. Prints the calls it made, which is what a
// lossless trace must hold.
//   flood SECONDS THREADS [RATE]
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double seconds;
static long rate_per_thread;
static long counts[64];

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void *worker(void *arg) {
  long idx = (long)arg;
  struct stat st;
  double start = now(), end = start + seconds;
  long n = 0;
  for (;;) {
    // Check the clock every 256 calls: a syscall per check would double the load.
    for (int i = 0; i < 256; i++, n++) stat("/nonexistent/agenttrace-flood", &st);
    double t = now();
    if (t >= end) break;
    if (rate_per_thread > 0) {
      double due = start + (double)n / (double)rate_per_thread;
      if (due > t) {
        struct timespec d = {(time_t)(due - t), (long)((due - t - (double)(time_t)(due - t)) * 1e9)};
        nanosleep(&d, NULL);
      }
    }
  }
  counts[idx] = n;
  return NULL;
}

int main(int argc, char **argv) {
  seconds = argc > 1 ? atof(argv[1]) : 5;
  int threads = argc > 2 ? atoi(argv[2]) : 1;
  long rate = argc > 3 ? atol(argv[3]) : 0;
  if (threads < 1 || threads > 64) return 2;
  rate_per_thread = rate / threads;
  pthread_t t[64];
  double a = now();
  for (long i = 0; i < threads; i++) pthread_create(&t[i], NULL, worker, (void *)i);
  long total = 0;
  for (int i = 0; i < threads; i++) {
    pthread_join(t[i], NULL);
    total += counts[i];
  }
  double secs = now() - a;
  printf("%ld calls in %.3f s: %.0f per second\n", total, secs, (double)total / secs);
  return 0;
}
