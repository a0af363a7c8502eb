// The syscall storm of the overhead benchmark: a loop of open/read/close of
// a small file, optionally a getenv, and a connect of a UDP socket to
// loopback (no packet is sent), as an agent's startup does them, over and
// over. Prints the iterations per second it reached.
//   storm ITERATIONS [getenv|nogetenv]
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
  long n = argc > 1 ? atol(argv[1]) : 100000;
  int with_getenv = argc > 2 && strcmp(argv[2], "getenv") == 0;
  struct sockaddr_in to = {0};
  to.sin_family = AF_INET;
  to.sin_port = htons(9);
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  char buf[256];
  volatile size_t sink = 0;
  struct timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  for (long i = 0; i < n; i++) {
    int fd = open("/etc/hostname", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
      sink += (size_t)read(fd, buf, sizeof(buf));
      close(fd);
    }
    if (with_getenv) {
      const char *v = getenv("HOME");
      sink += v ? strlen(v) : 0;
    }
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s >= 0) {
      sink += (size_t)connect(s, (struct sockaddr *)&to, sizeof(to));
      close(s);
    }
  }
  clock_gettime(CLOCK_MONOTONIC, &b);
  double secs = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
  printf("%ld iterations in %.3f s: %.0f per second\n", n, secs, (double)n / secs);
  return sink == (size_t)-1;
}
