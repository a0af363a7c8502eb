// Aho-Corasick over the literals of the source patterns
// (analyzer/kb/inspect.yaml), for source_references.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "analyzer/inspect.h"

namespace agenttrace::analyzer::inspect {

// One pass over the input finds every literal: a DFA over byte classes (the
// bytes that occur in some literal, plus one class for all others), so a
// hundred patterns cost one table lookup per byte.
class Matcher {
 public:
  explicit Matcher(const std::vector<SourcePattern>& patterns);

  size_t max_len() const { return max_len_; }

  // on_match(pattern, end) for every occurrence ending in [data, data + n),
  // `end` being the index just past it, scanning from the start state.
  template <typename OnMatch>
  void scan(const unsigned char* data, size_t n, OnMatch on_match) const {
    int32_t s = 0;
    const int32_t* delta = delta_.data();
    for (size_t i = 0; i < n; ++i) {
      s = delta[static_cast<size_t>(s) * nclass_ + class_[data[i]]];
      if (has_out_[static_cast<size_t>(s)]) {
        for (uint32_t p : out_[static_cast<size_t>(s)]) on_match(p, i + 1);
      }
    }
  }

 private:
  std::array<uint8_t, 256> class_{};
  int nclass_ = 1;
  std::vector<int32_t> delta_;
  std::vector<std::vector<uint32_t>> out_;
  std::vector<uint8_t> has_out_;
  size_t max_len_ = 0;
};

}  // namespace agenttrace::analyzer::inspect
