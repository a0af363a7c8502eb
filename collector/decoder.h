// Raw ring-buffer records (bpf/agenttrace.h) -> trace events. Pure: no kernel,
// no I/O, so it is tested on built byte sequences.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "trace/format.h"

struct at_header;

namespace agenttrace::collector {

// What a network record says beyond its event: the kernel's opaque ids,
// which the recorder turns into connection numbers, and for payload records
// where the chunk belongs.
struct NetworkExtra {
  uint64_t kernel_conn = 0;
  uint64_t ssl = 0;
};

struct DataRecord {
  trace::Event event;      // header fields and the Data body (no bytes yet)
  bool inbound = false;    // recv rather than send
  bool final = false;      // the record closing a message, with totals
  uint64_t kernel_conn = 0;
  uint64_t ssl = 0;
  uint64_t call_id = 0;
  uint32_t msg_index = 0;
  uint32_t data_offset = 0;
  uint64_t captured = 0;   // final: bytes of the message copied in total
  bool budget_spent = false;
  bool read_failed = false;
  std::string_view bytes;  // this chunk's bytes (into the raw record)
};

// A sendfile(2) or splice(2) record: a send when its output is a socket,
// else a regular file going into a pipe (remembered by SpliceSources).
struct SpliceRecord {
  DataRecord data;         // output a socket: the send (final, nothing captured)
  bool to_socket = false;
  bool from_file = false;  // input a regular file: in_path is its path
  bool file_to_pipe = false;
  uint64_t in_pipe = 0;    // opaque pipe identities, 0 when not a pipe
  uint64_t out_pipe = 0;
  std::string in_path;
};

class Decoder {
 public:
  // wall_minus_mono: see ClockPair; turns kernel monotonic time into wall time.
  explicit Decoder(int64_t wall_minus_mono) : wall_minus_mono_(wall_minus_mono) {}

  // Fills *out (cleared first) from one record. Returns false with *error set
  // when the record is shorter than its kind requires or its lengths overrun.
  // The event id is left to the caller.
  bool decode(const void* data, size_t size, trace::Event* out, std::string* error) const {
    NetworkExtra extra;
    return decode(data, size, out, &extra, error);
  }
  bool decode(const void* data, size_t size, trace::Event* out, NetworkExtra* extra,
              std::string* error) const;

  // Payload records (AT_KIND_SEND, AT_KIND_RECV) are chunks, assembled by
  // the recorder; this decodes one.
  bool decode_data(const void* data, size_t size, DataRecord* out, std::string* error) const;

  // AT_KIND_SPLICE records.
  bool decode_splice(const void* data, size_t size, SpliceRecord* out, std::string* error) const;

  // The kind of a raw record, 0 when too short to have one.
  static uint16_t kind_of(const void* data, size_t size);

  // Limits the collector applies on top of the kernel's byte bounds.
  static constexpr size_t kMaxArgs = 1024;

 private:
  // Time, process and thread of a record's header.
  void set_process_fields(const at_header& h, trace::Event* out) const;

  int64_t wall_minus_mono_;
};

}  // namespace agenttrace::collector
