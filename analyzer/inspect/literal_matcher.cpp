#include "analyzer/inspect/literal_matcher.h"

#include <algorithm>

namespace agenttrace::analyzer::inspect {

Matcher::Matcher(const std::vector<SourcePattern>& patterns) {
  std::array<int, 256> cls{};
  int nclass = 1;
  for (const auto& p : patterns) {
    for (unsigned char c : p.literal) {
      if (cls[c] == 0) cls[c] = nclass++;
    }
  }
  for (int b = 0; b < 256; ++b) class_[b] = static_cast<uint8_t>(cls[b]);
  nclass_ = nclass;
  // Trie.
  std::vector<int32_t> go(static_cast<size_t>(nclass_), -1);
  delta_ = go;
  out_.emplace_back();
  for (size_t i = 0; i < patterns.size(); ++i) {
    int32_t s = 0;
    for (unsigned char c : patterns[i].literal) {
      int32_t& next = delta_[static_cast<size_t>(s) * nclass_ + class_[c]];
      if (next < 0) {
        next = static_cast<int32_t>(out_.size());
        out_.emplace_back();
        delta_.insert(delta_.end(), go.begin(), go.end());
      }
      s = delta_[static_cast<size_t>(s) * nclass_ + class_[c]];
    }
    out_[static_cast<size_t>(s)].push_back(static_cast<uint32_t>(i));
    max_len_ = std::max(max_len_, patterns[i].literal.size());
  }
  // Failure links, breadth first, folded into a full DFA.
  std::vector<int32_t> fail(out_.size(), 0);
  std::vector<int32_t> queue;
  for (int c = 0; c < nclass_; ++c) {
    int32_t& next = delta_[static_cast<size_t>(c)];
    if (next < 0) {
      next = 0;
    } else {
      fail[static_cast<size_t>(next)] = 0;
      queue.push_back(next);
    }
  }
  for (size_t qi = 0; qi < queue.size(); ++qi) {
    int32_t s = queue[qi];
    const auto& inherited = out_[static_cast<size_t>(fail[static_cast<size_t>(s)])];
    out_[static_cast<size_t>(s)].insert(out_[static_cast<size_t>(s)].end(), inherited.begin(), inherited.end());
    for (int c = 0; c < nclass_; ++c) {
      int32_t& next = delta_[static_cast<size_t>(s) * nclass_ + c];
      int32_t via_fail = delta_[static_cast<size_t>(fail[static_cast<size_t>(s)]) * nclass_ + c];
      if (next < 0) {
        next = via_fail;
      } else {
        fail[static_cast<size_t>(next)] = via_fail;
        queue.push_back(next);
      }
    }
  }
  has_out_.resize(out_.size());
  for (size_t s = 0; s < out_.size(); ++s) has_out_[s] = out_[s].empty() ? 0 : 1;
}

}  // namespace agenttrace::analyzer::inspect
