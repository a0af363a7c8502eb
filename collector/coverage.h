// Coverage events: what the collector knows it cannot see. Silence must never
// look like innocence, so every blind spot found while recording (a getenv
// that cannot be probed, TLS without plaintext, io_uring submissions, a
// process still running when the recording ends) becomes a `coverage` event
// in the trace, which the analyzer turns into a coverage-gap finding.
#pragma once

#include <cstdint>
#include <string>

#include "trace/format.h"

namespace agenttrace::collector {

// An event with only the time and process fields of `e`, for events the
// collector makes about what a process did.
trace::Event process_fields_of(const trace::Event& e);

struct Visibility {
  std::string state;   // "observed", "late", "partial", "gap"
  std::string detail;  // one sentence
  std::string object;  // library, executable or mechanism
};

// A coverage event about `signal` ("getenv", "tls", "io_uring", "process"),
// attributed to the process (and time) of `cause`.
trace::Event coverage_event(const trace::Event& cause, const char* signal, const Visibility& v);

// "openat", "send", ... for an IORING_OP_* number; "op<N>" when unknown.
std::string io_uring_op_name(uint8_t opcode);

// The coverage an io_uring record gives: a ring set up (result is its fd or
// -errno), or an operation submitted (with the path of an open, when it is
// one). `cause` carries the process fields.
trace::Event io_uring_coverage(const trace::Event& cause, bool setup, int64_t result,
                               uint8_t opcode, const std::string& path);

// A process of the traced tree still running when the recording ends: what
// it does afterwards is not recorded. comm and ppid as /proc says.
trace::Event outlived_coverage(uint32_t pid, uint32_t ppid, const std::string& comm,
                               uint64_t mono_ns, int64_t wall_ns);

}  // namespace agenttrace::collector
