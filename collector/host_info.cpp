#include "collector/host_info.h"

#include <sys/utsname.h>
#include <time.h>

#include <fstream>

namespace agenttrace::collector {

HostInfo read_host_info() {
  HostInfo info;
  struct utsname u;
  if (uname(&u) == 0) {
    info.hostname = u.nodename;
    info.kernel_release = u.release;
    info.kernel_version = u.version;
    info.machine = u.machine;
  }
  std::ifstream boot("/proc/sys/kernel/random/boot_id");
  std::getline(boot, info.boot_id);
  return info;
}

ClockPair read_clocks() {
  // Take the pair whose monotonic readings are closest together.
  ClockPair best{};
  int64_t best_gap = INT64_MAX;
  for (int i = 0; i < 5; ++i) {
    struct timespec m1, w, m2;
    clock_gettime(CLOCK_MONOTONIC, &m1);
    clock_gettime(CLOCK_REALTIME, &w);
    clock_gettime(CLOCK_MONOTONIC, &m2);
    int64_t a = m1.tv_sec * 1000000000ll + m1.tv_nsec;
    int64_t b = m2.tv_sec * 1000000000ll + m2.tv_nsec;
    if (b - a < best_gap) {
      best_gap = b - a;
      best.mono_ns = static_cast<uint64_t>(a + (b - a) / 2);
      best.wall_ns = w.tv_sec * 1000000000ll + w.tv_nsec;
    }
  }
  return best;
}

}  // namespace agenttrace::collector
