// What encoded_runs and escape_runs share: whether the bytes an encoded run
// decodes to are, as they are or XORed with a single-byte key, a list of
// recognisable names (the rules in analyzer/inspect.h), and the table it is
// recorded as.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "analyzer/inspect.h"
#include "analyzer/inspect/scanner.h"

namespace agenttrace::analyzer::inspect {

// Counts a run of `length` characters in `out` (blobs_examined, or
// blobs_too_long past kMaxBlobChars); whether it is to be decoded. Runs
// shorter than `min` are neither.
bool count_run(uint64_t length, size_t min, InspectReport& out);

// Whether [start, stop) of `in` is a whole string literal ("...", '...', `...`).
bool whole_string_literal(const Input& in, uint64_t start, uint64_t stop);

// Where a decoded run came from, for its table.
struct EncodedRun {
  uint64_t offset = 0;  // first character of the run in the file
  uint64_t length = 0;  // characters, padding included
  bool in_string = false;
};

class TableFinder {
 public:
  explicit TableFinder(const InspectRules& rules) : rules_(rules) {}
  // Tries `bytes`, decoded from `run` by `chain` ("base64", "hex"), as a
  // list under no key and every XOR key that could give printable text;
  // failing that, peels one more encoding (up to kMaxDecodeDepth) when the
  // bytes are themselves base64 or hex text. A list found is added to
  // out.tables (while there is room).
  void examine(const std::string& bytes, const std::string& chain, const EncodedRun& run, InspectReport& out) {
    examine(bytes, chain, run, 1, out);
  }

 private:
  void examine(const std::string& bytes, const std::string& chain, const EncodedRun& run, int depth,
               InspectReport& out);

  const InspectRules& rules_;
  std::string plain_;  // reused: XORed candidates
};

}  // namespace agenttrace::analyzer::inspect
