// Escape: fill the disk: write one file (argv[1]) until the file-size limit
// refuses (SIGXFSZ ignored so that write returns EFBIG), and say how far.
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include "escape.h"

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  signal(SIGXFSZ, SIG_IGN);
  int fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) return escape_report("open", -1);
  static char block[65536];
  long long total = 0;
  ssize_t n = 0;
  while (total < (4LL << 30) && (n = write(fd, block, sizeof(block))) > 0) total += n;
  int err = errno;
  printf("wrote %lld\n", total);
  errno = err;
  return escape_report("write past the limit", n < 0 ? -1 : 0);
}
