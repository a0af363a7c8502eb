// Escape: reach the network outside the sandbox (argv[1]: an IPv4 address,
// argv[2]: a port): only loopback exists in its network namespace.
#include <arpa/inet.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "escape.h"

int main(int argc, char** argv) {
  if (argc < 3) return 2;
  int s = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((unsigned short)atoi(argv[2]))};
  inet_pton(AF_INET, argv[1], &sa.sin_addr);
  char what[128];
  snprintf(what, sizeof(what), "connect %s:%s", argv[1], argv[2]);
  int escaped = escape_report(what, connect(s, (struct sockaddr*)&sa, sizeof(sa)));
  close(s);
  return escaped;
}
