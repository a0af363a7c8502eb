#include "collector/watched_syscalls.h"

#include <seccomp.h>
#include <sys/syscall.h>

#include <cstdlib>

namespace agenttrace::collector {

namespace {

// Calls no agent needs: each is recorded, with its result. (unshare and clone
// with CLONE_NEWUSER are refused by the sandbox's filter by argument; clone3
// gets ENOSYS there so that the C library falls back to clone, and is not
// watched: every thread start in the sandbox would be an event.)
constexpr WatchedSyscall kWatched[] = {
    {SYS_bpf, "bpf", true, 0, true},
    {SYS_perf_event_open, "perf_event_open", true, 0, true},
    {SYS_mount, "mount", true, 2, true},
    {SYS_umount2, "umount2", true, 1, true},
    {SYS_pivot_root, "pivot_root", true, 1, true},
    {SYS_chroot, "chroot", true, 1, false},
    {SYS_move_mount, "move_mount", true, 2, true},
    {SYS_open_tree, "open_tree", true, 2, true},
    {SYS_fsopen, "fsopen", true, 1, true},
    {SYS_fsconfig, "fsconfig", true, 0, true},
    {SYS_fsmount, "fsmount", true, 0, true},
    {SYS_fspick, "fspick", true, 2, true},
    {SYS_mount_setattr, "mount_setattr", true, 2, true},
    {SYS_kexec_load, "kexec_load", true, 0, true},
    {SYS_kexec_file_load, "kexec_file_load", true, 0, true},
    {SYS_init_module, "init_module", true, 0, true},
    {SYS_finit_module, "finit_module", true, 0, true},
    {SYS_delete_module, "delete_module", true, 1, true},
    {SYS_keyctl, "keyctl", true, 0, true},
    {SYS_add_key, "add_key", true, 1, true},
    {SYS_request_key, "request_key", true, 1, true},
    {SYS_open_by_handle_at, "open_by_handle_at", true, 0, true},
    {SYS_name_to_handle_at, "name_to_handle_at", true, 2, false},
    {SYS_setns, "setns", true, 0, true},
    {SYS_unshare, "unshare", true, 0, false},
    {SYS_ptrace, "ptrace", true, 0, false},
    {SYS_process_vm_writev, "process_vm_writev", true, 0, true},
    {SYS_process_vm_readv, "process_vm_readv", true, 0, true},
    {SYS_iopl, "iopl", true, 0, true},
    {SYS_ioperm, "ioperm", true, 0, true},
    {SYS_reboot, "reboot", true, 0, true},
    {SYS_swapon, "swapon", true, 1, true},
    {SYS_swapoff, "swapoff", true, 1, true},
    {SYS_clock_settime, "clock_settime", true, 0, true},
    {SYS_clock_adjtime, "clock_adjtime", true, 0, true},
    {SYS_settimeofday, "settimeofday", true, 0, true},
    {SYS_acct, "acct", true, 1, true},
    {SYS_quotactl, "quotactl", true, 0, true},
    {SYS_userfaultfd, "userfaultfd", true, 0, true},
    {SYS_syslog, "syslog", true, 0, false},
    // Common calls, recorded only when they fail: a refused fork (the process
    // limit, a new user namespace), a signal to a process that is not there
    // or not the caller's, a change of identity that was not allowed.
    {SYS_clone, "clone", false, 0, false},
    {SYS_fork, "fork", false, 0, false},
    {SYS_vfork, "vfork", false, 0, false},
    {SYS_kill, "kill", false, 0, false},
    {SYS_tkill, "tkill", false, 0, false},
    {SYS_tgkill, "tgkill", false, 0, false},
    {SYS_setuid, "setuid", false, 0, false},
    {SYS_setgid, "setgid", false, 0, false},
    {SYS_setreuid, "setreuid", false, 0, false},
    {SYS_setregid, "setregid", false, 0, false},
    {SYS_setresuid, "setresuid", false, 0, false},
    {SYS_setresgid, "setresgid", false, 0, false},
    {SYS_capset, "capset", false, 0, false},  // the sandbox sets its own, before the command
};

}  // namespace

std::span<const WatchedSyscall> watched_syscalls() { return kWatched; }

std::string syscall_name_of(uint32_t nr, bool ia32) {
  char* name = seccomp_syscall_resolve_num_arch(ia32 ? SCMP_ARCH_X86 : SCMP_ARCH_X86_64, static_cast<int>(nr));
  if (!name) return "syscall " + std::to_string(nr);
  std::string out(name);
  free(name);
  return out;
}

}  // namespace agenttrace::collector
