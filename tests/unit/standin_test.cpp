// The sandbox's stand-in LLM API, over real loopback sockets (no root: port 0
// on 127.0.0.1). Replies are checked by parsing them, and against bytes the
// Python stand-in (samples/net/standin.py, since removed) produced for the
// same requests.
#include "sandbox/standin.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <httplib.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "common/error.h"
#include "sandbox/certificate.h"
#include "sandbox/standin_shapes.h"

namespace agenttrace::sandbox {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A private directory removed at the end of the test.
struct TempDir {
  TempDir() {
    std::string pattern = fs::temp_directory_path().string() + "/standin-test-XXXXXX";
    path = mkdtemp(pattern.data());
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string path;
};

// A response as it came off the wire.
struct RawResponse {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string header(const std::string& name) const {
    for (const auto& [k, v] : headers) {
      if (strcasecmp(k.c_str(), name.c_str()) == 0) return v;
    }
    return "";
  }
  bool has_header(const std::string& name) const {
    for (const auto& [k, v] : headers) {
      if (strcasecmp(k.c_str(), name.c_str()) == 0) return true;
    }
    return false;
  }
};

// A plain TCP client that writes exactly the bytes it is given, so tests
// control header order, framing and connection reuse.
class RawClient {
 public:
  explicit RawClient(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    timeval tv{5, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  }
  ~RawClient() {
    if (fd_ >= 0) ::close(fd_);
  }
  bool connected() const { return connected_; }

  void send(const std::string& data) {
    size_t done = 0;
    while (done < data.size()) {
      ssize_t n = ::send(fd_, data.data() + done, data.size() - done, MSG_NOSIGNAL);
      if (n <= 0) return;
      done += static_cast<size_t>(n);
    }
  }
  void shutdown_write() { ::shutdown(fd_, SHUT_WR); }

  int local_port() const {
    sockaddr_in addr{};
    socklen_t len = sizeof addr;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    return ntohs(addr.sin_port);
  }

  // One response: the body by Content-Length, or up to EOF without one.
  // status 0 when the connection ended before a status line.
  RawResponse read_response() {
    RawResponse r;
    std::string line;
    if (!read_line(line)) return r;
    r.status = std::atoi(line.substr(line.find(' ') + 1).c_str());
    while (read_line(line) && !line.empty()) {
      size_t colon = line.find(':');
      std::string value = line.substr(colon + 1);
      value.erase(0, value.find_first_not_of(' '));
      r.headers.emplace_back(line.substr(0, colon), value);
    }
    if (r.has_header("Content-Length")) {
      size_t want = std::stoul(r.header("Content-Length"));
      for (;;) {
        size_t take = std::min(want - r.body.size(), buf_.size());
        r.body += buf_.substr(0, take);
        buf_.erase(0, take);
        if (r.body.size() == want || !fill()) break;
      }
    } else {
      do {
        r.body += buf_;
        buf_.clear();
      } while (fill());
    }
    return r;
  }

  // The raw bytes up to and including the next blank line.
  std::string read_head() {
    std::string head, line;
    while (read_line(line)) {
      head += line + "\r\n";
      if (line.empty()) break;
    }
    return head;
  }

  // True when the server has closed the connection (nothing more arrives).
  bool at_eof() { return buf_.empty() && !fill(); }

 private:
  bool fill() {
    char tmp[65536];
    ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
    if (n <= 0) return false;
    buf_.append(tmp, static_cast<size_t>(n));
    return true;
  }
  bool read_line(std::string& line) {
    size_t nl;
    while ((nl = buf_.find("\r\n")) == std::string::npos) {
      if (!fill()) return false;
    }
    line = buf_.substr(0, nl);
    buf_.erase(0, nl + 2);
    return true;
  }

  int fd_ = -1;
  bool connected_ = false;
  std::string buf_;
};

std::string post(const std::string& target, const std::string& body, const std::string& extra_headers = "") {
  return "POST " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n" + extra_headers +
         "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

struct SseEvent {
  std::string name;
  std::string data;
};

std::vector<SseEvent> parse_sse(const std::string& body) {
  std::vector<SseEvent> events;
  size_t pos = 0;
  while (pos < body.size()) {
    size_t end = body.find("\n\n", pos);
    if (end == std::string::npos) break;
    std::string block = body.substr(pos, end - pos);
    pos = end + 2;
    SseEvent e;
    std::istringstream lines(block);
    std::string line;
    while (std::getline(lines, line)) {
      if (line.rfind("event: ", 0) == 0) e.name = line.substr(7);
      if (line.rfind("data: ", 0) == 0) e.data = line.substr(6);
    }
    events.push_back(e);
  }
  EXPECT_EQ(pos, body.size()) << "the stream ends inside an event";
  return events;
}

class StandInTest : public ::testing::Test {
 protected:
  void SetUp() override { start("hello there  world"); }

  void start(const std::string& reply) {
    StandInOptions options;
    options.reply = reply;
    options.cert_dir = dir_.path + "/cert";
    standin_ = std::make_unique<StandIn>(options);
    standin_->bind("127.0.0.1", 0, 0);
    standin_->start();
  }

  RawResponse exchange(const std::string& request) {
    RawClient client(standin_->http_port());
    EXPECT_TRUE(client.connected());
    client.send(request);
    return client.read_response();
  }

  json post_json(const std::string& target, const std::string& body, RawResponse* raw = nullptr) {
    RawResponse r = exchange(post(target, body));
    EXPECT_EQ(r.status, 200) << target << ": " << r.body;
    EXPECT_EQ(r.header("Content-Type"), "application/json");
    EXPECT_EQ(r.header("Content-Length"), std::to_string(r.body.size()));
    if (raw) *raw = r;
    return json::parse(r.body);
  }

  std::vector<SseEvent> post_sse(const std::string& target, const std::string& body) {
    RawResponse r = exchange(post(target, body));
    EXPECT_EQ(r.status, 200) << target << ": " << r.body;
    EXPECT_EQ(r.header("Content-Type"), "text/event-stream; charset=utf-8");
    EXPECT_EQ(r.header("Connection"), "close");
    EXPECT_FALSE(r.has_header("Content-Length"));
    EXPECT_FALSE(r.has_header("Transfer-Encoding"));
    return parse_sse(r.body);
  }

  TempDir dir_;
  std::unique_ptr<StandIn> standin_;
};

// ---- reply shapes -----------------------------------------------------------------

TEST_F(StandInTest, AnthropicJsonIsThePythonStandInsBytes) {
  RawResponse raw;
  std::string body = R"({"model":"claude-test","max_tokens":10,"messages":[{"role":"user","content":"hi"}]})";
  json j = post_json("/v1/messages", body, &raw);
  EXPECT_EQ(j["content"][0]["text"], "hello there  world");
  EXPECT_EQ(raw.header("x-request-id"), "req_standin_000001");
  EXPECT_EQ(raw.header("Server"), "standin/1");
  // What standin.py --reply "hello there  world" answers to this body.
  EXPECT_EQ(raw.body,
            R"({"id": "msg_standin_000001", "type": "message", "role": "assistant", "model": "claude-test", )"
            R"("content": [{"type": "text", "text": "hello there  world"}], "stop_reason": "end_turn", )"
            R"("stop_sequence": null, "usage": {"input_tokens": 20, "output_tokens": 3, )"
            R"("cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}})"
            "\n");
}

TEST_F(StandInTest, AnthropicStream) {
  auto events = post_sse("/v1/messages", R"({"model":"claude-test","stream":true})");
  ASSERT_GE(events.size(), 7u);
  EXPECT_EQ(events.front().name, "message_start");
  EXPECT_EQ(events[1].name, "content_block_start");
  EXPECT_EQ(events[2].name, "ping");
  EXPECT_EQ(events[events.size() - 3].name, "content_block_stop");
  EXPECT_EQ(events[events.size() - 2].name, "message_delta");
  EXPECT_EQ(events.back().name, "message_stop");
  std::string text;
  int deltas = 0;
  for (const auto& e : events) {
    json d = json::parse(e.data);
    EXPECT_EQ(d["type"], e.name);  // every event repeats its name as its type
    if (e.name == "content_block_delta") {
      text += d["delta"]["text"].get<std::string>();
      ++deltas;
    }
  }
  EXPECT_EQ(text, "hello there  world");
  EXPECT_EQ(deltas, 3);
  json start = json::parse(events.front().data)["message"];
  EXPECT_EQ(start["id"], "msg_standin_000001");
  EXPECT_EQ(start["model"], "claude-test");
  EXPECT_TRUE(start["content"].empty());
  EXPECT_TRUE(start["stop_reason"].is_null());
  EXPECT_EQ(start["usage"]["output_tokens"], 1);
  EXPECT_EQ(json::parse(events[events.size() - 2].data)["usage"]["output_tokens"], 3);
}

TEST_F(StandInTest, ChatCompletionsJson) {
  std::string body = R"({"model":"gpt-test","messages":[]})";
  json j = post_json("/v1/chat/completions", body);
  EXPECT_EQ(j["id"], "chatcmpl-standin-000001");
  EXPECT_EQ(j["object"], "chat.completion");
  EXPECT_EQ(j["created"], 1700000000);
  EXPECT_EQ(j["model"], "gpt-test");
  EXPECT_EQ(j["choices"][0]["message"]["content"], "hello there  world");
  EXPECT_EQ(j["choices"][0]["finish_reason"], "stop");
  EXPECT_EQ(j["usage"]["prompt_tokens"], body.size() / 4);
  EXPECT_EQ(j["usage"]["completion_tokens"], 3);
  EXPECT_EQ(j["usage"]["total_tokens"], body.size() / 4 + 3);
}

TEST_F(StandInTest, ChatCompletionsStreamEndsWithDone) {
  auto events = post_sse("/v1/chat/completions", R"({"model":"gpt-test","stream":true})");
  ASSERT_GE(events.size(), 3u);
  EXPECT_EQ(events.back().data, "[DONE]");
  std::string text;
  for (size_t i = 0; i + 1 < events.size(); ++i) {
    EXPECT_TRUE(events[i].name.empty());
    json d = json::parse(events[i].data);
    EXPECT_EQ(d["object"], "chat.completion.chunk");
    EXPECT_EQ(d["id"], "chatcmpl-standin-000001");
    if (d["choices"][0]["delta"].contains("content")) text += d["choices"][0]["delta"]["content"].get<std::string>();
  }
  EXPECT_EQ(text, "hello there  world");
  EXPECT_EQ(json::parse(events[0].data)["choices"][0]["delta"]["role"], "assistant");
  EXPECT_EQ(json::parse(events[events.size() - 2].data)["choices"][0]["finish_reason"], "stop");
}

TEST_F(StandInTest, ChatCompletionsStreamWithUsageIsThePythonStandInsBytes) {
  RawResponse r = exchange(post("/v1/chat/completions",
                                R"({"model":"m1","stream":true,"stream_options":{"include_usage":true}})"));
  auto events = parse_sse(r.body);
  ASSERT_GE(events.size(), 2u);
  EXPECT_EQ(events.back().data, "[DONE]");
  json usage_chunk = json::parse(events[events.size() - 2].data);
  EXPECT_TRUE(usage_chunk["choices"].empty());
  EXPECT_EQ(usage_chunk["usage"]["completion_tokens"], 3);
  EXPECT_EQ(events[events.size() - 2].data,
            R"({"id": "chatcmpl-standin-000001", "object": "chat.completion.chunk", "created": 1700000000, )"
            R"("model": "m1", "system_fingerprint": "fp_standin", "choices": [], )"
            R"("usage": {"prompt_tokens": 17, "completion_tokens": 3, "total_tokens": 20}})");
}

TEST_F(StandInTest, ResponsesJson) {
  json j = post_json("/v1/responses", R"({"model":"gpt-5","input":"hi"})");
  EXPECT_EQ(j["id"], "resp_standin_000001");
  EXPECT_EQ(j["object"], "response");
  EXPECT_EQ(j["status"], "completed");
  EXPECT_EQ(j["created_at"], 1700000000);
  EXPECT_EQ(j["output"][0]["content"][0]["text"], "hello there  world");
  EXPECT_EQ(j["usage"]["output_tokens"], 3);
}

TEST_F(StandInTest, ResponsesStream) {
  auto events = post_sse("/v1/responses", R"({"model":"gpt-5","stream":true})");
  ASSERT_GE(events.size(), 9u);
  EXPECT_EQ(events.front().name, "response.created");
  EXPECT_EQ(events.back().name, "response.completed");
  std::string text;
  for (size_t i = 0; i < events.size(); ++i) {
    json d = json::parse(events[i].data);
    EXPECT_EQ(d["type"], events[i].name);
    EXPECT_EQ(d["sequence_number"], i);
    if (events[i].name == "response.output_text.delta") text += d["delta"].get<std::string>();
  }
  EXPECT_EQ(text, "hello there  world");
  json created = json::parse(events.front().data)["response"];
  EXPECT_EQ(created["status"], "in_progress");
  EXPECT_TRUE(created["output"].empty());
  EXPECT_TRUE(created["usage"].is_null());
  json done = json::parse(events.back().data)["response"];
  EXPECT_EQ(done["output"][0]["content"][0]["text"], "hello there  world");
}

TEST_F(StandInTest, GeminiGenerateContent) {
  json j = post_json("/v1beta/models/gemini-test:generateContent", R"({"contents":[]})");
  EXPECT_EQ(j["candidates"][0]["content"]["parts"][0]["text"], "hello there  world");
  EXPECT_EQ(j["candidates"][0]["finishReason"], "STOP");
  EXPECT_EQ(j["modelVersion"], "gemini-test");  // from the URL: the body names no model
  EXPECT_EQ(j["responseId"], "standin-000001");
  EXPECT_EQ(j["usageMetadata"]["candidatesTokenCount"], 3);
}

TEST_F(StandInTest, GeminiStreamIsAJsonArrayWithoutAltSse) {
  json chunks = post_json("/v1beta/models/gemini-test:streamGenerateContent", R"({"contents":[]})");
  ASSERT_TRUE(chunks.is_array());
  ASSERT_EQ(chunks.size(), 3u);
  std::string text;
  for (const auto& c : chunks) text += c["candidates"][0]["content"]["parts"][0]["text"].get<std::string>();
  EXPECT_EQ(text, "hello there  world");
  EXPECT_FALSE(chunks[0].contains("usageMetadata"));
  EXPECT_FALSE(chunks[0]["candidates"][0].contains("finishReason"));
  EXPECT_EQ(chunks[2]["candidates"][0]["finishReason"], "STOP");
  EXPECT_EQ(chunks[2]["usageMetadata"]["totalTokenCount"], 15 / 4 + 3);
}

TEST_F(StandInTest, GeminiStreamIsServerSentEventsWithAltSse) {
  auto events = post_sse("/v1beta/models/gemini-test:streamGenerateContent?alt=sse", R"({"contents":[]})");
  ASSERT_EQ(events.size(), 3u);
  std::string text;
  for (const auto& e : events) {
    EXPECT_TRUE(e.name.empty());
    text += json::parse(e.data)["candidates"][0]["content"]["parts"][0]["text"].get<std::string>();
  }
  EXPECT_EQ(text, "hello there  world");
  EXPECT_EQ(json::parse(events.back().data)["candidates"][0]["finishReason"], "STOP");
}

TEST_F(StandInTest, RepliesAreNeverCompressedAndIdsCount) {
  RawResponse first = exchange(post("/v1/messages", "{}", "Accept-Encoding: gzip, deflate, br\r\n"));
  RawResponse second = exchange(post("/v1/messages", "{}", "Accept-Encoding: br\r\n"));
  EXPECT_FALSE(first.has_header("Content-Encoding"));
  EXPECT_EQ(json::parse(first.body)["id"], "msg_standin_000001");
  EXPECT_EQ(json::parse(first.body)["model"], "standin-model");
  EXPECT_EQ(json::parse(second.body)["id"], "msg_standin_000002");
  EXPECT_EQ(json::parse(second.body)["usage"]["input_tokens"], 1);  // max(1, 2 / 4)
}

TEST_F(StandInTest, ABodyThatIsNotJsonStillGetsAnAnswer) {
  json j = post_json("/v1/chat/completions", "not json at all");
  EXPECT_EQ(j["model"], "standin-model");
  j = post_json("/v1/chat/completions", "[1, 2]");
  EXPECT_EQ(j["model"], "standin-model");
}

// ---- 404s, recording ----------------------------------------------------------------

TEST_F(StandInTest, OtherPathsAndMethodsAre404sAndRecorded) {
  RawResponse get = exchange("GET /v1/messages HTTP/1.1\r\nHost: x\r\n\r\n");
  RawResponse unknown = exchange(post("/v2/whatever?x=1", "{}"));
  RawClient head_client(standin_->http_port());
  head_client.send("HEAD /v1/models HTTP/1.1\r\nHost: x\r\n\r\n");
  std::string head = head_client.read_head();

  EXPECT_EQ(get.status, 404);
  json error = json::parse(get.body);
  EXPECT_EQ(error["type"], "error");
  EXPECT_EQ(error["error"]["type"], "not_found_error");
  EXPECT_EQ(error["error"]["message"], "standin: no route for GET /v1/messages");
  EXPECT_EQ(unknown.status, 404);
  EXPECT_EQ(json::parse(unknown.body)["error"]["message"], "standin: no route for POST /v2/whatever");
  EXPECT_NE(head.find("HTTP/1.1 404 Not Found\r\n"), std::string::npos) << head;
  EXPECT_NE(head.find("Content-Length: "), std::string::npos) << head;

  auto reqs = standin_->requests();
  ASSERT_EQ(reqs.size(), 3u);
  EXPECT_EQ(reqs[0].method, "GET");
  EXPECT_EQ(reqs[0].status, 404);
  EXPECT_EQ(reqs[1].target, "/v2/whatever?x=1");
  EXPECT_EQ(reqs[1].status, 404);
  EXPECT_EQ(reqs[2].method, "HEAD");
  EXPECT_EQ(reqs[2].status, 404);
  for (size_t i = 0; i < reqs.size(); ++i) EXPECT_EQ(reqs[i].n, i + 1);
}

TEST_F(StandInTest, HeadersAreRecordedInTheClientsOrderAndSpelling) {
  RawClient client(standin_->http_port());
  std::string body = R"({"stream":false})";
  client.send("POST /v1/messages HTTP/1.1\r\nhost: 127.0.0.1\r\nX-Zeta: 1\r\nanthropic-version: 2023-06-01\r\n"
              "X-Api-Key: sk-test\r\nX-Zeta: 2\r\nContent-Length: " +
              std::to_string(body.size()) + "\r\n\r\n" + body);
  ASSERT_EQ(client.read_response().status, 200);
  auto reqs = standin_->requests();
  ASSERT_EQ(reqs.size(), 1u);
  const RecordedRequest& r = reqs[0];
  std::vector<std::pair<std::string, std::string>> expected = {
      {"host", "127.0.0.1"}, {"X-Zeta", "1"},    {"anthropic-version", "2023-06-01"},
      {"X-Api-Key", "sk-test"}, {"X-Zeta", "2"}, {"Content-Length", std::to_string(body.size())}};
  EXPECT_EQ(r.headers, expected);
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.target, "/v1/messages");
  EXPECT_EQ(r.http_version, "HTTP/1.1");
  EXPECT_EQ(r.client, "127.0.0.1:" + std::to_string(client.local_port()));
  EXPECT_FALSE(r.tls);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, body);
  EXPECT_GT(r.wall_ns, 0);

  // request-1.json as the Python stand-in writes it: json.dumps(indent=2),
  // a repeated header joined with ", ".
  standin_->write_records(dir_.path + "/records");
  EXPECT_EQ(read_file(dir_.path + "/records/request-1.body"), body);
  EXPECT_EQ(read_file(dir_.path + "/records/request-1.json"),
            "{\n"
            "  \"n\": 1,\n"
            "  \"method\": \"POST\",\n"
            "  \"path\": \"/v1/messages\",\n"
            "  \"http_version\": \"HTTP/1.1\",\n"
            "  \"headers\": {\n"
            "    \"host\": \"127.0.0.1\",\n"
            "    \"X-Zeta\": \"1, 2\",\n"
            "    \"anthropic-version\": \"2023-06-01\",\n"
            "    \"X-Api-Key\": \"sk-test\",\n"
            "    \"Content-Length\": \"16\"\n"
            "  },\n"
            "  \"body_length\": 16,\n"
            "  \"body_complete\": true,\n"
            "  \"chunked\": false,\n"
            "  \"tls\": false,\n"
            "  \"client\": \"127.0.0.1:" +
                std::to_string(client.local_port()) +
                "\"\n"
                "}\n");
}

