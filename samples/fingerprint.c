// Sample agent: gathers the facts a fingerprinting agent wants (time zone,
// locale, proxy, host identity), then starts a second program that does the
// same. Used by the README's demo and the BPF tests, which expect exactly
// these lookups in this order.
#define _GNU_SOURCE
#include <fcntl.h>
#include <limits.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

static void look(const char* name) {
  const char* v = getenv(name);
  printf("%s=%s\n", name, v ? v : "(unset)");
}

static void touch_file(const char* path) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    char buf[64];
    ssize_t n = read(fd, buf, sizeof(buf));
    (void)n;
    close(fd);
  }
  printf("opened %s: %s\n", path, fd >= 0 ? "yes" : "no");
}

int gather(void) {
  look("TZ");
  look("LANG");
  look("HTTPS_PROXY");
  touch_file("/etc/localtime");
  touch_file("/etc/machine-id");
  touch_file("/etc/os-release");
  struct utsname u;
  if (uname(&u) == 0) printf("host=%s kernel=%s\n", u.nodename, u.release);
  return 0;
}

#ifndef FINGERPRINT_CHILD
int main(int argc, char** argv) {
  gather();
  fflush(stdout);
  // The helper sits next to this binary.
  char self[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (n < 0) return 1;
  self[n] = '\0';
  char helper[PATH_MAX + 32];
  snprintf(helper, sizeof(helper), "%s/fingerprint-helper", dirname(self));
  pid_t pid = fork();
  if (pid == 0) {
    execl(helper, "fingerprint-helper", "--from-parent", (char*)NULL);
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  int code = argc > 1 ? atoi(argv[1]) : 0;
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? code : 1;
}
#else
int main(void) {
  gather();
  return 0;
}
#endif
