#include "collector/decoder.h"

#include <arpa/inet.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sockios.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <cstring>
#include <string_view>

#include "agenttrace.h"
#include "collector/coverage.h"
#include "collector/paths.h"
#include "collector/watched_syscalls.h"
#include "trace/json.h"

namespace agenttrace::collector {

namespace {

using trace::Event;

// Walks the variable part of a record field by field, refusing overruns.
class Tail {
 public:
  Tail(const uint8_t* data, size_t size, size_t fixed) : data_(data), size_(size), pos_(fixed) {}
  bool take(size_t n, std::string_view* out) {
    if (n > size_ - pos_) return false;
    *out = std::string_view(reinterpret_cast<const char*>(data_ + pos_), n);
    pos_ += n;
    return true;
  }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_;
};

std::string comm_text(const char (&comm)[AT_COMM_LEN]) {
  return std::string(comm, strnlen(comm, AT_COMM_LEN));
}

// enum at_source and trace::Syscall share their numbering, both from
// bpf/registry.h's rows: a source the schema lacks, or numbers differently,
// fails the build here.
#define AT_SRC_SAME_NUMBER(name, number, text) \
  static_assert(AT_SRC_##name == static_cast<int>(trace::SYSCALL_##name), "trace::Syscall numbers " #name " differently");
AT_SOURCES(AT_SRC_SAME_NUMBER)
#undef AT_SRC_SAME_NUMBER

trace::Syscall syscall_of(uint16_t source) {
  switch (source) {
#define AT_SRC_CASE(name, number, text) \
  case AT_SRC_##name:                    \
    return trace::SYSCALL_##name;
    AT_SOURCES(AT_SRC_CASE)
#undef AT_SRC_CASE
    default: return trace::SYSCALL_UNSPECIFIED;
  }
}

template <typename T>
bool fixed_part(const uint8_t* data, size_t size, T* out, std::string* error) {
  if (size < sizeof(T)) {
    *error = "record of kind " + std::to_string(reinterpret_cast<const at_header*>(data)->kind) +
             " has " + std::to_string(size) + " bytes, fewer than its fixed part";
    return false;
  }
  memcpy(out, data, sizeof(T));
  return true;
}

bool overrun(std::string* error, const char* what) {
  *error = std::string("record lengths overrun its size (") + what + ")";
  return false;
}

// Fills path and requested from what the program passed and, for a relative
// path, the components of its base directory.
template <typename Msg>
void set_paths(Msg* msg, std::string_view requested, std::string_view dir_components,
               const at_path_event& raw) {
  if (requested.empty()) {
    msg->set_path("");
    return;
  }
  std::string path;
  if (requested[0] == '/') {
    path = normalize_path(requested);
  } else if (raw.h.flags & AT_F_DIR_UNKNOWN) {
    path = std::string(requested);  // base directory unknown: keep it relative
  } else {
    path = resolve_path(path_from_components(dir_components), requested);
  }
  if (path != requested) msg->set_requested(std::string(requested));
  msg->set_path(std::move(path));
  if (raw.h.flags & AT_F_PATH_TRUNCATED) msg->set_path_truncated(true);
}

bool decode_path_event(const uint8_t* data, size_t size, Event* out, std::string* error) {
  at_path_event raw;
  if (!fixed_part(data, size, &raw, error)) return false;
  Tail tail(data, size, sizeof(raw));
  std::string_view path, dir, target, real;
  if (!tail.take(raw.path_len, &path) || !tail.take(raw.dir_len, &dir) ||
      !tail.take(raw.target_len, &target) || !tail.take(raw.real_len, &real))
    return overrun(error, "path");
  trace::Syscall sc = syscall_of(raw.source);
  switch (raw.h.kind) {
    case AT_KIND_OPEN: {
      auto* m = out->mutable_open();
      m->set_syscall(sc);
      set_paths(m, path, dir, raw);
      if (!real.empty()) {
        std::string real_path = path_from_components(real);
        if (real_path != m->path()) m->set_real_path(std::move(real_path));
      }
      m->set_flags(static_cast<int32_t>(raw.flags));
      m->set_mode(raw.mode);
      m->set_result(raw.result);
      if (raw.dirfd >= 0) m->set_dirfd(raw.dirfd);
      if (raw.h.flags & AT_F_DIR_UNKNOWN) m->set_dir_unknown(true);
      break;
    }
    case AT_KIND_READLINK: {
      auto* m = out->mutable_readlink();
      m->set_syscall(sc);
      set_paths(m, path, dir, raw);
      m->set_target(std::string(target));
      m->set_result(raw.result);
      break;
    }
    case AT_KIND_STAT: {
      auto* m = out->mutable_stat();
      m->set_syscall(sc);
      set_paths(m, path, dir, raw);
      m->set_flags(static_cast<int32_t>(raw.flags));
      m->set_result(raw.result);
      break;
    }
    case AT_KIND_ACCESS: {
      auto* m = out->mutable_access();
      m->set_syscall(sc);
      set_paths(m, path, dir, raw);
      m->set_mode(static_cast<int32_t>(raw.mode));
      m->set_flags(static_cast<int32_t>(raw.flags));
      m->set_result(raw.result);
      break;
    }
    default:
      break;
  }
  return true;
}

bool decode_exec(const uint8_t* data, size_t size, Event* out, std::string* error) {
  at_exec raw;
  if (!fixed_part(data, size, &raw, error)) return false;
  Tail tail(data, size, sizeof(raw));
  std::string_view filename, exe, cwd, args;
  if (!tail.take(raw.filename_len, &filename) || !tail.take(raw.exe_len, &exe) ||
      !tail.take(raw.cwd_len, &cwd) || !tail.take(raw.args_len, &args))
    return overrun(error, "exec");
  auto* m = out->mutable_exec();
  std::string cwd_path = raw.cwd_len ? path_from_components(cwd) : std::string();
  if (!filename.empty() && filename[0] != '/' && !cwd_path.empty())
    m->set_path(resolve_path(cwd_path, filename));
  else
    m->set_path(std::string(filename));
  if (raw.exe_len) m->set_exe(path_from_components(exe));
  m->set_cwd(cwd_path);
  bool truncated = raw.h.flags & AT_F_ARGS_TRUNCATED;
  // The argv area is NUL-terminated strings; a cut one ends without its NUL.
  size_t start = 0;
  while (start < args.size()) {
    if (static_cast<size_t>(m->argv_size()) == Decoder::kMaxArgs) {
      truncated = true;
      break;
    }
    size_t end = args.find('\0', start);
    if (end == std::string_view::npos) end = args.size();
    m->add_argv(std::string(args.substr(start, end - start)));
    start = end + 1;
  }
  m->set_argv_truncated(truncated);
  m->set_argv_bytes(raw.args_total);
  if (raw.h.flags & AT_F_PATH_TRUNCATED) m->set_path_truncated(true);
  return true;
}


trace::SockAddr sockaddr_of(const at_sockaddr& a, std::string_view unix_path) {
  trace::SockAddr out;
  char text[INET6_ADDRSTRLEN];
  switch (a.family) {
    case AF_INET:
      out.set_family("inet");
      inet_ntop(AF_INET, a.addr, text, sizeof(text));
      out.set_address(text);
      out.set_port(a.port);
      break;
    case AF_INET6:
      out.set_family("inet6");
      inet_ntop(AF_INET6, a.addr, text, sizeof(text));
      out.set_address(text);
      out.set_port(a.port);
      break;
    case AF_NETLINK:
      out.set_family("netlink");
      out.set_port(a.port);  // the protocol
      break;
    case AF_UNIX: {
      out.set_family("unix");
      std::string path(unix_path);
      if (!path.empty() && path[0] == '\0') path[0] = '@';  // abstract namespace
      out.set_path(path);
      break;
    }
    default:
      break;
  }
  return out;
}

std::string sock_type_name(uint16_t type) {
  switch (type) {
    case SOCK_STREAM: return "stream";
    case SOCK_DGRAM: return "dgram";
    case SOCK_SEQPACKET: return "seqpacket";
    case SOCK_RAW: return "raw";
    case 0: return "";
    default: return "type" + std::to_string(type);
  }
}

bool decode_socket(const uint8_t* data, size_t size, Event* out, NetworkExtra* extra,
                   std::string* error) {
  at_sock_event raw;
  if (!fixed_part(data, size, &raw, error)) return false;
  Tail tail(data, size, sizeof(raw));
  std::string_view path;
  if (!tail.take(raw.unix_len, &path)) return overrun(error, "socket");
  trace::Socket* m = nullptr;
  switch (raw.h.kind) {
    case AT_KIND_CONNECT: m = out->mutable_connect(); break;
    case AT_KIND_BIND: m = out->mutable_bind(); break;
    case AT_KIND_LISTEN: m = out->mutable_listen(); break;
    case AT_KIND_ACCEPT: m = out->mutable_accept(); break;
    default: m = out->mutable_close(); break;
  }
  m->set_syscall(syscall_of(raw.source));
  m->set_fd(raw.fd);
  m->set_result(raw.result);
  m->set_type(sock_type_name(raw.sock_type));
  *m->mutable_addr() = sockaddr_of(raw.addr, path);
  if (raw.local.family && raw.local.family != AF_UNIX) *m->mutable_local() = sockaddr_of(raw.local, {});
  m->set_backlog(raw.backlog);
  extra->kernel_conn = raw.conn;
  return true;
}

#define NAMED(x) \
  case x: return #x;

// Interface ioctls (AT_SIOCGIF_FIRST..AT_SIOCGIF_LAST) by name.
std::string interface_ioctl_name(uint32_t request) {
  switch (request) {
    NAMED(SIOCGIFNAME) NAMED(SIOCSIFLINK) NAMED(SIOCGIFCONF) NAMED(SIOCGIFFLAGS) NAMED(SIOCSIFFLAGS)
    NAMED(SIOCGIFADDR) NAMED(SIOCSIFADDR) NAMED(SIOCGIFDSTADDR) NAMED(SIOCSIFDSTADDR) NAMED(SIOCGIFBRDADDR)
    NAMED(SIOCSIFBRDADDR) NAMED(SIOCGIFNETMASK) NAMED(SIOCSIFNETMASK) NAMED(SIOCGIFMETRIC) NAMED(SIOCSIFMETRIC)
    NAMED(SIOCGIFMEM) NAMED(SIOCSIFMEM) NAMED(SIOCGIFMTU) NAMED(SIOCSIFMTU) NAMED(SIOCSIFNAME)
    NAMED(SIOCSIFHWADDR) NAMED(SIOCGIFENCAP) NAMED(SIOCSIFENCAP) NAMED(SIOCGIFHWADDR) NAMED(SIOCGIFSLAVE)
    NAMED(SIOCSIFSLAVE) NAMED(SIOCADDMULTI) NAMED(SIOCDELMULTI) NAMED(SIOCGIFINDEX) NAMED(SIOCSIFPFLAGS)
    NAMED(SIOCGIFPFLAGS) NAMED(SIOCDIFADDR) NAMED(SIOCSIFHWBROADCAST) NAMED(SIOCGIFCOUNT) NAMED(SIOCGIFBR)
    NAMED(SIOCSIFBR) NAMED(SIOCGIFTXQLEN) NAMED(SIOCSIFTXQLEN) NAMED(SIOCETHTOOL) NAMED(SIOCGMIIPHY)
    NAMED(SIOCGMIIREG) NAMED(SIOCSMIIREG) NAMED(SIOCWANDEV) NAMED(SIOCDARP) NAMED(SIOCGARP) NAMED(SIOCSARP)
    NAMED(SIOCDRARP) NAMED(SIOCGRARP) NAMED(SIOCSRARP) NAMED(SIOCGIFMAP) NAMED(SIOCSIFMAP)
    default: return "ioctl " + trace::hex_address(request);
  }
}

std::string netlink_protocol_name(uint16_t protocol) {
  switch (protocol) {
    case NETLINK_ROUTE: return "route";
    case NETLINK_SOCK_DIAG: return "sock_diag";
    case NETLINK_AUDIT: return "audit";
    case NETLINK_KOBJECT_UEVENT: return "kobject_uevent";
    case NETLINK_GENERIC: return "generic";
    case NETLINK_NETFILTER: return "netfilter";
    case NETLINK_XFRM: return "xfrm";
    case NETLINK_CONNECTOR: return "connector";
    default: return "netlink " + std::to_string(protocol);
  }
}

// A netlink message type: rtnetlink's by name, the control messages of any
// protocol, else the protocol and the number.
std::string netlink_request_name(uint16_t protocol, uint32_t type) {
  switch (type) {
    NAMED(NLMSG_NOOP) NAMED(NLMSG_ERROR) NAMED(NLMSG_DONE)
    default: break;
  }
  if (protocol == NETLINK_SOCK_DIAG && type == 20) return "SOCK_DIAG_BY_FAMILY";
  if (protocol != NETLINK_ROUTE) return netlink_protocol_name(protocol) + " " + trace::hex_address(type);
  switch (type) {
    NAMED(RTM_NEWLINK) NAMED(RTM_DELLINK) NAMED(RTM_GETLINK) NAMED(RTM_SETLINK) NAMED(RTM_NEWADDR)
    NAMED(RTM_DELADDR) NAMED(RTM_GETADDR) NAMED(RTM_NEWROUTE) NAMED(RTM_DELROUTE) NAMED(RTM_GETROUTE)
    NAMED(RTM_NEWNEIGH) NAMED(RTM_DELNEIGH) NAMED(RTM_GETNEIGH) NAMED(RTM_NEWRULE) NAMED(RTM_DELRULE)
    NAMED(RTM_GETRULE) NAMED(RTM_NEWQDISC) NAMED(RTM_DELQDISC) NAMED(RTM_GETQDISC) NAMED(RTM_GETTCLASS)
    NAMED(RTM_GETTFILTER) NAMED(RTM_GETACTION) NAMED(RTM_GETMULTICAST) NAMED(RTM_GETANYCAST)
    NAMED(RTM_GETNEIGHTBL) NAMED(RTM_GETNETCONF) NAMED(RTM_GETNSID) NAMED(RTM_GETSTATS)
    default: return "netlink " + trace::hex_address(type);
  }
}
#undef NAMED

std::string address_family_name(uint8_t family) {
  switch (family) {
    case AF_UNSPEC: return "unspec";
    case AF_INET: return "inet";
    case AF_INET6: return "inet6";
    case AF_PACKET: return "packet";
    case AF_BRIDGE: return "bridge";
    case AF_NETLINK: return "netlink";
    default: return std::to_string(family);
  }
}

bool decode_host_query(const uint8_t* data, size_t size, Event* out, std::string* error) {
  at_host_query raw;
  if (!fixed_part(data, size, &raw, error)) return false;
  auto* m = out->mutable_host_query();
  bool ioctl = raw.source == AT_SRC_IOCTL;
  m->set_syscall(syscall_of(raw.source));
  m->set_number(raw.request);
  m->set_request(ioctl ? interface_ioctl_name(raw.request) : netlink_request_name(raw.protocol, raw.request));
  m->set_result(raw.result);
  m->set_fd(raw.fd);
  if (raw.ifindex) m->set_index(raw.ifindex);
  if (raw.length) m->set_length(raw.length);
  if (ioctl) {
    m->set_interface(std::string(raw.ifname, strnlen(raw.ifname, sizeof(raw.ifname))));
  } else {
    m->set_protocol(netlink_protocol_name(raw.protocol));
    m->set_flags(raw.nl_flags);
    m->set_dump((raw.nl_flags & NLM_F_DUMP) == NLM_F_DUMP);
    m->set_family(address_family_name(raw.family));
  }
  return true;
}

bool decode_io_uring(const uint8_t* data, size_t size, Event* out, std::string* error) {
  at_io_uring_event raw;
  if (!fixed_part(data, size, &raw, error)) return false;
  Tail tail(data, size, sizeof(raw));
  std::string_view path;
  if (!tail.take(raw.path_len, &path)) return overrun(error, "io_uring");
  *out = io_uring_coverage(*out, raw.source == AT_SRC_IO_URING_SETUP, raw.result, raw.opcode,
                           std::string(path));
  return true;
}

bool decode_dns(const uint8_t* data, size_t size, Event* out, std::string* error) {
  at_dns_event raw;
  if (!fixed_part(data, size, &raw, error)) return false;
  Tail tail(data, size, sizeof(raw));
  std::string_view name;
  if (!tail.take(raw.name_len, &name)) return overrun(error, "dns");
  auto* m = out->mutable_dns();
  m->set_source(syscall_of(raw.source));
  m->set_name(std::string(name));
  m->set_result(raw.result);
  for (int i = 0; i < raw.count && i < AT_DNS_MAX_ADDRS; ++i) {
    trace::SockAddr a = sockaddr_of(raw.addrs[i], {});
    if (!a.address().empty()) m->add_answers(a.address());
  }
  return true;
}

}  // namespace

uint16_t Decoder::kind_of(const void* data, size_t size) {
  if (size < sizeof(at_header)) return 0;
  uint16_t kind;
  memcpy(&kind, data, sizeof(kind));
  return kind;
}

bool Decoder::decode_data(const void* data_ptr, size_t size, DataRecord* out,
                          std::string* error) const {
  const uint8_t* data = static_cast<const uint8_t*>(data_ptr);
  at_data_event raw;
  if (size < sizeof(raw)) {
    *error = "data record of " + std::to_string(size) + " bytes is shorter than its fixed part";
    return false;
  }
  memcpy(&raw, data, sizeof(raw));
  if (raw.h.size < sizeof(raw) || raw.h.size > size) {
    *error = "data record header claims " + std::to_string(raw.h.size) + " bytes of " + std::to_string(size);
    return false;
  }
  if (raw.data_len > raw.h.size - sizeof(raw)) return overrun(error, "data");
  Event& e = out->event;
  e.Clear();
  set_process_fields(raw.h, &e);
  out->inbound = raw.h.flags & AT_F_INBOUND;
  trace::Data* m = out->inbound ? e.mutable_recv() : e.mutable_send();
  m->set_syscall(syscall_of(raw.source));
  m->set_fd(raw.fd);
  m->set_result(raw.result);
  *m->mutable_peer() = sockaddr_of(raw.peer, {});
  if (raw.local.family && raw.local.family != AF_UNIX) *m->mutable_local() = sockaddr_of(raw.local, {});
  m->set_bytes(raw.msg_bytes);
  m->set_tls(raw.h.flags & AT_F_TLS);
  m->set_ciphertext(raw.h.flags & AT_F_IN_TLS_CALL);
  m->set_msg_index(raw.msg_index);
  m->set_type(sock_type_name(raw.sock_type));
  out->final = raw.reserved == 1;
  out->kernel_conn = raw.conn;
  out->ssl = raw.ssl;
  out->call_id = raw.call_id;
  out->msg_index = raw.msg_index;
  out->data_offset = raw.data_offset;
  out->captured = raw.captured;
  out->budget_spent = raw.h.flags & AT_F_BUDGET_SPENT;
  out->read_failed = raw.h.flags & AT_F_READ_FAILED;
  out->bytes = std::string_view(reinterpret_cast<const char*>(data + sizeof(raw)), raw.data_len);
  return true;
}

void Decoder::set_process_fields(const at_header& h, trace::Event* out) const {
  out->set_mono_ns(h.mono_ns);
  out->set_wall_ns(static_cast<int64_t>(h.mono_ns) + wall_minus_mono_);
  out->set_pid(h.pid);
  out->set_tid(h.tid);
  out->set_ppid(h.ppid);
  out->set_comm(comm_text(h.comm));
}

bool Decoder::decode_splice(const void* data_ptr, size_t size, SpliceRecord* out,
                            std::string* error) const {
  const uint8_t* data = static_cast<const uint8_t*>(data_ptr);
  at_splice_event raw;
  if (!fixed_part(data, size, &raw, error)) return false;
  if (raw.h.size < sizeof(raw) || raw.h.size > size) {
    *error = "splice record header claims " + std::to_string(raw.h.size) + " bytes of " + std::to_string(size);
    return false;
  }
  Tail tail(data, raw.h.size, sizeof(raw));
  std::string_view components;
  if (!tail.take(raw.path_len, &components)) return overrun(error, "splice");
  out->to_socket = raw.out_type == AT_FILE_SOCKET;
  out->from_file = raw.in_type == AT_FILE_REGULAR;
  out->file_to_pipe = out->from_file && raw.out_type == AT_FILE_PIPE;
  out->in_pipe = raw.in_type == AT_FILE_PIPE ? raw.in_pipe : 0;
  out->out_pipe = raw.out_type == AT_FILE_PIPE ? raw.out_pipe : 0;
  out->in_path = out->from_file && !components.empty() ? path_from_components(components) : std::string();

  // The send: one message, nothing captured (the bytes never were in the
  // program's memory), so all of it counts as not captured.
  DataRecord& d = out->data;
  Event& e = d.event;
  e.Clear();
  set_process_fields(raw.h, &e);
  trace::Data* m = e.mutable_send();
  m->set_syscall(syscall_of(raw.source));
  m->set_fd(raw.out_fd);
  m->set_result(raw.result);
  *m->mutable_peer() = sockaddr_of(raw.peer, {});
  if (raw.local.family && raw.local.family != AF_UNIX) *m->mutable_local() = sockaddr_of(raw.local, {});
  m->set_bytes(raw.result > 0 ? static_cast<uint64_t>(raw.result) : 0);
  m->set_type(sock_type_name(raw.sock_type));
  d.inbound = false;
  d.final = true;
  d.kernel_conn = raw.conn;
  d.ssl = 0;
  d.call_id = raw.h.mono_ns;
  d.msg_index = 0;
  d.data_offset = 0;
  d.captured = 0;
  d.budget_spent = false;
  d.read_failed = false;
  d.bytes = {};
  return true;
}

bool Decoder::decode(const void* data_ptr, size_t size, Event* out, NetworkExtra* extra,
                     std::string* error) const {
  const uint8_t* data = static_cast<const uint8_t*>(data_ptr);
  out->Clear();
  if (size < sizeof(at_header)) {
    *error = "record of " + std::to_string(size) + " bytes is shorter than a record header";
    return false;
  }
  at_header h;
  memcpy(&h, data, sizeof(h));
  // The ring buffer may hand over more than the record (a fixed-size
  // reservation); the header says how much is meaningful.
  if (h.size < sizeof(at_header) || h.size > size) {
    *error = "record header claims " + std::to_string(h.size) + " bytes of " +
             std::to_string(size);
    return false;
  }
  size = h.size;
  if (h.flags & AT_F_STACK) {
    // The stack is the record's last bytes: frames, then their count.
    at_stack_tail tail;
    if (size < sizeof(at_header) + sizeof(tail)) return overrun(error, "stack");
    memcpy(&tail, data + size - sizeof(tail), sizeof(tail));
    if (tail.count > AT_STACK_MAX ||
        tail.count * sizeof(at_frame) > size - sizeof(at_header) - sizeof(tail))
      return overrun(error, "stack");
    size -= sizeof(tail) + tail.count * sizeof(at_frame);
    trace::Stack* st = out->mutable_stack();
    for (uint32_t i = 0; i < tail.count; ++i) {
      at_frame raw;
      memcpy(&raw, data + size + i * sizeof(at_frame), sizeof(raw));
      trace::Frame* f = st->add_frames();
      f->set_address(raw.ip);
      switch (raw.kind) {
        case AT_FRAME_FILE:
          f->set_module_offset(raw.file_offset);
          f->set_device(raw.dev);
          f->set_inode(raw.ino);
          break;
        case AT_FRAME_ANON: f->set_module("[anon]"); break;
        case AT_FRAME_NONE: f->set_module("[unmapped]"); break;
        default: break;  // the map was busy: the collector looks at /proc
      }
    }
    st->set_truncated(tail.count == AT_STACK_MAX);
    st->set_failed(tail.error != 0 && tail.count == 0);
  }
  set_process_fields(h, out);

  switch (h.kind) {
    case AT_KIND_EXEC:
      return decode_exec(data, size, out, error);
    case AT_KIND_FORK: {
      at_fork raw;
      if (!fixed_part(data, size, &raw, error)) return false;
      auto* m = out->mutable_fork();
      m->set_child_pid(raw.child_pid);
      m->set_child_tid(raw.child_tid);
      m->set_thread(raw.is_thread != 0);
      return true;
    }
    case AT_KIND_EXIT: {
      at_exit raw;
      if (!fixed_part(data, size, &raw, error)) return false;
      auto* m = out->mutable_exit();
      m->set_status(raw.status);
      if (WIFSIGNALED(raw.status)) {
        m->set_signal(WTERMSIG(raw.status));
        m->set_core_dumped(WCOREDUMP(raw.status));
      } else {
        m->set_code(WEXITSTATUS(raw.status));
      }
      return true;
    }
    case AT_KIND_OPEN:
    case AT_KIND_READLINK:
    case AT_KIND_STAT:
    case AT_KIND_ACCESS:
      return decode_path_event(data, size, out, error);
    case AT_KIND_GETENV: {
      at_getenv raw;
      if (!fixed_part(data, size, &raw, error)) return false;
      Tail tail(data, size, sizeof(raw));
      std::string_view name, value;
      if (!tail.take(raw.name_len, &name) || !tail.take(raw.value_len, &value))
        return overrun(error, "getenv");
      auto* m = out->mutable_getenv();
      m->set_function(syscall_of(raw.source));
      m->set_name(std::string(name));
      m->set_found(raw.found != 0);
      // The kernel side marks a name cut at AT_ENV_NAME_MAX with the path flag.
      if (h.flags & AT_F_PATH_TRUNCATED) m->set_name_truncated(true);
      if (h.flags & AT_F_VALUE_CAPTURED) {
        m->set_value(std::string(value));
        m->set_value_captured(true);
        m->set_value_truncated(h.flags & AT_F_VALUE_TRUNCATED);
      }
      return true;
    }
    case AT_KIND_UNAME: {
      at_uname raw;
      if (!fixed_part(data, size, &raw, error)) return false;
      Tail tail(data, size, sizeof(raw));
      std::string_view nodename, release;
      if (!tail.take(raw.nodename_len, &nodename) || !tail.take(raw.release_len, &release))
        return overrun(error, "uname");
      auto* m = out->mutable_uname();
      m->set_result(raw.result);
      m->set_nodename(std::string(nodename));
      m->set_release(std::string(release));
      return true;
    }
    case AT_KIND_CONNECT:
    case AT_KIND_BIND:
    case AT_KIND_LISTEN:
    case AT_KIND_ACCEPT:
    case AT_KIND_CLOSE:
      return decode_socket(data, size, out, extra, error);
    case AT_KIND_DNS:
      return decode_dns(data, size, out, error);
    case AT_KIND_IO_URING:
      return decode_io_uring(data, size, out, error);
    case AT_KIND_SYSCALL: {
      at_syscall_event raw;
      if (!fixed_part(data, size, &raw, error)) return false;
      Tail tail(data, size, sizeof(raw));
      std::string_view path;
      if (!tail.take(raw.path_len, &path)) return overrun(error, "syscall");
      auto* m = out->mutable_system_call();
      bool ia32 = raw.abi == AT_ABI_IA32;
      m->set_name(syscall_name_of(raw.nr, ia32));
      m->set_number(raw.nr);
      m->set_abi(ia32 ? "ia32" : "x86_64");
      m->set_result(raw.result);
      for (uint64_t a : raw.args) m->add_args(a);
      if (!path.empty()) m->set_path(std::string(path));
      if (h.flags & AT_F_PATH_TRUNCATED) m->set_path_truncated(true);
      if (h.flags & AT_F_READ_FAILED) m->set_path_unreadable(true);
      return true;
    }
    case AT_KIND_HOST_QUERY:
      return decode_host_query(data, size, out, error);
    case AT_KIND_SPLICE:
      *error = "splice records are decoded with decode_splice";
      return false;
    case AT_KIND_SEND:
    case AT_KIND_RECV:
      *error = "payload records are decoded with decode_data";
      return false;
    default:
      *error = "record of unknown kind " + std::to_string(h.kind);
      return false;
  }
}

}  // namespace agenttrace::collector