TEST_F(StandInTest, KeepAliveServesTwoRequestsOnOneConnection) {
  RawClient client(standin_->http_port());
  client.send(post("/v1/messages", "{}"));
  RawResponse first = client.read_response();
  client.send(post("/v1/chat/completions", "{}"));
  RawResponse second = client.read_response();
  EXPECT_EQ(first.status, 200);
  EXPECT_EQ(second.status, 200);
  EXPECT_FALSE(first.has_header("Connection"));
  EXPECT_FALSE(first.has_header("Keep-Alive"));
  EXPECT_EQ(json::parse(second.body)["id"], "chatcmpl-standin-000002");
  auto reqs = standin_->requests();
  ASSERT_EQ(reqs.size(), 2u);
  EXPECT_EQ(reqs[0].client, reqs[1].client);

  // A stream ends the connection after its last event.
  client.send(post("/v1/messages", R"({"stream":true})"));
  RawResponse stream = client.read_response();  // read to EOF: no length
  EXPECT_EQ(parse_sse(stream.body).back().name, "message_stop");
  EXPECT_TRUE(client.at_eof());
}

TEST_F(StandInTest, HttplibClientReusesItsConnection) {
  httplib::Client cli("127.0.0.1", standin_->http_port());
  cli.set_keep_alive(true);
  for (int i = 0; i < 3; ++i) {
    auto res = cli.Post("/v1/messages", R"({"model":"m"})", "application/json");
    ASSERT_TRUE(res) << httplib::to_string(res.error());
    EXPECT_EQ(res->status, 200);
  }
  auto reqs = standin_->requests();
  ASSERT_EQ(reqs.size(), 3u);
  EXPECT_EQ(reqs[0].client, reqs[2].client);
}

