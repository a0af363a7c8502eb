// Evasion sample: opens a file and sends bytes through io_uring (liburing),
// so neither an open nor a send syscall is made: the kernel does both on the
// program's behalf from the submission queue.
#define _GNU_SOURCE
#include <fcntl.h>
#include <liburing.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "loopback_pair.h"

static int run(struct io_uring* ring, void (*prep)(struct io_uring_sqe*, void*), void* arg) {
  struct io_uring_sqe* sqe = io_uring_get_sqe(ring);
  struct io_uring_cqe* cqe;
  if (!sqe) return -1;
  prep(sqe, arg);
  if (io_uring_submit(ring) != 1 || io_uring_wait_cqe(ring, &cqe) != 0) return -1;
  int res = cqe->res;
  io_uring_cqe_seen(ring, cqe);
  return res;
}

static void prep_open(struct io_uring_sqe* sqe, void* arg) {
  (void)arg;
  io_uring_prep_openat(sqe, AT_FDCWD, "/etc/machine-id", O_RDONLY | O_CLOEXEC, 0);
}

static const char kMessage[] = "sent through io_uring";

static void prep_send(struct io_uring_sqe* sqe, void* arg) {
  io_uring_prep_send(sqe, *(int*)arg, kMessage, strlen(kMessage), 0);
}

int main(void) {
  struct io_uring ring;
  struct loopback_pair conn;
  if (io_uring_queue_init(4, &ring, 0) != 0) {
    printf("io_uring unavailable\n");
    return 77;
  }
  if (loopback_pair_open(&conn) != 0) return 2;
  int fd = run(&ring, prep_open, NULL);
  int sent = run(&ring, prep_send, &conn.client);
  if (fd < 0 || sent != (int)strlen(kMessage) || loopback_pair_receive(&conn, (size_t)sent) != 0) return 1;
  close(fd);
  io_uring_queue_exit(&ring);
  printf("io_uring open ok, send %d bytes\n", sent);
  return 0;
}
