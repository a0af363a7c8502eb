#include "collector/session.h"

#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <spdlog/spdlog.h>

#include "collector/coverage.h"
#include "collector/host_info.h"
#include "collector/launcher.h"
#include "collector/library_probes.h"
#include "collector/probes.h"
#include "collector/recorder.h"
#include "common/error.h"
#include "common/unique_fd.h"
#include "version.h"

namespace agenttrace::collector {

namespace {

// How often the loop wakes without ring-buffer wake-ups (they are batched).
constexpr int kPollMs = 50;

// Signals agenttrace passes on to the command when someone sends them to
// agenttrace itself.
constexpr int kForwarded[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};

struct ProcStat {
  std::string comm;
  char state = '?';
  pid_t ppid = -1;
};

// A process's name, state and parent from /proc/PID/stat.
bool read_proc_stat(pid_t pid, ProcStat* out) {
  char path[64];
  snprintf(path, sizeof(path), "/proc/%d/stat", pid);
  FILE* f = fopen(path, "re");
  if (!f) return false;
  char buf[512];
  size_t n = fread(buf, 1, sizeof(buf) - 1, f);
  fclose(f);
  buf[n] = '\0';
  // The command name may hold spaces and parentheses: parse after the last ')'.
  char* open = strchr(buf, '(');
  char* close = strrchr(buf, ')');
  int ppid = -1;
  if (!open || !close || close < open || sscanf(close + 1, " %c %d", &out->state, &ppid) != 2) return false;
  out->comm.assign(open + 1, close);
  out->ppid = ppid;
  return true;
}

// Parent of `pid` from /proc, or -1.
pid_t parent_of(pid_t pid) {
  ProcStat st;
  return read_proc_stat(pid, &st) ? st.ppid : -1;
}

bool is_self_or_descendant(pid_t pid, pid_t ancestor) {
  for (int depth = 0; pid > 1 && depth < 64; ++depth) {
    if (pid == ancestor) return true;
    pid = parent_of(pid);
  }
  return false;
}

bool should_forward(const signalfd_siginfo& si, pid_t child) {
  // Signals the terminal generates (Ctrl-C, Ctrl-\, hang-up) go to the whole
  // foreground process group, which the command shares with agenttrace: it
  // already has them. A signal the command or one of its descendants sent
  // (to its own group) reached it too. Anything else, a `kill` of
  // agenttrace's PID from elsewhere, is passed on.
  if (si.ssi_code == SI_KERNEL) return false;
  pid_t sender = static_cast<pid_t>(si.ssi_pid);
  if (sender > 0 && (si.ssi_code == SI_USER || si.ssi_code == SI_QUEUE || si.ssi_code == SI_TKILL) &&
      is_self_or_descendant(sender, child))
    return false;
  return true;
}

}  // namespace

int exit_status_of(int wait_status) {
  if (WIFSIGNALED(wait_status)) return 128 + WTERMSIG(wait_status);
  return WEXITSTATUS(wait_status);
}

TraceSession::TraceSession(const RunOptions& opt)
    : options_(opt), kb_(analyzer::KnowledgeBase::builtin()), summary_(kb_), profile_(kb_) {
  if (!opt.kb_file.empty()) kb_.extend_from_file(opt.kb_file);
  ProbeConfig pc;
  pc.capture_values = opt.show_values;
  pc.ringbuf_bytes = opt.ringbuf_bytes;
  pc.capture_bytes = opt.capture_bytes;
  pc.debug = opt.debug;
  probes_ = std::make_unique<Probes>(pc);
  for (const auto& tp : probes_->missing_tracepoints())
    spdlog::warn("this kernel has no tracepoint {}; what it records is missing from the trace", tp);

  Probes* probes = probes_.get();
  libraries_ = std::make_unique<LibraryProbes>(
      [probes](const std::string& prog, bool retprobe, const std::string& path, uint64_t offset) {
        return probes->attach_uprobe(prog, retprobe, path, offset);
      });
  if (libraries_->attach_system_libraries().empty())
    spdlog::warn("no C library could be probed: environment lookups will not be recorded");

  ClockPair clocks = read_clocks();
  HostInfo host = read_host_info();

  // Sinks are opened before the command starts, so a bad path fails early.
  if (!opt.no_trace_file) {
    trace_path_ = opt.output_path.empty() ? default_trace_name(opt.command.empty() ? "" : opt.command[0], clocks.wall_ns)
                                          : opt.output_path;
    file_sink_.emplace(trace_path_);
  }
  if (!opt.json_path.empty()) json_sink_.emplace(opt.json_path);
  if (opt.verbose) text_sink_.emplace(stderr);

  recorder_ = std::make_unique<Recorder>(probes_.get(), libraries_.get(), clocks.wall_minus_mono());
  if (file_sink_) recorder_->add_sink(&*file_sink_);
  if (json_sink_) recorder_->add_sink(&*json_sink_);
  if (text_sink_) recorder_->add_sink(&*text_sink_);
  recorder_->add_sink(&summary_);
  recorder_->add_sink(&profile_);

  // Signals for agenttrace arrive through a signalfd; the command gets the
  // original mask and default dispositions back before it execs.
  sigset_t forwarded;
  sigemptyset(&forwarded);
  for (int sig : kForwarded) sigaddset(&forwarded, sig);
  sigprocmask(SIG_BLOCK, &forwarded, &original_mask_);
  signal(SIGPIPE, SIG_IGN);
  signal_fd_ = signalfd(-1, &forwarded, SFD_CLOEXEC | SFD_NONBLOCK);
  if (signal_fd_ < 0) throw Error("cannot set up signal handling: " + errno_text(errno));

  header_.set_format_version(trace::kFormatVersion);
  header_.set_agenttrace_version(AGENTTRACE_VERSION);
  header_.set_hostname(host.hostname);
  header_.set_kernel_release(host.kernel_release);
  header_.set_kernel_version(host.kernel_version);
  header_.set_machine(host.machine);
  header_.set_boot_id(host.boot_id);
  header_.set_start_wall_ns(clocks.wall_ns);
  header_.set_start_mono_ns(clocks.mono_ns);
  for (const auto& a : opt.command) header_.add_command(a);
  for (const auto& a : opt.agenttrace_argv) header_.add_options(a);
  header_.set_mode("run");
  header_.set_values_captured(opt.show_values);
  header_.set_ringbuf_bytes(opt.ringbuf_bytes);
  header_.set_capture_bytes(opt.capture_bytes);
  for (const auto& [k, v] : host.values) (*header_.mutable_host_values())[k] = v;
}

TraceSession::~TraceSession() {
  if (signal_fd_ >= 0) close(signal_fd_);
  sigprocmask(SIG_SETMASK, &original_mask_, nullptr);
}

void TraceSession::add_sink(trace::EventSink* sink) { recorder_->add_sink(sink); }

int TraceSession::run(GatedChild& child) {
  probes_->trace_pid(static_cast<uint32_t>(child.pid()));
  header_.set_root_pid(static_cast<uint32_t>(child.pid()));
  recorder_->start(header_);

  if (int err = child.release()) {
    int status;
    std::string msg = exec_failure_message(options_.command.empty() ? "command" : options_.command[0], err, &status);
    recorder_->drain();
    recorder_->finish(status << 8, true);
    if (file_sink_) unlink(trace_path_.c_str());
    throw Error(msg, status);
  }

  UniqueFd ep(epoll_create1(EPOLL_CLOEXEC));
  if (!ep.valid()) throw Error("cannot create an epoll instance: " + errno_text(errno));
  auto add_fd = [&](int fd) {
    struct epoll_event ev {};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    if (epoll_ctl(ep.get(), EPOLL_CTL_ADD, fd, &ev) != 0)
      throw Error("cannot watch a descriptor: " + errno_text(errno));
  };
  add_fd(recorder_->poll_fd());
  add_fd(signal_fd_);
  add_fd(child.exit_fd());

  int status = 0;
  auto guarded = [&](auto&& fn) {
    // A sink that fails (disk full) stops recording loudly; the command runs on.
    if (sink_failed_) return;
    try {
      fn();
    } catch (const Error& e) {
      sink_failed_ = true;
      spdlog::error("{}; recording stopped, the command continues", e.what());
    }
  };

  for (;;) {
    struct epoll_event evs[4];
    int n = epoll_wait(ep.get(), evs, 4, kPollMs);
    if (n < 0 && errno != EINTR) throw Error("epoll_wait failed: " + errno_text(errno));
    guarded([&] { recorder_->drain(); });
    bool exited = false;
    for (int i = 0; i < n; ++i) {
      if (evs[i].data.fd == signal_fd_) {
        signalfd_siginfo si;
        while (read(signal_fd_, &si, sizeof(si)) == sizeof(si))
          if (should_forward(si, child.pid())) child.forward(static_cast<int>(si.ssi_signo));
      } else if (evs[i].data.fd == child.exit_fd()) {
        exited = child.try_reap(&status);
      }
    }
    if (exited) break;
    guarded([&] { recorder_->flush(); });
  }

  // The exit record is in the ring buffer before the parent could reap the
  // command; drain until nothing is left.
  guarded([&] { recorder_->drain(); });
  // Descendants that outlive the command (a daemon that double-forked) are
  // no longer recorded: each is a named gap, not silence.
  guarded([&] { note_survivors(); });
  guarded([&] { recorder_->finish(status, true); });
  probes_->detach_in_background();
  return status;
}

void TraceSession::note_survivors() {
  ClockPair now = read_clocks();
  for (uint32_t pid : probes_->traced_pids()) {
    ProcStat st;
    if (!read_proc_stat(static_cast<pid_t>(pid), &st) || st.state == 'Z') continue;
    recorder_->emit(outlived_coverage(pid, static_cast<uint32_t>(st.ppid), st.comm, now.mono_ns, now.wall_ns));
  }
}

analyzer::Analysis TraceSession::analysis() {
  analyzer::Analysis a;
  a.profile = std::move(profile_.profile());
  a.findings = analyzer::run_rules(a.profile, kb_);
  a.source = "live";
  return a;
}

std::string TraceSession::end_report(const analyzer::Analysis& analysis) const {
  // Findings first, then the profile: one screen a person reads.
  bool color = analyzer::terminal_wants_color(STDERR_FILENO);
  return analyzer::findings_text(analysis, color) +
         summary_.render(file_sink_ && !sink_failed_ ? trace_path_ : "");
}

// ---- a plain command ------------------------------------------------------

namespace {

class PlainChild : public GatedChild {
 public:
  PlainChild(const std::vector<std::string>& argv, const sigset_t& mask) : launcher_(argv, mask) {}
  pid_t pid() const override { return launcher_.pid(); }
  int exit_fd() const override { return launcher_.pidfd(); }
  int release() override { return launcher_.release(); }
  bool try_reap(int* status) override { return launcher_.try_reap(status); }
  void forward(int sig) override { kill(launcher_.pid(), sig); }

 private:
  Launcher launcher_;
};

}  // namespace

int run_traced(const RunOptions& opt) {
  if (opt.command.empty()) throw Error("no command to trace (usage: agenttrace [OPTIONS] -- CMD [ARGS...])");
  TraceSession session(opt);
  if (std::string exe = find_in_path(opt.command[0], getenv("PATH")); !exe.empty())
    session.libraries().prepare_executable(exe);
  PlainChild child(opt.command, session.original_mask());
  int status = session.run(child);
  if (!opt.quiet) {
    analyzer::Analysis a = session.analysis();
    fputs(session.end_report(a).c_str(), stderr);
  }
  return exit_status_of(status);
}

}  // namespace agenttrace::collector
