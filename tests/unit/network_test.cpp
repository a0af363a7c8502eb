// The collector's network state on built records: payload re-assembly,
// connection numbering, host names, TLS plaintext attribution and DNS from
// payloads. No kernel.
#include "collector/network.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include "../support/raw_records.h"
#include "collector/decoder.h"

namespace agenttrace::collector {
namespace {

using testing::make_header;
using testing::RawRecord;

TEST(PayloadAssembler, ChunksOutOfOrder) {
  PayloadAssembler a;
  a.add_chunk(1, 10, 0, 6, "world");
  a.add_chunk(1, 10, 0, 0, "hello ");
  auto r = a.finish(1, 10, 0, 11);
  EXPECT_EQ(r.data, "hello world");
  EXPECT_FALSE(r.gap);
  EXPECT_EQ(a.pending(), 0u);
}

TEST(PayloadAssembler, GapKeepsTheContiguousPrefix) {
  PayloadAssembler a;
  a.add_chunk(1, 10, 0, 0, "abc");
  a.add_chunk(1, 10, 0, 6, "ghi");  // 3..6 lost
  auto r = a.finish(1, 10, 0, 9);
  EXPECT_EQ(r.data, "abc");
  EXPECT_TRUE(r.gap);
}

TEST(PayloadAssembler, DuplicateAndOverlappingChunks) {
  PayloadAssembler a;
  a.add_chunk(1, 10, 0, 0, "abcd");
  a.add_chunk(1, 10, 0, 2, "cdef");
  auto r = a.finish(1, 10, 0, 6);
  EXPECT_EQ(r.data, "abcdef");
  EXPECT_FALSE(r.gap);
}

TEST(PayloadAssembler, MissingFinalRecordIsAbandonedWhenTheThreadMovesOn) {
  PayloadAssembler a;
  a.add_chunk(1, 10, 0, 0, "lost");
  a.add_chunk(2, 11, 0, 0, "other thread");
  a.add_chunk(1, 12, 0, 0, "next");
  EXPECT_EQ(a.abandoned(), 1u);
  EXPECT_EQ(a.finish(1, 12, 0, 4).data, "next");
  EXPECT_EQ(a.finish(2, 11, 0, 12).data, "other thread");
  // A final with nothing pending but bytes captured is a gap.
  EXPECT_TRUE(a.finish(3, 1, 0, 5).gap);
}

TEST(PayloadAssembler, MessagesOfOneCallAreSeparate) {
  PayloadAssembler a;
  a.add_chunk(1, 10, 0, 0, "first");
  a.add_chunk(1, 10, 1, 0, "second");
  EXPECT_EQ(a.finish(1, 10, 1, 6).data, "second");
  EXPECT_EQ(a.finish(1, 10, 0, 5).data, "first");
}

// Builds data records the way the BPF side does.
class DataBuilder {
 public:
  at_data_event base(bool inbound = false) {
    at_data_event d{};
    d.h = make_header(inbound ? AT_KIND_RECV : AT_KIND_SEND, 100, 101, "agent", mono_ += 1000);
    if (inbound) d.h.flags |= AT_F_INBOUND;
    d.fd = 5;
    d.source = AT_SRC_WRITE;
    d.sock_type = 1;  // SOCK_STREAM
    d.peer.family = AF_INET;
    d.peer.port = 443;
    inet_pton(AF_INET, "10.0.0.7", d.peer.addr);
    return d;
  }
  uint64_t mono_ = 0;
};

struct Collected {
  std::vector<trace::Event> events;
  NetworkTracker tracker{[this](trace::Event& e) { events.push_back(e); }};
  Decoder decoder{0};

