// Call-site attribution target: each fact is asked for by a function of
// its own, so a report can say which code read HTTPS_PROXY, TZ and the
// machine id. Built with frame pointers, as most binaries that want
// profiling are; the innermost caller is named even without them.
//   who_asked [SECONDS]   (sleeps before exiting, for attach)
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

__attribute__((noinline)) const char *read_proxy_setting(void) { return getenv("HTTPS_PROXY"); }

__attribute__((noinline)) const char *read_time_zone(void) { return getenv("TZ"); }

__attribute__((noinline)) int read_machine_id(char *buf, size_t size) {
  int fd = open("/etc/machine-id", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t n = read(fd, buf, size - 1);
  close(fd);
  buf[n > 0 ? n : 0] = '\0';
  return 0;
}

__attribute__((noinline)) void collect_host_facts(void) {
  char id[64];
  const char *proxy = read_proxy_setting();
  const char *tz = read_time_zone();
  read_machine_id(id, sizeof(id));
  printf("proxy=%s tz=%s machine-id=%.8s\n", proxy ? proxy : "-", tz ? tz : "-", id);
}

int main(int argc, char **argv) {
  collect_host_facts();
  fflush(stdout);
  if (argc > 1) sleep((unsigned)atoi(argv[1]));
  return 0;
}
