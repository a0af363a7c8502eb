// What every escape program prints: one line per attempt, "ATTEMPT: errno
// ENAME" when the call failed and "ATTEMPT: succeeded" when it did not, so
// tests/bpf/escape_test.cpp can assert the exact error.
#pragma once

#include <errno.h>
#include <stdio.h>
#include <string.h>

static int escape_report(const char* attempt, long rc) {
  if (rc < 0)
    printf("%s: errno %s\n", attempt, strerrorname_np(errno));
  else
    printf("%s: succeeded\n", attempt);
  fflush(stdout);
  return rc < 0 ? 0 : 1;
}