TEST_F(StandInTest, PipelinedRequestsAreAnsweredInOrder) {
  RawClient client(standin_->http_port());
  client.send(post("/v1/messages", "{}") + post("/v1/responses", "{}"));
  EXPECT_EQ(json::parse(client.read_response().body)["id"], "msg_standin_000001");
  EXPECT_EQ(json::parse(client.read_response().body)["id"], "resp_standin_000002");
}

TEST_F(StandInTest, ExpectContinueIsAnsweredBeforeTheBody) {
  RawClient client(standin_->http_port());
  std::string body = R"({"model":"m"})";
  client.send("POST /v1/messages HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: " +
              std::to_string(body.size()) + "\r\n\r\n");
  EXPECT_EQ(client.read_head(), "HTTP/1.1 100 Continue\r\n\r\n");
  client.send(body);
  RawResponse r = client.read_response();
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(json::parse(r.body)["model"], "m");
}

// ---- bodies ---------------------------------------------------------------------------

TEST_F(StandInTest, AFiveMegabyteBodyIsRecordedByteForByte) {
  std::string body(5 * 1024 * 1024, '\0');
  std::mt19937 rng(42);
  for (char& c : body) c = static_cast<char>(rng());
  httplib::Client cli("127.0.0.1", standin_->http_port());
  auto res = cli.Post("/v1/messages", body, "application/octet-stream");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(json::parse(res->body)["usage"]["input_tokens"], body.size() / 4);
  auto reqs = standin_->requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_TRUE(reqs[0].body == body) << "the recorded body differs from what was sent";
  EXPECT_TRUE(reqs[0].body_complete);
  standin_->write_records(dir_.path + "/records");
  EXPECT_TRUE(read_file(dir_.path + "/records/request-1.body") == body);
}

