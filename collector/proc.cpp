#include "collector/proc.h"

#include <dirent.h>
#include <time.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <set>
#include <sstream>


namespace agenttrace::collector {

namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::string link_target(const std::string& path) {
  char buf[4096];
  ssize_t n = readlink(path.c_str(), buf, sizeof(buf) - 1);
  if (n <= 0) return {};
  std::string s(buf, static_cast<size_t>(n));
  // A deleted file reads "PATH (deleted)": the path is still what ran.
  static const std::string kDeleted = " (deleted)";
  if (s.size() > kDeleted.size() && s.compare(s.size() - kDeleted.size(), kDeleted.size(), kDeleted) == 0)
    s.resize(s.size() - kDeleted.size());
  return s;
}

}  // namespace

std::optional<ProcStat> read_proc_stat(pid_t pid) {
  std::string text = slurp("/proc/" + std::to_string(pid) + "/stat");
  // The command name may hold spaces and parentheses: fields start after the last ')'.
  size_t open = text.find('('), close = text.rfind(')');
  if (text.empty() || open == std::string::npos || close == std::string::npos || close < open) return std::nullopt;
  ProcStat st;
  st.pid = pid;
  st.comm = text.substr(open + 1, close - open - 1);
  std::istringstream rest(text.substr(close + 2));
  std::vector<std::string> f((std::istream_iterator<std::string>(rest)), std::istream_iterator<std::string>());
  // f[0] is field 3 (state): ppid is field 4, num_threads 20, starttime 22.
  if (f.size() < 20) return std::nullopt;
  st.state = f[0].empty() ? '?' : f[0][0];
  st.ppid = static_cast<pid_t>(strtol(f[1].c_str(), nullptr, 10));
  st.threads = static_cast<uint32_t>(strtoul(f[17].c_str(), nullptr, 10));
  st.start_ticks = strtoull(f[19].c_str(), nullptr, 10);
  return st;
}

std::map<pid_t, ProcStat> list_processes() {
  std::map<pid_t, ProcStat> out;
  DIR* d = opendir("/proc");
  if (!d) return out;
  while (dirent* e = readdir(d)) {
    char* end = nullptr;
    long pid = strtol(e->d_name, &end, 10);
    if (pid <= 0 || *end) continue;
    if (auto st = read_proc_stat(static_cast<pid_t>(pid))) out.emplace(st->pid, std::move(*st));
  }
  closedir(d);
  return out;
}

std::vector<pid_t> descendants(const std::map<pid_t, ProcStat>& all, const std::vector<pid_t>& roots) {
  std::multimap<pid_t, pid_t> children;
  for (const auto& [pid, st] : all) children.emplace(st.ppid, pid);
  std::vector<pid_t> out;
  std::set<pid_t> seen;
  for (pid_t r : roots)
    if (seen.insert(r).second) out.push_back(r);
  for (size_t i = 0; i < out.size(); ++i) {
    auto range = children.equal_range(out[i]);
    for (auto it = range.first; it != range.second; ++it)
      if (seen.insert(it->second).second) out.push_back(it->second);
  }
  return out;
}

std::optional<ProcInfo> read_proc_info(pid_t pid) {
  auto st = read_proc_stat(pid);
  if (!st) return std::nullopt;
  ProcInfo info;
  info.stat = std::move(*st);
  std::string base = "/proc/" + std::to_string(pid);
  info.exe = link_target(base + "/exe");
  info.cwd = link_target(base + "/cwd");
  std::string cmd = slurp(base + "/cmdline");
  for (size_t i = 0; i < cmd.size();) {
    size_t z = cmd.find('\0', i);
    if (z == std::string::npos) z = cmd.size();
    info.argv.push_back(cmd.substr(i, z - i));
    i = z + 1;
  }
  // Start time: boot time plus the start in clock ticks.
  static const long ticks = sysconf(_SC_CLK_TCK);
  timespec wall{}, boot{};
  clock_gettime(CLOCK_REALTIME, &wall);
  clock_gettime(CLOCK_BOOTTIME, &boot);
  int64_t boot_wall_ns = (wall.tv_sec - boot.tv_sec) * 1'000'000'000ll + (wall.tv_nsec - boot.tv_nsec);
  if (ticks > 0)
    info.start_wall_ns = boot_wall_ns + static_cast<int64_t>(info.stat.start_ticks * (1'000'000'000ull / ticks));
  return info;
}

std::vector<Mapping> parse_maps(const std::string& text) {
  std::vector<Mapping> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    // start-end perms offset dev inode path
    Mapping m;
    char perms[8] = {};
    unsigned long long start, end, offset, inode;
    unsigned major, minor;
    int consumed = 0;
    if (sscanf(line.c_str(), "%llx-%llx %7s %llx %x:%x %llu %n", &start, &end, perms, &offset, &major, &minor, &inode,
               &consumed) < 7)
      continue;
    m.start = start;
    m.end = end;
    m.offset = offset;
    m.executable = perms[2] == 'x';
    m.dev = (static_cast<uint64_t>(major) << 32) | minor;
    m.inode = inode;
    if (consumed > 0 && static_cast<size_t>(consumed) <= line.size()) m.path = line.substr(static_cast<size_t>(consumed));
    static const std::string kDeleted = " (deleted)";
    if (m.path.size() > kDeleted.size() && m.path.compare(m.path.size() - kDeleted.size(), kDeleted.size(), kDeleted) == 0)
      m.path.resize(m.path.size() - kDeleted.size());
    out.push_back(std::move(m));
  }
  return out;
}

std::vector<Mapping> read_maps(pid_t pid) { return parse_maps(slurp("/proc/" + std::to_string(pid) + "/maps")); }

pid_t namespace_pid(pid_t pid) {
  std::string status = slurp("/proc/" + std::to_string(pid) + "/status");
  size_t at = status.find("\nNSpid:");
  if (at == std::string::npos) return pid;
  size_t eol = status.find('\n', at + 1);
  std::istringstream in(status.substr(at + 7, eol == std::string::npos ? std::string::npos : eol - at - 7));
  pid_t last = pid, v;
  while (in >> v) last = v;
  return last;
}

}  // namespace agenttrace::collector
