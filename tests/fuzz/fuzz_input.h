// Splits a fuzzer's byte string into the pieces a target needs, the same way
// in every target, so a corpus file reads the same on each run.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace agenttrace::fuzz {

class FuzzInput {
 public:
  FuzzInput(const uint8_t* data, size_t size)
      : rest_(reinterpret_cast<const char*>(data), size) {}

  // One byte (0 when nothing is left).
  uint8_t byte() {
    if (rest_.empty()) return 0;
    uint8_t b = static_cast<uint8_t>(rest_[0]);
    rest_.remove_prefix(1);
    return b;
  }
  // A piece whose length is the next byte (capped by what is left).
  std::string_view short_piece() {
    size_t n = byte();
    return take(n);
  }
  // A piece whose length is the next two bytes, little-endian.
  std::string_view piece() {
    size_t n = byte();
    n |= static_cast<size_t>(byte()) << 8;
    return take(n);
  }
  std::string_view rest() {
    std::string_view r = rest_;
    rest_ = {};
    return r;
  }
  bool empty() const { return rest_.empty(); }

 private:
  std::string_view take(size_t n) {
    n = n < rest_.size() ? n : rest_.size();
    std::string_view r = rest_.substr(0, n);
    rest_.remove_prefix(n);
    return r;
  }
  std::string_view rest_;
};

}  // namespace agenttrace::fuzz
