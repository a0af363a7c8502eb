// `agenttrace sandbox` and `diff`: a command run once in the sandbox
// (sandbox/), recorded with its analysis and export (app/session.h), with
// what the stand-in received.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "analyzer/report.h"
#include "app/session.h"
#include "sandbox/sandbox.h"
#include "sandbox/standin.h"

namespace agenttrace::app {

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

// "1G", "512M", "64K" or bytes; throws agenttrace::Error naming `option`.
unsigned long long parse_limit_size(const std::string& text, const std::string& option);
// --bind SRC[:DST][:ro]; throws agenttrace::Error.
sandbox::SandboxBind parse_bind(const std::string& text);

SandboxRun run_in_sandbox(const SandboxOptions& o, const app::SessionOptions& run);

// A fresh random token (canary) and the value a variable gets from it.
std::string canary_token();
std::string canary_value(const std::string& var, const std::string& token);

}  // namespace agenttrace::app
