// One of two libraries of identical layout that remap_asker loads, one
// after the other, at the same address: ASKER is ask_a or ask_b.
#include <stdlib.h>

__attribute__((noinline)) const char *ASKER(const char *name) {
  const char *v = getenv(name);
  __asm__ volatile("" ::: "memory");  // keep the call a call, not a tail jump
  return v;
}