TEST_F(StandInTest, AChunkedUploadIsRecordedDechunked) {
  RawClient client(standin_->http_port());
  client.send("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
              "5\r\n{\"mod\r\n"
              "a;ext=1\r\nel\":\"chunk\r\n"
              "2\r\n\"}\r\n"
              "0\r\nX-Trailer: t\r\n\r\n");
  RawResponse r = client.read_response();
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(json::parse(r.body)["model"], "chunk");
  auto reqs = standin_->requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].body, R"({"model":"chunk"})");
  EXPECT_TRUE(reqs[0].chunked);
  EXPECT_TRUE(reqs[0].body_complete);
  // The connection carries on after a chunked request.
  client.send(post("/v1/messages", "{}"));
  EXPECT_EQ(client.read_response().status, 200);
}

TEST_F(StandInTest, ABodyCutShortIsRecordedAndNotAnswered) {
  RawClient client(standin_->http_port());
  client.send("POST /v1/messages HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789");
  client.shutdown_write();
  RawResponse r = client.read_response();
  EXPECT_EQ(r.status, 0) << "a reply was sent: " << r.body;
  auto reqs = standin_->requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].body, "0123456789");
  EXPECT_FALSE(reqs[0].body_complete);
  EXPECT_EQ(reqs[0].status, 0);
}

