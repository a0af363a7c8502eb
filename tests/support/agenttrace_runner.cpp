#include "agenttrace_runner.h"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <thread>

namespace agenttrace::testing {

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

namespace {

// Runs argv with stdin from /dev/null and stdout/stderr to files; returns the
// wait status (or -1 after killing it at the deadline).
int spawn_and_wait(std::vector<std::string> argv, const std::vector<std::string>& env,
                   const std::string& cwd, const std::string& out_path, const std::string& err_path,
                   int timeout_s, const std::function<void(pid_t)>& while_running) {
  std::vector<char*> cargv, cenv;
  for (auto& a : argv) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  std::vector<std::string> env_copy = env;
  for (auto& e : env_copy) cenv.push_back(e.data());
  cenv.push_back(nullptr);
  pid_t pid = fork();
  if (pid == 0) {
    int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int err = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int in = open("/dev/null", O_RDONLY);
    dup2(in, 0);
    dup2(out, 1);
    dup2(err, 2);
    if (!cwd.empty() && chdir(cwd.c_str()) != 0) _exit(99);
    execve(cargv[0], cargv.data(), cenv.data());
    _exit(98);
  }
  if (while_running) while_running(pid);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  int status = 0;
  for (;;) {
    pid_t w = waitpid(pid, &status, WNOHANG);
    if (w == pid) break;
    if (std::chrono::steady_clock::now() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return status;
}

int exit_code_of(int status) { return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status); }

}  // namespace

std::vector<std::string> base_env() {
  return {"PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", "HOME=/root", "LANG=C.UTF-8"};
}

RunResult run_agenttrace(const RunSpec& spec, const TempDir& dir) {
  RunResult r;
  r.trace_path = dir.file("trace.atrace");
  std::vector<std::string> argv = {AGENTTRACE_BIN, "--json", dir.file("events.json"), "-o", r.trace_path};
  argv.insert(argv.end(), spec.agenttrace_args.begin(), spec.agenttrace_args.end());
  argv.push_back("--");
  argv.insert(argv.end(), spec.command.begin(), spec.command.end());
  std::string out_path = dir.file("stdout"), err_path = dir.file("stderr");
  int status = spawn_and_wait(argv, spec.env.empty() ? base_env() : spec.env, spec.cwd, out_path,
                              err_path, spec.timeout_s, spec.while_running);
  r.exit_code = exit_code_of(status);
  r.out = slurp(out_path);
  r.err = slurp(err_path);
  std::istringstream lines(slurp(dir.file("events.json")));
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty()) continue;
    // A run killed mid-line (SIGKILL tests) leaves a last line cut short.
    Json j = Json::parse(line, nullptr, false);
    if (j.is_discarded()) break;
    if (j["kind"] == "header")
      r.header = j;
    else if (j["kind"] == "trailer")
      r.trailer = j;
    else
      r.events.push_back(j);
  }
  return r;
}

const std::string& bpf_unavailable_reason() {
  static const std::string reason = [] {
    if (geteuid() != 0) return std::string("BPF tests need root to load BPF programs");
    if (!std::filesystem::exists("/sys/kernel/btf/vmlinux"))
      return std::string("BPF tests need a kernel with BTF (/sys/kernel/btf/vmlinux)");
    TempDir dir;
    RunSpec spec;
    spec.agenttrace_args = {"-q"};
    spec.command = {"/bin/true"};
    RunResult r = run_agenttrace(spec, dir);
    // Only a refusal by the kernel's permission checks means "BPF is not
    // available here"; anything else must surface as a failure.
    if (r.exit_code != 0 && r.err.find("Operation not permitted") != std::string::npos)
      return "the kernel refuses BPF here: " + r.err;
    return std::string();
  }();
  return reason;
}

