// BPF tests for network visibility: each client sample talks to the local
// stand-in (loopback only) under the real agenttrace, and what the trace
// holds is compared byte for byte with what the stand-in received.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "../support/agenttrace_runner.h"
#include "../support/background.h"
#include "../support/standin_process.h"
#include "common/base64.h"

namespace agenttrace::testing {
namespace {

using ::testing::HasSubstr;

const std::string kSamples = SAMPLES_DIR;

// Every send on connection `conn`, TLS plaintext or raw, concatenated.
std::string stream(const std::vector<Json>& events, int conn, bool tls) {
  std::string out;
  for (const auto& e : of_kind(events, "send"))
    if (e.value("conn", 0) == conn && e["tls"] == tls) out += *base64_decode(e["data"].get<std::string>());
  return out;
}

// The body of the first HTTP request in `stream`.
std::string http_body(const std::string& stream) {
  auto end = stream.find("\r\n\r\n");
  return end == std::string::npos ? "" : stream.substr(end + 4);
}

// The stand-in on the port of one scheme (the test's client speaks only it).
struct StandIn {
  StandInProcess process{60};
  int port = 0;
  explicit StandIn(bool tls) : port(tls ? process.https_port() : process.http_port()) {}
  std::string body(int n) const { return process.body(n); }
  std::string url(const std::string& scheme, const std::string& host) const {
    return scheme + "://" + host + ":" + std::to_string(port) + "/v1/messages";
  }
};

RunResult run(const RunSpec& spec) {
  static std::vector<std::unique_ptr<TempDir>> dirs;
  dirs.push_back(std::make_unique<TempDir>());
  return run_agenttrace(spec, *dirs.back());
}

std::string write_body(const TempDir& dir, size_t filler) {
  std::string body = R"({"model":"claude-x","messages":[{"role":"user","content":")" +
                     std::string(filler, 'q') + R"("}],"stream":false})";
  std::ofstream(dir.file("body.json"), std::ios::binary) << body;
  return body;
}

int connect_to(const std::vector<Json>& events, int port) {
  for (const auto& c : of_kind(events, "connect"))
    if (c.contains("addr") && c["addr"].value("port", 0) == port) return c["conn"];
  return 0;
}

TEST(Network, CClientPlainHttpRequestIsCapturedByteForByte) {
  REQUIRE_BPF();
  StandIn standin(false);
  RunSpec spec;
  spec.command = {kSamples + "/post_json", "127.0.0.1", std::to_string(standin.port), "/v1/messages", "70000"};
  RunResult r = run(spec);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.trailer["dropped"], 0);
  int conn = connect_to(r.events, standin.port);
  ASSERT_GT(conn, 0);
  auto connect = of_kind(r.events, "connect");
  std::string sent = stream(r.events, conn, false);
  EXPECT_EQ(http_body(sent), standin.body(1));
  EXPECT_EQ(standin.body(1).size(), 70000u);
  for (const auto& s : of_kind(r.events, "send")) {
    if (s.value("conn", 0) != conn) continue;
    EXPECT_EQ(s["peer"], "127.0.0.1:" + std::to_string(standin.port));
    EXPECT_EQ(s["truncated"], 0);
    EXPECT_EQ(s["tls"], false);
  }
  // Offsets run on without holes.
  uint64_t expect = 0;
  for (const auto& s : of_kind(r.events, "send"))
    if (s.value("conn", 0) == conn) {
      EXPECT_EQ(s["offset"], expect);
      expect += s["bytes"].get<uint64_t>();
    }
  EXPECT_EQ(expect, sent.size());
  EXPECT_THAT(r.err, HasSubstr("destinations (1)"));
}

TEST(Network, FiveMegabyteUploadKeepsExactlyTheBudget) {
  REQUIRE_BPF();
  StandIn standin(false);
  RunSpec spec;
  spec.command = {kSamples + "/post_json", "127.0.0.1", std::to_string(standin.port), "/v1/messages", "5000000"};
  RunResult r = run(spec);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  int conn = connect_to(r.events, standin.port);
  uint64_t bytes = 0, truncated = 0;
  for (const auto& s : of_kind(r.events, "send"))
    if (s.value("conn", 0) == conn) {
      bytes += s["bytes"].get<uint64_t>();
      truncated += s["truncated"].get<uint64_t>();
    }
  std::string captured = stream(r.events, conn, false);
  EXPECT_EQ(captured.size(), 1u << 20) << "the default budget, 1 MiB";
  EXPECT_EQ(bytes, captured.size() + truncated);
  EXPECT_GT(bytes, 5000000u);
  EXPECT_EQ(r.trailer["payload_bytes"], 1u << 20);
  EXPECT_EQ(r.trailer["payload_truncated"], truncated);
  EXPECT_EQ(r.trailer["payload_gaps"], 0);
  // What was captured is the start of what the stand-in received.
  std::string body = standin.body(1);
  ASSERT_EQ(body.size(), 5000000u);
  std::string cap_body = http_body(captured);
  EXPECT_EQ(cap_body, body.substr(0, cap_body.size()));
  EXPECT_THAT(r.err, HasSubstr("of payload not captured (budget 1.0 MiB per connection)"));
}

