#include "sandbox/sandbox.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "common/error.h"

namespace agenttrace::sandbox {

namespace {

// Messages from init to agenttrace, one byte each (an error is 'E' followed
// by a sentence up to the end of the pipe).
constexpr char kReady = 'R';    // namespaces, mounts and loopback are set up
constexpr char kForked = 'F';   // the command is forked and waits at its gate
constexpr char kStatus = 'S';   // followed by the command's wait status (int)
constexpr char kError = 'E';
constexpr char kGoOn = 'G';     // agenttrace -> init: the stand-in is bound, fork

[[noreturn]] void init_fail(int fd, const std::string& what) {
  std::string msg(1, kError);
  msg += what;
  ssize_t ignored = write(fd, msg.data(), msg.size());
  (void)ignored;
  _exit(kExitToolError);
}

void write_file(int report_fd, const std::string& path, const std::string& content, mode_t mode = 0644) {
  unlink(path.c_str());  // replaces a symlink rather than writing through it
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0 || write(fd, content.data(), content.size()) != static_cast<ssize_t>(content.size()))
    init_fail(report_fd, "cannot write " + path + " in the sandbox: " + errno_text(errno));
  close(fd);
}

void loopback_up(int report_fd) {
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) init_fail(report_fd, "cannot open a socket in the sandbox: " + errno_text(errno));
  struct ifreq ifr {};
  strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
  if (ioctl(s, SIOCGIFFLAGS, &ifr) != 0 || (ifr.ifr_flags |= IFF_UP | IFF_RUNNING, ioctl(s, SIOCSIFFLAGS, &ifr) != 0))
    init_fail(report_fd, "cannot bring up loopback in the sandbox: " + errno_text(errno));
  close(s);
}

// Runs in the new namespaces as PID 1: builds the sandbox's view of the
// system, then starts the command and waits for it.
[[noreturn]] void init_main(const SandboxSpec& spec, const sigset_t& command_mask, int to_init,
                            int from_init, int gate, int exec_error) {
  const std::string& p = spec.private_dir;
  // Nothing mounted here may leak into the host.
  if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0)
    init_fail(from_init, "cannot make the sandbox's mounts private: " + errno_text(errno));
  if (mount("tmpfs", p.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") != 0)
    init_fail(from_init, "cannot mount the sandbox's private tmpfs: " + errno_text(errno));
  for (auto [dir, mode] : {std::pair{"/home", 0700}, {"/tmp", 01777}, {"/etc-upper", 0755}, {"/etc-work", 0755}}) {
    if (mkdir((p + dir).c_str(), static_cast<mode_t>(mode)) != 0 || chmod((p + dir).c_str(), static_cast<mode_t>(mode)) != 0)
      init_fail(from_init, "cannot create " + p + dir + ": " + errno_text(errno));
  }
  // /etc becomes a copy-on-write view: the sandbox's own hosts, resolver,
  // time zone and trust store, the host's /etc untouched.
  std::string opts = "lowerdir=/etc,upperdir=" + p + "/etc-upper,workdir=" + p + "/etc-work";
  if (mount("overlay", "/etc", "overlay", 0, opts.c_str()) != 0)
    init_fail(from_init, "cannot mount an overlay on /etc (overlayfs is needed): " + errno_text(errno));

  std::string hosts = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n";
  hosts += "127.0.1.1\t" + spec.hostname + "\n";
  for (const auto& [name, addr] : spec.hosts) hosts += addr + "\t" + name + "\n";
  write_file(from_init, "/etc/hosts", hosts);
  // Name lookups go to loopback, where nothing answers: an agent that asks
  // a real resolver shows up in the trace instead of reaching one.
  write_file(from_init, "/etc/resolv.conf", "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n");
  write_file(from_init, "/etc/hostname", spec.hostname + "\n");
  if (!spec.localtime.empty()) {
    unlink("/etc/localtime");
    if (symlink(("/usr/share/zoneinfo/" + spec.localtime).c_str(), "/etc/localtime") != 0)
      init_fail(from_init, "cannot point /etc/localtime at " + spec.localtime + ": " + errno_text(errno));
    write_file(from_init, "/etc/timezone", spec.localtime + "\n");
  }
  if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) != 0)
    init_fail(from_init, "cannot mount /proc in the sandbox: " + errno_text(errno));
  // sysfs shows the network devices of the namespace that mounted it: a
  // fresh one shows only the sandbox's loopback.
  if (mount("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY, nullptr) != 0)
    init_fail(from_init, "cannot mount /sys in the sandbox: " + errno_text(errno));
  if (sethostname(spec.hostname.data(), spec.hostname.size()) != 0)
    init_fail(from_init, "cannot set the sandbox's host name: " + errno_text(errno));
  loopback_up(from_init);

  char c = kReady;
  if (write(from_init, &c, 1) != 1) _exit(kExitToolError);
  if (read(to_init, &c, 1) != 1 || c != kGoOn) _exit(kExitToolError);

  pid_t cmd = fork();
  if (cmd < 0) init_fail(from_init, "cannot fork the command in the sandbox: " + errno_text(errno));
  if (cmd == 0) {
    close(to_init);
    close(from_init);
    for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE, SIGUSR1, SIGUSR2, SIGCHLD}) signal(sig, SIG_DFL);
    sigprocmask(SIG_SETMASK, &command_mask, nullptr);
    if (!spec.cwd.empty() && chdir(spec.cwd.c_str()) != 0) _exit(kExitCannotExec);
    char go;
    ssize_t n;
    do {
      n = read(gate, &go, 1);
    } while (n < 0 && errno == EINTR);
    if (n != 1) _exit(kExitToolError);
    close(gate);
    std::vector<char*> args, envp;
    for (const auto& a : spec.argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    for (const auto& e : spec.env) envp.push_back(const_cast<char*>(e.c_str()));
    envp.push_back(nullptr);
    execvpe(args[0], args.data(), envp.data());
    int err = errno;
    ssize_t ignored = write(exec_error, &err, sizeof(err));
    (void)ignored;
    _exit(err == ENOENT ? kExitNotFound : kExitCannotExec);
  }
  close(gate);
  close(exec_error);
  c = kForked;
  if (write(from_init, &c, 1) != 1) _exit(kExitToolError);

  // PID 1 reaps every orphan in the sandbox; it ends with the command.
  int status = 0;
  for (;;) {
    int st;
    pid_t w = waitpid(-1, &st, 0);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) break;
    if (w == cmd) {
      status = st;
      break;
    }
  }
  char msg[1 + sizeof(int)];
  msg[0] = kStatus;
  memcpy(msg + 1, &status, sizeof(int));
  ssize_t ignored = write(from_init, msg, sizeof(msg));
  (void)ignored;
  _exit(0);
}

