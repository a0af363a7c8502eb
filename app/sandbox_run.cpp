#include "app/sandbox_run.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>

#include "collector/launcher.h"
#include "collector/library_probes.h"
#include "collector/redactor.h"
#include "collector/session.h"
#include "common/error.h"
#include "sandbox/sandbox.h"

namespace agenttrace::app {

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

}  // namespace

unsigned long long parse_limit_size(const std::string& text, const std::string& option) {
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

SandboxRun run_in_sandbox(const SandboxOptions& o, const SessionOptions& run) {
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

  Session app_session(run);
  collector::TraceSession& session = app_session.recording();

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
  spec.limit_file_size = parse_limit_size(o.limit_file_size, "--limit-file-size");
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
  result.analysis = app_session.analysis();
  result.analysis.source = session.trace_path().empty() ? "live" : session.trace_path();
  result.trace_path = session.trace_path();
  result.end_report = app_session.end_report(result.analysis);
  return result;
}

}  // namespace agenttrace::app
