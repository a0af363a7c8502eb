#include <spdlog/spdlog.h>

#include <optional>

#include "analyzer/payload_streams.h"
#include "cli/commands.h"
#include "cli/parse.h"
#include "common/error.h"
#include "trace/json.h"
#include "trace/reader.h"
#include "trace/sink.h"

namespace agenttrace::cli {

int dump_command(const std::vector<std::string>& args) {
  std::string path, payload_dir;
  CLI::App app{"Print a trace file as JSON lines: a header, one object per event, a trailer.\n"
               "With --payloads DIR, write each connection's outgoing bytes to a file instead.",
               "dump"};
  app.add_option("trace", path, "the .atrace file")->required();
  app.add_option("--payloads", payload_dir,
                 "write each connection's re-assembled outgoing stream to DIR (and DIR/index.json)");
  if (!parse_or_throw(app, args)) return kExitOk;

  trace::TraceReader reader(path);
  std::optional<trace::JsonLinesSink> json;
  std::optional<analyzer::PayloadStreams> payloads;
  trace::EventSink* out;
  if (payload_dir.empty()) {
    json.emplace("-");
    out = &*json;
  } else {
    payloads.emplace(payload_dir);
    out = &*payloads;
  }
  out->on_header(reader.header());
  trace::Event event;
  trace::TraceReader::Status st;
  while ((st = reader.next(&event)) == trace::TraceReader::Status::kRecord) out->on_event(event);
  auto report_streams = [&] {
    if (payloads) {
      size_t n = payloads->finish();
      fprintf(stderr, "agenttrace: wrote %zu payload stream%s to %s (see %s/index.json)\n", n,
              n == 1 ? "" : "s", payload_dir.c_str(), payload_dir.c_str());
    }
  };
  switch (st) {
    case trace::TraceReader::Status::kCorrupt:
      out->flush();
      report_streams();
      throw Error(path + " is corrupt after " + std::to_string(reader.events_read()) +
                  " events: " + reader.error());
    case trace::TraceReader::Status::kTruncated:
    case trace::TraceReader::Status::kEnd:
      if (reader.has_trailer()) {
        out->on_trailer(reader.trailer());
      } else {
        out->flush();
        spdlog::warn("{} is truncated: it ends after {} events without its closing record (the "
                     "recording was cut short)",
                     path, reader.events_read());
      }
      break;
    case trace::TraceReader::Status::kRecord:
      break;
  }
  report_streams();
  return kExitOk;
}

}  // namespace agenttrace::cli
