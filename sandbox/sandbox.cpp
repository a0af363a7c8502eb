#include "sandbox/sandbox.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <net/if.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "collector/watched_syscalls.h"
#include "common/error.h"

namespace agenttrace::sandbox {

namespace {

// Messages from init to agenttrace, one byte each (an error is 'E' followed
// by a sentence up to the end of the pipe).
constexpr char kReady = 'R';    // namespaces, mounts and loopback are set up
constexpr char kForked = 'F';   // the command is forked and waits at its gate
constexpr char kStatus = 'S';   // followed by the command's wait status (int)
constexpr char kError = 'E';
constexpr char kMapped = 'M';   // agenttrace -> init: uid and gid maps are written
constexpr char kGoOn = 'G';     // agenttrace -> init: the stand-in is bound, fork

// What no agent needs and every escape needs: EPERM, for the calls the
// collector's list marks (collector/watched_syscalls.cpp), so each refusal is
// also an event in the trace. (unshare and clone are refused only with
// CLONE_NEWUSER; clone3, whose flags a filter cannot read, gets ENOSYS so
// that the C library falls back to clone.)
const std::vector<std::string>& refused_list() {
  static const std::vector<std::string> list = [] {
    std::vector<std::string> names;
    for (const auto& w : collector::watched_syscalls())
      if (w.refused_in_sandbox) names.push_back(w.name);
    return names;
  }();
  return list;
}

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

// Sets flags on a mount and, with `recursive`, every mount below it: unlike
// a bind remount, mount_setattr(2) (Linux 5.12) only adds flags, so it also
// works on the locked mounts a user namespace inherits.
void set_mount_flags(int report_fd, const std::string& path, uint64_t attrs, bool recursive) {
  struct mount_attr attr {};
  attr.attr_set = attrs;
  attr.propagation = MS_PRIVATE;
  if (syscall(SYS_mount_setattr, AT_FDCWD, path.c_str(), recursive ? AT_RECURSIVE : 0, &attr, sizeof(attr)) != 0)
    init_fail(report_fd, "cannot make " + path + " read-only/nosuid in the sandbox (mount_setattr, Linux 5.12+): " +
                             errno_text(errno));
}

void mount_tmpfs(int report_fd, const std::string& path, const char* mode) {
  std::string opts = std::string("mode=") + mode;
  if (mount("tmpfs", path.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, opts.c_str()) != 0)
    init_fail(report_fd, "cannot mount a tmpfs on " + path + " in the sandbox: " + errno_text(errno));
}

void bind(int report_fd, const std::string& from, const std::string& to, uint64_t attrs) {
  if (mount(from.c_str(), to.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0)
    init_fail(report_fd, "cannot bind " + from + " on " + to + " in the sandbox: " + errno_text(errno));
  set_mount_flags(report_fd, to, attrs, true);
}

// mkdir -p; what exists already is left as it is.
void make_dirs(int report_fd, const std::string& path, mode_t mode = 0755) {
  std::string sofar;
  std::istringstream parts(path);
  std::string part;
  while (std::getline(parts, part, '/')) {
    if (part.empty()) continue;
    sofar += "/" + part;
    if (mkdir(sofar.c_str(), mode) != 0 && errno != EEXIST)
      init_fail(report_fd, "cannot create " + sofar.substr(sofar.rfind("/newroot", 0) == 0 ? 8 : 0) +
                               " in the sandbox: " + errno_text(errno) +
                               (errno == EROFS ? " (a destination must exist on the host or lie under /tmp, "
                                                 "/var/tmp, /run or HOME)"
                                               : ""));
  }
}

// A mount point of the same type as the host path: a directory or an empty file.
void make_mount_point(int report_fd, const std::string& host, const std::string& inside) {
  struct stat st;
  if (stat(host.c_str(), &st) != 0) init_fail(report_fd, "cannot bind " + host + ": " + errno_text(errno));
  if (S_ISDIR(st.st_mode)) {
    make_dirs(report_fd, inside);
    return;
  }
  make_dirs(report_fd, std::filesystem::path(inside).parent_path().string());
  struct stat existing;
  if (stat(inside.c_str(), &existing) == 0) return;
  int fd = open(inside.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) init_fail(report_fd, "cannot create " + inside + " in the sandbox: " + errno_text(errno));
  close(fd);
}

// The capability sets (v3: two 32-bit words each).
bool set_capabilities(bool keep_permitted_as_effective) {
  struct __user_cap_header_struct hdr {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct data[2] {};
  if (keep_permitted_as_effective) {
    if (syscall(SYS_capget, &hdr, data) != 0) return false;
    for (auto& d : data) d.effective = d.permitted;
  }
  return syscall(SYS_capset, &hdr, data) == 0;
}

// init becomes the command's uid inside its user namespace, keeping the
// capabilities there that setting up the mounts needs: files it creates on
// its tmpfs must belong to a uid the namespace maps (host root is not).
void become_sandbox_user(int report_fd, uid_t uid, gid_t gid) {
  if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0 || setgroups(0, nullptr) != 0 || setresgid(gid, gid, gid) != 0 ||
      setresuid(uid, uid, uid) != 0 || !set_capabilities(true))
    init_fail(report_fd, "cannot become uid " + std::to_string(uid) + " in the sandbox's user namespace: " +
                             errno_text(errno));
}

// The command's last steps before its gate: no supplementary groups, its
// uid and gid, no capabilities in any set (bounding and ambient too), no
// way to gain any through exec (no_new_privs), limits, and the filter.
bool drop_privileges(const SandboxSpec& spec, std::string* what) {
  auto fail = [&](const std::string& w) {
    *what = w + ": " + errno_text(errno);
    return false;
  };
  struct rlimit cur;
  if (getrlimit(RLIMIT_NPROC, &cur) != 0) return fail("getrlimit");
  rlim_t procs = std::min<rlim_t>(spec.limit_procs, cur.rlim_max);
  struct rlimit nproc {procs, procs}, fsize {spec.limit_file_size, spec.limit_file_size};
  if (setrlimit(RLIMIT_NPROC, &nproc) != 0) return fail("cannot set the process limit");
  if (getrlimit(RLIMIT_FSIZE, &cur) != 0 || spec.limit_file_size > cur.rlim_max) fsize = {cur.rlim_max, cur.rlim_max};
  if (setrlimit(RLIMIT_FSIZE, &fsize) != 0) return fail("cannot set the file-size limit");
  if (setgroups(0, nullptr) != 0) return fail("cannot drop supplementary groups");
  if (setresgid(spec.gid, spec.gid, spec.gid) != 0) return fail("cannot set gid " + std::to_string(spec.gid));
  for (int cap = 0; cap <= 63; ++cap)
    if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL) return fail("cannot drop the bounding set");
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0) return fail("cannot clear ambient capabilities");
  if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) != 0) return fail("cannot clear keepcaps");
  if (setresuid(spec.uid, spec.uid, spec.uid) != 0) return fail("cannot set uid " + std::to_string(spec.uid));
  if (!set_capabilities(false)) return fail("cannot clear capabilities");
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return fail("cannot set no_new_privs");
  return true;
}