// Reads one progress byte from init; an error message becomes an Error.
char read_progress(int fd) {
  char c = 0;
  ssize_t n;
  do {
    n = read(fd, &c, 1);
  } while (n < 0 && errno == EINTR);
  if (n != 1) throw Error("the sandbox ended before it was set up");
  if (c == kError) {
    std::string msg;
    char buf[256];
    while ((n = read(fd, buf, sizeof(buf))) > 0) msg.append(buf, static_cast<size_t>(n));
    throw Error(msg.empty() ? "the sandbox could not be set up" : msg);
  }
  return c;
}

}  // namespace

std::pair<std::string, std::string> parse_host_mapping(const std::string& text) {
  auto eq = text.find('=');
  std::string name = text.substr(0, eq);
  std::string addr = eq == std::string::npos ? "127.0.0.1" : text.substr(eq + 1);
  bool name_ok = !name.empty() && name.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-") == std::string::npos;
  unsigned char buf[16];
  bool addr_ok = inet_pton(AF_INET, addr.c_str(), buf) == 1 || inet_pton(AF_INET6, addr.c_str(), buf) == 1;
  if (!name_ok) throw Error("--map-host " + text + ": '" + name + "' is not a host name");
  if (!addr_ok) throw Error("--map-host " + text + ": '" + addr + "' is not an IP address");
  return {name, addr};
}

std::vector<std::string> read_env_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw Error("cannot read environment file " + path);
  std::vector<std::string> out;
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    size_t start = line.find_first_not_of(" \t");
    if (start == std::string::npos || line[start] == '#') continue;
    line = line.substr(start);
    if (line.rfind("export ", 0) == 0) line = line.substr(7);
    auto eq = line.find('=');
    if (eq == std::string::npos || eq == 0)
      throw Error(path + ": line " + std::to_string(n) + " is not NAME=VALUE");
    out.push_back(line);
  }
  return out;
}