TEST(Network, CaptureBytesZeroCountsEverythingAsNotCaptured) {
  REQUIRE_BPF();
  StandIn standin(false);
  RunSpec spec;
  spec.agenttrace_args = {"--capture-bytes", "0"};
  spec.command = {kSamples + "/post_json", "127.0.0.1", std::to_string(standin.port), "/v1/messages", "1000"};
  RunResult r = run(spec);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  int conn = connect_to(r.events, standin.port);
  for (const auto& s : of_kind(r.events, "send"))
    if (s.value("conn", 0) == conn) {
      EXPECT_EQ(s["data"], "");
      EXPECT_EQ(s["truncated"], s["bytes"]);
    }
  EXPECT_EQ(r.header["capture_bytes"], 0);
}

void expect_node_request(bool tls) {
  if (system("command -v node >/dev/null 2>&1") != 0) GTEST_SKIP() << "node is not installed";
  StandIn standin(tls);
  TempDir work;
  std::string body = write_body(work, 30000);
  RunSpec spec;
  spec.command = {"node", kSamples + "/net/fetch_client.mjs", standin.url(tls ? "https" : "http", "127.0.0.1"),
                  work.file("body.json")};
  spec.env = base_env();
  if (tls) spec.env.push_back("NODE_EXTRA_CA_CERTS=" + standin.process.cert_path());
  RunResult r = run(spec);
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  EXPECT_THAT(r.out, HasSubstr("status: 200"));
  EXPECT_EQ(r.trailer["dropped"], 0);
  ASSERT_EQ(standin.body(1), body);
  int conn = connect_to(r.events, standin.port);
  ASSERT_GT(conn, 0);
  std::string sent = stream(r.events, conn, tls);
  EXPECT_EQ(http_body(sent), body) << "the full JSON request body, as the server logged it";
  EXPECT_THAT(sent, HasSubstr("POST /v1/messages HTTP/1.1"));
  if (tls) {
    bool coverage = false;
    for (const auto& c : of_kind(r.events, "coverage"))
      if (c["signal"] == "tls" && c["state"] == "observed") coverage = true;
    EXPECT_TRUE(coverage) << "node's own SSL functions are probed";
    for (const auto& s : of_kind(r.events, "send"))
      if (s.value("conn", 0) == conn && s["tls"] == true)
        EXPECT_EQ(s["peer"], "127.0.0.1:" + std::to_string(standin.port));
  }
}

TEST(Network, NodeFetchOverHttp) {
  REQUIRE_BPF();
  expect_node_request(false);
}

TEST(Network, NodeFetchOverHttpsShowsThePlaintext) {
  REQUIRE_BPF();
  expect_node_request(true);
}

// Bun embeds BoringSSL without symbols: its SSL_write and SSL_read are found
// by code signature (collector/ssl_signature.h).
TEST(Network, BunOverHttpsShowsThePlaintextThroughBoringSsl) {
  REQUIRE_BPF();
  const char* bun = getenv("AGENTTRACE_BUN");
  if (!bun || !*bun) GTEST_SKIP() << "AGENTTRACE_BUN is not set (scripts/test.sh fetches Bun with scripts/fetch-bun.sh)";
  StandIn standin(true);
  TempDir work;
  std::string body = write_body(work, 4000);
  std::ofstream(work.file("client.js"))
      << "const body = await Bun.file(process.argv[2]).text();\n"
         "const r = await fetch(process.argv[3], {method: 'POST', body, headers: {'content-type': 'application/json'}});\n"
         "console.log('status: ' + r.status);\n";
  RunSpec spec;
  spec.command = {bun, work.file("client.js"), work.file("body.json"), standin.url("https", "127.0.0.1")};
  spec.env = base_env();
  spec.env.push_back("NODE_EXTRA_CA_CERTS=" + standin.process.cert_path());
  RunResult r = run(spec);
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  EXPECT_THAT(r.out, HasSubstr("status: 200"));
  ASSERT_EQ(standin.body(1), body);
  int conn = connect_to(r.events, standin.port);
  ASSERT_GT(conn, 0);
  EXPECT_EQ(http_body(stream(r.events, conn, true)), body);
  bool located = false;
  for (const auto& c : of_kind(r.events, "coverage"))
    if (c["signal"] == "tls" && c["state"] == "observed")
      located = c["detail"].get<std::string>().find("code signature") != std::string::npos;
  EXPECT_TRUE(located);
  for (const auto& e : of_kind(r.events, "recv"))
    if (e["tls"] == true) EXPECT_LT(e["bytes"].get<int64_t>(), 1 << 20) << "failed SSL_read returns are not data";
}