bool install_syscall_filter(std::string* what) {
  scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
  if (!ctx) {
    *what = "cannot create the system-call filter";
    return false;
  }
  int rc = 0;
  // Any other ABI (i386 through int 0x80, x32) is refused as a whole.
  rc |= seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_ERRNO(EPERM));
  for (const auto& w : collector::watched_syscalls())
    if (w.refused_in_sandbox) rc |= seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), static_cast<int>(w.nr), 0);
  rc |= seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(unshare), 1,
                         SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_NEWUSER, CLONE_NEWUSER));
  rc |= seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
                         SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_NEWUSER, CLONE_NEWUSER));
  rc |= seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
  if (rc == 0) rc = seccomp_load(ctx);
  seccomp_release(ctx);
  if (rc != 0) {
    *what = "cannot install the system-call filter: " + errno_text(-rc);
    return false;
  }
  return true;
}

// A minimal /dev: the harmless character devices, a private devpts and
// /dev/shm, the usual links.
void make_dev(int report_fd, const std::string& root) {
  std::string dev = root + "/dev";
  mount_tmpfs(report_fd, dev, "0755");
  for (const char* node : {"null", "zero", "full", "random", "urandom", "tty"}) {
    std::string inside = dev + "/" + node;
    int fd = open(inside.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0) init_fail(report_fd, "cannot create " + inside + ": " + errno_text(errno));
    close(fd);
    // The host's device node itself: its mount keeps dev (device access).
    if (mount(("/oldroot/dev/" + std::string(node)).c_str(), inside.c_str(), nullptr, MS_BIND, nullptr) != 0)
      init_fail(report_fd, "cannot bind /dev/" + std::string(node) + " in the sandbox: " + errno_text(errno));
    set_mount_flags(report_fd, inside, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC, false);
  }
  for (auto [link, target] : {std::pair{"fd", "/proc/self/fd"}, {"stdin", "/proc/self/fd/0"},
                              {"stdout", "/proc/self/fd/1"}, {"stderr", "/proc/self/fd/2"}, {"ptmx", "pts/ptmx"}})
    if (symlink(target, (dev + "/" + link).c_str()) != 0)
      init_fail(report_fd, "cannot create /dev/" + std::string(link) + " in the sandbox: " + errno_text(errno));
  make_dirs(report_fd, dev + "/pts");
  if (mount("devpts", (dev + "/pts").c_str(), "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=620") != 0)
    init_fail(report_fd, "cannot mount devpts in the sandbox: " + errno_text(errno));
  make_dirs(report_fd, dev + "/shm");
  mount_tmpfs(report_fd, dev + "/shm", "1777");
  set_mount_flags(report_fd, dev, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID, false);
}

