#include "trace/sink.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "common/error.h"
#include "common/output_file.h"
#include "trace/json.h"
#include "trace/text.h"

namespace agenttrace::trace {

JsonLinesSink::JsonLinesSink(const std::string& path) : path_(path) {
  if (path == "-") {
    out_ = stdout;
    return;
  }
  int fd = create_output_file(path).release();
  out_ = fdopen(fd, "w");
  if (!out_) {
    ::close(fd);
    throw Error("cannot open JSON output " + path + ": " + errno_text(errno));
  }
  owned_ = true;
}

JsonLinesSink::~JsonLinesSink() {
  if (owned_ && out_) fclose(out_);
}

void JsonLinesSink::put(const std::string& line) {
  if (fwrite(line.data(), 1, line.size(), out_) != line.size() || fputc('\n', out_) == EOF)
    throw Error("cannot write JSON output " + (path_ == "-" ? std::string("to standard output") : path_) +
                ": " + errno_text(errno));
}

void JsonLinesSink::on_header(const Header& h) { put(json_line(header_json(h))); }
void JsonLinesSink::on_event(const Event& e) { put(json_line(event_json(e))); }
void JsonLinesSink::on_trailer(const Trailer& t) {
  put(json_line(trailer_json(t)));
  flush();
}

void JsonLinesSink::flush() {
  if (fflush(out_) != 0)
    throw Error("cannot write JSON output " + (path_ == "-" ? std::string("to standard output") : path_) +
                ": " + errno_text(errno));
}

void TextLinesSink::on_event(const Event& e) {
  std::string line = event_text_line(e, start_mono_ns_);
  line += '\n';
  fwrite(line.data(), 1, line.size(), out_);
}

}  // namespace agenttrace::trace
