#include "analyzer/inspect/scanner.h"

#include "common/hex.h"

namespace agenttrace::analyzer::inspect {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c | 0x20);
  }
  return out;
}

std::string key_text(int key) {
  std::string out = "0x";
  append_hex_byte(out, static_cast<unsigned char>(key));
  return out;
}

std::vector<std::unique_ptr<Scanner>> make_scanners(const InspectRules& rules) {
  std::vector<std::unique_ptr<Scanner>> scanners;
#define AGENTTRACE_MAKE_SCANNER(name) scanners.push_back(make_##name##_scanner(rules));
  AGENTTRACE_INSPECT_SCANNERS(AGENTTRACE_MAKE_SCANNER)
#undef AGENTTRACE_MAKE_SCANNER
  return scanners;
}

}  // namespace agenttrace::analyzer::inspect
