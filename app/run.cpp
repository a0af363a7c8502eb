#include "app/run.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "collector/attach.h"
#include "collector/launcher.h"
#include "collector/library_probes.h"
#include "collector/stack_resolver.h"
#include "common/error.h"
#include "common/identity.h"
#include "common/elf_file.h"
#include "common/safe_open.h"

namespace agenttrace::app {

namespace {

// A plain command as the child a recording gates.
class PlainChild : public collector::GatedChild {
 public:
  PlainChild(const std::vector<std::string>& argv, const sigset_t& mask, collector::LaunchAs as)
      : launcher_(argv, mask, std::move(as)) {}
  pid_t pid() const override { return launcher_.pid(); }
  int exit_fd() const override { return launcher_.pidfd(); }
  int release() override { return launcher_.release(); }
  bool try_reap(int* status) override { return launcher_.try_reap(status); }
  void forward(int sig) override { kill(launcher_.pid(), sig); }

 private:
  collector::Launcher launcher_;
};

// Whether the executable is a Bun (only those are read whole for the option).
bool is_bun(const std::string& path) {
  std::string error;
  auto elf = ElfFile::open(path, &error);
  return elf && collector::classify_executable(*elf).runtime == "bun";
}

// Whether the file holds `needle` (read in 1 MiB pieces; false when it
// cannot be read).
bool file_contains(const std::string& path, const std::string& needle) {
  SafeOpenOptions options;
  options.max_bytes = 1ull << 30;
  SafeFile f = safe_open(path, options);
  if (!f.ok()) return false;
  std::string window;
  std::vector<char> buf(1 << 20);
  for (ssize_t n; (n = read(f.fd.get(), buf.data(), buf.size())) > 0;) {
    window.append(buf.data(), static_cast<size_t>(n));
    if (window.find(needle) != std::string::npos) return true;
    window.erase(0, window.size() - std::min(window.size(), needle.size() - 1));
  }
  return false;
}

}  // namespace

int run_traced(const SessionOptions& opt) {
  if (opt.command.empty()) throw Error("no command to trace (usage: agenttrace [OPTIONS] -- CMD [ARGS...])");
  if (opt.jit_symbols) {
    // Node.js takes V8's perf-map flags from NODE_OPTIONS; interpreted
    // functions get frames of their own, so the map names every JS function.
    const char* old = getenv("NODE_OPTIONS");
    std::string v = old && *old ? std::string(old) + " " : std::string();
    setenv("NODE_OPTIONS", (v + "--perf-basic-prof --interpreted-frames-native-stack").c_str(), 1);
    // Bun (JavaScriptCore) writes no perf map but a JITDump; a Bun that does
    // not know the option refuses to start (1.1 does), so it is asked for only
    // of a command whose executable names it. Other Bun executables the tree
    // starts inherit it: one older than 1.2 would refuse to run.
    if (std::string exe = collector::find_in_path(opt.command[0], getenv("PATH"));
        !exe.empty() && is_bun(exe) && file_contains(exe, "JSC_useJITDump")) {
      setenv("BUN_JSC_useJITDump", "1", 1);
      setenv("BUN_JSC_jitDumpDirectory", "/tmp", 1);
    }
  }
  const CommandIdentity who = decide_command_identity(opt.run_as_user, opt.as_root);
  set_output_owner(who.owner);
  Session session(opt);
  collector::TraceSession& recording = session.recording();
  collector::record_identity(who, &recording.header());
  if (std::string exe = collector::find_in_path(opt.command[0], getenv("PATH")); !exe.empty())
    recording.libraries().prepare_executable(exe);
  std::vector<std::string> env = command_environment(environ, who);
  // The command's own secrets (API keys in its environment) are redacted
  // wherever they turn up, plainly or encoded.
  if (recording.redactor()) recording.redactor()->add_environment(env);
  PlainChild child(opt.command, recording.original_mask(), collector::LaunchAs{who.user, std::move(env)});
  int status = recording.run(child);
  const analyzer::Analysis& a = session.analysis();
  if (!opt.quiet) fputs(session.end_report(a).c_str(), stderr);
  if (opt.jit_symbols) {
    // The perf maps were asked for by agenttrace; their content is in the
    // trace. V8 also writes an isolate-0xADDR-PID-v8.log into the working
    // directory with them (NODE_OPTIONS cannot send it elsewhere): those of
    // the traced processes, written during the run, go too.
    const time_t start = a.profile.header.start_wall_ns() / 1'000'000'000;
    // Only regular files (not links) the command's user owns: /tmp is
    // shared, and a name there may be someone else's.
    const uid_t command_uid = who.user ? who.user->uid : geteuid();
    auto remove_if_ours = [start, command_uid](const std::string& path) {
      struct stat st;
      if (lstat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != command_uid || st.st_mtime < start)
        return false;
      return unlink(path.c_str()) == 0;
    };
    std::set<std::string> v8_logs;
    for (const auto& [pid, proc] : a.profile.processes) {
      remove_if_ours("/tmp/perf-" + std::to_string(pid) + ".map");
      // Bun's JITDumps (jit-PID.dump, jit-TID-PID.dump), asked for the same way.
      for (std::string dump; !(dump = collector::PerfMap::find_jitdump("/tmp", pid)).empty() && remove_if_ours(dump);) {
      }
      v8_logs.insert("-" + std::to_string(pid) + "-v8.log");
    }
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(".", ec)) {
      std::string name = entry.path().filename().string();
      if (name.rfind("isolate-0x", 0) != 0) continue;
      size_t dash = name.find('-', 10);
      if (dash != std::string::npos && v8_logs.count(name.substr(dash))) remove_if_ours(name);
    }
  }
  return collector::exit_status_of(status);
}

