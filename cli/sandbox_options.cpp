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
#include "collector/redactor.h"
#include "collector/redactor.h"
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

// "1G", "512M", "64K" or bytes.
unsigned long long parse_size(const std::string& text, const std::string& option) {
  size_t used = 0;
  unsigned long long n = 0;
  try {
    n = std::stoull(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  std::string unit = used ? text.substr(used) : "";
  unsigned long long mult = unit.empty() ? 1 : unit == "K" ? 1ull << 10 : unit == "M" ? 1ull << 20 : unit == "G" ? 1ull << 30 : 0;
  if (!used || !mult || n == 0) throw Error(option + " " + text + ": expected a size such as 1G, 512M, 64K or bytes");
  return n * mult;
}

// The uid the command runs as: the user who ran sudo, else nobody.
std::pair<uid_t, gid_t> sandbox_user() {
  const char* u = getenv("SUDO_UID");
  const char* g = getenv("SUDO_GID");
  if (u && g) {
    char* end = nullptr;
    unsigned long uid = strtoul(u, &end, 10);
    bool ok = *u && !*end;
    unsigned long gid = strtoul(g, &end, 10);
    ok = ok && *g && !*end;
    if (ok && uid != 0 && gid != 0) return {static_cast<uid_t>(uid), static_cast<gid_t>(gid)};
  }
  return {65534, 65534};
}

// Whether `uid` (in group `gid`, no others: the sandbox drops them) may
// walk down to and into `dir`, by the mode bits.
bool can_enter(const std::string& dir, uid_t uid, gid_t gid, bool write) {
  std::string sofar;
  auto allows = [&](const struct stat& st, mode_t u, mode_t g, mode_t o) {
    return st.st_uid == uid ? (st.st_mode & u) : st.st_gid == gid ? (st.st_mode & g) : (st.st_mode & o);
  };
  fs::path path(dir);
  for (auto it = path.begin(); it != path.end(); ++it) {
    sofar = (fs::path(sofar) / *it).string();
    struct stat st;
    if (stat(sofar.c_str(), &st) != 0 || !allows(st, S_IXUSR, S_IXGRP, S_IXOTH)) return false;
    if (std::next(it) == path.end() && write && !allows(st, S_IWUSR, S_IWGRP, S_IWOTH)) return false;
  }
  return true;
}

// A copy of `from` in a fresh host directory that belongs to uid:gid.
std::string staged_copy(const std::string& from, const std::string& prefix, uid_t uid, gid_t gid) {
  std::string dir = make_temp_dir(prefix);
  std::error_code ec;
  fs::copy(from, dir, fs::copy_options::recursive | fs::copy_options::copy_symlinks, ec);
  if (ec) {
    fs::remove_all(dir, ec);
    throw Error("cannot copy " + from + " for the sandbox: " + ec.message());
  }
  if (lchown(dir.c_str(), uid, gid) != 0) throw Error("cannot give " + dir + " to uid " + std::to_string(uid));
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::end(it); it.increment(ec))
    if (lchown(it->path().c_str(), uid, gid) != 0)
      throw Error("cannot give " + it->path().string() + " to uid " + std::to_string(uid));
  return dir;
}

sandbox::SandboxBind parse_bind(const std::string& text) {
  sandbox::SandboxBind b;
  std::vector<std::string> parts;
  size_t start = 0;
  for (;;) {
    size_t colon = text.find(':', start);
    parts.push_back(text.substr(start, colon == std::string::npos ? std::string::npos : colon - start));
    if (colon == std::string::npos) break;
    start = colon + 1;
  }
  if (parts.size() > 1 && (parts.back() == "ro" || parts.back() == "rw")) {
    b.read_only = parts.back() == "ro";
    parts.pop_back();
  }
  if (parts.empty() || parts.size() > 2 || parts[0].empty() || (parts.size() == 2 && parts[1].empty()))
    throw Error("--bind " + text + ": expected SRC[:DST][:ro]");
  std::error_code ec;
  fs::path src = fs::canonical(parts[0], ec);
  if (ec) throw Error("--bind " + text + ": " + parts[0] + ": " + ec.message());
  b.host = src.string();
  b.inside = parts.size() == 2 ? parts[1] : b.host;
  if (b.inside[0] != '/' || b.inside.find("/../") != std::string::npos || b.inside.ends_with("/..") || b.inside == "/")
    throw Error("--bind " + text + ": DST must be an absolute path other than /");
  return b;
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
  app.add_option("--workspace", o.workspace, "DIR: the command's working directory (default: the current one)");
  app.add_option("--workspace-mode", o.workspace_mode,
                 "rw (the default for sandbox), copy (a per-run copy, the default for diff) or ro")
      ->check(CLI::IsMember({"rw", "copy", "ro"}));
  app.add_option("--home-from", o.home_from, "DIR: copied into the fresh HOME (/home/agent) before each run");
  app.add_option("--bind", o.binds, "SRC[:DST][:ro]: make a host path visible inside (repeatable)");
  app.add_option("--limit-procs", o.limit_procs, "processes and threads the command's uid may have (default 4096)")
      ->check(CLI::Range(1ul, 1ul << 22));
  app.add_option("--limit-file-size", o.limit_file_size, "largest file the command may write (default 1G)");
  app.add_flag("--no-user-namespace", o.no_user_namespace,
               "no user namespace: the command only runs as an unprivileged uid (hosts where they are off)");
  app.add_option("--trace", o.trace_file, "trace file to write (default: a name from the command and time)");
  app.add_option("--json", run.json_path, "stream one JSON object per event to FILE ('-': stdout)");
  app.add_flag("-v,--verbose", run.verbose, "one line per event on stderr");
  app.add_flag("--show-values", run.show_values, "record environment values looked up");
  app.add_option("--kb", run.kb_file, "a knowledge-base file that extends the built-in one");
  app.add_flag("-q,--quiet", run.quiet, "no end-of-run report on stderr");
  app.add_flag("--keep-secrets", run.keep_secrets,
               "keep credentials in the trace, reports and --record-dir instead of redacting them");
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
  if (o.workspace_mode.empty()) o.workspace_mode = subcommand == "diff" ? "copy" : "rw";
  parse_size(o.limit_file_size, "--limit-file-size");
  for (const auto& b : o.binds) parse_bind(b);
  if (!o.home_from.empty() && !fs::is_directory(o.home_from))
    throw Error("--home-from " + o.home_from + ": not a directory");
  if (!o.workspace.empty() && !fs::is_directory(o.workspace))
    throw Error("--workspace " + o.workspace + ": not a directory");
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
    std::string a;
    std::vector<std::string> trees;
    ~Cleanup() {
      std::error_code ec;
      fs::remove(a, ec);  // empty on the host: the sandbox's tmpfs was mounted inside only
      for (const auto& t : trees) fs::remove_all(t, ec);
    }
  } cleanup{private_dir, {cert_dir}};
  chmod(private_dir.c_str(), 0755);  // init, as the command's uid, mounts on it

  auto [uid, gid] = sandbox_user();
  char cwd[4096];
  std::string workspace = o.workspace.empty() ? (getcwd(cwd, sizeof(cwd)) ? cwd : "/") : o.workspace;
  std::error_code ec;
  workspace = fs::canonical(workspace, ec).string();
  if (ec || workspace == "/")
    throw Error("the workspace " + (o.workspace.empty() ? std::string("(the current directory)") : o.workspace) +
                " cannot be given to the sandbox: " + (ec ? ec.message() : "it is /; give --workspace DIR"));
  sandbox::SandboxBind ws{workspace, workspace, o.workspace_mode == "ro"};
  if (o.workspace_mode == "copy") {
    ws.host = staged_copy(workspace, "agenttrace-workspace", uid, gid);
    cleanup.trees.push_back(ws.host);
  } else if (!can_enter(workspace, uid, gid, o.workspace_mode == "rw")) {
    throw Error("--workspace " + workspace + ": uid " + std::to_string(uid) + ", which the command runs as, cannot " +
                (o.workspace_mode == "rw" ? "write" : "enter") +
                " it (give it to that user, or use --workspace-mode copy)");
  }

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
  set_default("HOME", spec.home);
  set_default("TMPDIR", "/tmp");
  set_default("PATH", "/usr/local/bin:/usr/bin:/bin");
  set_default("AGENTTRACE_STANDIN_URL", "http://127.0.0.1");
  set_default("NODE_EXTRA_CA_CERTS", "/etc/agenttrace-standin.pem");
  for (const char* var : {"SSL_CERT_FILE", "CURL_CA_BUNDLE", "REQUESTS_CA_BUNDLE"})
    set_default(var, "/etc/ssl/certs/ca-certificates.crt");
  for (const auto& var : o.canaries) {
    std::string token = canary_token();
    result.canaries[var] = token;
    set(var, canary_value(var, token));
    (*session.header().mutable_canaries())[var] = token;
  }
  for (const auto& k : order) spec.env.push_back(k + "=" + env[k]);
  // The command's secrets (--env OPENAI_API_KEY=..., --env-file, --pass-env)
  // are redacted wherever they turn up, plainly or encoded.
  if (session.redactor()) session.redactor()->add_environment(spec.env);
  spec.cwd = workspace;
  spec.uid = uid;
  spec.gid = gid;
  spec.user_namespace = !o.no_user_namespace;
  spec.binds.push_back(ws);
  for (const auto& b : o.binds) spec.binds.push_back(parse_bind(b));
  if (!o.home_from.empty()) {
    spec.home_seed = staged_copy(o.home_from, "agenttrace-home", uid, gid);
    cleanup.trees.push_back(spec.home_seed);
  }
  spec.limit_procs = o.limit_procs;
  spec.limit_file_size = parse_size(o.limit_file_size, "--limit-file-size");
  // Trust the stand-in's certificate inside: the sandbox's copy of the
  // system bundle gets it appended, and it is a file of its own too.
  std::string cert = read_file(standin.cert_path());
  spec.etc_files.push_back({"ssl/certs/ca-certificates.crt", read_file("/etc/ssl/certs/ca-certificates.crt") + "\n" + cert});
  spec.etc_files.push_back({"agenttrace-standin.pem", cert});

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
  // Which isolation the command got, for whoever reads the trace: an option
  // after the subcommand ("agenttrace sandbox --isolation=... [given] -- CMD").
  std::string isolation = "--isolation=" + std::string(child.user_namespace() ? "user-namespace" : "uid") +
                          ",uid=" + std::to_string(uid) + ",gid=" + std::to_string(gid) + ",workspace=" +
                          o.workspace_mode;
  auto* options = session.header().mutable_options();
  options->Add(std::string(isolation));
  for (int i = options->size() - 1; i > 2; --i) options->SwapElements(i, i - 1);
  standin.start();

  int status = session.run(child);
  standin.stop();
  result.requests = standin.requests();
  // What the stand-in received holds the same credentials the trace had
  // redacted: reports and --record-dir get them redacted the same way.
  if (collector::Redactor* r = session.redactor()) {
    for (auto& q : result.requests) {
      for (auto& [name, value] : q.headers) {
        std::string line = name + ": " + value;
        r->redact_bytes(&line);
        value = line.substr(name.size() + 2);
      }
      r->redact_bytes(&q.target);
      r->redact_bytes(&q.body);
    }
  }
  if (!o.record_dir.empty()) sandbox::StandIn::write_records_safely(o.record_dir, result.requests);
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
