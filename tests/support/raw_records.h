// Builds raw ring-buffer records the way the BPF side lays them out, for
// decoder and recorder tests that run without a kernel.
#pragma once

#include <cstring>
#include <string>
#include <vector>

#include "agenttrace.h"

namespace agenttrace::testing {

class RawRecord {
 public:
  template <typename T>
  explicit RawRecord(const T& fixed) : bytes_(sizeof(T)) {
    memcpy(bytes_.data(), &fixed, sizeof(T));
  }
  RawRecord& append(const std::string& s) {
    bytes_.insert(bytes_.end(), s.begin(), s.end());
    return *this;
  }
  // Sets at_header.size to the bytes so far; call last.
  std::vector<uint8_t> finish() {
    auto* h = reinterpret_cast<at_header*>(bytes_.data());
    h->size = static_cast<uint32_t>(bytes_.size());
    return bytes_;
  }

 private:
  std::vector<uint8_t> bytes_;
};

inline at_header make_header(uint16_t kind, uint32_t pid, uint32_t tid, const char* comm,
                             uint64_t mono_ns = 1000) {
  at_header h{};
  h.kind = kind;
  h.mono_ns = mono_ns;
  h.pid = pid;
  h.tid = tid;
  h.ppid = 1;
  strncpy(h.comm, comm, sizeof(h.comm));
  return h;
}

// "a/b/c" -> "c\0b\0a\0": the BPF side's innermost-first components.
inline std::string components(const std::string& absolute) {
  std::vector<std::string> parts;
  size_t start = 1;
  while (start < absolute.size()) {
    size_t end = absolute.find('/', start);
    if (end == std::string::npos) end = absolute.size();
    parts.push_back(absolute.substr(start, end - start));
    start = end + 1;
  }
  std::string out;
  for (auto it = parts.rbegin(); it != parts.rend(); ++it) {
    out += *it;
    out += '\0';
  }
  return out;
}

}  // namespace agenttrace::testing
