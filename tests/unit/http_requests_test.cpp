#include "analyzer/http_requests.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace agenttrace::analyzer {
namespace {

const std::string kBody =
    R"({"model":"claude-sonnet-4-5","max_tokens":1024,"messages":[{"role":"user","content":"List files, then summarize."}]})";

std::string post(const std::string& body, const std::string& extra_headers = "") {
  return "POST /v1/messages?beta=true HTTP/1.1\r\n"
         "Host: api.anthropic.com\r\n"
         "Content-Type: application/json\r\n" +
         extra_headers + "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

TEST(HttpRequests, OneRequestWithContentLength) {
  std::string s = post(kBody, "anthropic-version: 2023-06-01\r\n");
  auto p = parse_http_stream(s);
  ASSERT_EQ(p.requests.size(), 1u);
  EXPECT_EQ(p.consumed, s.size());
  const HttpRequest& r = p.requests[0];
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.target, "/v1/messages?beta=true");
  EXPECT_EQ(r.version, "HTTP/1.1");
  ASSERT_EQ(r.headers.size(), 4u);
  EXPECT_EQ(r.headers[0].first, "Host");
  EXPECT_EQ(r.headers[0].second, "api.anthropic.com");
  EXPECT_EQ(r.headers[2].first, "anthropic-version");
  EXPECT_EQ(r.body, kBody);
  EXPECT_FALSE(r.truncated);
  EXPECT_EQ(r.stream_offset, 0u);
  EXPECT_EQ(r.body_offset, s.size() - kBody.size());
  EXPECT_EQ(r.head, s.substr(0, s.size() - kBody.size()));
  ASSERT_NE(header_value(r, "content-TYPE"), nullptr);
  EXPECT_EQ(*header_value(r, "content-TYPE"), "application/json");
  EXPECT_EQ(header_value(r, "x-missing"), nullptr);
}

TEST(HttpRequests, KeepAliveConnectionWithTwoRequests) {
  std::string first = "GET /v1/models HTTP/1.1\r\nHost: api.anthropic.com\r\nAccept: */*\r\n\r\n";
  std::string second = post(kBody);
  // A client may send an empty line between requests; it is skipped.
  std::string s = first + "\r\n" + second;
  auto reqs = parse_http_requests(s);
  ASSERT_EQ(reqs.size(), 2u);
  EXPECT_EQ(reqs[0].method, "GET");
  EXPECT_EQ(reqs[0].target, "/v1/models");
  EXPECT_TRUE(reqs[0].body.empty());
  EXPECT_EQ(reqs[0].stream_offset, 0u);
  EXPECT_EQ(reqs[0].body_offset, first.size());
  EXPECT_EQ(reqs[1].method, "POST");
  EXPECT_EQ(reqs[1].stream_offset, first.size() + 2);
  EXPECT_EQ(reqs[1].body, kBody);
  EXPECT_FALSE(reqs[0].truncated);
  EXPECT_FALSE(reqs[1].truncated);
}

TEST(HttpRequests, ChunkedBodyIsReassembled) {
  std::string head =
      "POST /v1/messages HTTP/1.1\r\nHost: localhost:8080\r\nTransfer-Encoding: gzip, chunked\r\n\r\n";
  // Hex sizes in either case, a chunk extension, a trailer field.
  std::string chunks = "4\r\n{\"a\"\r\nA;name=value\r\n:\"0123456\"\r\n1\r\n}\r\n0\r\nX-Checksum: abc\r\n\r\n";
  std::string next = "GET /health HTTP/1.1\r\nHost: localhost:8080\r\n\r\n";
  auto reqs = parse_http_requests(head + chunks + next);
  ASSERT_EQ(reqs.size(), 2u);
  EXPECT_EQ(reqs[0].body, "{\"a\":\"0123456\"}");
  EXPECT_EQ(reqs[0].body_offset, head.size());
  EXPECT_FALSE(reqs[0].truncated);
  ASSERT_EQ(reqs[0].headers.size(), 3u);
  EXPECT_EQ(reqs[0].headers[2].first, "X-Checksum");
  EXPECT_EQ(reqs[1].target, "/health");
  EXPECT_EQ(reqs[1].stream_offset, head.size() + chunks.size());
}

TEST(HttpRequests, LenientLineEndingsFoldingAndOddFieldLines) {
  std::string s =
      "PUT /x HTTP/1.0\n"
      "X-Long: first\n"
      "\tsecond part  \n"
      "NoColonHere\n"
      "Content-Length: 5, 5\n"
      "\n"
      "hello";
  auto reqs = parse_http_requests(s);
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].version, "HTTP/1.0");
  ASSERT_EQ(reqs[0].headers.size(), 3u);
  EXPECT_EQ(reqs[0].headers[0].second, "first second part");
  EXPECT_EQ(reqs[0].headers[1].first, "NoColonHere");
  EXPECT_EQ(reqs[0].headers[1].second, "");
  EXPECT_EQ(reqs[0].body, "hello");
  EXPECT_FALSE(reqs[0].truncated);
}

TEST(HttpRequests, BodyCutByCaptureBudgetIsTruncated) {
  std::string s = post(kBody);
  std::string cut = s.substr(0, s.size() - 30);
  auto reqs = parse_http_requests(cut);
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_TRUE(reqs[0].truncated);
  EXPECT_EQ(reqs[0].body, kBody.substr(0, kBody.size() - 30));
}