  void feed(const std::vector<uint8_t>& raw) {
    std::string error;
    uint16_t kind = Decoder::kind_of(raw.data(), raw.size());
    if (kind == AT_KIND_SEND || kind == AT_KIND_RECV) {
      DataRecord r;
      ASSERT_TRUE(decoder.decode_data(raw.data(), raw.size(), &r, &error)) << error;
      tracker.on_data(r);
      return;
    }
    trace::Event e;
    NetworkExtra extra;
    ASSERT_TRUE(decoder.decode(raw.data(), raw.size(), &e, &extra, &error)) << error;
    if (e.has_dns())
      tracker.on_dns(e);
    else
      tracker.on_socket(e, extra.kernel_conn);
  }
  // One message: its chunks then its final record.
  void message(at_data_event d, const std::string& payload, size_t chunk = 4) {
    d.msg_bytes = payload.size();
    for (size_t off = 0; off < payload.size(); off += chunk) {
      at_data_event c = d;
      c.data_offset = off;
      c.data_len = std::min(chunk, payload.size() - off);
      feed(RawRecord(c).append(payload.substr(off, c.data_len)).finish());
    }
    at_data_event f = d;
    f.reserved = 1;
    f.captured = payload.size();
    f.data_offset = payload.size();
    feed(RawRecord(f).finish());
  }
};

TEST(NetworkTracker, ConnectionNumbersOffsetsAndHosts) {
  Collected c;
  // getaddrinfo("api.example.com") -> 10.0.0.7
  at_dns_event dns{};
  dns.h = make_header(AT_KIND_DNS, 100, 101, "agent");
  dns.source = AT_SRC_GETADDRINFO;
  dns.name_len = 15;
  dns.count = 1;
  dns.addrs[0].family = AF_INET;
  inet_pton(AF_INET, "10.0.0.7", dns.addrs[0].addr);
  c.feed(RawRecord(dns).append("api.example.com").finish());

  at_sock_event conn{};
  conn.h = make_header(AT_KIND_CONNECT, 100, 101, "agent");
  conn.conn = 0xabc;
  conn.fd = 5;
  conn.source = AT_SRC_CONNECT;
  conn.sock_type = 1;
  conn.addr = DataBuilder().base().peer;
  c.feed(RawRecord(conn).finish());

  DataBuilder b;
  at_data_event d = b.base();
  d.conn = 0xabc;
  d.call_id = 1;
  c.message(d, "GET / HTTP/1.1\r\n\r\n");
  d.call_id = 2;
  c.message(d, "second");

  ASSERT_EQ(c.events.size(), 4u);
  EXPECT_EQ(c.events[0].dns().answers(0), "10.0.0.7");
  EXPECT_EQ(c.events[1].connect().conn(), 1u);
  EXPECT_EQ(c.events[1].connect().host(), "api.example.com");
  EXPECT_EQ(c.events[1].connect().addr().port(), 443u);
  const auto& s1 = c.events[2].send();
  EXPECT_EQ(s1.conn(), 1u);
  EXPECT_EQ(s1.data(), "GET / HTTP/1.1\r\n\r\n");
  EXPECT_EQ(s1.offset(), 0u);
  EXPECT_EQ(s1.host(), "api.example.com");
  EXPECT_EQ(s1.peer().address(), "10.0.0.7");
  EXPECT_EQ(c.events[3].send().offset(), 18u);
  EXPECT_EQ(c.events[3].send().data(), "second");
}

TEST(NetworkTracker, BudgetSpentShowsAsTruncated) {
  Collected c;
  at_data_event d = DataBuilder().base();
  d.conn = 7;
  d.call_id = 1;
  d.msg_bytes = 100;
  at_data_event chunk = d;
  chunk.data_len = 10;
  c.feed(RawRecord(chunk).append("0123456789").finish());
  at_data_event f = d;
  f.reserved = 1;
  f.captured = 10;
  f.h.flags |= AT_F_BUDGET_SPENT;
  c.feed(RawRecord(f).finish());
  ASSERT_EQ(c.events.size(), 1u);
  EXPECT_EQ(c.events[0].send().bytes(), 100u);
  EXPECT_EQ(c.events[0].send().data(), "0123456789");
  EXPECT_EQ(c.events[0].send().truncated(), 90u);
  EXPECT_FALSE(c.events[0].send().gap());
}

TEST(NetworkTracker, TlsPlaintextWaitsForItsConnection) {
  Collected c;
  DataBuilder b;
  // SSL_write before the socket is known (memory BIO, as in Node.js).
  at_data_event plain = b.base();
  plain.h.flags |= AT_F_TLS;
  plain.source = AT_SRC_SSL_WRITE;
  plain.fd = -1;
  plain.peer = {};
  plain.ssl = 0x55;
  plain.call_id = 1;
  c.message(plain, "POST /v1/messages");
  EXPECT_TRUE(c.events.empty()) << "held until its connection is known";

  // The ciphertext write right after ties SSL object 0x55 to connection 9.
  at_data_event cipher = b.base();
  cipher.conn = 9;
  cipher.ssl = 0x55;
  cipher.h.flags |= AT_F_IN_TLS_CALL;
  cipher.call_id = 2;
  cipher.msg_bytes = 40;
  cipher.reserved = 1;
  c.feed(RawRecord(cipher).finish());

  ASSERT_EQ(c.events.size(), 2u);
  EXPECT_TRUE(c.events[0].send().ciphertext());
  EXPECT_EQ(c.events[0].send().truncated(), 0u) << "ciphertext is left out on purpose";
  const auto& p = c.events[1].send();
  EXPECT_TRUE(p.tls());
  EXPECT_EQ(p.conn(), c.events[0].send().conn());
  EXPECT_EQ(p.peer().port(), 443u);
  EXPECT_EQ(p.data(), "POST /v1/messages");
  EXPECT_EQ(p.offset(), 0u);
}

TEST(NetworkTracker, UnattributedTlsIsFlushedNotLost) {
  Collected c;
  at_data_event plain = DataBuilder().base();
  plain.h.flags |= AT_F_TLS;
  plain.ssl = 0x77;
  plain.peer = {};
  plain.call_id = 1;
  c.message(plain, "secret");
  c.tracker.flush_held(plain.h.mono_ns + 500'000'000, false);
  EXPECT_TRUE(c.events.empty());
  c.tracker.flush_held(plain.h.mono_ns + 2'000'000'000, false);
  ASSERT_EQ(c.events.size(), 1u);
  EXPECT_EQ(c.events[0].send().conn(), 0u);
  EXPECT_EQ(c.events[0].send().data(), "secret");
}

TEST(NetworkTracker, TlsWithoutPlaintextIsACoverageGap) {
  Collected c;
  at_data_event d = DataBuilder().base();
  d.conn = 3;
  d.call_id = 1;
  c.message(d, std::string("\x16\x03\x01\x02\x00", 5) + "client hello");
  c.tracker.finish();
  ASSERT_EQ(c.events.size(), 2u);
  ASSERT_TRUE(c.events[1].has_coverage());
  EXPECT_EQ(c.events[1].coverage().signal(), "tls");
  EXPECT_EQ(c.events[1].coverage().state(), "gap");
  EXPECT_EQ(c.events[1].pid(), 100u);
}

TEST(NetworkTracker, DnsQueryAndResponseFromDatagrams) {
  Collected c;
  DataBuilder b;
  at_data_event q = b.base();
  q.conn = 4;
  q.sock_type = 2;  // SOCK_DGRAM
  q.source = AT_SRC_SENDTO;
  q.peer.port = 53;
  q.call_id = 1;
  std::string query("\x00\x07\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x03""api\x04test\x00\x00\x01\x00\x01", 26);
  c.message(q, query, 64);
  at_data_event r = b.base(true);
  r.conn = 4;
  r.sock_type = 2;
  r.source = AT_SRC_RECVFROM;
  r.peer.port = 53;
  r.call_id = 2;
  std::string resp = query;
  resp[2] = '\x81';
  resp[3] = '\x80';
  resp[7] = 1;  // one answer
  resp += std::string("\xC0\x0C\x00\x01\x00\x01\x00\x00\x00\x3C\x00\x04\x7F\x00\x00\x05", 16);
  c.message(r, resp, 64);

  ASSERT_EQ(c.events.size(), 4u);
  EXPECT_TRUE(c.events[0].has_send());
  ASSERT_TRUE(c.events[1].has_dns());
  EXPECT_EQ(c.events[1].dns().source(), trace::SYSCALL_DNS_QUERY);
  EXPECT_EQ(c.events[1].dns().name(), "api.test");
  EXPECT_EQ(c.events[1].dns().type(), "A");
  EXPECT_EQ(c.events[1].dns().id(), 7u);
  EXPECT_TRUE(c.events[2].has_recv());
  EXPECT_EQ(c.events[3].dns().source(), trace::SYSCALL_DNS_RESPONSE);
  ASSERT_EQ(c.events[3].dns().answers_size(), 1);
  EXPECT_EQ(c.events[3].dns().answers(0), "127.0.0.5");
  EXPECT_EQ(c.tracker.host_for("127.0.0.5"), "api.test");
}

TEST(Decoder, SocketAddressesOfEveryFamily) {
  Decoder d(0);
  std::string error;
  at_sock_event raw{};
  raw.h = make_header(AT_KIND_CONNECT, 1, 1, "x");
  raw.addr.family = AF_INET6;
  raw.addr.port = 8443;
  inet_pton(AF_INET6, "2001:db8::1", raw.addr.addr);
  raw.result = -111;
  trace::Event e;
  auto bytes = RawRecord(raw).finish();
  ASSERT_TRUE(d.decode(bytes.data(), bytes.size(), &e, &error)) << error;
  EXPECT_EQ(e.connect().addr().family(), "inet6");
  EXPECT_EQ(e.connect().addr().address(), "2001:db8::1");
  EXPECT_EQ(e.connect().addr().port(), 8443u);
  EXPECT_EQ(trace::sockaddr_text(e.connect().addr()), "[2001:db8::1]:8443");
  EXPECT_EQ(e.connect().result(), -111);

  raw.addr = {};
  raw.addr.family = AF_UNIX;
  raw.unix_len = 13;
  auto unix_bytes = RawRecord(raw).append("/run/x.socket").finish();
  ASSERT_TRUE(d.decode(unix_bytes.data(), unix_bytes.size(), &e, &error)) << error;
  EXPECT_EQ(e.connect().addr().path(), "/run/x.socket");

  raw.unix_len = 5;
  auto abstract = RawRecord(raw).append(std::string("\0sock", 5)).finish();
  ASSERT_TRUE(d.decode(abstract.data(), abstract.size(), &e, &error)) << error;
  EXPECT_EQ(e.connect().addr().path(), "@sock");

  raw.unix_len = 200;  // longer than the record
  auto bad = RawRecord(raw).append("x").finish();
  EXPECT_FALSE(d.decode(bad.data(), bad.size(), &e, &error));
}

}  // namespace
}  // namespace agenttrace::collector
