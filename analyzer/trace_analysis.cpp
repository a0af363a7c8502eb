#include "analyzer/trace_analysis.h"

#include <spdlog/spdlog.h>

#include "analyzer/findings.h"
#include "analyzer/profile.h"
#include "common/error.h"
#include "trace/reader.h"

namespace agenttrace::analyzer {

void read_code_where_it_ran(Profile& profile, const SymbolizerOptions& symbols) {
  if (symbols.local_files && recorded_here(profile.header)) profile.code = inspect_code(profile);
}

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
  read_code_where_it_ran(a.profile, symbols);
  a.findings = run_rules(a.profile, kb);
  a.source = path;
  return a;
}

}  // namespace agenttrace::analyzer