TEST_F(StandInTest, ABodyLargerThanTheLimitIsRefused) {
  RawClient client(standin_->http_port());
  client.send("POST /v1/messages HTTP/1.1\r\nHost: x\r\nContent-Length: 268435457\r\n\r\n{}");
  EXPECT_EQ(client.read_response().status, 0);
  auto reqs = standin_->requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_FALSE(reqs[0].body_complete);
  EXPECT_TRUE(reqs[0].body.empty());
}

TEST_F(StandInTest, AMethodHttpServerDoesNotKnowIsNeitherAnsweredNorRecorded) {
  RawResponse r = exchange("TRACE / HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(r.status, 501);
  EXPECT_TRUE(standin_->requests().empty());
  // The next request still gets number 1.
  EXPECT_EQ(json::parse(exchange(post("/v1/messages", "{}")).body)["id"], "msg_standin_000001");
}

// ---- https ------------------------------------------------------------------------------

TEST_F(StandInTest, HttpsIsVerifiedWithTheGeneratedCertificate) {
  for (const char* host : {"127.0.0.1", "localhost"}) {
    httplib::SSLClient cli(host, standin_->https_port());
    cli.enable_server_certificate_verification(true);
    cli.set_ca_cert_path(standin_->cert_path().c_str());
    auto res = cli.Post("/v1/messages", R"({"model":"tls"})", "application/json");
    ASSERT_TRUE(res) << host << ": " << httplib::to_string(res.error()) << " (verify result "
                     << cli.get_openssl_verify_result() << ")";
    EXPECT_EQ(res->status, 200);
    EXPECT_EQ(json::parse(res->body)["model"], "tls");
  }
  auto reqs = standin_->requests();
  ASSERT_EQ(reqs.size(), 2u);
  EXPECT_TRUE(reqs[0].tls);
  EXPECT_EQ(reqs[0].body, R"({"model":"tls"})");

  // A stream over TLS ends cleanly too.
  httplib::SSLClient cli("127.0.0.1", standin_->https_port());
  cli.enable_server_certificate_verification(true);
  cli.set_ca_cert_path(standin_->cert_path().c_str());
  auto res = cli.Post("/v1/chat/completions", R"({"stream":true})", "application/json");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(parse_sse(res->body).back().data, "[DONE]");
}

TEST_F(StandInTest, HttpsFailsWithoutTrustingTheCertificate) {
  httplib::SSLClient cli("127.0.0.1", standin_->https_port());
  cli.enable_server_certificate_verification(true);  // the system's trust store only
  auto res = cli.Post("/v1/messages", "{}", "application/json");
  EXPECT_FALSE(res);
  EXPECT_EQ(res.error(), httplib::Error::SSLServerVerification);
  // The failed handshake is no request.
  EXPECT_TRUE(standin_->requests().empty());
  // The server carries on.
  httplib::SSLClient trusting("127.0.0.1", standin_->https_port());
  trusting.enable_server_certificate_verification(true);
  trusting.set_ca_cert_path(standin_->cert_path().c_str());
  auto ok = trusting.Post("/v1/messages", "{}", "application/json");
  ASSERT_TRUE(ok) << httplib::to_string(ok.error());
  EXPECT_EQ(ok->status, 200);
}

TEST_F(StandInTest, HttpsNamesTheCallersHosts) {
  standin_.reset();
  StandInOptions options;
  options.host_names = {"api.anthropic.com"};
  options.cert_dir = dir_.path + "/cert2";
  standin_ = std::make_unique<StandIn>(options);
  standin_->bind("127.0.0.1", 0, 0);
  standin_->start();
  // Connect to 127.0.0.1 but verify the name an agent would use.
  httplib::SSLClient cli("api.anthropic.com", standin_->https_port());
  cli.set_hostname_addr_map({{"api.anthropic.com", "127.0.0.1"}});
  cli.enable_server_certificate_verification(true);
  cli.set_ca_cert_path(standin_->cert_path().c_str());
  auto res = cli.Post("/v1/messages", "{}", "application/json");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 200);
}