// The sandbox's /etc: a tmpfs holding read-only binds of the host's entries,
// except those the sandbox writes itself (hosts, resolver, time zone, ...).
void make_etc(int report_fd, const SandboxSpec& spec, const std::string& root) {
  std::string etc = root + "/etc";
  std::set<std::string> own = {"hosts", "resolv.conf", "hostname"};
  if (!spec.localtime.empty()) own.insert({"localtime", "timezone"});
  for (const auto& [path, content] : spec.etc_files)
    if (path.find('/') == std::string::npos) own.insert(path);
  mount_tmpfs(report_fd, etc, "0755");
  DIR* d = opendir("/oldroot/etc");
  if (!d) init_fail(report_fd, "cannot read the host's /etc: " + errno_text(errno));
  while (struct dirent* e = readdir(d)) {
    std::string name = e->d_name;
    if (name == "." || name == ".." || own.count(name)) continue;
    std::string host = "/oldroot/etc/" + name, inside = etc + "/" + name;
    struct stat st;
    if (lstat(host.c_str(), &st) != 0) continue;  // gone meanwhile
    if (S_ISLNK(st.st_mode)) {
      char target[4096];
      ssize_t n = readlink(host.c_str(), target, sizeof(target) - 1);
      if (n < 0) continue;
      target[n] = 0;
      if (symlink(target, inside.c_str()) != 0)
        init_fail(report_fd, "cannot create /etc/" + name + " in the sandbox: " + errno_text(errno));
      continue;
    }
    if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode)) continue;
    make_mount_point(report_fd, host, inside);
    bind(report_fd, host, inside, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV);
  }
  closedir(d);

  std::string hosts = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n";
  hosts += "127.0.1.1\t" + spec.hostname + "\n";
  for (const auto& [name, addr] : spec.hosts) hosts += addr + "\t" + name + "\n";
  write_file(report_fd, etc + "/hosts", hosts);
  // Name lookups go to loopback, where nothing answers: an agent that asks
  // a real resolver shows up in the trace instead of reaching one.
  write_file(report_fd, etc + "/resolv.conf", "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n");
  write_file(report_fd, etc + "/hostname", spec.hostname + "\n");
  if (!spec.localtime.empty()) {
    if (symlink(("/usr/share/zoneinfo/" + spec.localtime).c_str(), (etc + "/localtime").c_str()) != 0)
      init_fail(report_fd, "cannot point /etc/localtime at " + spec.localtime + ": " + errno_text(errno));
    write_file(report_fd, etc + "/timezone", spec.localtime + "\n");
  }
  // Files deeper down (the trust store) are written beside the new root and
  // bound over the host's read-only file.
  int n = 0;
  for (const auto& [path, content] : spec.etc_files) {
    if (path.find('/') == std::string::npos) {
      write_file(report_fd, etc + "/" + path, content);
      continue;
    }
    std::string staged = "/files/" + std::to_string(n++);
    write_file(report_fd, staged, content);
    std::string inside = etc + "/" + path;
    if (mount(staged.c_str(), inside.c_str(), nullptr, MS_BIND, nullptr) != 0)
      init_fail(report_fd, "cannot replace /etc/" + path + " in the sandbox: " + errno_text(errno));
    set_mount_flags(report_fd, inside, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, false);
  }
  // Read-only like the rest of the host: the command may not change its
  // own hosts file or trust store either.
  set_mount_flags(report_fd, etc, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, false);
}

