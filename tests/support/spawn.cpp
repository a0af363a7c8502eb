#include "spawn.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <iterator>
#include <sstream>
#include <thread>

#include "agenttrace_runner.h"

namespace agenttrace::testing {

Spawned::Spawned(const std::vector<std::string>& argv, const std::string& dir, const std::string& name,
                 std::vector<std::string> env)
    : out_path_(dir + "/" + name + ".out"), err_path_(dir + "/" + name + ".err") {
  if (env.empty()) env = base_env();
  std::vector<std::string> args = argv;
  std::vector<char*> cargv, cenv;
  for (auto& a : args) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  for (auto& e : env) cenv.push_back(e.data());
  cenv.push_back(nullptr);
  pid_ = fork();
  if (pid_ == 0) {
    int out = open(out_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int err = open(err_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int in = open("/dev/null", O_RDONLY);
    dup2(in, 0);
    dup2(out, 1);
    dup2(err, 2);
    // Its own process group: a signal for the test is not a signal for it.
    setpgid(0, 0);
    execve(cargv[0], cargv.data(), cenv.data());
    _exit(98);
  }
}

Spawned::~Spawned() {
  if (pid_ > 0 && !reaped_) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
}

void Spawned::signal(int sig) const { kill(pid_, sig); }

int Spawned::wait(int timeout_s) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  int status = 0;
  for (;;) {
    pid_t w = waitpid(pid_, &status, WNOHANG);
    if (w == pid_) break;
    if (std::chrono::steady_clock::now() > deadline) {
      kill(pid_, SIGKILL);
      waitpid(pid_, &status, 0);
      reaped_ = true;
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  reaped_ = true;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::string Spawned::out() const { return slurp(out_path_); }
std::string Spawned::err() const { return slurp(err_path_); }

bool Spawned::wait_for_err(const std::string& text, int timeout_s) const {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  while (std::chrono::steady_clock::now() < deadline) {
    if (err().find(text) != std::string::npos) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

std::vector<std::string> dump_lines(const std::string& trace, std::string* warning) {
  char tmpl[] = "/tmp/agenttrace-dump-XXXXXX";
  int fd = mkstemp(tmpl);
  close(fd);
  std::string err_file = std::string(tmpl) + ".err";
  std::string cmd = std::string(AGENTTRACE_BIN) + " dump '" + trace + "' > " + tmpl + " 2> " + err_file;
  if (system(cmd.c_str()) != 0 && warning) *warning = "dump failed";
  if (warning) *warning += slurp(err_file);
  std::vector<std::string> lines;
  std::istringstream in(slurp(tmpl));
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) lines.push_back(line);
  unlink(tmpl);
  unlink(err_file.c_str());
  return lines;
}

}  // namespace agenttrace::testing
