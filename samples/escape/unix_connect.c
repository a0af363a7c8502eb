// Escape: connect to a host unix socket by path (argv[1], e.g. under /run,
// like /run/dbus or docker.sock) and by abstract name (argv[2]).
#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "escape.h"

static int try_connect(const char* what, const char* path, int abstract) {
  int s = socket(AF_UNIX, SOCK_STREAM, 0);
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  strncpy(sa.sun_path + abstract, path, sizeof(sa.sun_path) - 1 - abstract);
  socklen_t len = offsetof(struct sockaddr_un, sun_path) + abstract + strlen(path) + !abstract;
  int escaped = escape_report(what, connect(s, (struct sockaddr*)&sa, len));
  close(s);
  return escaped;
}

int main(int argc, char** argv) {
  if (argc < 3) return 2;
  int escaped = try_connect("connect unix path", argv[1], 0);
  escaped |= try_connect("connect unix abstract", argv[2], 1);
  return escaped;
}
