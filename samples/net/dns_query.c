// dns_query SERVER PORT NAME [connected|unconnected|readv|recvmmsg]
//
// Resolves NAME's A record by hand, the way programs that bypass the C
// library's resolver do, so agenttrace tests see DNS over every UDP path:
//   unconnected (default): sendto(2) with the server address, recvfrom(2);
//   connected:             connect(2) once, then send(2) and recv(2);
//   readv:                 connect(2) once, then send(2) and readv(2) into
//                          two buffers (the header, the rest);
//   recvmmsg:              sendto(2), then recvmmsg(2) of up to two
//                          datagrams.
// The query is built by hand (RFC 1035): fixed id 0x4154 ("AT"), RD set, one
// question NAME/A/IN, so the bytes on the wire are the same on every run.
//
// Waits at most 3 s in total for the reply. Replies that do not match (other
// sender on the unconnected socket, other id, not a response) are ignored
// until the deadline. Prints the first A answer for NAME (following CNAMEs
// in the answer section) as a dotted quad and exits 0; exits 1 when the reply
// has no such answer or an error rcode, 2 on usage errors, network errors
// or timeout. SERVER must be a numeric loopback address.
//
// Names in the reply are decoded, not just skipped, including compression
// pointers. Pointer following is bounded: a pointer must point backwards
// (to an earlier offset, as RFC 1035 says: "a prior occurrence"), and at most
// MAX_HOPS pointers are followed per name, so hostile loops cannot hang us.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define QUERY_ID 0x4154
#define TYPE_A 1
#define TYPE_CNAME 5
#define CLASS_IN 1
#define WAIT_MS 3000
#define MAX_HOPS 16
#define MAX_NAME 256  // 253 characters of dotted text plus slack and NUL

static int fail(const char* what) {
  fprintf(stderr, "dns_query: %s: %s\n", what, strerror(errno));
  return 2;
}

static uint16_t get16(const unsigned char* p) { return (uint16_t)(p[0] << 8 | p[1]); }

static long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

// Appends NAME ("example.com" or "example.com.") in wire format; returns the
// new length or -1 if the name is invalid (empty label, label > 63 bytes,
// encoded name > 255 bytes).
static int put_name(unsigned char* out, int len, const char* name) {
  int start = len;
  const char* p = name;
  if (strcmp(name, ".") == 0) p = "";  // the root
  while (*p) {
    const char* dot = strchr(p, '.');
    size_t n = dot ? (size_t)(dot - p) : strlen(p);
    if (n == 0 || n > 63 || len - start + 1 + (int)n + 1 > 255) return -1;
    out[len++] = (unsigned char)n;
    memcpy(out + len, p, n);
    len += (int)n;
    p += n;
    if (*p == '.') p++;
  }
  out[len++] = 0;
  return len;
}

// Decodes the (possibly compressed) name at msg[off] into text, e.g.
// "www.example.com" ("" for the root). Sets *next to the offset just past the
// name where it starts, i.e. after its first pointer if it has one. Returns 0
// on success, -1 on a malformed name.
static int get_name(const unsigned char* msg, int len, int off, char* out, int* next) {
  int pos = off, hops = 0, olen = 0;
  *next = -1;
  for (;;) {
    if (pos >= len) return -1;
    unsigned c = msg[pos];
    if ((c & 0xC0) == 0xC0) {  // pointer: 14-bit offset into the message
      if (pos + 1 >= len) return -1;
      int target = (int)((c & 0x3F) << 8 | msg[pos + 1]);
      if (*next < 0) *next = pos + 2;
      if (target >= pos || ++hops > MAX_HOPS) return -1;  // only backwards, bounded
      pos = target;
    } else if (c & 0xC0) {
      return -1;  // 0x40/0x80: reserved label types
    } else if (c == 0) {
      if (*next < 0) *next = pos + 1;
      out[olen] = '\0';
      return 0;
    } else {
      if (pos + 1 + (int)c > len || olen + (int)c + 2 > MAX_NAME) return -1;
      if (olen > 0) out[olen++] = '.';
      memcpy(out + olen, msg + pos + 1, c);
      olen += (int)c;
      pos += 1 + (int)c;
    }
  }
}

