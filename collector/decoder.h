// Raw ring-buffer records (bpf/agenttrace.h) -> trace events. Pure: no kernel,
// no I/O, so it is tested on built byte sequences.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "trace/format.h"

namespace agenttrace::collector {

class Decoder {
 public:
  // wall_minus_mono: see ClockPair; turns kernel monotonic time into wall time.
  explicit Decoder(int64_t wall_minus_mono) : wall_minus_mono_(wall_minus_mono) {}

  // Fills *out (cleared first) from one record. Returns false with *error set
  // when the record is shorter than its kind requires or its lengths overrun.
  // The event id is left to the caller.
  bool decode(const void* data, size_t size, trace::Event* out, std::string* error) const;

  // Limits the collector applies on top of the kernel's byte bounds.
  static constexpr size_t kMaxArgs = 1024;

 private:
  int64_t wall_minus_mono_;
};

}  // namespace agenttrace::collector
