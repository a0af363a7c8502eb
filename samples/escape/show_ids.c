// The setuid target of setuid_exec: prints who it runs as. Installed setuid
// root by the test, it must still run as the sandbox's uid.
#include <stdio.h>
#include <unistd.h>

int main(void) {
  uid_t r, e, s;
  getresuid(&r, &e, &s);
  printf("uid %u euid %u suid %u\n", r, e, s);
  return 0;
}
