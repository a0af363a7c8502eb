// Value-echo search over arbitrary payload bytes and values: never throws,
// and every match lies inside the searched data.
#include "analyzer/value_echo.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  agenttrace::fuzz::FuzzInput in(data, size);
  std::string_view value = in.short_piece();
  std::string_view payload = in.rest();
  auto matches = agenttrace::analyzer::find_value_echo(payload, value);
  uint64_t last = 0;
  for (const auto& m : matches) {
    if (m.offset + m.length > payload.size() || m.offset < last) __builtin_trap();
    last = m.offset;
  }
  if (matches.size() > agenttrace::analyzer::kMaxEchoMatches) __builtin_trap();
  return 0;
}
