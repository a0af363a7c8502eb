// The options every recording command shares (`agenttrace -- CMD`, attach,
// watch): outputs, capture limits, call stacks. One place, so they read and
// behave the same everywhere.
#pragma once

#include <string>

#include "cli/export_options.h"
#include "cli/parse.h"
#include "app/session.h"

namespace agenttrace::cli {

struct RecordingFlags {
  std::string ringbuf = "16M";
  std::string capture = "1M";
  bool no_stacks = false;
  ExportFlags export_flags;
};

// Adds --json, -v, --show-values, --ringbuf-size, --capture-bytes, -q,
// --debug, --kb, --no-stacks, --capture-symbols and the fleet export's
// options (--export, ...).
void add_recording_options(CLI::App& app, app::SessionOptions& run, RecordingFlags& flags);
// Checks and converts them into `run` after parsing; throws agenttrace::Error.
void finish_recording_options(app::SessionOptions& run, const RecordingFlags& flags);

}  // namespace agenttrace::cli
