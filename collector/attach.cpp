#include "collector/attach.h"

#include <unistd.h>

#include <cstdio>
#include <set>

#include "collector/proc.h"
#include "collector/session.h"
#include "common/error.h"

namespace agenttrace::collector {

namespace {

class AttachTarget : public Target {
 public:
  explicit AttachTarget(std::vector<pid_t> pids) : roots_(std::move(pids)) {}

  void begin(TraceSession& session) override {
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

  SignalAction on_signal(const signalfd_siginfo& si) override {
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

  bool finished(size_t live) override { return live == 0; }

 private:
  std::vector<pid_t> roots_;
};

}  // namespace

int run_attached(RunOptions opt, const std::vector<pid_t>& pids) {
  if (pids.empty()) throw Error("no process to attach to (usage: agenttrace attach --pid N [--pid M ...])");
  std::vector<std::string> first_argv;
  for (pid_t p : pids) {
    if (p <= 0) throw Error("--pid " + std::to_string(p) + " is not a process id");
    if (p == getpid()) throw Error("--pid " + std::to_string(p) + " is agenttrace itself");
    auto info = read_proc_info(p);
    if (!info) throw Error("no process " + std::to_string(p) + " is running");
    if (first_argv.empty()) first_argv = info->argv.empty() ? std::vector<std::string>{info->stat.comm} : info->argv;
  }
  // The header's command is what the first process runs.
  if (opt.command.empty()) opt.command = first_argv;
  TraceSession session(opt, "attach");
  for (pid_t p : pids) session.header().add_attached_pids(static_cast<uint32_t>(p));
  session.header().set_root_pid(static_cast<uint32_t>(pids.front()));
  AttachTarget target(pids);
  session.run(target);
  if (!opt.quiet) {
    analyzer::Analysis a = session.analysis();
    fputs(session.end_report(a).c_str(), stderr);
  }
  return session.recording_failed() ? kExitToolError : kExitOk;
}

}  // namespace agenttrace::collector
