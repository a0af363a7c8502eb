#include "collector/session.h"

#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <set>
#include <string>
#include <unordered_map>

#include <spdlog/spdlog.h>

#include "collector/coverage.h"
#include "collector/host_info.h"
#include "collector/launcher.h"
#include "collector/library_probes.h"
#include "collector/probes.h"
#include "collector/proc.h"
#include "collector/recorder.h"
#include "collector/redactor.h"
#include "collector/stack_resolver.h"
#include "common/error.h"
#include "common/glob.h"
#include "common/safe_open.h"
#include "common/signals.h"
#include "common/unique_fd.h"
#include "agenttrace.h"
#include "version.h"

namespace agenttrace::collector {

namespace {

// How often the loop wakes without ring-buffer wake-ups (they are batched).
constexpr int kPollMs = 50;


// Parent of `pid` from /proc, or -1.
pid_t parent_of(pid_t pid) {
  auto st = read_proc_stat(pid);
  return st ? st->ppid : -1;
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

void record_identity(const CommandIdentity& who, trace::Header* h) {
  uid_t uid = who.user ? who.user->uid : getuid();
  gid_t gid = who.user ? who.user->gid : getgid();
  h->set_command_uid(uid);
  h->set_command_gid(gid);
  h->set_command_user(who.user ? who.user->name : std::string());
  h->set_command_user_source(identity_source_name(who.source));
}

int exit_status_of(int wait_status) {
  if (WIFSIGNALED(wait_status)) return 128 + WTERMSIG(wait_status);
  return WEXITSTATUS(wait_status);
}

namespace {

// Who asked: environment lookups, DNS lookups, connects and the path
// lookups (only those of fingerprint and credential paths keep theirs).
constexpr int kStackKinds[] = {AT_KIND_GETENV,   AT_KIND_DNS,  AT_KIND_CONNECT, AT_KIND_OPEN,
                               AT_KIND_READLINK, AT_KIND_STAT, AT_KIND_ACCESS,  AT_KIND_HOST_QUERY};

const std::string* path_of(const trace::Event& e) {
  switch (e.body_case()) {
    case trace::Event::kOpen: return &e.open().path();
    case trace::Event::kReadlink: return &e.readlink().path();
    case trace::Event::kStat: return &e.stat().path();
    case trace::Event::kAccess: return &e.access().path();
    default: return nullptr;
  }
}

}  // namespace

std::vector<std::string> stack_kind_names() {
  std::vector<std::string> out;
  for (int k : kStackKinds) out.push_back(kernel_kind_name(k));
  return out;
}

uint32_t stack_kind_mask() {
  uint32_t m = 0;
  for (int k : kStackKinds) m |= 1u << k;
  return m;
}

std::function<bool(const trace::Event&)> stack_filter(std::vector<std::string> stack_paths) {
  // Memoized per distinct path: programs look up the same paths again and again.
  std::unordered_map<std::string, bool> seen;
  return [globs = std::move(stack_paths), seen](const trace::Event& e) mutable {
    const std::string* path = path_of(e);
    if (!path) return true;
    auto it = seen.find(*path);
    if (it != seen.end()) return it->second;
    bool keep = false;
    for (const auto& g : globs)
      if (glob_match(g, *path)) {
        keep = true;
        break;
      }
    seen.emplace(*path, keep);
    return keep;
  };
}

// Follows which traced processes are alive: a target such as `attach` ends
// when none is left.
class TraceSession::LiveSink : public trace::EventSink {
 public:
  explicit LiveSink(std::set<uint32_t>* live) : live_(live) {}
  void on_event(const trace::Event& e) override {
    if (e.has_fork() && !e.fork().thread()) live_->insert(e.fork().child_pid());
    else if (e.has_exec() || e.has_process()) live_->insert(e.pid());
    else if (e.has_exit()) live_->erase(e.pid());
  }

 private:
  std::set<uint32_t>* live_;
};

TraceSession::TraceSession(const RunOptions& opt, const std::string& mode, SessionHelpers helpers)
    : options_(opt), mode_(mode) {
  ProbeConfig pc;
  pc.capture_values = opt.show_values;
  pc.ringbuf_bytes = opt.ringbuf_bytes;
  pc.capture_bytes = opt.capture_bytes;
  pc.debug = opt.debug;
  pc.trace_all = opt.trace_all;
  pc.watch_comms = opt.watch_comms;
  pc.watch_exes = opt.watch_exes;
  pc.stack_kinds = opt.stacks ? stack_kind_mask() : 0;
  probes_ = std::make_unique<Probes>(pc);
  for (const auto& tp : probes_->missing_tracepoints())
    spdlog::warn("this kernel has no tracepoint {}; what it records is missing from the trace", tp);

  Probes* probes = probes_.get();
  libraries_ = std::make_unique<LibraryProbes>(
      [probes](const std::string& prog, bool retprobe, const ElfFile& file, uint64_t offset) {
        // Through the descriptor that was checked, never the path again: a
        // link swapped since cannot send the probe to another file.
        std::string fd = fd_path(file.fd());
        std::string err = probes->attach_uprobe(prog, retprobe, fd, offset);
        if (auto at = err.find(fd); at != std::string::npos) err.replace(at, fd.size(), file.path());
        return err;
      });
  if (opt.stacks) libraries_->set_on_c_library([probes](const ElfFile& file) { probes->add_syscall_sites(file); });
  if (libraries_->attach_system_libraries().empty())
    spdlog::warn("no C library could be probed: environment lookups will not be recorded");

  ClockPair clocks = read_clocks();
  HostInfo host = read_host_info();

  // Sinks are opened before the command starts, so a bad path fails early.
  if (!opt.no_trace_file) {
    trace_path_ = opt.output_path.empty() ? default_trace_name(opt.command.empty() ? "" : opt.command[0], clocks.wall_ns)
                                          : opt.output_path;
    file_sink_.emplace(trace_path_);
    trace_files_.push_back(trace_path_);
  }
  if (!opt.json_path.empty()) json_sink_.emplace(opt.json_path);
  if (opt.verbose) text_sink_.emplace(stderr);
  const std::string host_name = opt.host_name.empty() ? host.hostname : opt.host_name;

  recorder_ = std::make_unique<Recorder>(probes_.get(), libraries_.get(), clocks.wall_minus_mono());
  redactor_ = std::move(helpers.redactor);
  if (redactor_) recorder_->set_redactor(redactor_.get());
  libraries_->set_refusals(&recorder_->refusals());
  if (opt.stacks)
    recorder_->set_stacks(std::make_unique<StackResolver>(std::move(helpers.name_frames)), stack_filter(opt.stack_paths));
  if (file_sink_) recorder_->add_sink(&*file_sink_);
  if (json_sink_) recorder_->add_sink(&*json_sink_);
  if (text_sink_) recorder_->add_sink(&*text_sink_);
  live_sink_ = std::make_unique<LiveSink>(&live_);
  recorder_->add_sink(live_sink_.get());

  // Signals for agenttrace arrive through a signalfd; the command gets the
  // original mask and default dispositions back before it execs. (main()
  // blocked them already, so none was lost while the probes loaded.)
  block_handled_signals();
  original_mask_ = original_signal_mask();
  signal(SIGPIPE, SIG_IGN);
  signal_fd_ = signalfd(-1, &handled_signals(), SFD_CLOEXEC | SFD_NONBLOCK);
  if (signal_fd_ < 0) throw Error("cannot set up signal handling: " + errno_text(errno));

  header_.set_format_version(trace::kFormatVersion);
  header_.set_agenttrace_version(AGENTTRACE_VERSION);
  // The real host name stays in host_values (the analyzer looks for it in
  // what was sent); the header names the host as the fleet knows it. (The
  // session id is the export's: the layer above sets it.)
  header_.set_hostname(host_name);
  header_.set_kernel_release(host.kernel_release);
  header_.set_kernel_version(host.kernel_version);
  header_.set_machine(host.machine);
  header_.set_boot_id(host.boot_id);
  header_.set_start_wall_ns(clocks.wall_ns);
  header_.set_start_mono_ns(clocks.mono_ns);
  for (const auto& a : opt.command) header_.add_command(a);
  for (const auto& a : opt.agenttrace_argv) header_.add_options(a);
  header_.set_mode(mode_);
  if (opt.stacks)
    for (const auto& k : stack_kind_names()) header_.add_stack_kinds(k);
  header_.set_symbols_captured(opt.capture_symbols);
  header_.set_values_captured(opt.show_values);
  header_.set_ringbuf_bytes(opt.ringbuf_bytes);
  header_.set_capture_bytes(opt.capture_bytes);
  for (const auto& [k, v] : host.values) (*header_.mutable_host_values())[k] = v;
}

TraceSession::~TraceSession() {
  if (signal_fd_ >= 0) close(signal_fd_);
  restore_signal_mask();
}

void TraceSession::add_sink(trace::EventSink* sink) { recorder_->add_sink(sink); }

namespace {

// A gated child as a target: the session ends when it exits; signals sent
// to agenttrace from elsewhere are passed on to it.
class ChildTarget : public Target {
 public:
  ChildTarget(GatedChild& child, const std::string& what) : child_(child), what_(what) {}
  void begin(TraceSession& session) override {
    session.trace_process(child_.pid());
    session.header().set_root_pid(static_cast<uint32_t>(child_.pid()));
  }
  // Released after the header is written, so the exec is the first event.
  int release() { return child_.release(); }
  int exit_fd() const override { return child_.exit_fd(); }
  bool on_exit_fd(int* status) override { return child_.try_reap(status); }
  SignalAction on_signal(const signalfd_siginfo& si) override {
    if (should_forward(si, child_.pid())) child_.forward(static_cast<int>(si.ssi_signo));
    return SignalAction::kIgnore;
  }

 private:
  GatedChild& child_;
  std::string what_;
};

}  // namespace

void TraceSession::trace_process(pid_t pid) {
  probes_->trace_pid(static_cast<uint32_t>(pid));
  live_.insert(static_cast<uint32_t>(pid));
}

bool TraceSession::announce_running_process(pid_t pid, bool before_trace) {
  auto info = read_proc_info(pid);
  if (!info) return false;
  trace::Event e;
  ClockPair now = read_clocks();
  e.set_mono_ns(now.mono_ns);
  e.set_wall_ns(now.wall_ns);
  e.set_pid(static_cast<uint32_t>(pid));
  e.set_tid(static_cast<uint32_t>(pid));
  e.set_ppid(static_cast<uint32_t>(info->stat.ppid));
  e.set_comm(info->stat.comm);
  trace::Process* p = e.mutable_process();
  p->set_exe(info->exe);
  for (const auto& a : info->argv) p->add_argv(a);
  p->set_cwd(info->cwd);
  p->set_start_wall_ns(info->start_wall_ns);
  p->set_before_trace(before_trace);
  p->set_threads(info->stat.threads);
  recorder_->emit(e);
  // What it has mapped is probed now: its own getenv or TLS functions, a C
  // or TLS library of its own. Coverage events say what is visible.
  std::vector<trace::Event> extra;
  if (!info->exe.empty()) {
    trace::Event exec = e;
    exec.mutable_exec()->set_path(info->exe);
    exec.mutable_exec()->set_exe(info->exe);
    libraries_->observe(exec, &extra);
  }
  std::set<std::string> seen;
  for (const Mapping& m : read_maps(pid)) {
    if (m.path.empty() || m.path[0] != '/' || !seen.insert(m.path).second || m.path == info->exe) continue;
    trace::Event open = e;
    open.mutable_open()->set_path(m.path);
    open.mutable_open()->set_result(0);
    libraries_->observe(open, &extra);
  }
  for (auto& x : extra) recorder_->emit(std::move(x));
  return true;
}

int TraceSession::run(GatedChild& child) {
  ChildTarget target(child, options_.command.empty() ? "command" : options_.command[0]);
  target.begin(*this);
  if (redactor_) redactor_->redact_header(&header_);
  recorder_->start(header_);
  if (int err = target.release()) {
    int status;
    std::string msg = exec_failure_message(options_.command.empty() ? "command" : options_.command[0], err, &status);
    recorder_->drain();
    recorder_->finish(status << 8, true);
    if (file_sink_) unlink(trace_path_.c_str());
    if (listener_) listener_->recording_ended(false);
    throw Error(msg, status);
  }
  return run_loop(target, true);
}

int TraceSession::run(Target& target) {
  if (redactor_) redactor_->redact_header(&header_);
  recorder_->start(header_);
  target.begin(*this);
  return run_loop(target, false);
}

void TraceSession::rotate(const std::string& path) {
  if (!file_sink_) return;
  recorder_->emit_late_jit_symbols();
  file_sink_->on_trailer(recorder_->trailer(0, false));
  recorder_->remove_sink(&*file_sink_);
  file_sink_.reset();
  trace_path_ = path;
  file_sink_.emplace(trace_path_);
  trace_files_.push_back(trace_path_);
  header_.set_file_sequence(header_.file_sequence() + 1);
  ClockPair now = read_clocks();
  header_.set_start_wall_ns(now.wall_ns);
  header_.set_start_mono_ns(now.mono_ns);
  file_sink_->on_header(header_);
  recorder_->add_sink(&*file_sink_);
  // Each file reads by itself: it starts with the processes being traced.
  std::set<uint32_t> live = live_;
  for (uint32_t pid : live)
    if (!announce_running_process(static_cast<pid_t>(pid), false)) live_.erase(pid);
}

int TraceSession::run_loop(Target& target, bool child) {
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
  if (target.exit_fd() >= 0) add_fd(target.exit_fd());

  int status = 0;
  bool exited = false;
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
  auto last_check = std::chrono::steady_clock::now();
  // Size-based rotation is checked after every event, so a burst cannot
  // make a file much larger than asked.
  if (mode_ == "watch")
    recorder_->set_after_event([&] {
      if (sink_failed_ || !file_sink_) return;
      std::string next = target.rotation_due(file_sink_->bytes_written());
      if (next.empty()) return;
      guarded([&] {
        std::string done = trace_path_;
        rotate(next);
        target.file_closed(done);
        if (listener_) listener_->file_completed(done);
      });
    });

  for (;;) {
    struct epoll_event evs[4];
    int n = epoll_wait(ep.get(), evs, 4, kPollMs);
    if (n < 0 && errno != EINTR) throw Error("epoll_wait failed: " + errno_text(errno));
    guarded([&] { recorder_->drain(); });
    bool stop = false;
    std::string rotate_to;
    for (int i = 0; i < n; ++i) {
      if (evs[i].data.fd == signal_fd_) {
        signalfd_siginfo si;
        while (read(signal_fd_, &si, sizeof(si)) == sizeof(si)) {
          switch (target.on_signal(si)) {
            case Target::SignalAction::kStop: stop = true; break;
            case Target::SignalAction::kRotate: rotate_to = target.next_file(); break;
            case Target::SignalAction::kIgnore: break;
          }
        }
      } else if (evs[i].data.fd == target.exit_fd()) {
        exited = target.on_exit_fd(&status);
      }
    }
    if (exited || stop) break;
    // An exit record lost to a full ring buffer must not keep a session
    // waiting forever: now and then, ask the kernel who is still there.
    auto now = std::chrono::steady_clock::now();
    if (now - last_check > std::chrono::seconds(1)) {
      last_check = now;
      for (auto it = live_.begin(); it != live_.end();)
        it = kill(static_cast<pid_t>(*it), 0) != 0 && errno == ESRCH ? live_.erase(it) : std::next(it);
    }
    if (target.finished(live_.size())) break;
    if (!rotate_to.empty()) {
      guarded([&] {
        std::string done = trace_path_;
        rotate(rotate_to);
        target.file_closed(done);
        if (listener_) listener_->file_completed(done);
      });
    }
    guarded([&] { recorder_->flush(); });
  }

  // The exit record is in the ring buffer before the parent could reap the
  // command; drain until nothing is left.
  guarded([&] { recorder_->drain(); });
  recorder_->set_after_event(nullptr);
  // Descendants that outlive the command (a daemon that double-forked) are
  // no longer recorded: each is a named gap, not silence.
  guarded([&] { note_survivors(); });
  guarded([&] { recorder_->finish(status, child && exited); });
  if (file_sink_ && !sink_failed_) {
    target.file_closed(trace_path_);
    if (listener_) listener_->file_completed(trace_path_);
  }
  probes_->detach_in_background();
  if (listener_) listener_->recording_ended(true);
  return status;
}

void TraceSession::note_survivors() {
  ClockPair now = read_clocks();
  for (uint32_t pid : probes_->traced_pids()) {
    auto st = read_proc_stat(static_cast<pid_t>(pid));
    if (!st || st->state == 'Z') continue;
    recorder_->emit(outlived_coverage(pid, static_cast<uint32_t>(st->ppid), st->comm, now.mono_ns, now.wall_ns));
  }
}

}  // namespace agenttrace::collector
