#include "collector/host_info.h"

#include <pwd.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cstdlib>
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

  if (!info.hostname.empty()) info.values["hostname"] = info.hostname;
  std::ifstream mid("/etc/machine-id");
  std::string machine_id;
  if (std::getline(mid, machine_id) && !machine_id.empty()) info.values["machine_id"] = machine_id;
  // The time zone a program would find: TZ, else /etc/localtime's target.
  std::string tz;
  if (const char* env = getenv("TZ"); env && *env) tz = env[0] == ':' ? env + 1 : env;
  if (tz.empty()) {
    char target[512];
    ssize_t n = readlink("/etc/localtime", target, sizeof(target) - 1);
    if (n > 0) {
      target[n] = '\0';
      std::string t(target);
      auto pos = t.find("zoneinfo/");
      if (pos != std::string::npos) tz = t.substr(pos + 9);
    }
  }
  if (tz.empty()) {
    std::ifstream etc_tz("/etc/timezone");
    std::getline(etc_tz, tz);
  }
  if (!tz.empty()) info.values["timezone"] = tz;
  // The user whose command is traced: under sudo, the one who ran sudo.
  const char* sudo_user = getenv("SUDO_USER");
  struct passwd* pw = sudo_user ? getpwnam(sudo_user) : getpwuid(getuid());
  if (pw) {
    info.values["username"] = pw->pw_name;
    if (pw->pw_dir) info.values["home"] = pw->pw_dir;
  }
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
