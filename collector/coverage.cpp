#include "collector/coverage.h"

#include "common/strings.h"

namespace agenttrace::collector {

trace::Event process_fields_of(const trace::Event& e) {
  trace::Event out;
  out.set_mono_ns(e.mono_ns());
  out.set_wall_ns(e.wall_ns());
  out.set_pid(e.pid());
  out.set_tid(e.tid());
  out.set_ppid(e.ppid());
  out.set_comm(e.comm());
  return out;
}

trace::Event coverage_event(const trace::Event& cause, const char* signal, const Visibility& v) {
  trace::Event e = process_fields_of(cause);
  auto* c = e.mutable_coverage();
  c->set_signal(signal);
  c->set_state(v.state);
  c->set_detail(v.detail);
  c->set_object(v.object);
  return e;
}

std::string io_uring_op_name(uint8_t opcode) {
  // enum io_uring_op (include/uapi/linux/io_uring.h), Linux 6.16.
  static const char* const kNames[] = {
      "nop", "readv", "writev", "fsync", "read_fixed", "write_fixed", "poll_add", "poll_remove",
      "sync_file_range", "sendmsg", "recvmsg", "timeout", "timeout_remove", "accept",
      "async_cancel", "link_timeout", "connect", "fallocate", "openat", "close", "files_update",
      "statx", "read", "write", "fadvise", "madvise", "send", "recv", "openat2", "epoll_ctl",
      "splice", "provide_buffers", "remove_buffers", "tee", "shutdown", "renameat", "unlinkat",
      "mkdirat", "symlinkat", "linkat", "msg_ring", "fsetxattr", "setxattr", "fgetxattr",
      "getxattr", "socket", "uring_cmd", "send_zc", "sendmsg_zc", "read_multishot", "waitid",
      "futex_wait", "futex_wake", "futex_waitv", "fixed_fd_install", "ftruncate", "bind",
      "listen", "recv_zc", "epoll_wait", "readv_fixed", "writev_fixed", "pipe"};
  if (opcode < sizeof(kNames) / sizeof(kNames[0])) return kNames[opcode];
  return "op" + std::to_string(opcode);
}

trace::Event io_uring_coverage(const trace::Event& cause, bool setup, int64_t result,
                               uint8_t opcode, const std::string& path) {
  if (setup) {
    if (result < 0)
      return coverage_event(cause, "io_uring",
                            {"observed", "io_uring_setup failed (" + result_error_name(result) +
                                             "): no ring, nothing hidden", "io_uring"});
    return coverage_event(cause, "io_uring",
                          {"gap", "set up an io_uring: opens, reads and sends submitted through it are not recorded as such",
                           "io_uring"});
  }
  std::string op = io_uring_op_name(opcode);
  if (!path.empty())
    return coverage_event(cause, "io_uring",
                          {"gap", "submitted an io_uring " + op + " of " + path + ": seen by path only, not as an open with its result",
                           "io_uring"});
  return coverage_event(cause, "io_uring",
                        {"gap", "submitted an io_uring " + op + ": what it read, wrote or sent is not recorded",
                         "io_uring"});
}

trace::Event outlived_coverage(uint32_t pid, uint32_t ppid, const std::string& comm,
                               uint64_t mono_ns, int64_t wall_ns) {
  trace::Event cause;
  cause.set_pid(pid);
  cause.set_tid(pid);
  cause.set_ppid(ppid);
  cause.set_comm(comm);
  cause.set_mono_ns(mono_ns);
  cause.set_wall_ns(wall_ns);
  return coverage_event(cause, "process",
                        {"gap", "was still running when the command exited, and what it did afterwards is not recorded",
                         "process"});
}

}  // namespace agenttrace::collector
