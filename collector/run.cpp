#include "collector/run.h"

#include <unistd.h>

#include <cctype>
#include <ctime>

namespace agenttrace::collector {

namespace {

std::string basename_of(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

}  // namespace

std::string default_trace_name(const std::string& command, int64_t wall_ns) {
  std::string base;
  for (char c : basename_of(command)) base += (isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.') ? c : '_';
  if (base.empty()) base = "command";
  time_t secs = static_cast<time_t>(wall_ns / 1000000000);
  struct tm tm;
  localtime_r(&secs, &tm);
  char stamp[32];
  strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", &tm);
  std::string name = "agenttrace-" + base + "-" + stamp;
  std::string candidate = name + ".atrace";
  for (int i = 2; access(candidate.c_str(), F_OK) == 0; ++i) candidate = name + "-" + std::to_string(i) + ".atrace";
  return candidate;
}

}  // namespace agenttrace::collector
