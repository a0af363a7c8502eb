// Escape: take its own PID out of agenttrace's filter map through bpf():
// find the map by walking map IDs, then delete its entry.
#include <linux/bpf.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "escape.h"

int main(void) {
  union bpf_attr attr;
  memset(&attr, 0, sizeof(attr));
  attr.start_id = 0;
  int escaped = escape_report("bpf(BPF_MAP_GET_NEXT_ID)", syscall(SYS_bpf, BPF_MAP_GET_NEXT_ID, &attr, sizeof(attr)));
  memset(&attr, 0, sizeof(attr));
  attr.map_id = 1;
  escaped |= escape_report("bpf(BPF_MAP_GET_FD_BY_ID)", syscall(SYS_bpf, BPF_MAP_GET_FD_BY_ID, &attr, sizeof(attr)));
  return escaped;
}
