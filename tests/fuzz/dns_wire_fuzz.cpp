// The DNS wire parser takes datagrams any traced program sends or receives:
// every input gives a message or an error, never a crash or a hang.
#include <string>

#include "collector/dns_wire.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  agenttrace::fuzz::FuzzInput in(data, size);
  bool tcp = in.byte() & 1;
  std::string error;
  auto msg = agenttrace::collector::parse_dns(in.rest(), tcp, &error);
  if (msg) {
    for (const auto& q : msg->questions) (void)agenttrace::collector::dns_type_name(q.type);
    for (const auto& a : msg->answers) (void)agenttrace::collector::dns_type_name(a.type);
  } else if (error.empty()) {
    __builtin_trap();  // a refusal must say why
  }
  return 0;
}