// ---- lifecycle --------------------------------------------------------------------------

TEST_F(StandInTest, StopEndsIdleKeepAliveConnectionsPromptly) {
  RawClient client(standin_->http_port());
  client.send(post("/v1/messages", "{}"));
  ASSERT_EQ(client.read_response().status, 200);
  auto begin = std::chrono::steady_clock::now();
  standin_->stop();
  standin_->stop();  // idempotent
  auto took = std::chrono::steady_clock::now() - begin;
  EXPECT_LT(took, std::chrono::seconds(2));
  EXPECT_TRUE(client.at_eof());
  RawClient late(standin_->http_port());
  EXPECT_FALSE(late.connected());
}

TEST(StandInLifecycle, StartNeedsBindAndSigpipeIsLeftAlone) {
  struct sigaction before {};
  sigaction(SIGPIPE, nullptr, &before);
  TempDir dir;
  StandInOptions options;
  options.cert_dir = dir.path;
  StandIn standin(options);
  EXPECT_THROW(standin.start(), Error);
  standin.bind("127.0.0.1", 0, 0);
  EXPECT_GT(standin.http_port(), 0);
  EXPECT_GT(standin.https_port(), 0);
  EXPECT_NE(standin.http_port(), standin.https_port());
  EXPECT_THROW(standin.bind("127.0.0.1", 0, 0), Error);
  struct sigaction after {};
  sigaction(SIGPIPE, nullptr, &after);
  EXPECT_EQ(after.sa_handler, before.sa_handler) << "httplib::Server's constructor changed SIGPIPE";
  // Stopping a server that never started closes its sockets.
  int port = standin.http_port();
  standin.stop();
  RawClient client(port);
  EXPECT_FALSE(client.connected());
}

TEST(StandInLifecycle, APortInUseIsAnError) {
  TempDir dir;
  StandInOptions options;
  options.cert_dir = dir.path;
  StandIn first(options);
  first.bind("127.0.0.1", 0, 0);
  StandIn second(options);
  try {
    second.bind("127.0.0.1", first.http_port(), 0);
    FAIL() << "a second server bound the same port";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("127.0.0.1:" + std::to_string(first.http_port())), std::string::npos)
        << e.what();
  }
}

TEST(StandInLifecycle, WithoutACertDirTheCertificateLivesAsLongAsTheStandIn) {
  std::string cert;
  {
    StandIn standin(StandInOptions{});
    cert = standin.cert_path();
    EXPECT_TRUE(fs::exists(cert));
    // The directory holds the certificate and nothing else: the key is in memory.
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(fs::path(cert).parent_path())) names.push_back(e.path().filename());
    EXPECT_EQ(names, std::vector<std::string>{"cert.pem"});
    EXPECT_EQ(fs::path(cert).parent_path().filename().string().rfind(standin_dir_prefix() + "-", 0), 0u) << cert;
  }
  EXPECT_FALSE(fs::exists(cert));
  EXPECT_FALSE(fs::exists(fs::path(cert).parent_path()));
}

// ---- text pieces and the certificate ----------------------------------------------------

TEST(StandInText, PiecesAreWordsWithTheirTrailingSpace) {
  EXPECT_EQ(text_pieces(""), std::vector<std::string>{""});
  EXPECT_EQ(text_pieces("hi"), std::vector<std::string>{"hi"});
  EXPECT_EQ(text_pieces(" hello  world \n"), (std::vector<std::string>{" ", "hello  ", "world \n"}));
  // Python's \s is Unicode whitespace: NO-BREAK SPACE and IDEOGRAPHIC SPACE count.
  EXPECT_EQ(text_pieces("a\u00a0b\u3000c"), (std::vector<std::string>{"a\u00a0", "b\u3000", "c"}));
  EXPECT_EQ(text_pieces("\u00e9t\u00e9 \U0001F600"), (std::vector<std::string>{"\u00e9t\u00e9 ", "\U0001F600"}));
}

struct X509Deleter {
  void operator()(X509* x) const { X509_free(x); }
};

std::unique_ptr<X509, X509Deleter> parse_pem(const std::string& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  X509* x = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  return std::unique_ptr<X509, X509Deleter>(x);
}

