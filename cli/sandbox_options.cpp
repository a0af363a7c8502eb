#include "cli/sandbox_options.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>

#include "cli/parse.h"
#include "collector/launcher.h"
#include "collector/library_probes.h"
#include "collector/session.h"
#include "common/error.h"
#include "common/strings.h"
#include "sandbox/sandbox.h"

namespace agenttrace::cli {

namespace fs = std::filesystem;

namespace {

std::string make_temp_dir(const std::string& prefix) {
  std::string tmpl = (fs::temp_directory_path() / (prefix + "-XXXXXX")).string();
  if (!mkdtemp(tmpl.data())) throw Error("cannot create a directory for the sandbox: " + errno_text(errno));
  return tmpl;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

bool ends_with_any(const std::string& s, std::initializer_list<const char*> suffixes) {
  for (const char* suf : suffixes)
    if (std::string_view(s).ends_with(suf)) return true;
  return false;
}

bool valid_env_name(const std::string& name) {
  if (name.empty() || isdigit(static_cast<unsigned char>(name[0]))) return false;
  for (char c : name)
    if (!isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
  return true;
}

}  // namespace

std::string canary_token() {
  std::random_device rd;
  std::uniform_int_distribution<int> hex(0, 15);
  std::string t = "atc";
  for (int i = 0; i < 20; ++i) t += "0123456789abcdef"[hex(rd)];
  return t;
}

std::string canary_value(const std::string& var, const std::string& token) {
  // Shaped like a value of that kind where it matters: URLs, endpoints and
  // proxies get a URL whose host is the token.
  if (ends_with_any(var, {"_URL", "_PROXY", "_proxy", "_ENDPOINT", "_HOST", "_API_BASE"}))
    return "http://" + token + ".invalid:8080";
  return token;
}

void add_sandbox_options(CLI::App& app, SandboxOptions& o, collector::RunOptions& run) {
  app.prefix_command();
  app.add_option("--env", o.env_given, "set K=V in the command's environment (repeatable)");
  app.add_option("--env-file", o.env_files, "read K=V lines from FILE (repeatable)");
  app.add_option("--pass-env", o.pass_env, "pass NAME from agenttrace's own environment (repeatable)");
  app.add_option("--map-host", o.map_hosts,
                 "NAME[=ADDR]: put NAME into the sandbox's /etc/hosts (default ADDR: the stand-in, 127.0.0.1)");
  app.add_option("--localtime", o.localtime, "ZONE: the sandbox's /etc/localtime and /etc/timezone");
  app.add_option("--hostname", o.hostname, "the sandbox's host name (default agenttrace-sandbox)");
  app.add_option("--reply", o.reply, "the text the stand-in answers (default hi)");
  app.add_option("--canary", o.canaries, "set VAR to a fresh random token and report it leaving (repeatable)");
  app.add_option("--record-dir", o.record_dir, "write each request the stand-in received to DIR");
  app.add_option("--policy", o.policy_file, "a YAML policy: violations exit with status 3 (docs/policy.md)");
  app.add_option("--trace", o.trace_file, "trace file to write (default: a name from the command and time)");
  app.add_option("--json", run.json_path, "stream one JSON object per event to FILE ('-': stdout)");
  app.add_flag("-v,--verbose", run.verbose, "one line per event on stderr");
  app.add_flag("--show-values", run.show_values, "record environment values looked up");
  app.add_option("--kb", run.kb_file, "a knowledge-base file that extends the built-in one");
  app.add_flag("-q,--quiet", run.quiet, "no end-of-run report on stderr");
  app.add_flag("--debug", run.debug, "show libbpf's and the verifier's messages");
}

void finish_sandbox_options(CLI::App& app, SandboxOptions& o, collector::RunOptions& run,
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
  run.command = o.command;
  run.output_path = o.trace_file;
  run.agenttrace_argv = {"agenttrace", subcommand};
  run.agenttrace_argv.insert(run.agenttrace_argv.end(), args.begin(), args.end());
}

SandboxRun run_in_sandbox(const SandboxOptions& o, const collector::RunOptions& run) {
  SandboxRun result;
  std::string private_dir = make_temp_dir("agenttrace-private");
  // Named with this pid, so a later run removes it if this one is killed.
  std::string cert_dir = make_temp_dir(sandbox::standin_dir_prefix());
  struct Cleanup {
    std::string a, b;
    ~Cleanup() {
      std::error_code ec;
      fs::remove(a, ec);  // empty on the host: the sandbox's tmpfs was mounted inside only
      fs::remove_all(b, ec);
    }
  } cleanup{private_dir, cert_dir};
  chmod(cert_dir.c_str(), 0755);  // the command, whoever it runs as, reads the certificate

  collector::TraceSession session(run);

  sandbox::StandInOptions so;
  so.reply = o.reply;
  for (const auto& [name, addr] : o.hosts) so.host_names.push_back(name);
  so.cert_dir = cert_dir;
  sandbox::StandIn standin(so);

  // The environment is exactly what the test gives, plus a private HOME and
  // TMPDIR, the stand-in's URL, a PATH when none is given, and the trust
  // settings that accept the stand-in's certificate.
  sandbox::SandboxSpec spec;
  spec.argv = o.command;
  spec.hosts = o.hosts;
  spec.localtime = o.localtime;
  spec.hostname = o.hostname;
  spec.private_dir = private_dir;
  std::map<std::string, std::string> env;
  std::vector<std::string> order;
  auto set = [&](const std::string& k, const std::string& v) {
    if (!env.count(k)) order.push_back(k);
    env[k] = v;
  };
  for (const auto& kv : o.env) set(kv.substr(0, kv.find('=')), kv.substr(kv.find('=') + 1));
  auto set_default = [&](const std::string& k, const std::string& v) {
    if (!env.count(k)) set(k, v);
  };
  set_default("HOME", private_dir + "/home");
  set_default("TMPDIR", private_dir + "/tmp");
  set_default("PATH", "/usr/local/bin:/usr/bin:/bin");
  set_default("AGENTTRACE_STANDIN_URL", "http://127.0.0.1");
  set_default("NODE_EXTRA_CA_CERTS", cert_dir + "/cert.pem");
  for (const char* var : {"SSL_CERT_FILE", "CURL_CA_BUNDLE", "REQUESTS_CA_BUNDLE"})
    set_default(var, "/etc/ssl/certs/ca-certificates.crt");
  for (const auto& var : o.canaries) {
    std::string token = canary_token();
    result.canaries[var] = token;
    set(var, canary_value(var, token));
    (*session.header().mutable_canaries())[var] = token;
  }
  for (const auto& k : order) spec.env.push_back(k + "=" + env[k]);
  char cwd[4096];
  spec.cwd = getcwd(cwd, sizeof(cwd)) ? cwd : "/";

  session.header().set_mode("sandbox");
  for (int port : {80, 443}) {
    session.header().add_allowed_destinations("127.0.0.1:" + std::to_string(port));
    for (const auto& [name, addr] : o.hosts)
      session.header().add_allowed_destinations((addr.find(':') != std::string::npos ? "[" + addr + "]" : addr) + ":" +
                                                std::to_string(port));
  }
  if (std::string exe = collector::find_in_path(o.command[0], env["PATH"].c_str()); !exe.empty())
    session.libraries().prepare_executable(exe);

  sandbox::SandboxChild child(spec, session.original_mask(), [&] { standin.bind("127.0.0.1", 80, 443); });
  // Trust the stand-in's certificate inside: the sandbox's copy of the
  // system bundle gets it appended.
  std::string bundle = read_file("/etc/ssl/certs/ca-certificates.crt");
  child.write_inside("/etc/ssl/certs/ca-certificates.crt", bundle + "\n" + read_file(standin.cert_path()));
  standin.start();

  int status = session.run(child);
  standin.stop();
  if (!o.record_dir.empty()) standin.write_records(o.record_dir);
  result.requests = standin.requests();
  result.exit_status = collector::exit_status_of(status);
  result.analysis = session.analysis();
  result.analysis.source = session.trace_path().empty() ? "live" : session.trace_path();
  result.trace_path = session.trace_path();
  result.end_report = session.end_report(result.analysis);
  return result;
}

std::string render_sandbox_report(const SandboxRun& r, const std::optional<analyzer::PolicyResult>& verdict,
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
