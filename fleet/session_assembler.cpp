#include "fleet/session_assembler.h"

namespace agenttrace::fleet {

void SessionAssembler::add(StreamMessage message) {
  SessionKey key{message.host, message.session};
  Pending& p = pending_[key];
  SessionCounts& c = counts_[key];
  if (!p.started) {
    p.started = true;
    if (cut_start_ && message.seq > 1) p.next = message.seq;
    c.first_seq = p.next;
  }
  if (message.seq < p.next || p.held.count(message.seq)) {
    ++c.duplicates;
    return;
  }
  if (p.held.empty()) p.waiting_since = Clock::now();
  p.held.emplace(message.seq, std::move(message));
  drain(key, p);
}

void SessionAssembler::drain(const SessionKey& key, Pending& p) {
  SessionCounts& c = counts_[key];
  while (!p.held.empty() && p.held.begin()->first == p.next) {
    deliver_(key, p.held.begin()->second);
    p.held.erase(p.held.begin());
    ++p.next;
    ++c.delivered;
    p.waiting_since = Clock::now();
  }
}

void SessionAssembler::skip_to_first_held(const SessionKey& key, Pending& p) {
  uint64_t first = p.held.begin()->first;
  counts_[key].missing += first - p.next;
  p.next = first;
  drain(key, p);
}

void SessionAssembler::release_stale(std::chrono::milliseconds patience) {
  auto now = Clock::now();
  for (auto& [key, p] : pending_)
    if (!p.held.empty() && now - p.waiting_since >= patience) skip_to_first_held(key, p);
}

void SessionAssembler::finish() {
  for (auto& [key, p] : pending_)
    while (!p.held.empty()) skip_to_first_held(key, p);
}

}  // namespace agenttrace::fleet
