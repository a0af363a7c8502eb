// What `agenttrace sandbox` and `agenttrace diff` share: the sandbox's
// options, running a command in it once, and its reports.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>

#include "analyzer/policy.h"
#include "analyzer/report.h"
#include "collector/run.h"
#include "sandbox/standin.h"

namespace agenttrace::cli {

struct SandboxOptions {
  std::vector<std::string> command;
  std::vector<std::string> env;  // "K=V", in the order they apply
  std::vector<std::pair<std::string, std::string>> hosts;
  std::string localtime;
  std::string hostname = "agenttrace-sandbox";
  std::string reply = "hi";
  std::string record_dir;
  std::string policy_file;
  std::vector<std::string> canaries;
  // The filesystem: the working directory and how it is given, HOME's seed,
  // further binds, limits; whether to try a user namespace.
  std::string workspace;       // default: agenttrace's working directory
  std::string workspace_mode;  // rw, copy or ro; default rw (sandbox), copy (diff)
  std::string home_from;
  std::vector<std::string> binds;  // SRC[:DST][:ro], as given
  unsigned long limit_procs = 4096;
  std::string limit_file_size = "1G";
  bool no_user_namespace = false;
  // As given on the command line, before finish_sandbox_options():
  std::vector<std::string> env_given, env_files, pass_env, map_hosts;
  std::string trace_file;
};

struct SandboxRun {
  int exit_status = 0;  // the command's, as agenttrace reports it
  analyzer::Analysis analysis;
  std::vector<sandbox::RecordedRequest> requests;
  std::map<std::string, std::string> canaries;  // VAR -> token
  std::string trace_path;
  std::string end_report;
};

void add_sandbox_options(CLI::App& app, SandboxOptions& o, collector::RunOptions& run);
// Validates what was parsed, reads env files, takes CMD from what follows
// "--"; throws agenttrace::Error.
void finish_sandbox_options(CLI::App& app, SandboxOptions& o, collector::RunOptions& run,
                            const std::vector<std::string>& args, const std::string& subcommand);

SandboxRun run_in_sandbox(const SandboxOptions& o, const collector::RunOptions& run);

// A fresh random token (canary) and the value a variable gets from it.
std::string canary_token();
std::string canary_value(const std::string& var, const std::string& token);

std::string render_sandbox_report(const SandboxRun& r, const std::optional<analyzer::PolicyResult>& verdict,
                                  const std::string& format, const analyzer::KnowledgeBase& kb);

}  // namespace agenttrace::cli
