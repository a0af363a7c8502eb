// DNS messages in wire format (RFC 1035), parsed from the datagrams programs
// send to port 53 themselves, so resolvers that bypass the C library are
// seen too. Malformed input gives an error, never a crash or a loop.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace agenttrace::collector {

struct DnsQuestion {
  std::string name;  // "api.example.com" (no trailing dot; "." for the root)
  uint16_t type = 0;
  uint16_t klass = 0;
};

struct DnsRecord {
  std::string name;
  uint16_t type = 0;
  uint32_t ttl = 0;
  std::string value;  // A/AAAA as text, CNAME/NS/PTR target name; empty for other types
};

struct DnsMessage {
  uint16_t id = 0;
  bool response = false;
  uint8_t opcode = 0;
  uint8_t rcode = 0;
  std::vector<DnsQuestion> questions;
  std::vector<DnsRecord> answers;
};

// Parses one message. DNS over TCP carries a two-byte length first: pass
// tcp=true to strip it. nullopt with *error set when malformed.
std::optional<DnsMessage> parse_dns(std::string_view bytes, bool tcp, std::string* error);

// "A", "AAAA", "CNAME", "HTTPS", ...; "TYPE<n>" for others.
std::string dns_type_name(uint16_t type);

}  // namespace agenttrace::collector
