#include "collector/attach.h"

#include <unistd.h>

#include <set>

#include "collector/proc.h"
#include "common/error.h"

namespace agenttrace::collector {

void AttachTarget::begin(TraceSession& session) {
  // Roots first: from then on the kernel follows their forks itself. A
  // child forked before its parent was in the filter is found by the next
  // look at /proc; repeat until a look finds nothing new.
  std::set<pid_t> traced;
  std::vector<pid_t> order;
  const pid_t self = getpid();
  for (pid_t p : roots_) {
    session.trace_process(p);
    traced.insert(p);
    order.push_back(p);
  }
  for (int round = 0; round < 100; ++round) {
    bool fresh = false;
    for (pid_t p : descendants(list_processes(), roots_)) {
      if (p == self || !traced.insert(p).second) continue;
      session.trace_process(p);
      order.push_back(p);
      fresh = true;
    }
    if (!fresh) break;
  }
  for (pid_t p : order) session.announce_running_process(p, true);
}

Target::SignalAction AttachTarget::on_signal(const signalfd_siginfo& si) {
  switch (si.ssi_signo) {
    case SIGINT:
    case SIGTERM:
    case SIGHUP:
    case SIGQUIT:
      return SignalAction::kStop;  // detach; the processes go on untouched
    default:
      return SignalAction::kIgnore;
  }
}

std::vector<std::string> attach_command(const std::vector<pid_t>& pids) {
  if (pids.empty()) throw Error("no process to attach to (usage: agenttrace attach --pid N [--pid M ...])");
  std::vector<std::string> first_argv;
  for (pid_t p : pids) {
    if (p <= 0) throw Error("--pid " + std::to_string(p) + " is not a process id");
    if (p == getpid()) throw Error("--pid " + std::to_string(p) + " is agenttrace itself");
    auto info = read_proc_info(p);
    if (!info) throw Error("no process " + std::to_string(p) + " is running");
    if (first_argv.empty()) first_argv = info->argv.empty() ? std::vector<std::string>{info->stat.comm} : info->argv;
  }
  return first_argv;
}

}  // namespace agenttrace::collector
