// The collector's pipeline from ring buffer to sinks: decode each raw
// record, give it an id and wall-clock time, let the environment-probe
// manager look at it, and hand it to every sink. Also keeps the per-kind
// counts that go into the trace's closing record.
#pragma once

#include <cstdint>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "collector/decoder.h"
#include "collector/file_refusals.h"
#include "collector/library_probes.h"
#include "collector/network.h"
#include "collector/splice_sources.h"
#include "collector/stack_resolver.h"
#include "trace/sink.h"

struct ring_buffer;

namespace agenttrace::collector {

class Probes;
class Redactor;

class Recorder {
 public:
  Recorder(Probes* probes, LibraryProbes* env, int64_t wall_minus_mono);
  ~Recorder();
  Recorder(const Recorder&) = delete;
  Recorder& operator=(const Recorder&) = delete;

  void add_sink(trace::EventSink* sink) { sinks_.push_back(sink); }
  void remove_sink(trace::EventSink* sink);

  // Call stacks: `keep` says which events keep the stack the kernel captured
  // (the rest are dropped before anything is written); kept ones are
  // resolved to modules and offsets by `resolver`.
  using StackFilter = std::function<bool(const trace::Event&)>;
  void set_stacks(std::unique_ptr<StackResolver> resolver, StackFilter keep);
  // Files the traced programs named that were not read: the library probes
  // and the stack resolver note them, the recorder names them in coverage
  // events after the record that led to them.
  FileRefusals& refusals() { return refusals_; }
  const StackResolver* stacks() const { return stack_resolver_.get(); }
  // Credentials are redacted in every event before any sink sees it
  // (nullptr: --keep-secrets). Not owned.
  void set_redactor(Redactor* r) { redactor_ = r; }
  // Called after each event has reached every sink (not for events the
  // hook itself emits): the session's size-based rotation.
  void set_after_event(std::function<void()> hook) { after_event_ = std::move(hook); }

  void start(const trace::Header& header);
  // An event the collector itself produced (e.g. a coverage note).
  void emit(trace::Event event);
  // Drains whatever the ring buffer holds now. Rethrows a sink failure.
  void drain();
  // The fd to poll for ring-buffer data.
  int poll_fd() const;
  void flush();
  // Reads the kernel counters and writes the closing record to every sink.
  trace::Trailer finish(int exit_status, bool target_exited);
  // Names of JIT code that stacks needed and perf maps had not yet written.
  void emit_late_jit_symbols();
  // The closing record as it would be now, written nowhere (a rotated file's).
  trace::Trailer trailer(int exit_status, bool target_exited);

  uint64_t events() const { return next_id_ - 1; }
  uint64_t decode_errors() const { return decode_errors_; }

  // Entry point for one raw record (the ring-buffer callback; tests call it).
  void handle_record(const void* data, size_t size);

 private:
  static int on_ringbuf_record(void* ctx, void* data, size_t size);
  void dispatch(trace::Event* event);
  void name_refusals(const trace::Event& cause);

  Probes* probes_;
  LibraryProbes* env_;
  Decoder decoder_;
  NetworkTracker network_;
  DataRecord data_record_;
  SpliceRecord splice_record_;
  SpliceSources splice_sources_;
  uint64_t last_mono_ns_ = 0;
  ring_buffer* rb_ = nullptr;
  std::vector<trace::EventSink*> sinks_;
  trace::Event event_;
  std::vector<trace::Event> extra_;
  uint64_t next_id_ = 1;
  uint64_t decode_errors_ = 0;
  std::string first_decode_error_;
  std::map<std::string, uint64_t> recorded_;
  FileRefusals refusals_;
  std::unique_ptr<StackResolver> stack_resolver_;
  std::function<void()> after_event_;
  bool in_after_event_ = false;
  StackFilter keep_stack_;
  Redactor* redactor_ = nullptr;
  std::exception_ptr failure_;
};

// at_kind value -> the trace's kind name ("open"), "" when unused.
const char* kernel_kind_name(int kind);

}  // namespace agenttrace::collector