// Finds the first A answer for qname in the reply; returns 0 and fills addr,
// 1 if there is none, -1 if the reply is malformed.
static int first_a(const unsigned char* msg, int len, const char* qname, unsigned char addr[4]) {
  char want[MAX_NAME], owner[MAX_NAME];
  snprintf(want, sizeof(want), "%s", qname);
  size_t wl = strlen(want);
  if (wl > 0 && want[wl - 1] == '.') want[wl - 1] = '\0';  // decoded names have no final dot

  int qd = get16(msg + 4), an = get16(msg + 6), off = 12;
  for (int i = 0; i < qd; i++) {  // skip the echoed question(s)
    if (get_name(msg, len, off, owner, &off) != 0 || off + 4 > len) return -1;
    off += 4;
  }
  for (int i = 0; i < an; i++) {
    if (get_name(msg, len, off, owner, &off) != 0 || off + 10 > len) return -1;
    int type = get16(msg + off), klass = get16(msg + off + 2), rdlen = get16(msg + off + 8);
    int rdata = off + 10;
    if (rdata + rdlen > len) return -1;
    off = rdata + rdlen;
    if (klass != CLASS_IN || strcasecmp(owner, want) != 0) continue;
    if (type == TYPE_CNAME) {  // the alias's target is the name to look for now
      int end;
      if (get_name(msg, len, rdata, want, &end) != 0 || end > off) return -1;
    } else if (type == TYPE_A && rdlen == 4) {
      memcpy(addr, msg + rdata, 4);
      return 0;
    }
  }
  return 1;
}

