// The policy loader: any text is a policy or one agenttrace::Error; another
// exception escaping (yaml-cpp's own) is a bug, and libFuzzer reports it.
#include <string>

#include "analyzer/policy.h"
#include "common/error.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string yaml(reinterpret_cast<const char*>(data), size);
  try {
    agenttrace::analyzer::Policy policy = agenttrace::analyzer::Policy::parse(yaml, "fuzz.yaml");
    agenttrace::analyzer::Analysis empty;
    auto kb = agenttrace::analyzer::KnowledgeBase::builtin();
    auto result = policy.evaluate(empty, kb);
    (void)agenttrace::analyzer::policy_text(result, false);
    (void)agenttrace::analyzer::policy_junit(result, "fuzz");
  } catch (const agenttrace::Error& e) {
    if (std::string(e.what()).empty()) __builtin_trap();
  }
  return 0;
}
