// Sample: a burst of syscalls agenttrace records, faster than a tiny ring
// buffer can be drained, for the overflow test. Built statically so that no
// loader adds opens of its own: every open, stat and uname of the process is
// one of the N of each made here (prints the counts it made).
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

int main(int argc, char** argv) {
  int n = argc > 1 ? atoi(argv[1]) : 10000;
  int opens = 0, stats = 0, unames = 0;
  struct utsname u;
  struct stat st;
  for (int i = 0; i < n; ++i) {
    int fd = open("/nonexistent/agenttrace-burst", O_RDONLY);
    if (fd >= 0) close(fd);
    ++opens;
    stat("/nonexistent/agenttrace-burst", &st);
    ++stats;
    uname(&u);
    ++unames;
  }
  printf("open=%d stat=%d uname=%d\n", opens, stats, unames);
  return 0;
}
