#include "collector/network.h"

#include "collector/coverage.h"
#include "collector/dns_wire.h"

namespace agenttrace::collector {

namespace {

constexpr uint64_t kHoldNs = 1'000'000'000;

bool is_tls_handshake(std::string_view bytes) {
  // A TLS record: content type 22 (handshake), version 3.x.
  return bytes.size() >= 3 && static_cast<uint8_t>(bytes[0]) == 0x16 &&
         static_cast<uint8_t>(bytes[1]) == 0x03 && static_cast<uint8_t>(bytes[2]) <= 0x04;
}

trace::Data& data_of(trace::Event& e) { return e.has_send() ? *e.mutable_send() : *e.mutable_recv(); }

}  // namespace

void PayloadAssembler::add_chunk(uint32_t tid, uint64_t call_id, uint32_t msg_index,
                                 uint32_t offset, std::string_view bytes) {
  // A thread makes one call at a time: chunks of an older call of this thread
  // still pending lost their final record.
  for (auto it = pending_.lower_bound({tid, 0, 0});
       it != pending_.end() && std::get<0>(it->first) == tid;) {
    if (std::get<1>(it->first) != call_id) {
      it = pending_.erase(it);
      ++abandoned_;
    } else {
      ++it;
    }
  }
  pending_[{tid, call_id, msg_index}][offset] = std::string(bytes);
}

PayloadAssembler::Assembled PayloadAssembler::finish(uint32_t tid, uint64_t call_id,
                                                     uint32_t msg_index, uint64_t captured) {
  Assembled out;
  auto it = pending_.find({tid, call_id, msg_index});
  if (it == pending_.end()) {
    out.gap = captured > 0;
    return out;
  }
  uint64_t next = 0;
  for (auto& [offset, bytes] : it->second) {
    if (offset > next) break;  // a missing range
    if (offset + bytes.size() <= next) continue;  // a duplicate
    out.data.append(bytes, next - offset, std::string::npos);
    next = offset + bytes.size();
  }
  out.gap = out.data.size() < captured;
  pending_.erase(it);
  return out;
}

std::string NetworkTracker::host_for(const std::string& address) const {
  auto it = hosts_.find(address);
  return it == hosts_.end() ? std::string() : it->second;
}

void NetworkTracker::learn(const std::string& name, const std::string& address) {
  if (!name.empty() && !address.empty()) hosts_[address] = name;
}

NetworkTracker::Conn& NetworkTracker::conn_for(uint64_t kernel_conn, const trace::SockAddr& peer,
                                               uint32_t pid) {
  Conn& c = conns_[kernel_conn];
  if (!c.number) {
    c.number = next_number_++;
    c.pid = pid;
  }
  if (!peer.family().empty() && (c.peer.family().empty() || c.peer.port() == 0)) c.peer = peer;
  return c;
}

void NetworkTracker::on_socket(trace::Event& e, uint64_t kernel_conn) {
  trace::Socket* s = e.has_connect()  ? e.mutable_connect()
                     : e.has_bind()   ? e.mutable_bind()
                     : e.has_listen() ? e.mutable_listen()
                     : e.has_accept() ? e.mutable_accept()
                                      : e.mutable_close();
  if (kernel_conn) {
    if (e.has_connect() || e.has_accept()) {
      // A socket that connects afresh (or an accepted one) starts a new
      // connection even if the kernel reuses the address of an old one.
      auto old = conns_.find(kernel_conn);
      if (old != conns_.end() && (e.has_accept() || old->second.offset[0] || old->second.offset[1])) {
        report_tls_gap(old->second);
        conns_.erase(old);
      }
    }
    if (e.has_connect() || e.has_accept()) {
      Conn& c = conn_for(kernel_conn, s->addr(), e.pid());
      if (!s->addr().family().empty()) c.peer = s->addr();
      s->set_conn(c.number);
    } else if (auto it = conns_.find(kernel_conn); it != conns_.end()) {
      s->set_conn(it->second.number);
    }
  }
  if (!s->addr().address().empty()) s->set_host(host_for(s->addr().address()));
  emit_(e);
  if (e.has_close() && kernel_conn) {
    if (auto it = conns_.find(kernel_conn); it != conns_.end()) {
      report_tls_gap(it->second);
      conns_.erase(it);
    }
  }
}

void NetworkTracker::on_dns(trace::Event& e) {
  for (const auto& a : e.dns().answers()) learn(e.dns().name(), a);
  emit_(e);
}

void NetworkTracker::emit_data(trace::Event& e, Conn* conn, bool tls, bool inbound) {
  trace::Data& d = data_of(e);
  if (conn) {
    d.set_conn(conn->number);
    if (d.peer().family().empty()) *d.mutable_peer() = conn->peer;
    uint64_t& offset = tls ? conn->tls_offset[inbound] : conn->offset[inbound];
    d.set_offset(offset);
    offset += d.bytes();
    if (tls) conn->plaintext = true;
    conn->last_event = process_fields_of(e);
  }
  if (!d.peer().address().empty()) d.set_host(host_for(d.peer().address()));
  emit_(e);
  if (d.peer().port() == 53 && !tls) parse_dns_payload(e, d, inbound, conn ? conn->number : 0);
}

void NetworkTracker::on_data(DataRecord& r) {
  uint32_t tid = r.event.tid();
  if (!r.final) {
    assembler_.add_chunk(tid, r.call_id, r.msg_index, r.data_offset, r.bytes);
    return;
  }
  auto assembled = assembler_.finish(tid, r.call_id, r.msg_index, r.captured);
  trace::Data& d = data_of(r.event);
  bool tls = d.tls();
  if (assembled.gap || r.read_failed) {
    d.set_gap(true);
    ++gaps_;
  }
  d.set_data(std::move(assembled.data));
  d.set_truncated(d.ciphertext() || d.bytes() < d.data().size() ? 0 : d.bytes() - d.data().size());

  if (tls && !r.kernel_conn) {
    // Plaintext whose socket is not known yet: held until a socket write of
    // this thread shows it, or a second has passed.
    held_tls_[r.ssl].push_back({r.event, r.inbound});
    return;
  }
  Conn* conn = r.kernel_conn ? &conn_for(r.kernel_conn, d.peer(), r.event.pid()) : nullptr;
  if (conn && !tls && !r.inbound && conn->offset[0] == 0 && d.type() == "stream" &&
      is_tls_handshake(d.data()))
    conn->tls_handshake = true;
  emit_data(r.event, conn, tls, r.inbound);

  // A socket write that revealed which connection an SSL object uses: the
  // plaintext held for it goes out now, tied to that connection.
  if (!tls && r.ssl && conn) {
    auto it = held_tls_.find(r.ssl);
    if (it != held_tls_.end()) {
      for (auto& h : it->second) {
        trace::Data& hd = data_of(h.event);
        if (hd.peer().family().empty()) *hd.mutable_peer() = conn->peer;
        emit_data(h.event, conn, true, h.inbound);
      }
      held_tls_.erase(it);
    }
  }
}

void NetworkTracker::flush_held(uint64_t now_mono_ns, bool all) {
  for (auto it = held_tls_.begin(); it != held_tls_.end();) {
    auto& list = it->second;
    bool old = !list.empty() && now_mono_ns > list.front().event.mono_ns() + kHoldNs;
    if (all || old) {
      for (auto& h : list) emit_data(h.event, nullptr, true, h.inbound);
      it = held_tls_.erase(it);
    } else {
      ++it;
    }
  }
}

void NetworkTracker::report_tls_gap(Conn& c) {
  if (!c.tls_handshake || c.plaintext || c.gap_reported) return;
  c.gap_reported = true;
  trace::Event e = coverage_event(
      c.last_event, "tls",
      {"gap", "TLS to " + trace::sockaddr_text(c.peer) + " without visible plaintext: no SSL library agenttrace can probe carried it",
       trace::sockaddr_text(c.peer)});
  emit_(e);
}

void NetworkTracker::finish() {
  flush_held(0, true);
  for (auto& [id, c] : conns_) report_tls_gap(c);
}

void NetworkTracker::parse_dns_payload(const trace::Event& e, const trace::Data& d, bool inbound,
                                       uint32_t conn_number) {
  std::string error;
  bool tcp = d.type() == "stream";
  auto msg = parse_dns(d.data(), tcp, &error);
  if (!msg || msg->questions.empty()) return;
  trace::Event out = process_fields_of(e);
  auto* dns = out.mutable_dns();
  dns->set_source(msg->response ? trace::SYSCALL_DNS_RESPONSE : trace::SYSCALL_DNS_QUERY);
  dns->set_name(msg->questions[0].name);
  dns->set_type(dns_type_name(msg->questions[0].type));
  dns->set_id(msg->id);
  dns->set_result(msg->rcode);
  dns->set_conn(conn_number);
  *dns->mutable_server() = d.peer();
  for (const auto& a : msg->answers) {
    if (a.value.empty()) continue;
    dns->add_answers(a.value);
    if (a.type == 1 || a.type == 28) learn(msg->questions[0].name, a.value);
  }
  (void)inbound;
  emit_(out);
}

}  // namespace agenttrace::collector
