// Runs of base64 digits (either alphabet) and of hex digits, in one pass
// over the bytes: a run of hex digits is often a base64 run as well. Runs
// are ended in byte order, a base64 run before a hex run ending at the same
// byte; the first table recorded for an offset is the one the report keeps.
#include <algorithm>
#include <array>

#include "analyzer/inspect/encoded_tables.h"
#include "analyzer/inspect/scanner.h"
#include "common/base64.h"
#include "common/hex.h"

namespace agenttrace::analyzer::inspect {

namespace {

constexpr uint8_t kB64 = 1;  // base64 digit, either alphabet
constexpr uint8_t kHex = 2;  // hex digit

constexpr std::array<uint8_t, 256> make_run_class() {
  std::array<uint8_t, 256> t{};
  for (int c = 0; c < 256; ++c) {
    if (is_base64_digit(static_cast<unsigned char>(c))) t[c] |= kB64;
    if (hex_digit_value(static_cast<unsigned char>(c)) >= 0) t[c] |= kHex;
  }
  return t;
}
constexpr auto kRunClass = make_run_class();

class EncodedRunScanner final : public Scanner {
 public:
  explicit EncodedRunScanner(const InspectRules& rules) : tables_(rules) {}

  void feed(const Input& in, uint64_t from, uint64_t to, InspectReport& out) override {
    const unsigned char* p = in.ptr(from);
    for (uint64_t i = from; i < to; ++i, ++p) {
      uint8_t k = kRunClass[*p];
      if (k & kB64) {
        if (b64_start_ == kNone) b64_start_ = i;
      } else if (b64_start_ != kNone) {
        end_base64_run(in, i, out);
      }
      if (k & kHex) {
        if (hex_start_ == kNone) hex_start_ = i;
      } else if (hex_start_ != kNone) {
        end_hex_run(in, i, out);
      }
    }
  }

  void finish(const Input& in, InspectReport& out) override {
    if (b64_start_ != kNone) end_base64_run(in, in.end(), out);
    if (hex_start_ != kNone) end_hex_run(in, in.end(), out);
  }

  // An open run is kept until it is too long to be decoded.
  uint64_t keep_from(uint64_t done) const override {
    uint64_t keep = done;
    for (uint64_t start : {b64_start_, hex_start_}) {
      if (start != kNone && done - start <= kMaxBlobChars) keep = std::min(keep, start);
    }
    return keep;
  }

 private:
  void end_base64_run(const Input& in, uint64_t stop, InspectReport& out) {
    uint64_t start = b64_start_;
    b64_start_ = kNone;
    uint64_t pad = 0;
    while (pad < 2 && stop + pad < in.end() && in.at(stop + pad) == '=') ++pad;
    if (!count_run(stop - start, kMinBase64Chars, out)) return;
    // Padding fixes where the blob starts: a padded blob is a whole number of
    // quads, so extra characters in front are not part of it.
    uint64_t phase = pad > 0 ? (stop - start + pad) % 4 : 0;
    std::string_view chars = in.view(start + phase, stop);
    bool url = chars.find_first_of("-_") != std::string_view::npos;
    bool std_alpha = chars.find_first_of("+/") != std::string_view::npos;
    base64_decode_digits(chars, decoded_);
    const char* name = url && !std_alpha ? "base64url" : "base64";
    EncodedRun run{start + phase, stop + pad - start - phase, whole_string_literal(in, start, stop + pad)};
    tables_.examine(decoded_, name, run, out);
  }

  void end_hex_run(const Input& in, uint64_t stop, InspectReport& out) {
    uint64_t start = hex_start_;
    hex_start_ = kNone;
    if (!count_run(stop - start, kMinHexDigits, out)) return;
    hex_decode_pairs(in.view(start, stop), decoded_);
    tables_.examine(decoded_, "hex", {start, stop - start, whole_string_literal(in, start, stop)}, out);
  }

  TableFinder tables_;
  uint64_t b64_start_ = kNone;
  uint64_t hex_start_ = kNone;
  std::string decoded_;  // reused
};

}  // namespace

std::unique_ptr<Scanner> make_encoded_runs_scanner(const InspectRules& rules) {
  return std::make_unique<EncodedRunScanner>(rules);
}

}  // namespace agenttrace::analyzer::inspect
