// `agenttrace inspect`'s scanner over any file contents, whole and fed in
// pieces; both reports are rendered.
#include "analyzer/inspect.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  agenttrace::fuzz::FuzzInput in(data, size);
  size_t piece = 1 + in.byte() * 16;
  std::string_view text = in.rest();
  auto whole = agenttrace::analyzer::inspect_buffer(text);
  (void)agenttrace::analyzer::inspect_json(whole).dump(-1, ' ', false,
                                                       nlohmann::ordered_json::error_handler_t::replace);
  (void)agenttrace::analyzer::inspect_text(whole);
  (void)agenttrace::analyzer::is_suspicious(whole);
  agenttrace::analyzer::Inspector inspector;
  for (size_t at = 0; at < text.size(); at += piece) inspector.feed(text.substr(at, piece));
  auto fed = inspector.finish();
  // Feeding in pieces must not change what is found.
  if (fed.hidden_total != whole.hidden_total || fed.tables.size() != whole.tables.size())
    __builtin_trap();
  return 0;
}