SandboxChild::SandboxChild(const SandboxSpec& spec, const sigset_t& command_mask,
                           const std::function<void()>& in_network) {
  int to[2], from[2], gate[2], err[2];
  if (pipe2(to, O_CLOEXEC) != 0 || pipe2(from, O_CLOEXEC) != 0 || pipe2(gate, O_CLOEXEC) != 0 ||
      pipe2(err, O_CLOEXEC) != 0)
    throw Error("cannot create pipes for the sandbox: " + errno_text(errno));
  // fork() semantics (no new stack) with new namespaces: a raw clone.
  long pid = syscall(SYS_clone, CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET | SIGCHLD,
                     nullptr, nullptr, nullptr, 0);
  if (pid < 0) {
    int e = errno;
    throw Error("cannot create the sandbox's namespaces: " + errno_text(e) +
                (e == EPERM ? " (run as root, or grant CAP_SYS_ADMIN)" : ""));
  }
  if (pid == 0) {
    close(to[1]);
    close(from[0]);
    close(gate[1]);
    close(err[0]);
    // The command's end of the exec-error pipe must survive its exec only
    // to report failure: CLOEXEC stays; the gate's read end likewise.
    init_main(spec, command_mask, to[0], from[1], gate[0], err[1]);
  }
  init_pid_ = static_cast<pid_t>(pid);
  close(to[0]);
  close(from[1]);
  close(gate[0]);
  close(err[1]);
  to_init_.reset(to[1]);
  from_init_.reset(from[0]);
  gate_.reset(gate[1]);
  exec_error_.reset(err[0]);
  init_pidfd_.reset(static_cast<int>(syscall(SYS_pidfd_open, init_pid_, 0)));
  if (!init_pidfd_.valid()) throw Error("cannot watch the sandbox: pidfd_open: " + errno_text(errno));

  try {
    if (read_progress(from_init_.get()) != kReady) throw Error("the sandbox sent something unexpected");
    // Sockets belong to the network namespace they are created in: a thread
    // enters the sandbox's, the stand-in binds there, the thread leaves.
    std::string error;
    std::thread binder([&] {
      try {
        std::string ns = "/proc/" + std::to_string(init_pid_) + "/ns/net";
        UniqueFd nsfd(open(ns.c_str(), O_RDONLY | O_CLOEXEC));
        if (!nsfd.valid() || setns(nsfd.get(), CLONE_NEWNET) != 0)
          throw Error("cannot enter the sandbox's network namespace: " + errno_text(errno));
        in_network();
      } catch (const Error& e) {
        error = e.what();
      }
    });
    binder.join();
    if (!error.empty()) throw Error(error);
    char go = kGoOn;
    if (write(to_init_.get(), &go, 1) != 1) throw Error("the sandbox ended before its command started");
    if (read_progress(from_init_.get()) != kForked) throw Error("the sandbox sent something unexpected");
    // init's only child is the command: its host PID is in init's children list.
    std::ifstream children("/proc/" + std::to_string(init_pid_) + "/task/" + std::to_string(init_pid_) + "/children");
    if (!(children >> command_pid_) || command_pid_ <= 0)
      throw Error("cannot find the sandboxed command's process");
  } catch (...) {
    kill(init_pid_, SIGKILL);
    int st;
    waitpid(init_pid_, &st, 0);
    reaped_ = true;
    throw;
  }
}

SandboxChild::~SandboxChild() {
  if (!reaped_ && init_pid_ > 0) {
    kill(init_pid_, SIGKILL);  // PID 1 going takes everything inside with it
    int st;
    waitpid(init_pid_, &st, 0);
  }
}

int SandboxChild::release() {
  char go = 'g';
  ssize_t n;
  do {
    n = write(gate_.get(), &go, 1);
  } while (n < 0 && errno == EINTR);
  gate_.reset();
  int err = 0;
  do {
    n = read(exec_error_.get(), &err, sizeof(err));
  } while (n < 0 && errno == EINTR);
  exec_error_.reset();
  if (n == static_cast<ssize_t>(sizeof(err))) {
    int st;
    waitpid(init_pid_, &st, 0);
    reaped_ = true;
    return err;
  }
  return 0;
}

bool SandboxChild::try_reap(int* status) {
  if (reaped_) return false;
  int st;
  pid_t r;
  do {
    r = waitpid(init_pid_, &st, WNOHANG);
  } while (r < 0 && errno == EINTR);
  if (r != init_pid_) return false;
  reaped_ = true;
  // init wrote the command's own status before leaving.
  char msg[1 + sizeof(int)];
  ssize_t n = read(from_init_.get(), msg, sizeof(msg));
  if (n == static_cast<ssize_t>(sizeof(msg)) && msg[0] == kStatus)
    memcpy(status, msg + 1, sizeof(int));
  else
    *status = st;
  return true;
}

void SandboxChild::forward(int sig) {
  if (command_pid_ > 0) kill(command_pid_, sig);
}

void SandboxChild::write_inside(const std::string& path, const std::string& content) const {
  // The sandbox's files are reachable through its init's root.
  std::string host_path = "/proc/" + std::to_string(init_pid_) + "/root" + path;
  std::ofstream out(host_path, std::ios::binary | std::ios::trunc);
  out << content;
  if (!out) throw Error("cannot write " + path + " inside the sandbox");
}

}  // namespace agenttrace::sandbox