TEST(StandInCertificate, NamesExtensionsAndValidity) {
  Certificate c = make_self_signed_certificate({"api.anthropic.com", "API.OpenAI.com", "10.1.2.3", "localhost"});
  auto x = parse_pem(c.cert_pem);
  ASSERT_TRUE(x);
  for (const char* host : {"localhost", "api.anthropic.com", "api.openai.com"}) {
    EXPECT_EQ(X509_check_host(x.get(), host, 0, 0, nullptr), 1) << host;
  }
  EXPECT_NE(X509_check_host(x.get(), "example.com", 0, 0, nullptr), 1);
  for (const char* ip : {"127.0.0.1", "::1", "10.1.2.3"}) EXPECT_EQ(X509_check_ip_asc(x.get(), ip, 0), 1) << ip;
  EXPECT_EQ(X509_get_version(x.get()), X509_VERSION_3);
  EXPECT_EQ(X509_check_ca(x.get()), 1);
  EXPECT_EQ(X509_check_purpose(x.get(), X509_PURPOSE_SSL_SERVER, 0), 1);
  uint32_t ku = X509_get_key_usage(x.get());
  EXPECT_TRUE(ku & KU_DIGITAL_SIGNATURE);
  EXPECT_TRUE(ku & KU_KEY_ENCIPHERMENT);
  EXPECT_TRUE(ku & KU_KEY_CERT_SIGN);
  EXPECT_TRUE(X509_get_extended_key_usage(x.get()) & XKU_SSL_SERVER);
  EXPECT_NE(X509_get0_subject_key_id(x.get()), nullptr);
  EXPECT_NE(X509_get0_authority_key_id(x.get()), nullptr);
  EVP_PKEY* key = X509_get0_pubkey(x.get());
  ASSERT_NE(key, nullptr);
  EXPECT_EQ(EVP_PKEY_get_base_id(key), EVP_PKEY_EC);
  EXPECT_EQ(EVP_PKEY_get_bits(key), 256);
  EXPECT_EQ(X509_verify(x.get(), key), 1);

  int days = 0, secs = 0;
  ASSERT_EQ(ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(x.get()), nullptr), 1);
  int64_t before = int64_t{days} * 86400 + secs;  // notBefore until now
  EXPECT_GE(before, 3600 - 60);
  EXPECT_LE(before, 3600 + 60);
  ASSERT_EQ(ASN1_TIME_diff(&days, &secs, nullptr, X509_get0_notAfter(x.get())), 1);
  int64_t after = int64_t{days} * 86400 + secs;
  EXPECT_NEAR(static_cast<double>(after), 12.0 * 3600, 120.0);  // hours, not days

  // Its own trust anchor, under the strict checks Python 3.13 turns on.
  X509_STORE* store = X509_STORE_new();
  X509_STORE_add_cert(store, x.get());
  X509_STORE_CTX* ctx = X509_STORE_CTX_new();
  X509_STORE_CTX_init(ctx, store, x.get(), nullptr);
  X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_SERVER);
  X509_VERIFY_PARAM_set_flags(X509_STORE_CTX_get0_param(ctx), X509_V_FLAG_X509_STRICT);
  X509_VERIFY_PARAM_set1_host(X509_STORE_CTX_get0_param(ctx), "api.anthropic.com", 0);
  EXPECT_EQ(X509_verify_cert(ctx), 1) << X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx));
  X509_STORE_CTX_free(ctx);
  X509_STORE_free(store);

  EXPECT_NE(c.key_pem.find("-----BEGIN PRIVATE KEY-----"), std::string::npos);
}

