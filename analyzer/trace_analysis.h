// A trace file through the analyzer: profile, named stacks, findings. The
// same for `agenttrace analyze FILE` and for a watch that exports the
// findings of each file it completes.
#pragma once

#include <string>

#include "analyzer/knowledge_base.h"
#include "analyzer/report.h"
#include "analyzer/symbolizer.h"

namespace agenttrace::analyzer {

// Throws agenttrace::Error for a file that cannot be read or is corrupt; a
// truncated file is analysed up to its last record (Analysis::truncated).
// The code the processes ran (code_evidence.h), read only where they ran
// and when local files may be read: a file of the same name on another
// machine is not theirs. For a trace file and for a session from a stream.
void read_code_where_it_ran(Profile& profile, const SymbolizerOptions& symbols);

Analysis analyze_trace_file(const std::string& path, const KnowledgeBase& kb, const SymbolizerOptions& symbols = {});

}  // namespace agenttrace::analyzer
