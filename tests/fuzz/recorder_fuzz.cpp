// The collector's side of the ring buffer: raw records (bpf/agenttrace.h)
// decoded and put together the way a recording does it (payload chunks
// re-assembled, DNS parsed out of port-53 datagrams, splice sends tied to
// their files, io_uring and coverage events), then the closing record. The
// kernel writes these records, but a decoder that trusts every length is one
// kernel or layout change away from reading out of bounds.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "collector/recorder.h"
#include "fuzz_input.h"
#include "trace/json.h"

namespace {

// AGENTTRACE_FUZZ_PRINT=1 prints what an input decodes to (to check seeds).
class JsonSink : public agenttrace::trace::EventSink {
 public:
  void on_event(const agenttrace::trace::Event& e) override {
    put(agenttrace::trace::json_line(agenttrace::trace::event_json(e)));
  }
  void on_trailer(const agenttrace::trace::Trailer& t) override {
    put(agenttrace::trace::json_line(agenttrace::trace::trailer_json(t)));
  }

 private:
  void put(const std::string& line) {
    static const bool print = getenv("AGENTTRACE_FUZZ_PRINT") != nullptr;
    if (print) fprintf(stderr, "%s\n", line.c_str());
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  agenttrace::fuzz::FuzzInput in(data, size);
  JsonSink sink;
  agenttrace::collector::Recorder recorder(nullptr, nullptr, 0);
  recorder.add_sink(&sink);
  while (!in.empty()) {
    // Each record in its own allocation, so reading past it is caught.
    std::string record(in.piece());
    recorder.handle_record(record.data(), record.size());
  }
  recorder.finish(0, true);
  return 0;
}
