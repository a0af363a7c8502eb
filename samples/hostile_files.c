// Sample: a program that names hostile files where agenttrace reads what a
// traced program chose (tests/bpf/reliability_test.cpp).
//
//   hostile_files perf-fifo|perf-zero|lib-fifo|lib-zero DIR
//
// perf-*: puts a FIFO, or a symbolic link to /dev/zero, at its own perf map
// (/tmp/perf-PID.map, where a JIT runtime writes one), then calls getenv
// from code in anonymous executable memory, as JIT code would, so the
// recorder looks for the map to name that frame.
// lib-*: puts a FIFO, or a symbolic link to /dev/zero, at DIR/libc.so.6 and
// opens it, as a process loading its own C library would, so the recorder
// looks at it to probe it.
// Either way it stays a second, then removes the file. Prints "done".
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static int plant(const char* path, const char* how) {
  unlink(path);
  if (strcmp(how, "fifo") == 0) return mkfifo(path, 0600);
  return symlink("/dev/zero", path);
}

// sub rsp, 8; movabs rdi, NAME; movabs rax, getenv; call rax; add rsp, 8; ret
static void call_getenv_from_anonymous_code(const char* name) {
  uint8_t code[] = {0x48, 0x83, 0xec, 0x08, 0x48, 0xbf, 0, 0, 0, 0, 0, 0, 0, 0, 0x48, 0xb8, 0, 0, 0, 0,
                    0,    0,    0,    0,    0xff, 0xd0, 0x48, 0x83, 0xc4, 0x08, 0xc3};
  uint64_t n = (uint64_t)(uintptr_t)name, g = (uint64_t)(uintptr_t)&getenv;
  memcpy(code + 6, &n, 8);
  memcpy(code + 16, &g, 8);
  void* page = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (page == MAP_FAILED) exit(2);
  memcpy(page, code, sizeof(code));
  ((void (*)(void))page)();
}

int main(int argc, char** argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: hostile_files perf-fifo|perf-zero|lib-fifo|lib-zero DIR\n");
    return 2;
  }
  const char* mode = argv[1];
  char path[4096];
  if (strncmp(mode, "perf-", 5) == 0) {
    snprintf(path, sizeof(path), "/tmp/perf-%d.map", getpid());
    if (plant(path, mode + 5) != 0) return 2;
    call_getenv_from_anonymous_code("AGENTTRACE_FROM_JIT");
  } else if (strncmp(mode, "lib-", 4) == 0) {
    snprintf(path, sizeof(path), "%s/libc.so.6", argv[2]);
    if (plant(path, mode + 4) != 0) return 2;
    // O_NONBLOCK: the program itself does not wait for a writer.
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return 2;
    close(fd);
    getenv("AGENTTRACE_AFTER_LIBRARY");
  } else {
    return 2;
  }
  // Alive a while longer: the recorder looks at the process's memory map
  // and its files after the records arrive.
  sleep(1);
  unlink(path);
  puts("done");
  return 0;
}