int main(int argc, char** argv) {
  const char* mode = argc == 5 ? argv[4] : "unconnected";
  if (argc < 4 || argc > 5 ||
      (strcmp(mode, "connected") != 0 && strcmp(mode, "unconnected") != 0 && strcmp(mode, "readv") != 0 &&
       strcmp(mode, "recvmmsg") != 0)) {
    fprintf(stderr, "usage: dns_query SERVER PORT NAME [connected|unconnected|readv|recvmmsg]\n");
    return 2;
  }
  int use_readv = strcmp(mode, "readv") == 0, use_recvmmsg = strcmp(mode, "recvmmsg") == 0;
  int connected = strcmp(mode, "connected") == 0 || use_readv;
  char* end;
  long port = strtol(argv[2], &end, 10);
  if (*end != '\0' || port <= 0 || port > 65535) {
    fprintf(stderr, "dns_query: bad PORT %s\n", argv[2]);
    return 2;
  }

  // Numeric loopback servers only: these samples never leave the machine.
  struct sockaddr_storage ss;
  memset(&ss, 0, sizeof(ss));
  struct sockaddr_in* sin = (struct sockaddr_in*)&ss;
  struct sockaddr_in6* sin6 = (struct sockaddr_in6*)&ss;
  socklen_t sslen = 0;
  int loopback = 0;
  if (inet_pton(AF_INET, argv[1], &sin->sin_addr) == 1) {
    sin->sin_family = AF_INET;
    sin->sin_port = htons((uint16_t)port);
    sslen = sizeof(*sin);
    loopback = (ntohl(sin->sin_addr.s_addr) >> 24) == 127;
  } else if (inet_pton(AF_INET6, argv[1], &sin6->sin6_addr) == 1) {
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons((uint16_t)port);
    sslen = sizeof(*sin6);
    loopback = IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr);
  }
  if (!loopback) {
    fprintf(stderr, "dns_query: SERVER must be a numeric loopback address (127.0.0.0/8 or ::1)\n");
    return 2;
  }

  // Header: id, flags (RD), QDCOUNT=1, AN/NS/AR=0; then NAME, A, IN.
  unsigned char q[512] = {QUERY_ID >> 8, QUERY_ID & 0xFF, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0};
  int qlen = put_name(q, 12, argv[3]);
  if (qlen < 0) {
    fprintf(stderr, "dns_query: invalid NAME %s\n", argv[3]);
    return 2;
  }
  const unsigned char tail[4] = {0, TYPE_A, 0, CLASS_IN};  // QTYPE, QCLASS
  memcpy(q + qlen, tail, sizeof(tail));
  qlen += (int)sizeof(tail);

  int fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return fail("socket");
  ssize_t sent;
  if (connected) {
    if (connect(fd, (struct sockaddr*)&ss, sslen) != 0) return fail("connect");
    sent = send(fd, q, (size_t)qlen, 0);
  } else {
    sent = sendto(fd, q, (size_t)qlen, 0, (struct sockaddr*)&ss, sslen);
  }
  if (sent != qlen) return fail(connected ? "send" : "sendto");

  // Wait for a matching reply; poll(2) with the time left bounds every wait.
  unsigned char r[4096];
  long deadline = now_ms() + WAIT_MS;
  for (;;) {
    long left = deadline - now_ms();
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    int ready = left > 0 ? poll(&pfd, 1, (int)left) : 0;
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) return fail("poll");
    if (ready == 0) {
      fprintf(stderr, "dns_query: no reply from %s port %ld within %d ms\n", argv[1], port, WAIT_MS);
      return 2;
    }
    ssize_t n;
    if (use_readv) {  // a header buffer and one for the rest, as scatter reads do
      struct iovec iov[2] = {{r, 12}, {r + 12, sizeof(r) - 12}};
      n = readv(fd, iov, 2);
    } else if (use_recvmmsg) {
      static unsigned char spare[512];
      struct sockaddr_storage from[2];
      struct iovec iov[2] = {{r, sizeof(r)}, {spare, sizeof(spare)}};
      struct mmsghdr mm[2];
      memset(mm, 0, sizeof(mm));
      for (int i = 0; i < 2; i++) {
        mm[i].msg_hdr.msg_name = &from[i];
        mm[i].msg_hdr.msg_namelen = sizeof(from[i]);
        mm[i].msg_hdr.msg_iov = &iov[i];
        mm[i].msg_hdr.msg_iovlen = 1;
      }
      int got = recvmmsg(fd, mm, 2, MSG_DONTWAIT, NULL);  // poll said one is there
      n = got < 0 ? -1 : (ssize_t)mm[0].msg_len;
      if (got > 0 && (mm[0].msg_hdr.msg_namelen != sslen || memcmp(&from[0], &ss, sslen) != 0)) continue;
    } else if (connected) {
      n = recv(fd, r, sizeof(r), 0);  // the kernel only delivers the server's datagrams
    } else {
      struct sockaddr_storage from;
      socklen_t fromlen = sizeof(from);
      n = recvfrom(fd, r, sizeof(r), 0, (struct sockaddr*)&from, &fromlen);
      if (n >= 0 && (fromlen != sslen || memcmp(&from, &ss, sslen) != 0)) continue;  // not our server
    }
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) continue;
      return fail(use_readv ? "readv" : use_recvmmsg ? "recvmmsg" : connected ? "recv" : "recvfrom");  // e.g. ECONNREFUSED: nobody listening
    }
    // Ours: long enough, same id, QR (response) set.
    if (n >= 12 && get16(r) == QUERY_ID && (r[2] & 0x80)) {
      int rcode = r[3] & 0x0F;
      if (rcode != 0) {
        fprintf(stderr, "dns_query: server answered rcode %d\n", rcode);
        return 1;
      }
      unsigned char a[4];
      int found = first_a(r, (int)n, argv[3], a);
      if (found < 0) {
        fprintf(stderr, "dns_query: malformed reply\n");
        return 1;
      }
      if (found > 0) {
        fprintf(stderr, "dns_query: no A record for %s in the reply\n", argv[3]);
        return 1;
      }
      printf("%u.%u.%u.%u\n", a[0], a[1], a[2], a[3]);
      close(fd);
      return 0;
    }
  }
}
