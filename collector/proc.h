// What /proc says about running processes: the tree below a PID, a
// process's executable, arguments and start time (for `attach` and for
// rotated `watch` files), and its memory map (for naming stack frames).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace agenttrace::collector {

struct ProcStat {
  pid_t pid = 0;
  pid_t ppid = 0;
  std::string comm;
  char state = '?';          // R, S, D, Z, ...
  uint64_t start_ticks = 0;  // since boot, in clock ticks
  uint32_t threads = 0;
};

// /proc/PID/stat; nullopt when the process is gone.
std::optional<ProcStat> read_proc_stat(pid_t pid);

// Every process now, by PID.
std::map<pid_t, ProcStat> list_processes();

// `roots` and every process below them in `all`, roots first.
std::vector<pid_t> descendants(const std::map<pid_t, ProcStat>& all, const std::vector<pid_t>& roots);

struct ProcInfo {
  ProcStat stat;
  std::string exe;                // readlink /proc/PID/exe ("" for kernel threads)
  std::vector<std::string> argv;  // /proc/PID/cmdline
  std::string cwd;
  int64_t start_wall_ns = 0;
};
std::optional<ProcInfo> read_proc_info(pid_t pid);

// One line of /proc/PID/maps.
struct Mapping {
  uint64_t start = 0, end = 0, offset = 0;
  bool executable = false;
  uint64_t dev = 0, inode = 0;
  std::string path;  // "" for anonymous memory; "[vdso]", "[stack]", ...
};
std::vector<Mapping> parse_maps(const std::string& text);
std::vector<Mapping> read_maps(pid_t pid);

// The PID a process has in its own PID namespace (the last NSpid entry of
// /proc/PID/status), which names its perf map file; `pid` when not nested.
pid_t namespace_pid(pid_t pid);

}  // namespace agenttrace::collector
