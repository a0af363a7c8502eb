#include "trace/format.h"

namespace agenttrace::trace {

std::string_view event_kind(const Event& event) {
  switch (event.body_case()) {
    case Event::kExec: return "exec";
    case Event::kFork: return "fork";
    case Event::kExit: return "exit";
    case Event::kOpen: return "open";
    case Event::kReadlink: return "readlink";
    case Event::kStat: return "stat";
    case Event::kAccess: return "access";
    case Event::kGetenv: return "getenv";
    case Event::kUname: return "uname";
    case Event::kCoverage: return "coverage";
    case Event::BODY_NOT_SET: break;
  }
  return "unknown";
}

std::string_view syscall_name(Syscall syscall) {
  switch (syscall) {
    case SYSCALL_OPEN: return "open";
    case SYSCALL_OPENAT: return "openat";
    case SYSCALL_OPENAT2: return "openat2";
    case SYSCALL_CREAT: return "creat";
    case SYSCALL_READLINK: return "readlink";
    case SYSCALL_READLINKAT: return "readlinkat";
    case SYSCALL_STAT: return "stat";
    case SYSCALL_LSTAT: return "lstat";
    case SYSCALL_NEWFSTATAT: return "newfstatat";
    case SYSCALL_STATX: return "statx";
    case SYSCALL_ACCESS: return "access";
    case SYSCALL_FACCESSAT: return "faccessat";
    case SYSCALL_FACCESSAT2: return "faccessat2";
    case SYSCALL_GETENV: return "getenv";
    case SYSCALL_SECURE_GETENV: return "secure_getenv";
    case SYSCALL_UNAME: return "uname";
    default: break;
  }
  return "unknown";
}

}  // namespace agenttrace::trace
