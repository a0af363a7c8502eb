// Where events go: the trace file, JSON lines, a live text stream, the
// analyzer. A live recording and a replayed file feed the same sinks.
#pragma once

#include <cstdio>
#include <memory>
#include <string>

#include "trace/format.h"
#include "trace/writer.h"

namespace agenttrace::trace {

class EventSink {
 public:
  virtual ~EventSink() = default;
  virtual void on_header(const Header&) {}
  virtual void on_event(const Event& event) = 0;
  // Before any sink is given the closing record, each may add what it alone
  // knows (the fleet export's delivery counts), so every copy says the same.
  virtual void complete_trailer(Trailer*) {}
  virtual void on_trailer(const Trailer&) {}
  // Pushes buffered output out (called on a timer and at the end).
  virtual void flush() {}
};

class TraceFileSink : public EventSink {
 public:
  explicit TraceFileSink(const std::string& path) : writer_(path) {}
  void on_header(const Header& h) override { writer_.write_header(h); }
  void on_event(const Event& e) override { writer_.write_event(e); }
  void on_trailer(const Trailer& t) override {
    writer_.write_trailer(t);
    writer_.close();
  }
  void flush() override { writer_.flush(); }
  const std::string& path() const { return writer_.path(); }
  uint64_t bytes_written() const { return writer_.bytes_written(); }

 private:
  TraceWriter writer_;
};

// One JSON object per line (trace/json.h). "-" writes to standard output.
class JsonLinesSink : public EventSink {
 public:
  explicit JsonLinesSink(const std::string& path);
  ~JsonLinesSink() override;
  void on_header(const Header& h) override;
  void on_event(const Event& e) override;
  void on_trailer(const Trailer& t) override;
  void flush() override;

 private:
  void put(const std::string& line);
  std::string path_;
  FILE* out_ = nullptr;
  bool owned_ = false;
};

// One readable line per event (trace/text.h), for -v.
class TextLinesSink : public EventSink {
 public:
  explicit TextLinesSink(FILE* out) : out_(out) {}
  void on_header(const Header& h) override { start_mono_ns_ = h.start_mono_ns(); }
  void on_event(const Event& e) override;
  void flush() override { fflush(out_); }

 private:
  FILE* out_;
  uint64_t start_mono_ns_ = 0;
};

}  // namespace agenttrace::trace
