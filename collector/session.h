// A recording session: probes loaded and attached, sinks open, signals
// routed; it starts a gated child (a plain command, or one inside a sandbox),
// records until that child ends, and leaves the analysis behind. Both
// `agenttrace -- CMD` and `agenttrace sandbox` are a session around a child.
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "analyzer/knowledge_base.h"
#include "analyzer/profile.h"
#include "analyzer/report.h"
#include "analyzer/summary.h"
#include "collector/run.h"
#include "trace/sink.h"

namespace agenttrace::collector {

class Probes;
class LibraryProbes;
class Recorder;

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

class TraceSession {
 public:
  // Loads the probes and opens the sinks; throws agenttrace::Error.
  explicit TraceSession(const RunOptions& options);
  ~TraceSession();
  TraceSession(const TraceSession&) = delete;
  TraceSession& operator=(const TraceSession&) = delete;

  // The signal mask the traced command must start with.
  const sigset_t& original_mask() const { return original_mask_; }
  LibraryProbes& libraries() { return *libraries_; }
  const analyzer::KnowledgeBase& knowledge_base() const { return kb_; }
  // Filled with host and option facts; callers add theirs before run().
  trace::Header& header() { return header_; }
  void add_sink(trace::EventSink* sink);

  // Traces `child` until it ends; returns the command's wait(2) status.
  // Throws agenttrace::Error (with the exec's exit status) when the command
  // could not be started.
  int run(GatedChild& child);

  // After run(): the profile and findings, and what to print at the end.
  analyzer::Analysis analysis();
  std::string end_report(const analyzer::Analysis& analysis) const;
  const std::string& trace_path() const { return trace_path_; }
  bool recording_failed() const { return sink_failed_; }

 private:
  // Coverage events for traced processes still running after the command.
  void note_survivors();

  RunOptions options_;
  analyzer::KnowledgeBase kb_;
  std::unique_ptr<Probes> probes_;
  std::unique_ptr<LibraryProbes> libraries_;
  std::unique_ptr<Recorder> recorder_;
  std::optional<trace::TraceFileSink> file_sink_;
  std::optional<trace::JsonLinesSink> json_sink_;
  std::optional<trace::TextLinesSink> text_sink_;
  analyzer::SummaryBuilder summary_;
  analyzer::ProfileBuilder profile_;
  trace::Header header_;
  std::string trace_path_;
  sigset_t original_mask_;
  int signal_fd_ = -1;
  bool sink_failed_ = false;
};

// Exit status agenttrace reports for a command's wait(2) status.
int exit_status_of(int wait_status);

}  // namespace agenttrace::collector
