// `agenttrace dump --payloads DIR`: writes each connection's outgoing bytes,
// re-assembled in order, to a file of its own, so the exact request an agent
// sent can be opened. TLS plaintext goes to a file beside the connection's
// raw bytes; index.json says what each file is and what it lacks.
#pragma once

#include <cstdint>
#include <cstdio>
#include <deque>
#include <map>
#include <string>

#include "common/unique_fd.h"
#include "trace/sink.h"

namespace agenttrace::analyzer {

class PayloadStreams : public trace::EventSink {
 public:
  // Creates DIR (mode 0700) if needed; throws agenttrace::Error.
  explicit PayloadStreams(const std::string& dir);
  ~PayloadStreams() override;

  void on_event(const trace::Event& event) override;
  void on_trailer(const trace::Trailer&) override { finish(); }
  // Closes the files and writes index.json; returns the number of streams.
  size_t finish();

 private:
  // Files kept open at once: a trace may hold more connections than a
  // process may open files; the others are reopened to append.
  static constexpr size_t kMaxOpenFiles = 32;

  struct Stream {
    std::string file;  // name inside dir
    FILE* out = nullptr;  // open, or closed to stay within kMaxOpenFiles
    uint32_t conn = 0;
    uint32_t pid = 0;
    std::string comm;
    std::string peer;
    std::string host;
    bool tls = false;
    uint64_t bytes = 0;      // sent in all
    uint64_t captured = 0;   // written to the file
    uint64_t truncated = 0;  // not captured
    uint64_t gaps = 0;       // messages with missing bytes
    uint64_t first_event = 0;
  };

  Stream& stream_for(const trace::Event& e, const trace::Data& d);
  // The stream's file, open for writing (created on first use).
  FILE* file_of(Stream& s, bool create);
  void close_file(Stream& s);

  std::string dir_;
  UniqueFd dir_fd_;
  std::map<std::string, Stream> streams_;  // keyed by file name
  std::deque<Stream*> open_;               // streams with an open file, oldest first
  bool finished_ = false;
};

}  // namespace agenttrace::analyzer
