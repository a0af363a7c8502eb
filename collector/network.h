// Turns the kernel's network records into trace events: numbers connections,
// names peers from what the process resolved, keeps per-direction stream
// offsets, re-assembles payload chunks, ties TLS plaintext to its
// connection, and parses DNS messages out of port-53 payloads.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "collector/decoder.h"
#include "trace/format.h"

namespace agenttrace::collector {

// Chunks of messages, keyed by (tid, call, message), into whole messages.
// Chunks may arrive in any order; missing ranges are reported as a gap.
class PayloadAssembler {
 public:
  struct Assembled {
    std::string data;  // the captured bytes, contiguous from offset 0
    bool gap = false;  // bytes the kernel copied are missing
  };

  void add_chunk(uint32_t tid, uint64_t call_id, uint32_t msg_index, uint32_t offset,
                 std::string_view bytes);
  // The message's bytes; `captured` is how many the kernel says it copied.
  Assembled finish(uint32_t tid, uint64_t call_id, uint32_t msg_index, uint64_t captured);
  // Messages whose final record never came (lost to a full ring buffer).
  uint64_t abandoned() const { return abandoned_; }
  size_t pending() const { return pending_.size(); }

 private:
  using Key = std::tuple<uint32_t, uint64_t, uint32_t>;
  std::map<Key, std::map<uint32_t, std::string>> pending_;
  uint64_t abandoned_ = 0;
};

class NetworkTracker {
 public:
  using Emit = std::function<void(trace::Event&)>;
  explicit NetworkTracker(Emit emit) : emit_(std::move(emit)) {}

  void on_socket(trace::Event& event, uint64_t kernel_conn);
  void on_dns(trace::Event& event);
  void on_data(DataRecord& record);
  // Emits TLS plaintext still waiting for its connection: everything when
  // `all`, else what has waited more than a second by `now_mono_ns`.
  void flush_held(uint64_t now_mono_ns, bool all);
  // At the end: notes connections that carried TLS whose plaintext was never seen.
  void finish();

  uint64_t payload_gaps() const { return gaps_ + assembler_.abandoned(); }

  // For tests and summaries.
  std::string host_for(const std::string& address) const;

 private:
  struct Conn {
    uint32_t number = 0;
    uint32_t pid = 0;
    trace::SockAddr peer;
    uint64_t offset[2] = {0, 0};      // raw bytes out, in
    uint64_t tls_offset[2] = {0, 0};  // TLS plaintext out, in
    bool tls_handshake = false;       // its first bytes out were a TLS handshake
    bool plaintext = false;           // TLS plaintext was tied to it
    bool gap_reported = false;
    trace::Event last_event;          // process fields only: to attribute a coverage note
  };

  Conn& conn_for(uint64_t kernel_conn, const trace::SockAddr& peer, uint32_t pid);
  void emit_data(trace::Event& event, Conn* conn, bool tls, bool inbound);
  void parse_dns_payload(const trace::Event& event, const trace::Data& data, bool inbound,
                         uint32_t conn_number);
  void learn(const std::string& name, const std::string& address);
  void report_tls_gap(Conn& c);

  Emit emit_;
  PayloadAssembler assembler_;
  std::unordered_map<uint64_t, Conn> conns_;
  uint32_t next_number_ = 1;
  std::unordered_map<std::string, std::string> hosts_;  // address -> name
  struct Held {
    trace::Event event;
    bool inbound;
  };
  std::unordered_map<uint64_t, std::vector<Held>> held_tls_;  // ssl -> plaintext events
  uint64_t gaps_ = 0;
};

}  // namespace agenttrace::collector
