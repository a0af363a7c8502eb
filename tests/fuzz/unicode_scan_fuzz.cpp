// The hidden-character scan over bytes that should be UTF-8 but may be
// anything, and the helpers reports call on each finding.
#include "analyzer/unicode_scan.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  agenttrace::fuzz::FuzzInput in(data, size);
  size_t limit = 1 + in.byte();
  std::string_view text = in.rest();
  auto result = agenttrace::analyzer::scan_hidden_chars(text, limit);
  if (result.chars.size() > limit) __builtin_trap();
  for (const auto& c : result.chars) {
    if (c.offset >= text.size()) __builtin_trap();
    (void)agenttrace::analyzer::context_around(text, c.offset);
    (void)agenttrace::analyzer::decode_tag_run(text, c.offset);
    (void)agenttrace::analyzer::code_point_label(c.code_point);
    (void)agenttrace::analyzer::kind_name(c.kind);
  }
  // Offsets the scan did not produce are callers' business too.
  if (!text.empty()) {
    (void)agenttrace::analyzer::context_around(text, text.size() - 1);
    (void)agenttrace::analyzer::decode_tag_run(text, text.size() / 2);
  }
  return 0;
}
