#include "cli/sandbox_options.h"

#include <cctype>
#include <cstdlib>
#include <filesystem>

#include "cli/parse.h"
#include "common/error.h"
#include "common/strings.h"
#include "sandbox/sandbox.h"

namespace agenttrace::cli {

namespace fs = std::filesystem;

namespace {

bool valid_env_name(const std::string& name) {
  if (name.empty() || isdigit(static_cast<unsigned char>(name[0]))) return false;
  for (char c : name)
    if (!isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
  return true;
}

}  // namespace

void add_sandbox_options(CLI::App& app, app::SandboxOptions& o, app::SessionOptions& run) {
  app.prefix_command();
  app.add_option("--env", o.env_given, "set K=V in the command's environment (repeatable)");
  app.add_option("--env-file", o.env_files, "read K=V lines from FILE (repeatable)")->type_name("FILE");
  app.add_option("--pass-env", o.pass_env, "pass NAME from agenttrace's own environment (repeatable)");
  app.add_option("--map-host", o.map_hosts,
                 "NAME[=ADDR]: put NAME into the sandbox's /etc/hosts (default ADDR: the stand-in, 127.0.0.1)");
  app.add_option("--localtime", o.localtime, "ZONE: the sandbox's /etc/localtime and /etc/timezone");
  app.add_option("--hostname", o.hostname, "the sandbox's host name (default agenttrace-sandbox)")->type_name("NAME");
  app.add_option("--reply", o.reply, "the text the stand-in answers (default hi)")->type_name("MESSAGE");
  app.add_option("--canary", o.canaries, "set VAR to a fresh random token and report it leaving (repeatable)");
  app.add_option("--record-dir", o.record_dir, "write each request the stand-in received to DIR");
  app.add_option("--policy", o.policy_file, "a YAML policy: violations exit with status 3 (docs/policy.md)")->type_name("FILE");
  app.add_option("--workspace", o.workspace, "DIR: the command's working directory (default: the current one)");
  app.add_option("--workspace-mode", o.workspace_mode,
                 "rw (the default for sandbox), copy (a per-run copy, the default for diff) or ro")
      ->check(CLI::IsMember({"rw", "copy", "ro"}));
  app.add_option("--home-from", o.home_from, "DIR: copied into the fresh HOME (/home/agent) before each run");
  app.add_option("--bind", o.binds, "SRC[:DST][:ro]: make a host path visible inside (repeatable)");
  app.add_option("--limit-procs", o.limit_procs, "processes and threads the command's uid may have (default 4096)")
      ->check(CLI::Range(1ul, 1ul << 22));
  app.add_option("--limit-file-size", o.limit_file_size, "largest file the command may write (default 1G)")->type_name("SIZE");
  app.add_flag("--no-user-namespace", o.no_user_namespace,
               "no user namespace: the command only runs as an unprivileged uid (hosts where they are off)");
  app.add_option("--trace", o.trace_file, "trace file to write (default: a name from the command and time)")->type_name("FILE");
  app.add_option("--json", run.json_path, "stream one JSON object per event to FILE ('-': stdout)");
  app.add_flag("-v,--verbose", run.verbose, "one line per event on stderr");
  app.add_flag("--show-values", run.show_values, "record environment values looked up");
  app.add_option("--kb", run.kb_file, "a knowledge-base file that extends the built-in one")->type_name("FILE");
  app.add_flag("-q,--quiet", run.quiet, "no end-of-run report on stderr");
  app.add_flag("--keep-secrets", run.keep_secrets,
               "keep credentials in the trace, reports and --record-dir instead of redacting them");
  app.add_flag("--debug", run.debug, "show libbpf's and the verifier's messages");
}

void finish_sandbox_options(CLI::App& app, app::SandboxOptions& o, app::SessionOptions& run,
                            const std::vector<std::string>& args, const std::string& subcommand) {
  std::vector<std::string> rest = app.remaining();
  if (!rest.empty() && rest[0] != "--" && rest[0].size() > 1 && rest[0][0] == '-')
    throw Error("unknown option " + rest[0] + " (see agenttrace " + subcommand + " --help)");
  if (!rest.empty() && rest[0] == "--") rest.erase(rest.begin());
  if (rest.empty()) throw Error("no command (usage: agenttrace " + subcommand + " [OPTIONS] -- CMD [ARGS...])");
  o.command = rest;
  // Files first, then passed variables, then --env: the most explicit wins.
  for (const auto& f : o.env_files)
    for (auto& kv : sandbox::read_env_file(f)) o.env.push_back(kv);
  for (const auto& name : o.pass_env) {
    if (!valid_env_name(name)) throw Error("--pass-env " + name + ": not a variable name");
    if (const char* v = getenv(name.c_str())) o.env.push_back(name + "=" + v);
  }
  for (const auto& kv : o.env_given) {
    auto eq = kv.find('=');
    if (eq == std::string::npos || !valid_env_name(kv.substr(0, eq)))
      throw Error("--env " + kv + ": expected NAME=VALUE");
    o.env.push_back(kv);
  }
  for (const auto& m : o.map_hosts) o.hosts.push_back(sandbox::parse_host_mapping(m));
  for (const auto& c : o.canaries)
    if (!valid_env_name(c)) throw Error("--canary " + c + ": not a variable name");
  if (!o.localtime.empty() &&
      (o.localtime.find("..") != std::string::npos || access(("/usr/share/zoneinfo/" + o.localtime).c_str(), R_OK) != 0))
    throw Error("--localtime " + o.localtime + ": no such zone in /usr/share/zoneinfo");
  if (o.workspace_mode.empty()) o.workspace_mode = subcommand == "diff" ? "copy" : "rw";
  app::parse_limit_size(o.limit_file_size, "--limit-file-size");
  for (const auto& b : o.binds) app::parse_bind(b);
  if (!o.home_from.empty() && !fs::is_directory(o.home_from))
    throw Error("--home-from " + o.home_from + ": not a directory");
  if (!o.workspace.empty() && !fs::is_directory(o.workspace))
    throw Error("--workspace " + o.workspace + ": not a directory");
  run.command = o.command;
  run.output_path = o.trace_file;
  run.agenttrace_argv = {"agenttrace", subcommand};
  run.agenttrace_argv.insert(run.agenttrace_argv.end(), args.begin(), args.end());
}

std::string render_sandbox_report(const app::SandboxRun& r, const std::optional<analyzer::PolicyResult>& verdict,
                                  const std::string& format, const analyzer::KnowledgeBase& kb) {
  if (format == "json") {
    trace::Json j = analyzer::report_json(r.analysis, kb);
    j["exit_status"] = r.exit_status;
    trace::Json reqs = trace::Json::array();
    for (const auto& q : r.requests) {
      trace::Json qj;
      qj["n"] = q.n;
      qj["method"] = q.method;
      qj["target"] = q.target;
      qj["tls"] = q.tls;
      qj["status"] = q.status;
      qj["body_bytes"] = q.body.size();
      reqs.push_back(qj);
    }
    j["standin_requests"] = reqs;
    trace::Json canaries = trace::Json::object();
    for (const auto& [var, token] : r.canaries) canaries[var] = token;
    j["canaries"] = canaries;
    if (verdict) j["policy"] = analyzer::policy_json(*verdict);
    return trace::json_text(j, 2) + "\n";
  }
  if (format == "sarif") return analyzer::report_sarif(r.analysis);
  if (format == "junit") {
    if (verdict) return analyzer::policy_junit(*verdict, "agenttrace sandbox");
    // Without a policy, every finding of medium severity or above fails.
    analyzer::PolicyResult fallback;
    fallback.source = "findings";
    for (const auto& f : r.analysis.findings) {
      analyzer::PolicyRuleResult rule{f.rule + " " + f.id, {}};
      if (f.severity >= analyzer::Severity::kMedium) rule.violations.push_back(f.message);
      fallback.rules.push_back(rule);
    }
    return analyzer::policy_junit(fallback, "agenttrace sandbox");
  }
  std::string text = r.end_report;
  if (verdict) text += analyzer::policy_text(*verdict, false);
  return text;
}

}  // namespace agenttrace::cli