TEST(StandInCertificate, FilesAndModes) {
  TempDir dir;
  Certificate c = make_self_signed_certificate({});
  CertificateFiles files = write_certificate(c, dir.path + "/new/sub");
  EXPECT_EQ(read_file(files.cert_path), c.cert_pem);
  EXPECT_FALSE(fs::exists(dir.path + "/new/sub/key.pem"));  // the key is never written
  struct stat st {};
  ASSERT_EQ(stat(files.cert_path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0644u);
  // Two certificates never share a serial number.
  auto a = parse_pem(c.cert_pem);
  auto b = parse_pem(make_self_signed_certificate({}).cert_pem);
  EXPECT_NE(ASN1_INTEGER_cmp(X509_get0_serialNumber(a.get()), X509_get0_serialNumber(b.get())), 0);
}

// The certificate is a CA the agent trusts: its nameConstraints keep a leaf
// issued with its key (were the key stolen) from vouching for other sites.
std::string constraints_text(X509* x) {
  int crit = -1;
  auto* nc = static_cast<NAME_CONSTRAINTS*>(X509_get_ext_d2i(x, NID_name_constraints, &crit, nullptr));
  if (!nc) return "";
  BIO* bio = BIO_new(BIO_s_mem());
  X509V3_EXT_print(bio, X509_get_ext(x, X509_get_ext_by_NID(x, NID_name_constraints, -1)), 0, 0);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  std::string out = (crit == 1 ? "critical\n" : "") + std::string(data, static_cast<size_t>(n));
  BIO_free(bio);
  NAME_CONSTRAINTS_free(nc);
  return out;
}

struct PkeyDeleter {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};

// A leaf for `name` signed with the stand-in's key, as a thief could make it.
std::unique_ptr<X509, X509Deleter> issue_leaf(X509* ca, EVP_PKEY* ca_key, const std::string& name) {
  std::unique_ptr<EVP_PKEY, PkeyDeleter> key(EVP_EC_gen("P-256"));
  std::unique_ptr<X509, X509Deleter> leaf(X509_new());
  X509_set_version(leaf.get(), X509_VERSION_3);
  ASN1_INTEGER_set(X509_get_serialNumber(leaf.get()), 7);
  X509_gmtime_adj(X509_getm_notBefore(leaf.get()), -60);
  X509_gmtime_adj(X509_getm_notAfter(leaf.get()), 3600);
  X509_set_pubkey(leaf.get(), key.get());
  X509_NAME_add_entry_by_txt(X509_get_subject_name(leaf.get()), "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(name.c_str()), -1, -1, 0);
  X509_set_issuer_name(leaf.get(), X509_get_subject_name(ca));
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, ca, leaf.get(), nullptr, nullptr, 0);
  X509_EXTENSION* san = X509V3_EXT_conf_nid(nullptr, &ctx, NID_subject_alt_name, ("DNS:" + name).c_str());
  X509_add_ext(leaf.get(), san, -1);
  X509_EXTENSION_free(san);
  X509_sign(leaf.get(), ca_key, EVP_sha256());
  return leaf;
}

int verify_leaf(X509* ca, X509* leaf, const std::string& host) {
  X509_STORE* store = X509_STORE_new();
  X509_STORE_add_cert(store, ca);
  X509_STORE_CTX* ctx = X509_STORE_CTX_new();
  X509_STORE_CTX_init(ctx, store, leaf, nullptr);
  X509_VERIFY_PARAM_set1_host(X509_STORE_CTX_get0_param(ctx), host.c_str(), 0);
  int err = X509_verify_cert(ctx) == 1 ? X509_V_OK : X509_STORE_CTX_get_error(ctx);
  X509_STORE_CTX_free(ctx);
  X509_STORE_free(store);
  return err;
}

TEST(StandInCertificate, NameConstraintsPermitOnlyTheNamesItServes) {
  Certificate c = make_self_signed_certificate({"api.anthropic.com", "10.1.2.3", "*.example.org", "::2"});
  auto ca = parse_pem(c.cert_pem);
  ASSERT_TRUE(ca);
  EXPECT_EQ(constraints_text(ca.get()),
            "critical\n"
            "Permitted:\n"
            "  DNS:localhost\n"
            "  IP:127.0.0.0/255.0.0.0\n"
            "  IP:0:0:0:0:0:0:0:1/FFFF:FFFF:FFFF:FFFF:FFFF:FFFF:FFFF:FFFF\n"
            "  DNS:api.anthropic.com\n"
            "  IP:10.1.2.3/255.255.255.255\n"
            "  DNS:example.org\n"
            "  IP:0:0:0:0:0:0:0:2/FFFF:FFFF:FFFF:FFFF:FFFF:FFFF:FFFF:FFFF");
  BIO* bio = BIO_new_mem_buf(c.key_pem.data(), static_cast<int>(c.key_pem.size()));
  std::unique_ptr<EVP_PKEY, PkeyDeleter> key(PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr));
  BIO_free(bio);
  ASSERT_TRUE(key);
  // A name it serves verifies; any other is refused by the constraints.
  EXPECT_EQ(verify_leaf(ca.get(), issue_leaf(ca.get(), key.get(), "api.anthropic.com").get(), "api.anthropic.com"),
            X509_V_OK);
  EXPECT_EQ(verify_leaf(ca.get(), issue_leaf(ca.get(), key.get(), "www.example.org").get(), "www.example.org"),
            X509_V_OK);
  EXPECT_EQ(verify_leaf(ca.get(), issue_leaf(ca.get(), key.get(), "www.bank.example").get(), "www.bank.example"),
            X509_V_ERR_PERMITTED_VIOLATION);
  EXPECT_EQ(verify_leaf(ca.get(), issue_leaf(ca.get(), key.get(), "api.openai.com").get(), "api.openai.com"),
            X509_V_ERR_PERMITTED_VIOLATION);
}

// A SIGKILLed agenttrace cannot clean up: the next stand-in removes what it
// left (directories named with a pid that no longer runs), and nothing else.
TEST(StandInCertificate, StaleDirectoriesOfDeadProcessesAreRemoved) {
  TempDir dir;
  pid_t dead = fork();
  ASSERT_GE(dead, 0);
  if (dead == 0) _exit(0);
  ASSERT_EQ(waitpid(dead, nullptr, 0), dead);
  const std::string stale = dir.path + "/agenttrace-standin-" + std::to_string(dead) + "-AbC123";
  const std::string live = dir.path + "/" + standin_dir_prefix() + "-XyZ789";
  const std::string init = dir.path + "/agenttrace-standin-1-Q1w2E3";  // pid 1 runs
  const std::string other = dir.path + "/agenttrace-standin-notapid";
  const std::string link = dir.path + "/agenttrace-standin-" + std::to_string(dead) + "-link";
  for (const auto& d : {stale, live, init, other}) {
    fs::create_directory(d);
    std::ofstream(d + "/cert.pem") << "x";
  }
  std::ofstream(stale + "/key.pem") << "an older version's key";
  fs::create_directory(dir.path + "/target");
  fs::create_directory_symlink(dir.path + "/target", link);
  EXPECT_EQ(remove_stale_standin_dirs(dir.path), 1u);
  EXPECT_FALSE(fs::exists(stale));
  EXPECT_TRUE(fs::exists(live + "/cert.pem"));
  EXPECT_TRUE(fs::exists(init + "/cert.pem"));
  EXPECT_TRUE(fs::exists(other + "/cert.pem"));
  EXPECT_TRUE(fs::is_symlink(link));
  EXPECT_TRUE(fs::exists(dir.path + "/target"));
  EXPECT_EQ(remove_stale_standin_dirs(dir.path), 0u);
}

TEST(StandInCertificate, ANameThatIsNoHostNameIsAnError) {
  EXPECT_THROW(make_self_signed_certificate({"bad name"}), Error);
  EXPECT_THROW(make_self_signed_certificate({"a,DNS:evil.com"}), Error);
  EXPECT_THROW(make_self_signed_certificate({""}), Error);
  EXPECT_NO_THROW(make_self_signed_certificate({"*.example.com", "[::2]"}));
}

}  // namespace
}  // namespace agenttrace::sandbox
