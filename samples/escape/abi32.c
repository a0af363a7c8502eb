// Escape: the 32-bit system-call ABI (int $0x80 from a 64-bit process),
// where a filter written for x86_64 numbers would not apply.
#include "escape.h"

int main(void) {
#if defined(__x86_64__)
  long ret;
  // i386 getuid32 (199): harmless, so only the filter can refuse it.
  __asm__ volatile("int $0x80" : "=a"(ret) : "a"(199L) : "memory");
  if (ret < 0) {
    errno = (int)-ret;
    ret = -1;
  }
  return escape_report("int 0x80 getuid32", ret);
#else
  printf("int 0x80 getuid32: not x86_64\n");
  return 0;
#endif
}
