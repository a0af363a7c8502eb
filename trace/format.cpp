#include "trace/format.h"

#include <cstring>
#include <vector>

#include "bpf/registry.h"

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
#define AT_SYSCALL_NAME(name, number, text) \
  case SYSCALL_##name:                     \
    return text;
    AT_SOURCES(AT_SYSCALL_NAME)
    AT_DECODER_SOURCES(AT_SYSCALL_NAME)
#undef AT_SYSCALL_NAME
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
