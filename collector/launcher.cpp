#include "collector/launcher.h"

#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/error.h"

namespace agenttrace::collector {

namespace {

int pidfd_open(pid_t pid) { return static_cast<int>(syscall(SYS_pidfd_open, pid, 0)); }

// Gives up root for `u`: supplementary groups, then the gid, then the uid
// (real, effective and saved each), and checks that root cannot come back.
// Only async-signal-safe calls: the groups were looked up before fork.
int become(const UserIdentity& u) {
  if (setgroups(u.groups.size(), u.groups.data()) != 0) return errno;
  if (setresgid(u.gid, u.gid, u.gid) != 0) return errno;
  if (setresuid(u.uid, u.uid, u.uid) != 0) return errno;
  if (u.uid != 0 && (setuid(0) == 0 || seteuid(0) == 0)) return EPERM;
  return 0;
}

[[noreturn]] void fail(int error_write, int err) {
  ssize_t ignored = write(error_write, &err, sizeof(err));
  (void)ignored;
  _exit(err == ENOENT ? kExitNotFound : kExitCannotExec);
}

[[noreturn]] void child_main(const std::vector<std::string>& argv, const sigset_t& mask, const LaunchAs& as,
                             char* const* envp, int gate_read, int error_write) {
  // Signal dispositions agenttrace changed go back to their defaults, and the
  // mask to what agenttrace itself was started with.
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE, SIGUSR1, SIGUSR2, SIGCHLD})
    signal(sig, SIG_DFL);
  sigprocmask(SIG_SETMASK, &mask, nullptr);

  char go;
  ssize_t n;
  do {
    n = read(gate_read, &go, 1);
  } while (n < 0 && errno == EINTR);
  if (n != 1) _exit(kExitToolError);  // the collector went away before releasing us
  close(gate_read);

  if (as.user) {
    if (int err = become(*as.user)) fail(error_write, err);
  }
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  // PATH is searched as agenttrace's own environment has it, as sudo does.
  execvpe(args[0], args.data(), envp);
  fail(error_write, errno);
}

}  // namespace

Launcher::Launcher(std::vector<std::string> argv, const sigset_t& restore_mask, LaunchAs as)
    : argv_(std::move(argv)) {
  // Built before fork: the child may only make async-signal-safe calls.
  std::vector<char*> envp;
  for (auto& kv : as.env) envp.push_back(kv.data());
  envp.push_back(nullptr);
  int gate[2], errors[2];
  if (pipe2(gate, O_CLOEXEC) != 0 || pipe2(errors, O_CLOEXEC) != 0)
    throw Error("cannot create a pipe to start the command: " + errno_text(errno));
  pid_ = fork();
  if (pid_ < 0) {
    int err = errno;
    close(gate[0]);
    close(gate[1]);
    close(errors[0]);
    close(errors[1]);
    throw Error("cannot start the command: fork failed: " + errno_text(err));
  }
  if (pid_ == 0) {
    close(gate[1]);
    close(errors[0]);
    child_main(argv_, restore_mask, as, envp.data(), gate[0], errors[1]);
  }
  close(gate[0]);
  close(errors[1]);
  gate_write_.reset(gate[1]);
  error_read_.reset(errors[0]);
  pidfd_.reset(pidfd_open(pid_));
  if (!pidfd_.valid()) throw Error("cannot watch the command's process: pidfd_open: " + errno_text(errno));
}

Launcher::~Launcher() {
  if (pid_ > 0 && !reaped_) {
    // Only reached when agenttrace fails before the command ran: do not leave
    // a gated child behind.
    gate_write_.reset();
    int status;
    waitpid(pid_, &status, 0);
  }
}

int Launcher::release() {
  char go = 'g';
  ssize_t n;
  do {
    n = write(gate_write_.get(), &go, 1);
  } while (n < 0 && errno == EINTR);
  gate_write_.reset();
  int err = 0;
  do {
    n = read(error_read_.get(), &err, sizeof(err));
  } while (n < 0 && errno == EINTR);
  error_read_.reset();
  if (n == static_cast<ssize_t>(sizeof(err))) {
    wait();
    return err;
  }
  return 0;  // EOF: the exec closed the CLOEXEC pipe
}

bool Launcher::try_reap(int* status) {
  if (reaped_) return false;
  pid_t r;
  do {
    r = waitpid(pid_, status, WNOHANG);
  } while (r < 0 && errno == EINTR);
  if (r == pid_) {
    reaped_ = true;
    return true;
  }
  return false;
}

int Launcher::wait() {
  int status = 0;
  pid_t r;
  do {
    r = waitpid(pid_, &status, 0);
  } while (r < 0 && errno == EINTR);
  reaped_ = true;
  return status;
}

std::string find_in_path(const std::string& command, const char* path_env) {
  if (command.find('/') != std::string::npos) return command;
  std::string path = path_env ? path_env : "/usr/local/bin:/bin:/usr/bin";
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find(':', start);
    if (end == std::string::npos) end = path.size();
    std::string dir = path.substr(start, end - start);
    std::string candidate = (dir.empty() ? "." : dir) + "/" + command;
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
    start = end + 1;
  }
  return {};
}

std::string exec_failure_message(const std::string& command, int err, int* exit_status) {
  *exit_status = err == ENOENT ? kExitNotFound : kExitCannotExec;
  if (err == ENOENT) return "cannot start " + command + ": command not found";
  return "cannot start " + command + ": " + errno_text(err);
}

}  // namespace agenttrace::collector
