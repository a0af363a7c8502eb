// The system calls recorded as AT_KIND_SYSCALL events: what an agent's work
// does not need and an escape does. One list, read by the collector (which
// calls it watches, and when) and by the sandbox (which calls its filter
// refuses), so that every refusal leaves an event in the trace.
#pragma once

#include <cstdint>
#include <span>
#include <string>

namespace agenttrace::collector {

struct WatchedSyscall {
  long nr;             // x86-64 number
  const char* name;
  bool always;         // every call; otherwise only calls that fail
  uint8_t path_arg;    // 1-based argument that is a path (or a name); 0: none
  bool refused_in_sandbox;  // the sandbox's filter answers EPERM
};

std::span<const WatchedSyscall> watched_syscalls();

// "mount" for (x86-64, 165), "getuid32" for (ia32, 199); "syscall N" when
// the number has no name.
std::string syscall_name_of(uint32_t nr, bool ia32);

}  // namespace agenttrace::collector
