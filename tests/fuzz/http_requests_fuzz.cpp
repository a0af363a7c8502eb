// HTTP/1.x request parsing over a captured stream cut anywhere.
#include "analyzer/http_requests.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  agenttrace::fuzz::FuzzInput in(data, size);
  std::string_view stream = in.rest();
  auto parse = agenttrace::analyzer::parse_http_stream(stream);
  if (parse.consumed > stream.size()) __builtin_trap();
  for (const auto& r : parse.requests) {
    if (r.stream_offset > stream.size() || r.body_offset > stream.size()) __builtin_trap();
    (void)agenttrace::analyzer::header_value(r, "content-type");
  }
  return 0;
}
