#include "collector/watch.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <map>
#include <set>

#include "collector/host_info.h"
#include "collector/proc.h"
#include "collector/session.h"
#include "common/error.h"
#include "common/output_file.h"

namespace agenttrace::collector {

namespace fs = std::filesystem;

std::string watch_file_name(int64_t wall_ns, uint32_t sequence) {
  time_t secs = static_cast<time_t>(wall_ns / 1000000000);
  struct tm tm;
  localtime_r(&secs, &tm);
  char name[64];
  char stamp[32];
  strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", &tm);
  snprintf(name, sizeof(name), "agenttrace-watch-%s-%04u.atrace", stamp, sequence);
  return name;
}

namespace {

bool is_watch_file(const std::string& name) {
  return name.rfind("agenttrace-watch-", 0) == 0 && name.size() > 7 && name.compare(name.size() - 7, 7, ".atrace") == 0;
}

}  // namespace

void WatchTarget::begin(TraceSession& session) {
  std::vector<pid_t> matched;
  std::map<pid_t, ProcStat> all = list_processes();
  const pid_t self = getpid();
  std::set<std::pair<dev_t, ino_t>> exes;
  for (const auto& path : run_.watch_exes) {
    struct stat st;
    if (stat(path.c_str(), &st) == 0) exes.insert({st.st_dev, st.st_ino});
  }
  for (const auto& [pid, st] : all) {
    if (pid == self) continue;
    bool match = run_.trace_all;
    for (const auto& c : run_.watch_comms)
      if (st.comm == c.substr(0, 15)) match = true;
    if (!match && !exes.empty()) {
      struct stat es;
      std::string exe = "/proc/" + std::to_string(pid) + "/exe";
      if (stat(exe.c_str(), &es) == 0 && exes.count({es.st_dev, es.st_ino})) match = true;
    }
    if (match) matched.push_back(pid);
  }
  // Matching processes already running are traced from now on, with
  // their descendants; the whole host is traced by the kernel anyway.
  std::vector<pid_t> traced = run_.trace_all ? matched : descendants(all, matched);
  for (pid_t p : traced) {
    if (p == self) continue;
    if (!run_.trace_all) session.trace_process(p);
    auto info = read_proc_info(p);
    if (!info || info->exe.empty()) continue;  // kernel threads
    session.announce_running_process(p, true);
  }
}

Target::SignalAction WatchTarget::on_signal(const signalfd_siginfo& si) {
  if (si.ssi_signo == SIGHUP) return SignalAction::kRotate;
  if (si.ssi_signo == SIGINT || si.ssi_signo == SIGTERM || si.ssi_signo == SIGQUIT) return SignalAction::kStop;
  return SignalAction::kIgnore;
}

std::string WatchTarget::next_file() {
  ++sequence_;
  std::string name;
  do {
    name = (fs::path(w_.dir) / watch_file_name(read_clocks().wall_ns, sequence_)).string();
  } while (access(name.c_str(), F_OK) == 0 && ++sequence_);
  current_ = name;  // the session writes there next
  return name;
}

void WatchTarget::file_closed(const std::string& path) {
  closed_.push_back(path);
  // Bounded disk use: the oldest watch files in the directory go first.
  std::vector<std::string> files;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(w_.dir, ec)) {
    std::string name = entry.path().filename().string();
    if (is_watch_file(name)) files.push_back(entry.path().string());
  }
  std::sort(files.begin(), files.end());
  // The file being written now counts towards the limit too.
  size_t keep_closed = w_.keep > 0 ? w_.keep - 1 : 0;
  std::vector<std::string> done;
  for (const auto& f : files)
    if (f != current_) done.push_back(f);
  while (done.size() > keep_closed) {
    if (unlink(done.front().c_str()) == 0) ++deleted_;
    done.erase(done.begin());
  }
}

void prepare_watch(RunOptions& opt, const WatchOptions& w) {
  if (w.keep < 1) throw Error("--keep must be at least 1");
  if (w.rotate_bytes < (64u << 10)) throw Error("--rotate must be at least 64K");
  std::error_code ec;
  if (fs::path parent = fs::path(w.dir).parent_path(); !parent.empty()) fs::create_directories(parent, ec);
  // 0700 and the invoking user's; an existing one must be a real directory
  // of that user's (each file in it is created new, never through a link).
  open_output_directory(w.dir);
  for (const auto& path : opt.watch_exes)
    if (access(path.c_str(), F_OK) != 0) throw Error("--exe " + path + ": " + errno_text(errno));
  opt.trace_all = opt.watch_comms.empty() && opt.watch_exes.empty();
  opt.no_trace_file = false;
  opt.command = {"watch"};
}

}  // namespace agenttrace::collector
