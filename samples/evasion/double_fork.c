// Evasion sample: a double-fork daemon. The child forks a grandchild and
// exits at once; the grandchild starts its own session, so it is re-parented
// away from the command's tree. It reads /etc/hostname straight away (the
// command waits for that), then waits until the command has exited and reads
// /etc/machine-id: a tracer that stops with the command never sees the second
// read, and must say so. The grandchild ends on its own a second later.
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void read_file(const char* path) {
  char buf[256];
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  while (read(fd, buf, sizeof(buf)) > 0) {
  }
  close(fd);
}

int main(void) {
  int gone[2];   // the command holds the write end: EOF means it has exited
  int ready[2];  // the daemon writes a byte after its first read
  if (pipe(gone) != 0 || pipe(ready) != 0) return 2;
  fflush(stdout);
  pid_t child = fork();
  if (child < 0) return 2;
  if (child == 0) {
    if (fork() != 0) _exit(0);  // the middle process leaves at once
    setsid();
    close(gone[1]);
    close(ready[0]);
    int null = open("/dev/null", O_RDWR);
    dup2(null, 0);
    dup2(null, 1);
    dup2(null, 2);
    read_file("/etc/hostname");
    char c = 1;
    if (write(ready[1], &c, 1) != 1) _exit(1);
    close(ready[1]);
    while (read(gone[0], &c, 1) > 0) {
    }
    // The command is gone; give its tracer time to finish too.
    struct timespec pause = {1, 0};
    nanosleep(&pause, NULL);
    read_file("/etc/machine-id");
    _exit(0);
  }
  close(gone[0]);
  close(ready[1]);
  waitpid(child, NULL, 0);
  char c;
  int first_read = read(ready[0], &c, 1) == 1;
  printf("daemon started, first read %s\n", first_read ? "done" : "missing");
  return first_read ? 0 : 1;
}
