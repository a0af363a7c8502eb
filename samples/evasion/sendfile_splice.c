// Evasion sample: sends file contents to a socket without them passing
// through the program's memory: sendfile(2) of /etc/hostname, then
// splice(2) of /etc/machine-id into a pipe and from the pipe to the socket.
// No write or send call carries the bytes. Prints the byte counts.
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include "loopback_pair.h"

static long file_size(int fd) {
  struct stat st;
  return fstat(fd, &st) == 0 ? (long)st.st_size : -1;
}

int main(void) {
  struct loopback_pair conn;
  if (loopback_pair_open(&conn) != 0) return 2;

  int hostname = open("/etc/hostname", O_RDONLY | O_CLOEXEC);
  long size = file_size(hostname);
  ssize_t sent = sendfile(conn.client, hostname, NULL, (size_t)size);
  close(hostname);
  if (sent != size || loopback_pair_receive(&conn, (size_t)sent) != 0) return 1;

  int machine_id = open("/etc/machine-id", O_RDONLY | O_CLOEXEC);
  int pipefd[2];
  if (pipe2(pipefd, O_CLOEXEC) != 0) return 2;
  ssize_t in = splice(machine_id, NULL, pipefd[1], NULL, 4096, 0);
  ssize_t out = in > 0 ? splice(pipefd[0], NULL, conn.client, NULL, (size_t)in, 0) : -1;
  close(machine_id);
  if (out != in || loopback_pair_receive(&conn, (size_t)out) != 0) return 1;
  printf("sendfile %zd bytes, splice %zd bytes\n", sent, out);
  return 0;
}