CliResult run_cli(const std::vector<std::string>& args, const TempDir& dir) {
  std::vector<std::string> argv = {AGENTTRACE_BIN};
  argv.insert(argv.end(), args.begin(), args.end());
  CliResult r;
  int status = spawn_and_wait(argv, base_env(), "", dir.file("cli.out"), dir.file("cli.err"), 120, nullptr);
  r.exit_code = exit_code_of(status);
  r.out = slurp(dir.file("cli.out"));
  r.err = slurp(dir.file("cli.err"));
  return r;
}

std::vector<Json> of_kind(const std::vector<Json>& events, const std::string& kind) {
  std::vector<Json> out;
  for (const auto& e : events)
    if (e["kind"] == kind) out.push_back(e);
  return out;
}

void expect_no_losses(const RunResult& r) {
  ASSERT_FALSE(r.trailer.is_null()) << "no closing record; stderr: " << r.err;
  EXPECT_EQ(r.trailer["dropped"], 0);
  EXPECT_EQ(r.trailer["decode_errors"], 0);
  EXPECT_EQ(r.trailer["stash_full"], 0);
  EXPECT_EQ(r.trailer["filter_full"], 0);
}

std::vector<Json> of_pid(const std::vector<Json>& events, int pid) {
  std::vector<Json> out;
  for (const auto& e : events)
    if (e["pid"] == pid) out.push_back(e);
  return out;
}

std::vector<Json> without_loader(const std::vector<Json>& events) {
  std::vector<Json> out;
  for (const auto& e : events) {
    if (e.contains("path")) {
      std::string p = e["path"];
      if (p == "/etc/ld.so.cache" || p == "/etc/ld.so.preload" || p.find(".so") != std::string::npos ||
          p.find("/glibc-hwcaps/") != std::string::npos)
        continue;
    }
    if (e["kind"] == "coverage") continue;
    out.push_back(e);
  }
  return out;
}

std::string brief(const Json& e) {
  std::string kind = e["kind"];
  if (kind == "exec") {
    std::string s = "exec " + e["path"].get<std::string>() + " [";
    for (size_t i = 0; i < e["argv"].size(); ++i) s += (i ? " " : "") + e["argv"][i].get<std::string>();
    return s + "]";
  }
  if (kind == "fork")
    return std::string(e["thread"].get<bool>() ? "thread" : "fork");
  if (kind == "exit")
    return e.contains("signal") ? "exit signal=" + std::to_string(e["signal"].get<int>())
                                : "exit code=" + std::to_string(e["code"].get<int>());
  if (kind == "getenv")
    return "getenv " + e["name"].get<std::string>() + " found=" + (e["found"].get<bool>() ? "true" : "false");
  if (kind == "uname") return "uname";
  if (kind == "host_query") {
    std::string s = "host_query " + e["syscall"].get<std::string>() + " " + e["request"].get<std::string>();
    if (e.value("dump", false)) s += " dump";
    if (e.contains("interface")) s += " " + e["interface"].get<std::string>();
    if (e.contains("index")) s += " index " + std::to_string(e["index"].get<int>());
    if (e["result"].get<int64_t>() < 0) s += " = " + e["error"].get<std::string>();
    return s;
  }
  if (kind == "open" || kind == "stat" || kind == "access" || kind == "readlink") {
    std::string s = kind + " " + e["path"].get<std::string>();
    int64_t result = e["result"];
    s += result < 0 ? " = " + e["error"].get<std::string>() : (kind == "open" ? " = fd" : "");
    if (kind == "readlink" && result >= 0) s += " -> " + e["target"].get<std::string>();
    return s;
  }
  return kind;
}

std::vector<std::string> briefs(const std::vector<Json>& events) {
  std::vector<std::string> out;
  for (const auto& e : events) out.push_back(brief(e));
  return out;
}

Json fact(const Json& report, const std::string& item) {
  for (const auto& f : report["facts"])
    if (f["item"] == item) return f;
  return Json();
}

std::vector<std::string> symbols(const Json& stack) {
  std::vector<std::string> out;
  for (const auto& f : stack) out.push_back(f.contains("symbol") ? f["symbol"].get<std::string>() : "?");
  return out;
}

}  // namespace agenttrace::testing
