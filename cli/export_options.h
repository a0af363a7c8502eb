// --export and its companions: options of every command that records a
// session (agenttrace -- CMD, sandbox, and attach and watch as they come),
// so each gets the fleet export by passing them through.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "app/session.h"

namespace agenttrace::cli {

// What CLI11 fills in before finish_export_options() checks it.
struct ExportFlags {
  std::string spool_max = "256M";
  std::string drain_timeout = "10s";
};

void add_export_options(CLI::App& app, app::SessionOptions& run, ExportFlags& flags);

// Converts sizes and durations, takes AGENTTRACE_HOST_NAME when --host-name
// is absent, and reads the NATS settings and their files now, so a bad URL
// or a missing credentials file stops agenttrace before the command starts.
// Throws agenttrace::Error.
void finish_export_options(app::SessionOptions& run, const ExportFlags& flags);

}  // namespace agenttrace::cli
