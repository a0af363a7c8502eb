#include "collector/run.h"

#include <signal.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <optional>

#include <spdlog/spdlog.h>

#include "analyzer/knowledge_base.h"
#include "analyzer/profile.h"
#include "analyzer/report.h"
#include "analyzer/summary.h"
#include "collector/library_probes.h"
#include "collector/host_info.h"
#include "collector/launcher.h"
#include "collector/probes.h"
#include "collector/recorder.h"
#include "common/error.h"
#include "common/strings.h"
#include "common/unique_fd.h"
#include "version.h"

namespace agenttrace::collector {

namespace {

// How often the loop wakes without ring-buffer wake-ups (they are batched).
constexpr int kPollMs = 50;

// Signals agenttrace passes on to the command when someone sends them to
// agenttrace itself.
constexpr int kForwarded[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};

// Parent of `pid` from /proc, or -1.
pid_t parent_of(pid_t pid) {
  char path[64];
  snprintf(path, sizeof(path), "/proc/%d/stat", pid);
  FILE* f = fopen(path, "re");
  if (!f) return -1;
  char buf[512];
  size_t n = fread(buf, 1, sizeof(buf) - 1, f);
  fclose(f);
  buf[n] = '\0';
  // The command name may hold spaces and parentheses: parse after the last ')'.
  char* close = strrchr(buf, ')');
  int ppid = -1;
  if (!close || sscanf(close + 1, " %*c %d", &ppid) != 1) return -1;
  return ppid;
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

int run_traced(const RunOptions& opt) {
  if (opt.command.empty()) throw Error("no command to trace (usage: agenttrace [OPTIONS] -- CMD [ARGS...])");

  ProbeConfig pc;
  pc.capture_values = opt.show_values;
  pc.ringbuf_bytes = opt.ringbuf_bytes;
  pc.capture_bytes = opt.capture_bytes;
  pc.debug = opt.debug;
  Probes probes(pc);
  for (const auto& tp : probes.missing_tracepoints())
    spdlog::warn("this kernel has no tracepoint {}; what it records is missing from the trace", tp);

  LibraryProbes env([&probes](const std::string& prog, bool retprobe, const std::string& path,
                               uint64_t offset) {
    return probes.attach_uprobe(prog, retprobe, path, offset);
  });
  if (env.attach_system_libraries().empty())
    spdlog::warn("no C library could be probed: environment lookups will not be recorded");

  ClockPair clocks = read_clocks();
  HostInfo host = read_host_info();
  analyzer::KnowledgeBase kb = analyzer::KnowledgeBase::builtin();

  // Sinks are created before the command starts, so a bad path fails early.
  std::optional<trace::TraceFileSink> file_sink;
  std::optional<trace::JsonLinesSink> json_sink;
  std::optional<trace::TextLinesSink> text_sink;
  analyzer::SummaryBuilder summary(kb);
  analyzer::ProfileBuilder profile(kb);
  std::string trace_path;
  if (!opt.no_trace_file) {
    trace_path = opt.output_path.empty() ? default_trace_name(opt.command[0], clocks.wall_ns) : opt.output_path;
    file_sink.emplace(trace_path);
  }
  if (!opt.json_path.empty()) json_sink.emplace(opt.json_path);
  if (opt.verbose) text_sink.emplace(stderr);

  Recorder recorder(&probes, &env, clocks.wall_minus_mono());
  if (file_sink) recorder.add_sink(&*file_sink);
  if (json_sink) recorder.add_sink(&*json_sink);
  if (text_sink) recorder.add_sink(&*text_sink);
  recorder.add_sink(&summary);
  recorder.add_sink(&profile);

  // Signals for agenttrace arrive through a signalfd; the command gets the
  // original mask and default dispositions back before it execs.
  sigset_t forwarded, original;
  sigemptyset(&forwarded);
  for (int sig : kForwarded) sigaddset(&forwarded, sig);
  sigprocmask(SIG_BLOCK, &forwarded, &original);
  signal(SIGPIPE, SIG_IGN);
  UniqueFd sigfd(signalfd(-1, &forwarded, SFD_CLOEXEC | SFD_NONBLOCK));
  if (!sigfd.valid()) throw Error("cannot set up signal handling: " + errno_text(errno));

  if (std::string exe = find_in_path(opt.command[0], getenv("PATH")); !exe.empty())
    env.prepare_executable(exe);

  Launcher child(opt.command, original);
  probes.trace_pid(static_cast<uint32_t>(child.pid()));

  trace::Header header;
  header.set_format_version(trace::kFormatVersion);
  header.set_agenttrace_version(AGENTTRACE_VERSION);
  header.set_hostname(host.hostname);
  header.set_kernel_release(host.kernel_release);
  header.set_kernel_version(host.kernel_version);
  header.set_machine(host.machine);
  header.set_boot_id(host.boot_id);
  header.set_start_wall_ns(clocks.wall_ns);
  header.set_start_mono_ns(clocks.mono_ns);
  for (const auto& a : opt.command) header.add_command(a);
  for (const auto& a : opt.agenttrace_argv) header.add_options(a);
  header.set_mode("run");
  header.set_root_pid(static_cast<uint32_t>(child.pid()));
  header.set_values_captured(opt.show_values);
  header.set_ringbuf_bytes(opt.ringbuf_bytes);
  header.set_capture_bytes(opt.capture_bytes);
  for (const auto& [k, v] : host.values) (*header.mutable_host_values())[k] = v;
  recorder.start(header);

  if (int err = child.release()) {
    int status;
    std::string msg = exec_failure_message(opt.command[0], err, &status);
    recorder.drain();
    recorder.finish(status << 8, true);
    if (file_sink) unlink(trace_path.c_str());
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
  add_fd(recorder.poll_fd());
  add_fd(sigfd.get());
  add_fd(child.pidfd());

  int status = 0;
  bool sink_failed = false;
  auto guarded = [&](auto&& fn) {
    // A sink that fails (disk full) stops recording loudly; the command runs on.
    if (sink_failed) return;
    try {
      fn();
    } catch (const Error& e) {
      sink_failed = true;
      spdlog::error("{}; recording stopped, the command continues", e.what());
    }
  };

  for (;;) {
    struct epoll_event evs[4];
    int n = epoll_wait(ep.get(), evs, 4, kPollMs);
    if (n < 0 && errno != EINTR) throw Error("epoll_wait failed: " + errno_text(errno));
    guarded([&] { recorder.drain(); });
    bool exited = false;
    for (int i = 0; i < n; ++i) {
      if (evs[i].data.fd == sigfd.get()) {
        signalfd_siginfo si;
        while (read(sigfd.get(), &si, sizeof(si)) == sizeof(si)) {
          if (should_forward(si, child.pid())) kill(child.pid(), static_cast<int>(si.ssi_signo));
        }
      } else if (evs[i].data.fd == child.pidfd()) {
        exited = child.try_reap(&status);
      }
    }
    if (exited) break;
    guarded([&] { recorder.flush(); });
  }

  // The exit record is in the ring buffer before the parent could reap the
  // command; drain until nothing is left.
  guarded([&] { recorder.drain(); });
  trace::Trailer trailer;
  guarded([&] { trailer = recorder.finish(status, true); });
  sigprocmask(SIG_SETMASK, &original, nullptr);
  probes.detach_in_background();

  if (!opt.quiet) {
    // Findings first, then the profile: one screen a person reads.
    analyzer::Analysis analysis;
    analysis.profile = std::move(profile.profile());
    analysis.findings = analyzer::run_rules(analysis.profile, kb);
    analysis.source = "live";
    bool color = analyzer::terminal_wants_color(STDERR_FILENO);
    std::string text = analyzer::findings_text(analysis, color) +
                       summary.render(file_sink && !sink_failed ? trace_path : "");
    fputs(text.c_str(), stderr);
  }
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return WEXITSTATUS(status);
}

}  // namespace agenttrace::collector