// HOME on a fresh tmpfs under /home, seeded with a copy.
void make_home(int report_fd, const SandboxSpec& spec, const std::string& root, bool userns) {
  std::string home = root + spec.home;
  make_dirs(report_fd, home, 0755);
  mount_tmpfs(report_fd, home, "0700");
  if (!userns && chown(home.c_str(), spec.uid, spec.gid) != 0)
    init_fail(report_fd, "cannot give HOME to uid " + std::to_string(spec.uid) + ": " + errno_text(errno));
  if (spec.home_seed.empty()) return;
  std::error_code ec;
  std::filesystem::copy("/oldroot" + spec.home_seed, home,
                        std::filesystem::copy_options::recursive | std::filesystem::copy_options::copy_symlinks, ec);
  if (ec) init_fail(report_fd, "cannot copy --home-from into HOME: " + ec.message());
  if (!userns)
    for (auto it = std::filesystem::recursive_directory_iterator(home, ec); !ec && it != std::filesystem::end(it);
         it.increment(ec))
      if (lchown(it->path().c_str(), spec.uid, spec.gid) != 0)
        init_fail(report_fd, "cannot give HOME to uid " + std::to_string(spec.uid) + ": " + errno_text(errno));
}

// Runs in the new namespaces as PID 1: builds the sandbox's view of the
// system, then starts the command and waits for it.
[[noreturn]] void init_main(const SandboxSpec& spec, bool userns, const sigset_t& command_mask, int to_init,
                            int from_init, int gate, int exec_error) {
  // agenttrace going takes the sandbox with it.
  prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  char c;
  if (read(to_init, &c, 1) != 1 || c != kMapped) _exit(kExitToolError);
  if (userns) become_sandbox_user(from_init, spec.uid, spec.gid);
  // The command (the same uid in user-namespace mode) may not ptrace or
  // read init, which holds the namespace's capabilities.
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);

  // Nothing mounted here may leak into the host.
  if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0)
    init_fail(from_init, "cannot make the sandbox's mounts private: " + errno_text(errno));
  const std::string& p = spec.private_dir;
  mount_tmpfs(from_init, p, "0755");
  for (const char* dir : {"/newroot", "/oldroot", "/files"})
    if (mkdir((p + dir).c_str(), 0755) != 0) init_fail(from_init, "cannot create " + p + dir + ": " + errno_text(errno));
  // As bubblewrap does: the tmpfs becomes the root with the host below it
  // at /oldroot; the new root is built from it at /newroot, and the host
  // goes when /newroot becomes the root.
  if (syscall(SYS_pivot_root, p.c_str(), (p + "/oldroot").c_str()) != 0 || chdir("/") != 0)
    init_fail(from_init, "cannot pivot_root into the sandbox's tmpfs: " + errno_text(errno));
  const std::string root = "/newroot";
  bind(from_init, "/oldroot", root, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV);
  for (auto [dir, mode] : {std::pair{"/tmp", "1777"}, {"/var/tmp", "1777"}, {"/run", "0755"}, {"/home", "0755"},
                           {"/root", "0700"}}) {
    struct stat st;
    if (stat((root + dir).c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) continue;  // not on this host
    mount_tmpfs(from_init, root + dir, mode);
  }
  make_dev(from_init, root);
  if (mount("proc", (root + "/proc").c_str(), "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) != 0)
    init_fail(from_init, "cannot mount /proc in the sandbox: " + errno_text(errno));
  // sysfs shows the network devices of the namespace that mounted it: a
  // fresh one shows only the sandbox's loopback (and hides the host's
  // /sys/fs/bpf, cgroup and tracing mounts).
  if (mount("sysfs", (root + "/sys").c_str(), "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY, nullptr) != 0)
    init_fail(from_init, "cannot mount /sys in the sandbox: " + errno_text(errno));
  make_etc(from_init, spec, root);
  make_home(from_init, spec, root, userns);
  for (const auto& b : spec.binds) {
    std::string host = "/oldroot" + b.host, inside = root + (b.inside.empty() ? b.host : b.inside);
    make_mount_point(from_init, host, inside);
    bind(from_init, host, inside,
         MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | (b.read_only ? MOUNT_ATTR_RDONLY : 0));
  }
  if (sethostname(spec.hostname.data(), spec.hostname.size()) != 0)
    init_fail(from_init, "cannot set the sandbox's host name: " + errno_text(errno));
  loopback_up(from_init);
  // pivot_root(".", ".") stacks the old root under the new one; detaching
  // it leaves nothing of the host but what was bound.
  if (chdir(root.c_str()) != 0 || syscall(SYS_pivot_root, ".", ".") != 0 || umount2(".", MNT_DETACH) != 0 ||
      chdir("/") != 0)
    init_fail(from_init, "cannot pivot_root into the sandbox's root: " + errno_text(errno));

  c = kReady;
  if (write(from_init, &c, 1) != 1) _exit(kExitToolError);
  if (read(to_init, &c, 1) != 1 || c != kGoOn) _exit(kExitToolError);

  pid_t cmd = fork();
  if (cmd < 0) init_fail(from_init, "cannot fork the command in the sandbox: " + errno_text(errno));
  if (cmd == 0) {
    close(to_init);
    close(from_init);
    // Nothing of agenttrace's (BPF maps, ring buffer) survives the exec.
    syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC);
    for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE, SIGUSR1, SIGUSR2, SIGCHLD}) signal(sig, SIG_DFL);
    sigprocmask(SIG_SETMASK, &command_mask, nullptr);
    auto refuse = [&](const std::string& what) {
      int err = errno ? errno : EPERM;
      // The message goes to the command's stderr: agenttrace reports the errno.
      std::string line = "agenttrace: sandbox: " + what + "\n";
      ssize_t ignored = write(STDERR_FILENO, line.data(), line.size());
      ignored = write(exec_error, &err, sizeof(err));
      (void)ignored;
      _exit(kExitCannotExec);
    };
    std::string what;
    if (!drop_privileges(spec, &what)) refuse(what);
    if (!spec.cwd.empty() && chdir(spec.cwd.c_str()) != 0)
      refuse("cannot enter " + spec.cwd + " as uid " + std::to_string(spec.uid) + ": " + errno_text(errno));
    if (!install_syscall_filter(&what)) refuse(what);
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

const std::vector<std::string>& refused_syscalls() { return refused_list(); }

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
  if (spec.uid == 0 || spec.gid == 0) throw Error("the sandbox does not run commands as root (uid or gid 0)");
  // fork() semantics (no new stack) with new namespaces: a raw clone. A user
  // namespace owns the others when the host allows one; otherwise the same
  // namespaces, and the command only drops to its uid.
  const long namespaces = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET | SIGCHLD;
  long pid = -1;
  if (spec.user_namespace) {
    pid = syscall(SYS_clone, namespaces | CLONE_NEWUSER, nullptr, nullptr, nullptr, 0);
    user_namespace_ = pid >= 0;
  }
  if (pid < 0 && (!spec.user_namespace || errno == EPERM || errno == EINVAL || errno == ENOSPC || errno == EUSERS))
    pid = syscall(SYS_clone, namespaces, nullptr, nullptr, nullptr, 0);
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
    init_main(spec, user_namespace_, command_mask, to[0], from[1], gate[0], err[1]);
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
    // The command's uid and gid are the same number inside and out; nothing
    // else (host root least of all) is mapped.
    if (user_namespace_) {
      for (auto [file, id] : {std::pair{"uid_map", static_cast<unsigned>(spec.uid)}, {"gid_map", static_cast<unsigned>(spec.gid)}}) {
        std::string path = "/proc/" + std::to_string(init_pid_) + "/" + file;
        std::string line = std::to_string(id) + " " + std::to_string(id) + " 1\n";
        UniqueFd fd(open(path.c_str(), O_WRONLY | O_CLOEXEC));
        if (!fd.valid() || write(fd.get(), line.data(), line.size()) != static_cast<ssize_t>(line.size()))
          throw Error("cannot write the sandbox's " + std::string(file) + ": " + errno_text(errno));
      }
    }
    char mapped = kMapped;
    if (write(to_init_.get(), &mapped, 1) != 1) throw Error("the sandbox ended before it was set up");
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

}  // namespace agenttrace::sandbox