int run_attached(SessionOptions opt, const std::vector<pid_t>& pids) {
  std::vector<std::string> first_argv = collector::attach_command(pids);
  // The header's command is what the first process runs.
  if (opt.command.empty()) opt.command = first_argv;
  Session session(opt, "attach");
  collector::TraceSession& recording = session.recording();
  for (pid_t p : pids) recording.header().add_attached_pids(static_cast<uint32_t>(p));
  recording.header().set_root_pid(static_cast<uint32_t>(pids.front()));
  collector::AttachTarget target(pids);
  recording.run(target);
  if (!opt.quiet) {
    analyzer::Analysis a = session.analysis();
    fputs(session.end_report(a).c_str(), stderr);
  }
  return recording.recording_failed() ? kExitToolError : kExitOk;
}

int run_watch(SessionOptions opt, const collector::WatchOptions& w) {
  collector::prepare_watch(opt, w);
  collector::WatchTarget target(opt, w);
  opt.output_path = target.next_file();

  Session session(opt, "watch");
  collector::TraceSession& recording = session.recording();
  for (const auto& c : opt.watch_comms) recording.header().add_watch_comms(c);
  for (const auto& e : opt.watch_exes) recording.header().add_watch_exes(e);
  recording.header().set_file_sequence(1);
  if (!opt.quiet)
    fprintf(stderr, "agenttrace watch: %s into %s (rotating at %llu bytes, keeping %u files); SIGHUP rotates, Ctrl-C ends\n",
            opt.trace_all ? "recording every process" : "recording matching processes and their descendants",
            w.dir.c_str(), static_cast<unsigned long long>(w.rotate_bytes), w.keep);
  recording.run(target);
  if (!opt.quiet) {
    fprintf(stderr, "agenttrace watch: %zu file(s) written", recording.trace_files().size());
    if (target.deleted()) fprintf(stderr, ", %llu older deleted to keep %u", static_cast<unsigned long long>(target.deleted()), w.keep);
    fputs(":\n", stderr);
    for (const auto& f : recording.trace_files())
      if (access(f.c_str(), F_OK) == 0) fprintf(stderr, "  %s\n", f.c_str());
  }
  return recording.recording_failed() ? kExitToolError : kExitOk;
}

}  // namespace agenttrace::app
