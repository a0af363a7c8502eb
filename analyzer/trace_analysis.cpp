#include "analyzer/trace_analysis.h"

#include <spdlog/spdlog.h>

#include "analyzer/findings.h"
#include "analyzer/profile.h"
#include "common/error.h"
#include "trace/reader.h"

namespace agenttrace::analyzer {

Analysis analyze_trace_file(const std::string& path, const KnowledgeBase& kb, const SymbolizerOptions& symbols) {
  trace::TraceReader reader(path);
  ProfileBuilder builder(kb);
  builder.on_header(reader.header());
  trace::Event event;
  trace::TraceReader::Status st;
  while ((st = reader.next(&event)) == trace::TraceReader::Status::kRecord) builder.on_event(event);
  if (st == trace::TraceReader::Status::kCorrupt)
    throw Error(path + " is corrupt after " + std::to_string(reader.events_read()) + " events: " + reader.error());
  Analysis a;
  if (reader.has_trailer()) {
    builder.on_trailer(reader.trailer());
  } else {
    a.truncated = true;
    spdlog::warn("{} is truncated: it ends after {} events without its closing record; analysing what is there",
                 path, reader.events_read());
  }
  a.profile = std::move(builder.profile());
  symbolize_stacks(a.profile, symbols);
  // The code the processes ran is read only where they ran: a file of the
  // same name on another machine is not theirs.
  if (symbols.local_files && recorded_here(a.profile.header)) a.profile.code = inspect_code(a.profile);
  a.findings = run_rules(a.profile, kb);
  a.source = path;
  return a;
}

}  // namespace agenttrace::analyzer
