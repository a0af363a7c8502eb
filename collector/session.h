// A recording session: probes loaded and attached, sinks open, signals
// routed; it traces a target until the target is done. A target is a gated
// child (`agenttrace -- CMD`, a sandbox), processes already running
// (`attach`), or the host (`watch`). What is done with the events besides
// writing them (live analysis, the fleet export) is the layer above's: it
// adds sinks and listens (app/session.h).
#pragma once

#include <signal.h>
#include <sys/signalfd.h>
#include <sys/types.h>

#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "collector/redactor.h"
#include "collector/run.h"
#include "collector/stack_resolver.h"
#include "common/identity.h"
#include "trace/sink.h"

namespace agenttrace::collector {

class Probes;
class LibraryProbes;
class Recorder;
class TraceSession;

// What a session traces: a child that is started but waits to exec.
class GatedChild {
 public:
  virtual ~GatedChild() = default;
  // Host PID of the process to trace (the command).
  virtual pid_t pid() const = 0;
  // A descriptor that becomes readable when the session should end.
  virtual int exit_fd() const = 0;
  // Lets the command exec: 0, or the exec's errno (the command never ran).
  virtual int release() = 0;
  // When the child has ended: true and the command's wait(2) status.
  virtual bool try_reap(int* status) = 0;
  // Passes a signal someone sent agenttrace on to the command.
  virtual void forward(int signal) = 0;
};

// The general form: anything a session can trace until it is done.
class Target {
 public:
  virtual ~Target() = default;
  // Recording has started: put the processes to trace into the kernel's
  // filter (TraceSession::trace_process) and emit what is known of them.
  virtual void begin(TraceSession& session) = 0;
  // A descriptor that becomes readable when the target may have ended; -1: none.
  virtual int exit_fd() const { return -1; }
  // exit_fd() became readable: true when the session ends, with *status
  // (a wait(2) status) to report.
  virtual bool on_exit_fd(int* status) { return false; }
  enum class SignalAction { kIgnore, kStop, kRotate };
  // A signal sent to agenttrace (SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1/2).
  virtual SignalAction on_signal(const signalfd_siginfo& si) = 0;
  // Called as the session runs with the traced processes still alive:
  // true ends the session.
  virtual bool finished(size_t live_processes) { return false; }
  // Called as the session runs: a non-empty path starts a new trace file
  // there (watch's size-based rotation).
  virtual std::string rotation_due(uint64_t file_bytes) { return {}; }
  // A rotation by signal: the next file's path (empty: keep writing).
  virtual std::string next_file() { return {}; }
  // A trace file was completed (closed with its trailer).
  virtual void file_closed(const std::string& path) {}
};

// What the layer above lends a session: the collector knows neither the
// knowledge base nor the analyzer.
struct SessionHelpers {
  // Redaction of credentials; nullptr with --keep-secrets.
  std::unique_ptr<Redactor> redactor;
  // With --capture-symbols: names stack frames at record time; empty: none.
  StackResolver::FrameNamer name_frames;
};

// Told of the session's progress by the session (the layer above exports
// each completed file's findings and closes the export at the end).
class SessionListener {
 public:
  virtual ~SessionListener() = default;
  // A trace file was completed, after the target heard of it.
  virtual void file_completed(const std::string& path) {}
  // Recording is over (the probes are detaching): `ran` is false when the
  // command could not be started.
  virtual void recording_ended(bool ran) {}
};

class TraceSession {
 public:
  // Loads the probes and opens the sinks; throws agenttrace::Error.
  // `mode` goes into the header: "run", "sandbox", "attach", "watch".
  TraceSession(const RunOptions& options, const std::string& mode, SessionHelpers helpers);
  ~TraceSession();
  TraceSession(const TraceSession&) = delete;
  TraceSession& operator=(const TraceSession&) = delete;

  // The signal mask the traced command must start with.
  const sigset_t& original_mask() const { return original_mask_; }
  LibraryProbes& libraries() { return *libraries_; }
  const std::string& mode() const { return mode_; }
  // Filled with host and option facts; callers add theirs before run().
  trace::Header& header() { return header_; }
  // Sinks after the session's own (trace file, JSON lines, -v), in order.
  void add_sink(trace::EventSink* sink);
  // At most one; it must outlive run().
  void set_listener(SessionListener* listener) { listener_ = listener; }
  // Redaction of credentials; nullptr with --keep-secrets. Callers add the
  // command's environment (its secret values are then found anywhere).
  Redactor* redactor() { return redactor_.get(); }

  // Traces `child` until it ends; returns the command's wait(2) status.
  // Throws agenttrace::Error (with the exec's exit status) when the command
  // could not be started.
  int run(GatedChild& child);
  // Traces `target` until it is done; returns the status it reported (0
  // when it ended by a signal or by running out of processes).
  int run(Target& target);

  // For targets: adds a process to the kernel's filter (its descendants
  // follow by themselves) and to the processes the session waits for.
  void trace_process(pid_t pid);
  // For targets: a process that was running before tracing began, with
  // what /proc says of it, and probes on the libraries it has mapped.
  // Returns false when it is gone.
  bool announce_running_process(pid_t pid, bool before_trace);
  // Processes traced and alive, as far as the events say.
  const std::set<uint32_t>& live_processes() const { return live_; }

  const std::string& trace_path() const { return trace_path_; }
  bool recording_failed() const { return sink_failed_; }
  // A trace file is being written and nothing failed.
  bool trace_file_written() const { return file_sink_ && !sink_failed_; }
  // Trace files written (more than one when a watch rotated).
  const std::vector<std::string>& trace_files() const { return trace_files_; }

 private:
  class LiveSink;
  int run_loop(Target& target, bool child);
  // Closes the current trace file with its trailer and continues in `path`.
  void rotate(const std::string& path);
  // Coverage events for traced processes still running after the command.
  void note_survivors();

  RunOptions options_;
  std::string mode_;
  std::unique_ptr<Probes> probes_;
  std::unique_ptr<LibraryProbes> libraries_;
  std::unique_ptr<Redactor> redactor_;
  std::unique_ptr<Recorder> recorder_;
  std::optional<trace::TraceFileSink> file_sink_;
  std::optional<trace::JsonLinesSink> json_sink_;
  std::optional<trace::TextLinesSink> text_sink_;
  std::unique_ptr<LiveSink> live_sink_;
  SessionListener* listener_ = nullptr;
  trace::Header header_;
  std::string trace_path_;
  std::vector<std::string> trace_files_;
  std::set<uint32_t> live_;
  sigset_t original_mask_;
  int signal_fd_ = -1;
  bool sink_failed_ = false;
};

// Writes as whom the command runs into the header.
void record_identity(const CommandIdentity& who, trace::Header* h);

// Exit status agenttrace reports for a command's wait(2) status.
int exit_status_of(int wait_status);

// The kinds of events whose records carry the caller's stack (names, for
// the header) and their bit mask for the kernel.
std::vector<std::string> stack_kind_names();
uint32_t stack_kind_mask();
// Which of those records keep their stack: all but the path lookups (open,
// readlink, stat, access) whose path matches none of `stack_paths` (globs).
std::function<bool(const trace::Event&)> stack_filter(std::vector<std::string> stack_paths);

}  // namespace agenttrace::collector
