// The trace file format: framing constants and event kind names.
// The schema itself is trace/agenttrace.proto.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "agenttrace.pb.h"

namespace agenttrace::trace {

// "ATRACE\r\n": the CR/LF pair catches files mangled by text-mode transfers.
inline constexpr char kMagic[8] = {'A', 'T', 'R', 'A', 'C', 'E', '\r', '\n'};
inline constexpr uint32_t kFormatVersion = 1;
// Frame: u32 length, u32 CRC-32C of those 4 length bytes, u32 CRC-32C of the
// payload, then the payload; all little-endian.
// The length has its own check so a damaged length is reported as damage,
// not mistaken for a file that merely ends early.
inline constexpr size_t kFrameHeaderSize = 12;
// No record is near this large; a length beyond it means a corrupt frame.
inline constexpr uint32_t kMaxRecordSize = 64u << 20;

// Field numbers of Record's oneof: a Record holding only one message is that
// message behind a tag and a length, so it can be serialized in place.
inline constexpr uint32_t kRecordHeader = 1;
inline constexpr uint32_t kRecordEvent = 2;
inline constexpr uint32_t kRecordTrailer = 3;

// The serialized bytes of a Record whose only field is `message`, without
// building the Record: the trace file's payloads and the fleet export's
// message bodies are these same bytes.
class RecordEncoding {
 public:
  RecordEncoding(uint32_t record_field, const google::protobuf::MessageLite& message);
  size_t size() const { return prefix_len_ + body_; }
  // Writes size() bytes at dst (the message's cached sizes are used).
  void write(uint8_t* dst) const;

 private:
  const google::protobuf::MessageLite& message_;
  uint8_t prefix_[16];
  size_t prefix_len_ = 0;
  size_t body_ = 0;
};

// An event's kind: the name of its field in the Event.body oneof of
// trace/agenttrace.proto ("exec", "open", "system_call", ...); "unknown" for
// an event with no body.
std::string_view event_kind(const Event& event);
std::string_view event_kind_of_case(int body_case);

// Names for the Syscall enum: "openat", "newfstatat", ...
std::string_view syscall_name(Syscall syscall);

// "127.0.0.1:443", "[::1]:80", "unix:/run/x.sock", "" when unknown.
std::string sockaddr_text(const SockAddr& addr);
// A socket that talks to the kernel, not to a peer (netlink): what is sent
// on it is a question about the host (a host_query event), not a request.
bool kernel_socket(const SockAddr& addr);

}  // namespace agenttrace::trace