TEST(HttpRequests, CutInsideHeadersOrRequestLineOrChunk) {
  std::string first = post(kBody);
  // In the second request's header section: the field line cut short is dropped.
  auto a = parse_http_requests(first + "POST /v1/messages HTTP/1.1\r\nHost: api.anth");
  ASSERT_EQ(a.size(), 2u);
  EXPECT_FALSE(a[0].truncated);
  EXPECT_TRUE(a[1].truncated);
  EXPECT_TRUE(a[1].headers.empty());
  EXPECT_EQ(a[1].target, "/v1/messages");
  // In the second request line.
  auto b = parse_http_requests(first + "POST /v1/mes");
  ASSERT_EQ(b.size(), 2u);
  EXPECT_TRUE(b[1].truncated);
  EXPECT_EQ(b[1].method, "POST");
  EXPECT_EQ(b[1].target, "/v1/mes");
  // A first line cut short still counts when it starts with a known method.
  auto c = parse_http_requests("GET /index.ht");
  ASSERT_EQ(c.size(), 1u);
  EXPECT_TRUE(c[0].truncated);
  // Inside a chunk.
  auto d = parse_http_requests("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n0123456");
  ASSERT_EQ(d.size(), 1u);
  EXPECT_TRUE(d[0].truncated);
  EXPECT_EQ(d[0].body, "0123456");
}

TEST(HttpRequests, NonHttpStreamsGiveNoRequests) {
  EXPECT_TRUE(parse_http_requests("").empty());
  EXPECT_TRUE(parse_http_requests("hello world\n").empty());
  EXPECT_TRUE(parse_http_requests("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n").empty());  // HTTP/2 preface
  EXPECT_TRUE(parse_http_requests(std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11)).empty());
  EXPECT_TRUE(parse_http_requests("SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n").empty());
  EXPECT_TRUE(parse_http_requests("get / http/1.1\r\n\r\n").empty());  // not what clients send
  EXPECT_TRUE(parse_http_requests("PO").empty());  // too little to tell
  auto p = parse_http_stream("EHLO mail.example.com\r\n");
  EXPECT_TRUE(p.requests.empty());
  EXPECT_EQ(p.consumed, 0u);
}

TEST(HttpRequests, BytesAfterRequestsAreLeftToTheCaller) {
  std::string req = "CONNECT api.anthropic.com:443 HTTP/1.1\r\nHost: api.anthropic.com:443\r\n\r\n";
  std::string tls("\x16\x03\x01\x00\x05hello", 10);
  auto p = parse_http_stream(req + tls);
  ASSERT_EQ(p.requests.size(), 1u);
  EXPECT_EQ(p.requests[0].method, "CONNECT");
  EXPECT_EQ(p.consumed, req.size());
}

TEST(HttpRequests, MalformedFramingStopsWithoutCrashing) {
  auto a = parse_http_requests("POST / HTTP/1.1\r\nContent-Length: 12abc\r\n\r\nrest of it");
  ASSERT_EQ(a.size(), 1u);
  EXPECT_TRUE(a[0].truncated);
  EXPECT_EQ(a[0].body, "rest of it");
  auto b = parse_http_requests("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n");
  ASSERT_EQ(b.size(), 1u);
  EXPECT_TRUE(b[0].truncated);
  auto c = parse_http_requests("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFFFFF\r\nabc");
  ASSERT_EQ(c.size(), 1u);
  EXPECT_TRUE(c[0].truncated);
}

// Every prefix of a keep-alive stream: the requests before the cut are whole,
// the one the cut falls in is marked truncated, nothing crashes.
TEST(HttpRequests, EveryPrefixOfAStream) {
  std::string first = post(kBody);
  std::string second = "POST /v1/messages HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n";
  std::string s = first + second;
  for (size_t n = 0; n <= s.size(); ++n) {
    std::string prefix = s.substr(0, n);
    auto p = parse_http_stream(prefix);
    ASSERT_LE(p.consumed, n);
    for (size_t i = 0; i + 1 < p.requests.size(); ++i) EXPECT_FALSE(p.requests[i].truncated) << n;
    if (n >= first.size()) {
      ASSERT_GE(p.requests.size(), 1u) << n;
      EXPECT_EQ(p.requests[0].body, kBody) << n;
    }
    if (n == first.size() || n == s.size()) {
      EXPECT_FALSE(p.requests.back().truncated) << n;
      EXPECT_EQ(p.consumed, n);
    } else if (n > 4 && !p.requests.empty()) {
      // Inside a request: whatever was seen of it is kept, marked truncated.
      EXPECT_TRUE(p.requests.back().truncated) << n;
    }
  }
}

TEST(HttpRequests, RandomBytesNeverCrash) {
  std::mt19937 rng(7);
  std::string base = post(kBody) + "GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n";
  for (int iter = 0; iter < 3000; ++iter) {
    std::string s = base;
    int edits = 1 + static_cast<int>(rng() % 6);
    for (int e = 0; e < edits; ++e) {
      size_t at = rng() % s.size();
      switch (rng() % 3) {
        case 0: s[at] = static_cast<char>(rng()); break;
        case 1: s.erase(at, 1 + rng() % 8); break;
        default: s.insert(at, 1, "\r\n:;0 F"[rng() % 7]);
      }
      if (s.empty()) s = "x";
    }
    auto p = parse_http_stream(s);
    EXPECT_LE(p.consumed, s.size());
    for (const auto& r : p.requests) {
      EXPECT_LE(r.stream_offset, s.size());
      EXPECT_LE(r.body_offset, s.size());
    }
  }
}

}  // namespace
}  // namespace agenttrace::analyzer