TEST(Network, PythonUrllibAndTheNameItResolved) {
  REQUIRE_BPF();
  StandIn standin(false);
  TempDir work;
  std::string body = write_body(work, 500);
  RunSpec spec;
  spec.command = {"/usr/bin/python3", kSamples + "/net/urllib_client.py", standin.url("http", "localhost"),
                  work.file("body.json")};
  RunResult r = run(spec);
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  bool resolved = false;
  for (const auto& d : of_kind(r.events, "dns"))
    if (d["source"] == "getaddrinfo" && d["name"] == "localhost") {
      resolved = true;
      EXPECT_THAT(d["answers"].get<std::vector<std::string>>(), ::testing::Contains("127.0.0.1"));
    }
  EXPECT_TRUE(resolved);
  int conn = connect_to(r.events, standin.port);
  ASSERT_GT(conn, 0);
  for (const auto& c : of_kind(r.events, "connect"))
    if (c.value("conn", 0) == conn) EXPECT_EQ(c["host"], "localhost");
  EXPECT_EQ(http_body(stream(r.events, conn, false)), body);
  for (const auto& s : of_kind(r.events, "send"))
    if (s.value("conn", 0) == conn) EXPECT_EQ(s["host"], "localhost");
}

void expect_own_resolver(const std::string& mode) {
  TempDir dir;
  // 127.0.0.153:53 on loopback; systemd-resolved, if any, uses 127.0.0.53.
  Background stub({"python3", kSamples + "/net/dns_stub.py", "--host", "127.0.0.153", "--port", "53",
                   "--ready-file", dir.file("ready"), "--timeout", "20"},
                  dir.file("ready"));
  RunSpec spec;
  spec.command = {kSamples + "/dns_query", "127.0.0.153", "53", "agent.example.test", mode};
  RunResult r = run(spec);
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  auto dns = of_kind(r.events, "dns");
  ASSERT_EQ(dns.size(), 2u) << r.err;
  EXPECT_EQ(dns[0]["source"], "query");
  EXPECT_EQ(dns[0]["name"], "agent.example.test");
  EXPECT_EQ(dns[0]["type"], "A");
  EXPECT_EQ(dns[0]["server"], "127.0.0.153:53");
  EXPECT_EQ(dns[1]["source"], "response");
  EXPECT_EQ(dns[1]["answers"], Json::array({"127.0.0.1"}));
  auto sends = of_kind(r.events, "send");
  ASSERT_EQ(sends.size(), 1u);
  EXPECT_EQ(sends[0]["syscall"], "sendto");  // send(2) is sendto(2) in the C library
  EXPECT_EQ(sends[0]["peer"], "127.0.0.153:53");
  // The answer as it came in, through the call the mode names: the stub's
  // 52-byte reply (the question echoed, one A record 127.0.0.1, TTL 60).
  auto recvs = of_kind(r.events, "recv");
  ASSERT_EQ(recvs.size(), 1u);
  EXPECT_EQ(recvs[0]["syscall"], mode == "unconnected" || mode == "connected" ? "recvfrom" : mode);
  EXPECT_EQ(recvs[0]["peer"], "127.0.0.153:53");
  EXPECT_EQ(recvs[0]["bytes"], 52);
  EXPECT_EQ(recvs[0]["data"], "QVSBgAABAAEAAAAABWFnZW50B2V4YW1wbGUEdGVzdAAAAQABwAwAAQABAAAAPAAEfwAAAQ==");
}

TEST(Network, OwnResolverOverUnconnectedUdp) {
  REQUIRE_BPF();
  expect_own_resolver("unconnected");
}

TEST(Network, OwnResolverOverConnectedUdp) {
  REQUIRE_BPF();
  expect_own_resolver("connected");
}

TEST(Network, OwnResolverReadingWithReadv) {
  REQUIRE_BPF();
  expect_own_resolver("readv");
}

TEST(Network, OwnResolverReadingWithRecvmmsg) {
  REQUIRE_BPF();
  expect_own_resolver("recvmmsg");
}

TEST(Network, DumpPayloadsWritesTheRequest) {
  REQUIRE_BPF();
  StandIn standin(false);
  TempDir dir;
  RunSpec spec;
  spec.command = {kSamples + "/post_json", "127.0.0.1", std::to_string(standin.port), "/v1/messages", "2000"};
  RunResult r = run_agenttrace(spec, dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string out = dir.file("payloads");
  std::string cmd = std::string(AGENTTRACE_BIN) + " dump --payloads " + out + " " + r.trace_path + " 2>/dev/null";
  ASSERT_EQ(system(cmd.c_str()), 0);
  Json index = Json::parse(slurp(out + "/index.json"));
  ASSERT_EQ(index.size(), 1u);
  EXPECT_EQ(index[0]["peer"], "127.0.0.1:" + std::to_string(standin.port));
  EXPECT_EQ(index[0]["not_captured"], 0);
  std::string file = slurp(out + "/" + index[0]["file"].get<std::string>());
  EXPECT_EQ(http_body(file), standin.body(1));
  EXPECT_EQ(index[0]["captured"], file.size());
}

}  // namespace
}  // namespace agenttrace::testing
