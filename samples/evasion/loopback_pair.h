// A TCP connection to itself over loopback for the evasion samples that send:
// a listener on 127.0.0.1 (a free port), a client connected to it and the
// accepted server end. Nothing leaves the machine.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct loopback_pair {
  int client;  // what the sample sends on
  int server;  // where the bytes arrive
};

static inline int loopback_pair_open(struct loopback_pair* p) {
  struct sockaddr_in addr;
  socklen_t len = sizeof(addr);
  int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listener < 0) return -1;
  memset(&addr, 0, sizeof(addr));
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(listener, (struct sockaddr*)&addr, sizeof(addr)) != 0 || listen(listener, 1) != 0 ||
      getsockname(listener, (struct sockaddr*)&addr, &len) != 0)
    return -1;
  p->client = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (p->client < 0 || connect(p->client, (struct sockaddr*)&addr, sizeof(addr)) != 0) return -1;
  p->server = accept(listener, NULL, NULL);
  close(listener);
  return p->server < 0 ? -1 : 0;
}

// Reads exactly n bytes from the server end; returns 0 when they all came.
static inline int loopback_pair_receive(struct loopback_pair* p, size_t n) {
  char buf[4096];
  while (n > 0) {
    ssize_t got = read(p->server, buf, n < sizeof(buf) ? n : sizeof(buf));
    if (got <= 0) return -1;
    n -= (size_t)got;
  }
  return 0;
}
