// The function a fingerprint source is referenced from, where the code is
// JavaScript or Python: the nearest definition before it (`function NAME(`,
// `NAME = function`, `NAME: function`, `NAME(...) {`, `NAME = (...) =>`,
// `def NAME(`, `NAME = lambda`). It is not a parse: a reference after a
// nested function's end is attributed to that nested function.
#pragma once

#include <cstdint>
#include <string>

#include "analyzer/inspect/scanner.h"

namespace agenttrace::analyzer::inspect {

// The '(' that matches the ')' at `close`, within 1 KiB; kNone if none.
uint64_t matching_open(const Input& in, uint64_t close);

class FunctionFinder {
 public:
  // The name of the nearest definition before `offset` within
  // kFunctionLookback, or "unknown". A forward scan that resumes where the
  // previous call left it, so the whole file is read at most once for this
  // when offsets come in order (an earlier one gets a fresh look).
  std::string function_at(const Input& in, uint64_t offset);

 private:
  struct Def {
    uint64_t offset = 0;
    std::string name;
  };
  // The last definition in [a, b) into last_.
  void scan_defs(const Input& in, uint64_t a, uint64_t b);

  uint64_t cursor_ = 0;  // definitions before it have been looked at
  Def last_;
};

}  // namespace agenttrace::analyzer::inspect
