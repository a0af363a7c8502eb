#include "collector/probes.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <ctime>
#include <unistd.h>

#include <cerrno>
#include <cstdarg>
#include <cstring>
#include <algorithm>
#include <filesystem>
#include <thread>

#include <spdlog/spdlog.h>

#include "agenttrace_bpf.skel.h"
#include "collector/syscall_frames.h"
#include "collector/watched_syscalls.h"
#include "common/error.h"

namespace agenttrace::collector {

namespace {

namespace fs = std::filesystem;

bool g_libbpf_debug = false;

int libbpf_print(enum libbpf_print_level level, const char* format, va_list args) {
  // Without --debug, libbpf's warnings become our own sentences at the
  // boundary where the error is known.
  if (!g_libbpf_debug) return 0;
  (void)level;
  char buf[4096];
  vsnprintf(buf, sizeof(buf), format, args);
  size_t n = strlen(buf);
  if (n && buf[n - 1] == '\n') buf[n - 1] = '\0';
  spdlog::debug("libbpf: {}", buf);
  return 0;
}

std::string permission_hint() {
  return "run as root, or grant CAP_BPF, CAP_PERFMON and CAP_SYS_RESOURCE";
}

const char* tracefs_root() {
  // Without privileges tracefs cannot even be looked into: that is said as
  // the permission it is, not as a filesystem error.
  for (const char* root : {"/sys/kernel/tracing", "/sys/kernel/debug/tracing"}) {
    std::error_code ec;
    if (fs::exists(std::string(root) + "/events", ec)) return root;
    if (ec == std::errc::permission_denied)
      throw Error(std::string("cannot read ") + root + " (permission denied): " + permission_hint());
  }
  return nullptr;
}

}  // namespace

void check_kernel_support() {
  if (!fs::exists("/sys/kernel/btf/vmlinux"))
    throw Error(
        "this kernel has no BTF (/sys/kernel/btf/vmlinux is missing); agenttrace needs a kernel "
        "built with CONFIG_DEBUG_INFO_BTF=y");
  if (!tracefs_root()) {
    // Minimal images often leave tracefs unmounted; libbpf needs it to attach.
    if (mount("nodev", "/sys/kernel/tracing", "tracefs", 0, nullptr) != 0 || !tracefs_root())
      throw Error(std::string("tracefs is not mounted and cannot be mounted (") +
                  errno_text(errno) + "); mount it with: mount -t tracefs nodev /sys/kernel/tracing");
    spdlog::debug("mounted tracefs on /sys/kernel/tracing");
  }
}

Probes::Probes(const ProbeConfig& config) {
  g_libbpf_debug = config.debug;
  libbpf_set_print(libbpf_print);
  check_kernel_support();

  skel_ = agenttrace_bpf__open();
  if (!skel_) throw Error("cannot open the BPF programs: " + errno_text(errno));

  skel_->rodata->capture_values = config.capture_values;
  skel_->rodata->trace_all = config.trace_all;
  skel_->rodata->self_pid = static_cast<uint32_t>(getpid());
  // Wake the collector when a quarter of the ring is full; it also polls on a
  // short timer, so quiet periods cost no wake-ups at all.
  skel_->rodata->wakeup_bytes = config.ringbuf_bytes / 4;
  skel_->rodata->capture_bytes = config.capture_bytes;
  skel_->rodata->stack_kinds = config.stack_kinds;
  skel_->rodata->watch_filtered = !config.watch_comms.empty() || !config.watch_exes.empty();
  // Connection ids are kernel addresses XOR a random key, so traces do not
  // reveal the kernel's memory layout.
  uint64_t key = 0;
  if (getrandom(&key, sizeof(key), 0) != sizeof(key)) key = static_cast<uint64_t>(time(nullptr)) * 0x9E3779B97F4A7C15ull;
  skel_->rodata->conn_key = key & ~3ull;  // low bits mark direction in budget keys

  if (int err = bpf_map__set_max_entries(skel_->maps.events, config.ringbuf_bytes))
    throw Error("cannot size the ring buffer to " + std::to_string(config.ringbuf_bytes) +
                " bytes: " + errno_text(-err));

  // Tracepoints this kernel lacks are skipped, and said, instead of failing.
  // Syscall handlers ("raw_tp" without a name) are reached by tail call and
  // need no tracepoint of their own.
  const char* tracefs = tracefs_root();
  bpf_program* prog;
  bpf_object__for_each_program(prog, skel_->obj) {
    std::string sec = bpf_program__section_name(prog);
    std::string tp;
    if (sec.rfind("tp/", 0) == 0) tp = sec.substr(3);
    else if (sec == "raw_tp/sys_enter" || sec == "raw_tp/sys_exit") tp = "raw_syscalls/" + sec.substr(7);
    else if (sec.rfind("raw_tp/sched_", 0) == 0) tp = "sched/" + sec.substr(7);
    if (tp.empty() || fs::exists(std::string(tracefs) + "/events/" + tp)) continue;
    bpf_program__set_autoload(prog, false);
    missing_.push_back(tp);
  }

  if (int err = agenttrace_bpf__load(skel_)) {
    err = -err;
    if (err == EPERM || err == EACCES)
      throw Error("cannot load BPF programs: " + errno_text(err) + " (" + permission_hint() + ")");
    throw Error("cannot load BPF programs: " + errno_text(err) +
                " (run with --debug to see the kernel verifier's log)");
  }

  fill_syscall_tables();
  fill_watch_filters(config);

  bpf_object__for_each_program(prog, skel_->obj) {
    if (!bpf_program__autoload(prog)) continue;
    std::string sec = bpf_program__section_name(prog);
    if (sec == "raw_tp" || sec.rfind("uprobe", 0) == 0 || sec.rfind("uretprobe", 0) == 0) continue;
    bpf_link* link = bpf_program__attach(prog);
    if (!link) {
      int err = errno;
      throw Error("cannot attach " + sec + ": " + errno_text(err) +
                  (err == EPERM || err == EACCES ? " (" + permission_hint() + ")" : ""));
    }
    links_.push_back(link);
  }
}

size_t Probes::add_syscall_sites(const ElfFile& file) {
  // The file probed, through its open descriptor: no second lookup by path.
  const std::string& path = file.path();
  struct stat st;
  if (fstat(file.fd(), &st) != 0) return 0;
  std::string error;
  auto frames = syscall_frames(file, &error);
  if (frames.empty()) {
    spdlog::debug("no syscall frames for {}: {}", path, error);
    return 0;
  }
  size_t added = 0;
  for (const auto& f : frames) {
    at_site_key key{};
    key.ino = st.st_ino;
    key.dev = static_cast<uint32_t>((static_cast<uint64_t>(major(st.st_dev)) << 20) | minor(st.st_dev));
    key.offset = f.file_offset;
    at_site_frame value{f.cfa_offset, f.rbp_offset};
    if (bpf_map__update_elem(skel_->maps.syscall_sites, &key, sizeof(key), &value, sizeof(value), BPF_ANY) == 0) ++added;
  }
  spdlog::debug("{} syscall frames of {} given to the kernel", added, path);
  return added;
}

void Probes::fill_watch_filters(const ProbeConfig& config) {
  const uint8_t one = 1;
  for (const auto& name : config.watch_comms) {
    char comm[AT_COMM_LEN] = {};
    // The kernel keeps 15 bytes of a name (TASK_COMM_LEN - 1).
    memcpy(comm, name.data(), std::min(name.size(), sizeof(comm) - 1));
    if (bpf_map__update_elem(skel_->maps.watch_comms, comm, sizeof(comm), &one, sizeof(one), BPF_ANY) != 0)
      throw Error("cannot add --comm " + name + " to the kernel's filter: " + errno_text(errno));
  }
  for (const auto& path : config.watch_exes) {
    struct stat st;
    if (stat(path.c_str(), &st) != 0) throw Error("--exe " + path + ": " + errno_text(errno));
    // The kernel's s_dev encoding, not the one stat(2) reports.
    at_file_id id{(static_cast<uint64_t>(major(st.st_dev)) << 20) | minor(st.st_dev), static_cast<uint64_t>(st.st_ino)};
    if (bpf_map__update_elem(skel_->maps.watch_exes, &id, sizeof(id), &one, sizeof(one), BPF_ANY) != 0)
      throw Error("cannot add --exe " + path + " to the kernel's filter: " + errno_text(errno));
  }
}

void Probes::detach_in_background() {
  int pipefd[2];
  if (pipe2(pipefd, O_CLOEXEC) != 0) return;  // fall back to detaching here
  pid_t pid = fork();
  if (pid < 0) {
    close(pipefd[0]);
    close(pipefd[1]);
    return;
  }
  if (pid > 0) {
    // Parent: its references go in the destructor, cheaply, because the
    // child holds the links; the pipe's write end closes when it exits.
    close(pipefd[0]);
    return;
  }
  // Child: out of the terminal's way, holding nothing but the links.
  close(pipefd[1]);
  setsid();
  if (chdir("/") != 0) _exit(0);
  int null = open("/dev/null", O_RDWR);
  for (int fd = 0; fd < 3; ++fd) dup2(null, fd);
  std::vector<int> keep = {pipefd[0]};
  for (auto* link : links_) keep.push_back(bpf_link__fd(link));
  DIR* dir = opendir("/proc/self/fd");
  if (dir) {
    std::vector<int> to_close;
    while (dirent* d = readdir(dir)) {
      int fd = atoi(d->d_name);
      if (fd > 2 && fd != dirfd(dir) && std::find(keep.begin(), keep.end(), fd) == keep.end() &&
          d->d_name[0] != '.')
        to_close.push_back(fd);
    }
    closedir(dir);
    for (int fd : to_close) close(fd);
  }
  char c;
  while (read(pipefd[0], &c, 1) > 0) {
  }  // EOF: the parent has exited
  std::vector<std::thread> closers;
  for (auto* link : links_) closers.emplace_back([link] { close(bpf_link__fd(link)); });
  for (auto& t : closers) t.join();
  _exit(0);
}

Probes::~Probes() {
  // Detaching a syscall tracepoint waits for an RCU grace period (faultable
  // syscall tracepoints, Linux 6.14+): some 50-80 ms each here. One after the
  // other that is seconds before agenttrace can exit with the command's
  // status; in parallel the waits overlap.
  std::vector<std::thread> closers;
  closers.reserve(links_.size());
  for (auto* link : links_) closers.emplace_back([link] { bpf_link__destroy(link); });
  for (auto& t : closers) t.join();
  if (skel_) agenttrace_bpf__destroy(skel_);
}

namespace {

// Syscall number -> the programs that handle its entry and exit, one per row
// of bpf/registry.h's AT_SYSCALLS_*: a row whose program the skeleton lacks
// does not compile.
using ProgramOf = bpf_program* (*)(const agenttrace_bpf*);
struct SyscallHandler {
  long nr;
  const char* name;  // handle_sys_enter_<name>, handle_sys_exit_<name>
  ProgramOf enter;   // null: the row has no such program
  ProgramOf exit;
};

#define AT_ENTER_OF(name) [](const agenttrace_bpf* s) { return s->progs.handle_sys_enter_##name; }
#define AT_EXIT_OF(name) [](const agenttrace_bpf* s) { return s->progs.handle_sys_exit_##name; }
#define AT_HANDLER_BOTH(call, name) {SYS_##call, #name, AT_ENTER_OF(name), AT_EXIT_OF(name)},
#define AT_HANDLER_ENTER(call, name) {SYS_##call, #name, AT_ENTER_OF(name), nullptr},
#define AT_HANDLER_EXIT(call, name) {SYS_##call, #name, nullptr, AT_EXIT_OF(name)},
constexpr SyscallHandler kSyscallHandlers[] = {
    AT_SYSCALLS_BOTH(AT_HANDLER_BOTH) AT_SYSCALLS_ENTER(AT_HANDLER_ENTER) AT_SYSCALLS_EXIT(AT_HANDLER_EXIT)};
#undef AT_HANDLER_BOTH
#undef AT_HANDLER_ENTER
#undef AT_HANDLER_EXIT
#undef AT_ENTER_OF
#undef AT_EXIT_OF

}  // namespace

void Probes::fill_syscall_tables() {
  for (const auto& h : kSyscallHandlers) {
    if (h.nr < 0 || h.nr >= AT_SYSCALL_SLOTS) throw Error(std::string("syscall ") + h.name + " is outside the dispatch table");
    uint32_t key = static_cast<uint32_t>(h.nr);
    for (auto [table, program_of] : {std::pair{skel_->maps.sys_enter_calls, h.enter},
                                     std::pair{skel_->maps.sys_exit_calls, h.exit}}) {
      if (!program_of) continue;  // entry-only (close) or exit-only (munmap)
      int fd = bpf_program__fd(program_of(skel_));
      if (bpf_map__update_elem(table, &key, sizeof(key), &fd, sizeof(fd), BPF_ANY) != 0)
        throw Error("cannot install the handler for " + std::string(h.name) + ": " + errno_text(errno));
    }
  }
  // One exit program for every watched call; the map says when it records.
  bpf_program* watched = bpf_object__find_program_by_name(skel_->obj, "handle_sys_exit_watched");
  if (!watched) throw Error("BPF program handle_sys_exit_watched is missing");
  int watched_fd = bpf_program__fd(watched);
  for (const auto& w : watched_syscalls()) {
    if (w.nr < 0 || w.nr >= AT_SYSCALL_SLOTS) throw Error(std::string("syscall ") + w.name + " is outside the dispatch table");
    uint32_t key = static_cast<uint32_t>(w.nr);
    for (const auto& h : kSyscallHandlers)
      if (h.nr == w.nr) throw Error(std::string("syscall ") + w.name + " has a handler and is also watched");
    at_watched_syscall value{};
    value.when = w.always ? AT_WATCH_ALWAYS : AT_WATCH_FAILED;
    value.path_arg = w.path_arg;
    if (bpf_map__update_elem(skel_->maps.watched_syscalls, &key, sizeof(key), &value, sizeof(value), BPF_ANY) != 0 ||
        bpf_map__update_elem(skel_->maps.sys_exit_calls, &key, sizeof(key), &watched_fd, sizeof(watched_fd), BPF_ANY) != 0)
      throw Error("cannot watch the syscall " + std::string(w.name) + ": " + errno_text(errno));
  }
  // The one program that adds the stack to a host query and submits it,
  // tail-called from the sendto, sendmsg and ioctl exits.
  uint32_t zero = 0;
  int submit_fd = bpf_program__fd(skel_->progs.handle_host_query_submit);
  if (bpf_map__update_elem(skel_->maps.host_query_tail, &zero, sizeof(zero), &submit_fd, sizeof(submit_fd), BPF_ANY) != 0)
    throw Error("cannot install the host query program: " + errno_text(errno));
}

void Probes::trace_pid(uint32_t tgid) {
  uint32_t value = AT_TRACED_ROOT;
  if (bpf_map__update_elem(skel_->maps.traced, &tgid, sizeof(tgid), &value, sizeof(value),
                           BPF_ANY) != 0)
    throw Error("cannot add process " + std::to_string(tgid) + " to the kernel filter: " +
                errno_text(errno));
  // Its tasks may have run already and keep "not traced" (bpf: task_state).
  __atomic_fetch_add(&skel_->data->traced_gen, 1, __ATOMIC_SEQ_CST);
}

std::vector<uint32_t> Probes::traced_pids() const {
  std::vector<uint32_t> out;
  uint32_t key = 0, next = 0;
  const void* prev = nullptr;
  // Bounded by the map's size: entries deleted meanwhile only end it early.
  for (uint32_t i = 0; i < bpf_map__max_entries(skel_->maps.traced); ++i) {
    if (bpf_map__get_next_key(skel_->maps.traced, prev, &next, sizeof(next)) != 0) break;
    out.push_back(next);
    key = next;
    prev = &key;
  }
  return out;
}

int Probes::ringbuf_fd() const { return bpf_map__fd(skel_->maps.events); }

at_counters Probes::read_counters() const {
  at_counters total{};
  int ncpu = libbpf_num_possible_cpus();
  if (ncpu <= 0) return total;
  std::vector<at_counters> per_cpu(static_cast<size_t>(ncpu));
  uint32_t zero = 0;
  if (bpf_map__lookup_elem(skel_->maps.counters, &zero, sizeof(zero), per_cpu.data(),
                           per_cpu.size() * sizeof(at_counters), 0) != 0) {
    spdlog::warn("cannot read the kernel's event counters: {}", errno_text(errno));
    return total;
  }
  for (const auto& c : per_cpu) {
    for (int k = 0; k < AT_KIND_MAX; ++k) {
      total.kinds[k].emitted += c.kinds[k].emitted;
      total.kinds[k].dropped += c.kinds[k].dropped;
      total.kinds[k].read_failed += c.kinds[k].read_failed;
      total.kinds[k].truncated += c.kinds[k].truncated;
      total.ustash_full[k] += c.ustash_full[k];
      total.unfinished[k] += c.unfinished[k];
    }
    total.stash_full += c.stash_full;
    total.filter_full += c.filter_full;
    total.compat_syscalls += c.compat_syscalls;
    total.payload_bytes += c.payload_bytes;
    total.payload_truncated += c.payload_truncated;
  }
  return total;
}

std::string Probes::attach_uprobe(const std::string& prog_name, bool retprobe,
                                  const std::string& path, uint64_t offset) {
  bpf_program* prog = bpf_object__find_program_by_name(skel_->obj, prog_name.c_str());
  if (!prog) return "BPF program " + prog_name + " is missing";
  bpf_link* link = bpf_program__attach_uprobe(prog, retprobe, -1, path.c_str(), offset);
  if (!link)
    return std::string("cannot attach ") + (retprobe ? "a return probe" : "a probe") + " to " +
           path + " at offset " + std::to_string(offset) + ": " + errno_text(errno);
  links_.push_back(link);
  return {};
}

}  // namespace agenttrace::collector
