#include "trace/format.h"

#include <cstring>
#include <vector>

namespace agenttrace::trace {

namespace {

size_t put_varint(uint8_t* p, uint64_t v) {
  size_t n = 0;
  while (v >= 0x80) {
    p[n++] = static_cast<uint8_t>(v) | 0x80;
    v >>= 7;
  }
  p[n++] = static_cast<uint8_t>(v);
  return n;
}

}  // namespace

RecordEncoding::RecordEncoding(uint32_t record_field, const google::protobuf::MessageLite& message)
    : message_(message), body_(message.ByteSizeLong()) {
  prefix_len_ = put_varint(prefix_, (record_field << 3) | 2);
  prefix_len_ += put_varint(prefix_ + prefix_len_, body_);
}

void RecordEncoding::write(uint8_t* dst) const {
  memcpy(dst, prefix_, prefix_len_);
  message_.SerializeWithCachedSizesToArray(dst + prefix_len_);
}

std::string_view event_kind_of_case(int body_case) {
  // The kinds are the names of the Event.body oneof's fields: one table,
  // the schema's, for every name a kind is written with.
  static const std::vector<std::string_view> names = [] {
    std::vector<std::string_view> out;
    const auto* oneof = Event::descriptor()->FindOneofByName("body");
    for (int i = 0; i < oneof->field_count(); ++i) {
      const auto* field = oneof->field(i);
      if (static_cast<size_t>(field->number()) >= out.size()) out.resize(field->number() + 1);
      out[field->number()] = field->name();
    }
    return out;
  }();
  if (body_case <= 0 || static_cast<size_t>(body_case) >= names.size() || names[body_case].empty()) return "unknown";
  return names[body_case];
}

std::string_view event_kind(const Event& event) { return event_kind_of_case(event.body_case()); }

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
    case SYSCALL_CONNECT: return "connect";
    case SYSCALL_BIND: return "bind";
    case SYSCALL_LISTEN: return "listen";
    case SYSCALL_ACCEPT: return "accept";
    case SYSCALL_ACCEPT4: return "accept4";
    case SYSCALL_WRITE: return "write";
    case SYSCALL_WRITEV: return "writev";
    case SYSCALL_SENDTO: return "sendto";
    case SYSCALL_SENDMSG: return "sendmsg";
    case SYSCALL_SENDMMSG: return "sendmmsg";
    case SYSCALL_SSL_WRITE: return "SSL_write";
    case SYSCALL_SSL_WRITE_EX: return "SSL_write_ex";
    case SYSCALL_SSL_READ: return "SSL_read";
    case SYSCALL_SSL_READ_EX: return "SSL_read_ex";
    case SYSCALL_READ: return "read";
    case SYSCALL_READV: return "readv";
    case SYSCALL_RECVFROM: return "recvfrom";
    case SYSCALL_RECVMSG: return "recvmsg";
    case SYSCALL_RECVMMSG: return "recvmmsg";
    case SYSCALL_CLOSE: return "close";
    case SYSCALL_GETADDRINFO: return "getaddrinfo";
    case SYSCALL_GETHOSTBYNAME: return "gethostbyname";
    case SYSCALL_GETHOSTBYNAME2: return "gethostbyname2";
    case SYSCALL_GETHOSTBYNAME_R: return "gethostbyname_r";
    case SYSCALL_GETHOSTBYNAME2_R: return "gethostbyname2_r";
    case SYSCALL_SENDFILE: return "sendfile";
    case SYSCALL_SPLICE: return "splice";
    case SYSCALL_IO_URING_SETUP: return "io_uring_setup";
    case SYSCALL_IO_URING_SUBMIT: return "io_uring_submit";
    case SYSCALL_PROCESS_ENV: return "process.env";
    case SYSCALL_IOCTL: return "ioctl";
    case SYSCALL_DNS_QUERY: return "query";
    case SYSCALL_DNS_RESPONSE: return "response";
    default: break;
  }
  return "unknown";
}

bool kernel_socket(const SockAddr& a) { return a.family() == "netlink"; }

std::string sockaddr_text(const SockAddr& a) {
  if (a.family() == "inet") return a.address() + ":" + std::to_string(a.port());
  if (a.family() == "inet6") return "[" + a.address() + "]:" + std::to_string(a.port());
  if (a.family() == "unix") return "unix:" + a.path();
  // A netlink socket talks to the kernel; the port field holds its protocol.
  if (a.family() == "netlink") return a.port() == 0 ? "netlink:route" : "netlink:" + std::to_string(a.port());
  return "";
}

}  // namespace agenttrace::trace
