// The knowledge-base loader: any text is a knowledge base or one
// agenttrace::Error; what loads must classify without failing.
#include <string>

#include "analyzer/knowledge_base.h"
#include "common/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string yaml(reinterpret_cast<const char*>(data), size);
  try {
    auto kb = agenttrace::analyzer::KnowledgeBase::parse(yaml, "fuzz.yaml");
    auto merged = agenttrace::analyzer::KnowledgeBase::builtin();
    merged.extend(kb);
    for (const char* path : {"/etc/localtime", "/root/.ssh/id_rsa", "/home/a/b/c", "", "/"})
      (void)merged.category_ids(merged.classify_path(path));
    for (const char* name : {"TZ", "HTTPS_PROXY", "", "LC_ALL"}) (void)merged.classify_env(name);
    (void)merged.classify_syscall("uname");
    (void)merged.runtime_reading({"node", "python3"}, "/etc/localtime");
  } catch (const agenttrace::Error& e) {
    if (std::string(e.what()).empty()) __builtin_trap();
  }
  return 0;
}
