// Sample: a statically linked program that reads its environment. Built twice:
// with symbols (agenttrace probes its own getenv) and stripped (its lookups
// cannot be seen, which the trace must say).
#include <stdio.h>
#include <stdlib.h>

int main(void) {
  const char* tz = getenv("TZ");
  const char* proxy = getenv("HTTPS_PROXY");
  printf("TZ=%s HTTPS_PROXY=%s\n", tz ? tz : "(unset)", proxy ? proxy : "(unset)");
  return 0;
}
