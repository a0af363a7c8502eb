// post_json HOST PORT PATH BODY_BYTES [BODY_OUT_FILE]
//
// A plain-socket HTTP/1.1 client with a fully predictable syscall pattern,
// for tests of agenttrace's network capture:
//   connect(2) to a numeric loopback address (IPv4 or IPv6),
//   one write(2) holding all request headers,
//   the body in write(2) calls of at most 64 KiB each,
//   read(2) of the response until EOF ("Connection: close").
// The body is a JSON document of exactly BODY_BYTES bytes (>= 64):
//   {"model":"sample","messages":[{"role":"user","content":"abc...xyz abc..."}]}
// The content cycles through 26 letters; 26 does not divide 64 KiB, so a
// capture that drops, repeats or reorders a write shows up as a mismatch.
// With BODY_OUT_FILE the exact body bytes are also written there, for
// byte-for-byte comparison with what a server or the tracer recorded.
//
// Prints the response's status line; exits 0 on 2xx, 1 on another status,
// 2 on usage or network errors. All waits are bounded: 10 s per socket
// operation (including connect) and 30 s for the whole exchange.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define CHUNK (64 * 1024)
#define MIN_BODY 64
#define MAX_BODY (256L * 1024 * 1024)
#define IO_TIMEOUT_S 10
#define TOTAL_TIMEOUT_S 30

static const char kPrefix[] = "{\"model\":\"sample\",\"messages\":[{\"role\":\"user\",\"content\":\"";
static const char kSuffix[] = "\"}]}";

static void die(const char* what) {
  fprintf(stderr, "post_json: %s: %s\n", what, strerror(errno));
  exit(2);
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

// Writes all of buf with write(2) calls of at most max bytes each. A short
// write (possible on a socket) is continued by the next call, so no call
// ever exceeds max.
static void write_all(int fd, const char* buf, size_t len, size_t max, double deadline) {
  while (len > 0) {
    if (now() > deadline) {
      errno = ETIMEDOUT;
      die("write");
    }
    ssize_t n = write(fd, buf, len < max ? len : max);
    if (n < 0) {
      if (errno == EINTR) continue;
      die("write");  // includes EAGAIN: SO_SNDTIMEO expired
    }
    buf += n;
    len -= (size_t)n;
  }
}

int main(int argc, char** argv) {
  if (argc != 5 && argc != 6) {
    fprintf(stderr, "usage: post_json HOST PORT PATH BODY_BYTES [BODY_OUT_FILE]\n");
    return 2;
  }
  const char* host = argv[1];
  const char* path = argv[3];
  char *port_end, *len_end;
  long port = strtol(argv[2], &port_end, 10);
  long body_len = strtol(argv[4], &len_end, 10);
  if (*port_end != '\0' || port <= 0 || port > 65535 || *len_end != '\0' ||
      body_len < MIN_BODY || body_len > MAX_BODY || path[0] != '/') {
    fprintf(stderr, "post_json: need PORT 1..65535, PATH starting with '/', %d <= BODY_BYTES <= %ld\n",
            MIN_BODY, MAX_BODY);
    return 2;
  }

  // Numeric addresses only (no DNS), and only loopback: these samples must
  // never reach another machine.
  struct sockaddr_storage ss;
  memset(&ss, 0, sizeof(ss));
  socklen_t sslen = 0;
  int v6 = 0, loopback = 0;
  struct sockaddr_in* sin = (struct sockaddr_in*)&ss;
  struct sockaddr_in6* sin6 = (struct sockaddr_in6*)&ss;
  if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
    sin->sin_family = AF_INET;
    sin->sin_port = htons((uint16_t)port);
    sslen = sizeof(*sin);
    loopback = (ntohl(sin->sin_addr.s_addr) >> 24) == 127;
  } else if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons((uint16_t)port);
    sslen = sizeof(*sin6);
    v6 = 1;
    loopback = IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr);
  }
  if (!loopback) {
    fprintf(stderr, "post_json: HOST must be a numeric loopback address (127.0.0.0/8 or ::1)\n");
    return 2;
  }

  // The body: prefix, cycling letters, suffix; exactly body_len bytes.
  size_t len = (size_t)body_len;
  char* body = malloc(len);
  if (!body) die("malloc");
  size_t pre = sizeof(kPrefix) - 1, suf = sizeof(kSuffix) - 1;
  memcpy(body, kPrefix, pre);
  for (size_t i = pre; i < len - suf; i++) body[i] = (char)('a' + (i - pre) % 26);
  memcpy(body + len - suf, kSuffix, suf);

  if (argc == 6) {  // written first, so it exists even if the exchange fails
    FILE* f = fopen(argv[5], "wb");
    if (!f) die(argv[5]);
    if (fwrite(body, 1, len, f) != len || fclose(f) != 0) die(argv[5]);
  }

  char headers[1024];
  int hlen = snprintf(headers, sizeof(headers),
                      "POST %s HTTP/1.1\r\n"
                      "Host: %s%s%s:%ld\r\n"
                      "User-Agent: agenttrace-post_json/1\r\n"
                      "Accept: */*\r\n"
                      "Content-Type: application/json\r\n"
                      "Content-Length: %zu\r\n"
                      "Connection: close\r\n"
                      "\r\n",
                      path, v6 ? "[" : "", host, v6 ? "]" : "", port, len);
  if (hlen < 0 || (size_t)hlen >= sizeof(headers)) {
    fprintf(stderr, "post_json: PATH too long\n");
    return 2;
  }

  // A server that closes early must give us EPIPE, not kill us silently.
  signal(SIGPIPE, SIG_IGN);
  double deadline = now() + TOTAL_TIMEOUT_S;
  int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) die("socket");
  // On Linux SO_SNDTIMEO also bounds connect(2); SO_RCVTIMEO bounds each read.
  struct timeval tv = {.tv_sec = IO_TIMEOUT_S, .tv_usec = 0};
  if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) != 0 ||
      setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0)
    die("setsockopt");
  if (connect(fd, (struct sockaddr*)&ss, sslen) != 0) die("connect");

  write_all(fd, headers, (size_t)hlen, (size_t)hlen, deadline);  // one write(2)
  write_all(fd, body, len, CHUNK, deadline);
  free(body);

  // Read to EOF; keep only the start of the response for the status line.
  char head[4096];
  size_t have = 0;
  char buf[CHUNK];
  for (;;) {
    if (now() > deadline) {
      errno = ETIMEDOUT;
      die("read");
    }
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) continue;
      die("read");
    }
    if (n == 0) break;
    size_t take = (size_t)n < sizeof(head) - 1 - have ? (size_t)n : sizeof(head) - 1 - have;
    memcpy(head + have, buf, take);
    have += take;
  }
  close(fd);
  head[have] = '\0';

  char* eol = strstr(head, "\r\n");
  if (strncmp(head, "HTTP/", 5) != 0 || !eol) {
    fprintf(stderr, "post_json: no HTTP status line in the response\n");
    return 2;
  }
  *eol = '\0';
  printf("%s\n", head);
  // "HTTP/1.1 200 OK": the status code follows the first space.
  const char* sp = strchr(head, ' ');
  return (sp && sp[1] == '2') ? 0 : 1;
}
