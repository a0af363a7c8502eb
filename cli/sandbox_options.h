// What `agenttrace sandbox` and `agenttrace diff` share: the sandbox's
// options and its reports (the run itself: app/sandbox_run.h).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>

#include "analyzer/policy.h"
#include "analyzer/report.h"
#include "app/sandbox_run.h"
#include "app/session.h"

namespace agenttrace::cli {

void add_sandbox_options(CLI::App& app, app::SandboxOptions& o, app::SessionOptions& run);
// Validates what was parsed, reads env files, takes CMD from what follows
// "--"; throws agenttrace::Error.
void finish_sandbox_options(CLI::App& app, app::SandboxOptions& o, app::SessionOptions& run,
                            const std::vector<std::string>& args, const std::string& subcommand);

std::string render_sandbox_report(const app::SandboxRun& r, const std::optional<analyzer::PolicyResult>& verdict,
                                  const std::string& format, const analyzer::KnowledgeBase& kb);

}  // namespace agenttrace::cli
