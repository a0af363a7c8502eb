#include <spdlog/spdlog.h>

#include "cli/commands.h"
#include "cli/parse.h"
#include "common/error.h"
#include "trace/json.h"
#include "trace/reader.h"
#include "trace/sink.h"

namespace agenttrace::cli {

int dump_command(const std::vector<std::string>& args) {
  std::string path;
  CLI::App app{"Print a trace file as JSON lines: a header, one object per event, a trailer.",
               "dump"};
  app.add_option("trace", path, "the .atrace file")->required();
  if (!parse_or_throw(app, args)) return kExitOk;

  trace::TraceReader reader(path);
  trace::JsonLinesSink out("-");
  out.on_header(reader.header());
  trace::Event event;
  trace::TraceReader::Status st;
  while ((st = reader.next(&event)) == trace::TraceReader::Status::kRecord) out.on_event(event);
  switch (st) {
    case trace::TraceReader::Status::kCorrupt:
      out.flush();
      throw Error(path + " is corrupt after " + std::to_string(reader.events_read()) +
                  " events: " + reader.error());
    case trace::TraceReader::Status::kTruncated:
    case trace::TraceReader::Status::kEnd:
      if (reader.has_trailer()) {
        out.on_trailer(reader.trailer());
      } else {
        out.flush();
        spdlog::warn("{} is truncated: it ends after {} events without its closing record (the "
                     "recording was cut short)",
                     path, reader.events_read());
      }
      break;
    case trace::TraceReader::Status::kRecord:
      break;
  }
  return kExitOk;
}

}  // namespace agenttrace::cli
