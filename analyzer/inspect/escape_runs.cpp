// Runs of "\xNN" escapes, as a string literal spells arbitrary bytes
// ("\x61\x70...", b"\x61...").
#include <algorithm>
#include <cstring>

#include "analyzer/inspect/encoded_tables.h"
#include "analyzer/inspect/scanner.h"
#include "common/hex.h"

namespace agenttrace::analyzer::inspect {

namespace {

class EscapeRunScanner final : public Scanner {
 public:
  explicit EscapeRunScanner(const InspectRules& rules) : tables_(rules) {}

  void feed(const Input& in, uint64_t from, uint64_t to, InspectReport& out) override {
    uint64_t i = from;
    while (i < to) {
      const void* hit = memchr(in.ptr(i), '\\', to - i);
      if (hit == nullptr) break;
      i = static_cast<uint64_t>(static_cast<const unsigned char*>(hit) - in.ptr(i)) + i;
      if (i + 4 <= in.end() && in.at(i + 1) == 'x' && hex_digit_value(in.at(i + 2)) >= 0 &&
          hex_digit_value(in.at(i + 3)) >= 0) {
        if (start_ != kNone && i == next_) {
          next_ = i + 4;
        } else {
          if (start_ != kNone) end_run(in, out);
          start_ = i;
          next_ = i + 4;
        }
        i += 4;
        continue;
      }
      ++i;
    }
    // A run continues only with an escape exactly at next_.
    if (start_ != kNone && next_ < to) end_run(in, out);
  }

  void finish(const Input& in, InspectReport& out) override {
    if (start_ != kNone) end_run(in, out);
  }

  uint64_t keep_from(uint64_t done) const override {
    return start_ != kNone && done - start_ <= kMaxBlobChars ? std::min(done, start_) : done;
  }

 private:
  void end_run(const Input& in, InspectReport& out) {
    uint64_t start = start_;
    uint64_t stop = next_;
    start_ = kNone;
    if (!count_run(stop - start, 4 * kMinHexEscapes, out)) return;
    decoded_.clear();
    for (uint64_t k = start; k < stop; k += 4) {
      decoded_ += static_cast<char>(hex_digit_value(in.at(k + 2)) << 4 | hex_digit_value(in.at(k + 3)));
    }
    tables_.examine(decoded_, "hex-escape", {start, stop - start, whole_string_literal(in, start, stop)}, out);
  }

  TableFinder tables_;
  uint64_t start_ = kNone;  // the first escape of the open run
  uint64_t next_ = 0;       // where its next escape would start
  std::string decoded_;     // reused
};

}  // namespace

std::unique_ptr<Scanner> make_escape_runs_scanner(const InspectRules& rules) {
  return std::make_unique<EscapeRunScanner>(rules);
}

}  // namespace agenttrace::analyzer::inspect
