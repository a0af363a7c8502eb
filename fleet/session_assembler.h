// Puts each recording's messages back in order and drops copies: JetStream
// may hold a message twice (a resend after a lost acknowledgement, outside
// the stream's duplicate window) or hold a session's messages out of order
// (a spool replayed after newer messages got through). Messages are handed
// on per session strictly by sequence number; a message whose predecessor
// never arrives is held until finish() (or, when following, until it has
// waited long enough), and the gap is counted.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <tuple>

#include "fleet/stream_reader.h"

namespace agenttrace::fleet {

struct SessionKey {
  std::string host;
  std::string session;
  bool operator<(const SessionKey& o) const { return std::tie(host, session) < std::tie(o.host, o.session); }
};

struct SessionCounts {
  uint64_t delivered = 0;
  uint64_t duplicates = 0;
  uint64_t missing = 0;       // sequence numbers skipped over
  uint64_t first_seq = 0;     // the first delivered (1 unless the start was cut off)
};

class SessionAssembler {
 public:
  using Deliver = std::function<void(const SessionKey&, const StreamMessage&)>;
  using Clock = std::chrono::steady_clock;

  // `cut_start`: the read began at a time, not at the stream's start, so a
  // session's first message seen is its start (its earlier ones are gone).
  SessionAssembler(Deliver deliver, bool cut_start) : deliver_(std::move(deliver)), cut_start_(cut_start) {}

  void add(StreamMessage message);
  // Hands on what waited longer than `patience` for a predecessor.
  void release_stale(std::chrono::milliseconds patience);
  // Hands on everything still held, in order, counting the gaps.
  void finish();

  const std::map<SessionKey, SessionCounts>& counts() const { return counts_; }

 private:
  struct Pending {
    uint64_t next = 1;  // the sequence number expected next
    bool started = false;
    std::map<uint64_t, StreamMessage> held;
    Clock::time_point waiting_since{};
  };
  void drain(const SessionKey& key, Pending& p);
  void skip_to_first_held(const SessionKey& key, Pending& p);

  Deliver deliver_;
  bool cut_start_;
  std::map<SessionKey, Pending> pending_;
  std::map<SessionKey, SessionCounts> counts_;
};

}  // namespace agenttrace::fleet
