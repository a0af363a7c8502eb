// How this uses cpp-httplib (Debian's libcpp-httplib 0.11.4, a compiled
// library): httplib parses request lines and headers, and writes responses,
// but the connection around them is ours. Listener overrides the server's
// per-connection hook, so the accepted socket is served by our loop with our
// Stream (Connection): that is how we
//   - see the request head's raw bytes (httplib keeps headers in a
//     case-insensitive sorted map, losing the client's order),
//   - read bodies the way the Python stand-in does (Content-Length on any
//     method, chunked de-chunked, no Content-Encoding decoding, a 256 MiB cap,
//     no read-until-EOF for a POST without a length),
//   - terminate TLS ourselves, in the connection's worker thread,
//   - close the connection after a stream (httplib would keep it open and
//     the client would wait for EOF until the keep-alive timeout),
//   - end idle keep-alive connections promptly on stop().
// The whole answer is produced in the pre-routing handler, before httplib
// would read a body itself.
#include "sandbox/standin.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <httplib.h>
#include <nlohmann/json.hpp>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <string_view>
#include <thread>

#include "common/error.h"
#include "common/output_file.h"
#include "common/unique_fd.h"
#include "sandbox/certificate.h"

namespace agenttrace::sandbox {
namespace {

using Json = nlohmann::ordered_json;

// A fixed creation time keeps replies byte-for-byte reproducible.
constexpr int64_t kCreated = 1700000000;
// Refuse absurd uploads rather than buffering them in memory.
constexpr size_t kMaxBody = size_t{256} * 1024 * 1024;
// Bounds every read and write of a connection (and a TLS handshake), like the
// Python stand-in's socket timeout.
constexpr int kIoTimeoutSec = 10;
// An idle keep-alive connection is closed after this long.
constexpr int kIdleTimeoutMs = 10'000;
// How often a waiting connection checks whether the server is stopping.
constexpr int kStopPollMs = 100;
// Worker threads per server; each serves one connection at a time.
constexpr size_t kThreadsPerServer = 4;
// Longest chunk-size or trailer line read, like Python's readline(1024).
constexpr size_t kMaxChunkLine = 1024;

int64_t wall_ns() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

int64_t mono_ms() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1000 + ts.tv_nsec / 1'000'000;
}

std::string ascii_lower(std::string s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return s;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

std::string trim_ascii(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && (s[b] == ' ' || s[b] == '\t' || s[b] == '\r' || s[b] == '\n' || s[b] == '\f' || s[b] == '\v')) ++b;
  while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t' || s[e - 1] == '\r' || s[e - 1] == '\n' || s[e - 1] == '\f' ||
                   s[e - 1] == '\v')) {
    --e;
  }
  return std::string(s.substr(b, e - b));
}

// ---- Python compatibility -----------------------------------------------------

// Decodes one UTF-8 sequence at s[i]; *len gets its length. Bytes that are not
// valid UTF-8 decode to themselves (as Latin-1), one at a time.
uint32_t decode_utf8(std::string_view s, size_t i, size_t* len) {
  auto b = static_cast<unsigned char>(s[i]);
  *len = 1;
  if (b < 0x80) return b;
  size_t n = b >= 0xf5 ? 0 : b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc2 ? 2 : 0;
  if (n == 0 || i + n > s.size()) return b;
  uint32_t cp = b & (0x7f >> n);
  for (size_t k = 1; k < n; ++k) {
    auto c = static_cast<unsigned char>(s[i + k]);
    if ((c & 0xc0) != 0x80) return b;
    cp = (cp << 6) | (c & 0x3f);
  }
  if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp < 0xe000))) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff))) {
    return b;
  }
  *len = n;
  return cp;
}

std::string latin1_to_utf8(std::string_view s) {
  std::string out;
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if (c < 0x80) {
      out += ch;
    } else {
      out += static_cast<char>(0xc0 | (c >> 6));
      out += static_cast<char>(0x80 | (c & 0x3f));
    }
  }
  return out;
}

// str.isspace(), which is what \s matches in a Python str pattern.
bool py_isspace(uint32_t cp) {
  return (cp >= 0x09 && cp <= 0x0d) || (cp >= 0x1c && cp <= 0x20) || cp == 0x85 || cp == 0xa0 || cp == 0x1680 ||
         (cp >= 0x2000 && cp <= 0x200a) || cp == 0x2028 || cp == 0x2029 || cp == 0x202f || cp == 0x205f ||
         cp == 0x3000;
}

// A JSON string as Python's json.dumps writes it (ensure_ascii): the short
// escapes, \u00XX for other control characters and everything from DEL up,
// surrogate pairs above the BMP. `latin1`: the bytes are code points (how
// Python's http.server decodes request lines and headers), else UTF-8.
void append_py_string(std::string& out, std::string_view s, bool latin1) {
  out += '"';
  char buf[16];
  for (size_t i = 0; i < s.size();) {
    size_t len = 1;
    uint32_t cp = latin1 ? static_cast<unsigned char>(s[i]) : decode_utf8(s, i, &len);
    i += len;
    switch (cp) {
      case '"': out += "\\\""; continue;
      case '\\': out += "\\\\"; continue;
      case '\b': out += "\\b"; continue;
      case '\f': out += "\\f"; continue;
      case '\n': out += "\\n"; continue;
      case '\r': out += "\\r"; continue;
      case '\t': out += "\\t"; continue;
      default: break;
    }
    if (cp >= 0x20 && cp < 0x7f) {
      out += static_cast<char>(cp);
    } else if (cp < 0x10000) {
      std::snprintf(buf, sizeof buf, "\\u%04x", cp);
      out += buf;
    } else {
      uint32_t v = cp - 0x10000;
      std::snprintf(buf, sizeof buf, "\\u%04x\\u%04x", 0xd800 + (v >> 10), 0xdc00 + (v & 0x3ff));
      out += buf;
    }
  }
  out += '"';
}

// json.dumps(value) (indent < 0: separators ", " and ": ") or
// json.dumps(value, indent=N), keys in insertion order.
void append_py_json(std::string& out, const Json& j, int indent, int level) {
  auto newline = [&](int lvl) {
    out += '\n';
    out.append(static_cast<size_t>(indent * lvl), ' ');
  };
  switch (j.type()) {
    case Json::value_t::null: out += "null"; return;
    case Json::value_t::boolean: out += j.get<bool>() ? "true" : "false"; return;
    case Json::value_t::number_integer: out += std::to_string(j.get<int64_t>()); return;
    case Json::value_t::number_unsigned: out += std::to_string(j.get<uint64_t>()); return;
    case Json::value_t::string: append_py_string(out, j.get_ref<const std::string&>(), false); return;
    case Json::value_t::array: {
      if (j.empty()) {
        out += "[]";
        return;
      }
      out += '[';
      bool first = true;
      for (const auto& item : j) {
        if (!first) out += indent < 0 ? ", " : ",";
        if (indent >= 0) newline(level + 1);
        append_py_json(out, item, indent, level + 1);
        first = false;
      }
      if (indent >= 0) newline(level);
      out += ']';
      return;
    }
    case Json::value_t::object: {
      if (j.empty()) {
        out += "{}";
        return;
      }
      out += '{';
      bool first = true;
      for (const auto& [key, item] : j.items()) {
        if (!first) out += indent < 0 ? ", " : ",";
        if (indent >= 0) newline(level + 1);
        append_py_string(out, key, false);
        out += ": ";
        append_py_json(out, item, indent, level + 1);
        first = false;
      }
      if (indent >= 0) newline(level);
      out += '}';
      return;
    }
    default:
      // Floats and binary never occur in the replies; nlohmann's spelling is
      // close enough should one appear.
      out += j.dump();
      return;
  }
}

std::string py_dumps(const Json& j) {
  std::string out;
  append_py_json(out, j, -1, 0);
  return out;
}

// Python truthiness of a JSON value.
bool truthy(const Json& j) {
  switch (j.type()) {
    case Json::value_t::null: return false;
    case Json::value_t::boolean: return j.get<bool>();
    case Json::value_t::number_integer: return j.get<int64_t>() != 0;
    case Json::value_t::number_unsigned: return j.get<uint64_t>() != 0;
    case Json::value_t::number_float: return j.get<double>() != 0.0;
    case Json::value_t::string:
    case Json::value_t::array:
    case Json::value_t::object: return !j.empty();
    default: return true;
  }
}

// str(value) for the model name; exact for strings, integers and booleans,
// which is what clients send.
std::string py_str(const Json& j) {
  if (j.is_string()) return j.get<std::string>();
  if (j.is_boolean()) return j.get<bool>() ? "True" : "False";
  if (j.is_number_integer()) return j.dump();
  return j.dump();
}

// The request-N.json bytes: json.dumps(meta, indent=2) + "\n".
std::string record_json(const RecordedRequest& r, const std::string& path) {
  // Python's dict: a repeated header (same spelling) is joined with ", " at
  // the place it first appeared.
  std::vector<std::pair<std::string, std::string>> headers;
  for (const auto& [name, value] : r.headers) {
    auto it = std::find_if(headers.begin(), headers.end(), [&](const auto& h) { return h.first == name; });
    if (it == headers.end()) {
      headers.emplace_back(name, value);
    } else {
      it->second += ", " + value;
    }
  }
  std::string out = "{\n  \"n\": " + std::to_string(r.n) + ",\n  \"method\": ";
  append_py_string(out, r.method, true);
  out += ",\n  \"path\": ";
  append_py_string(out, path, true);
  out += ",\n  \"http_version\": ";
  append_py_string(out, r.http_version, true);
  out += ",\n  \"headers\": ";
  if (headers.empty()) {
    out += "{}";
  } else {
    out += "{";
    for (size_t i = 0; i < headers.size(); ++i) {
      out += i ? ",\n    " : "\n    ";
      append_py_string(out, headers[i].first, true);
      out += ": ";
      append_py_string(out, headers[i].second, true);
    }
    out += "\n  }";
  }
  out += ",\n  \"body_length\": " + std::to_string(r.body.size());
  out += std::string(",\n  \"body_complete\": ") + (r.body_complete ? "true" : "false");
  out += std::string(",\n  \"chunked\": ") + (r.chunked ? "true" : "false");
  out += std::string(",\n  \"tls\": ") + (r.tls ? "true" : "false");
  out += ",\n  \"client\": ";
  append_py_string(out, r.client, true);
  out += "\n}\n";
  return out;
}

// ---- URLs, as http.server and urllib.parse see them -------------------------

// http.server rewrites a path starting with "//" (gh-87389).
std::string python_path(const std::string& target) {
  if (target.rfind("//", 0) != 0) return target;
  size_t i = target.find_first_not_of('/');
  return "/" + (i == std::string::npos ? std::string() : target.substr(i));
}

struct UrlParts {
  std::string path;
  std::string query;
};

// urllib.parse.urlsplit, for the parts routing needs.
UrlParts url_split(std::string url) {
  size_t colon = url.find(':');
  if (colon != std::string::npos && colon > 0 && std::isalpha(static_cast<unsigned char>(url[0]))) {
    bool scheme = true;
    for (size_t i = 0; i < colon; ++i) {
      char c = url[i];
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '+' && c != '-' && c != '.') scheme = false;
    }
    if (scheme) url = url.substr(colon + 1);
  }
  if (url.rfind("//", 0) == 0) {
    size_t end = url.find_first_of("/?#", 2);
    url = end == std::string::npos ? std::string() : url.substr(end);
  }
  if (size_t hash = url.find('#'); hash != std::string::npos) url.resize(hash);
  UrlParts parts;
  if (size_t q = url.find('?'); q != std::string::npos) {
    parts.query = url.substr(q + 1);
    url.resize(q);
  }
  parts.path = url;
  return parts;
}

std::string percent_decode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '+') {
      out += ' ';
    } else if (c == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
               std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      out += c;
    }
  }
  return out;
}

// parse_qs(query).get(name): values with a non-empty raw value, in order.
std::vector<std::string> query_values(const std::string& query, const std::string& name) {
  std::vector<std::string> values;
  size_t start = 0;
  while (start <= query.size()) {
    size_t end = query.find('&', start);
    if (end == std::string::npos) end = query.size();
    std::string_view field(query.data() + start, end - start);
    size_t eq = field.find('=');
    if (eq != std::string_view::npos && eq + 1 < field.size() && percent_decode(field.substr(0, eq)) == name) {
      values.push_back(percent_decode(field.substr(eq + 1)));
    }
    start = end + 1;
  }
  return values;
}

// ---- reply shapes (samples/net/standin.py) ----------------------------------

struct ReplyContext {
  uint64_t n = 0;
  std::string text;
  std::vector<std::string> pieces;
  std::string model;
  int64_t in_tokens = 0;
  int64_t out_tokens = 0;
  bool stream = false;
  Json req;
};

std::string id6(uint64_t n) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%06llu", static_cast<unsigned long long>(n));
  return buf;
}

Json text_block(const std::string& type, const std::string& text) {
  Json j = Json::object();
  j["type"] = type;
  j["text"] = text;
  return j;
}

Json anthropic_reply(const ReplyContext& c) {
  Json usage = Json::object();
  usage["input_tokens"] = c.in_tokens;
  usage["output_tokens"] = c.out_tokens;
  usage["cache_creation_input_tokens"] = 0;
  usage["cache_read_input_tokens"] = 0;
  Json j = Json::object();
  j["id"] = "msg_standin_" + id6(c.n);
  j["type"] = "message";
  j["role"] = "assistant";
  j["model"] = c.model;
  j["content"] = Json::array({text_block("text", c.text)});
  j["stop_reason"] = "end_turn";
  j["stop_sequence"] = nullptr;
  j["usage"] = usage;
  return j;
}

struct SseEvent {
  std::string name;  // empty: no "event:" line
  std::string data;  // the data line's payload, already serialised
};

SseEvent event(const std::string& name, const Json& data) { return {name, py_dumps(data)}; }

std::vector<SseEvent> anthropic_stream(const ReplyContext& c) {
  Json start = anthropic_reply(c);
  start["content"] = Json::array();
  start["stop_reason"] = nullptr;
  start["usage"]["output_tokens"] = 1;
  std::vector<SseEvent> ev;
  Json j = Json::object();
  j["type"] = "message_start";
  j["message"] = start;
  ev.push_back(event("message_start", j));
  j = Json::object();
  j["type"] = "content_block_start";
  j["index"] = 0;
  j["content_block"] = text_block("text", "");
  ev.push_back(event("content_block_start", j));
  j = Json::object();
  j["type"] = "ping";
  ev.push_back(event("ping", j));
  for (const auto& piece : c.pieces) {
    j = Json::object();
    j["type"] = "content_block_delta";
    j["index"] = 0;
    j["delta"] = text_block("text_delta", piece);
    ev.push_back(event("content_block_delta", j));
  }
  j = Json::object();
  j["type"] = "content_block_stop";
  j["index"] = 0;
  ev.push_back(event("content_block_stop", j));
  Json delta = Json::object();
  delta["stop_reason"] = "end_turn";
  delta["stop_sequence"] = nullptr;
  Json usage = Json::object();
  usage["output_tokens"] = c.out_tokens;
  j = Json::object();
  j["type"] = "message_delta";
  j["delta"] = delta;
  j["usage"] = usage;
  ev.push_back(event("message_delta", j));
  j = Json::object();
  j["type"] = "message_stop";
  ev.push_back(event("message_stop", j));
  return ev;
}

Json chat_usage(const ReplyContext& c) {
  Json j = Json::object();
  j["prompt_tokens"] = c.in_tokens;
  j["completion_tokens"] = c.out_tokens;
  j["total_tokens"] = c.in_tokens + c.out_tokens;
  return j;
}

Json chat_reply(const ReplyContext& c) {
  Json message = Json::object();
  message["role"] = "assistant";
  message["content"] = c.text;
  message["refusal"] = nullptr;
  Json choice = Json::object();
  choice["index"] = 0;
  choice["message"] = message;
  choice["logprobs"] = nullptr;
  choice["finish_reason"] = "stop";
  Json j = Json::object();
  j["id"] = "chatcmpl-standin-" + id6(c.n);
  j["object"] = "chat.completion";
  j["created"] = kCreated;
  j["model"] = c.model;
  j["system_fingerprint"] = "fp_standin";
  j["choices"] = Json::array({choice});
  j["usage"] = chat_usage(c);
  return j;
}

std::vector<SseEvent> chat_stream(const ReplyContext& c) {
  auto chunk = [&](const Json& delta, const Json& finish) {
    Json choice = Json::object();
    choice["index"] = 0;
    choice["delta"] = delta;
    choice["logprobs"] = nullptr;
    choice["finish_reason"] = finish;
    Json j = Json::object();
    j["id"] = "chatcmpl-standin-" + id6(c.n);
    j["object"] = "chat.completion.chunk";
    j["created"] = kCreated;
    j["model"] = c.model;
    j["system_fingerprint"] = "fp_standin";
    j["choices"] = Json::array({choice});
    return j;
  };
  std::vector<SseEvent> ev;
  Json first = Json::object();
  first["role"] = "assistant";
  first["content"] = "";
  ev.push_back(event("", chunk(first, nullptr)));
  for (const auto& piece : c.pieces) {
    Json delta = Json::object();
    delta["content"] = piece;
    ev.push_back(event("", chunk(delta, nullptr)));
  }
  ev.push_back(event("", chunk(Json::object(), "stop")));
  const Json& opts = c.req.contains("stream_options") ? c.req["stream_options"] : Json();
  if (opts.is_object() && opts.contains("include_usage") && truthy(opts["include_usage"])) {
    Json last = chunk(Json::object(), nullptr);
    last["choices"] = Json::array();
    last["usage"] = chat_usage(c);
    ev.push_back(event("", last));
  }
  ev.push_back({"", "[DONE]"});
  return ev;
}

Json responses_message(const ReplyContext& c, const std::string& status, const std::string* text) {
  Json content = Json::array();
  if (text) {
    Json part = Json::object();
    part["type"] = "output_text";
    part["text"] = *text;
    part["annotations"] = Json::array();
    content.push_back(part);
  }
  Json j = Json::object();
  j["id"] = "msg_standin_" + id6(c.n);
  j["type"] = "message";
  j["status"] = status;
  j["role"] = "assistant";
  j["content"] = content;
  return j;
}

Json responses_reply(const ReplyContext& c, const std::string& status = "completed") {
  bool done = status == "completed";
  Json j = Json::object();
  j["id"] = "resp_standin_" + id6(c.n);
  j["object"] = "response";
  j["created_at"] = kCreated;
  j["status"] = status;
  j["error"] = nullptr;
  j["incomplete_details"] = nullptr;
  j["instructions"] = nullptr;
  j["model"] = c.model;
  j["output"] = done ? Json::array({responses_message(c, "completed", &c.text)}) : Json::array();
  j["parallel_tool_calls"] = true;
  j["tool_choice"] = "auto";
  j["tools"] = Json::array();
  if (done) {
    Json usage = Json::object();
    usage["input_tokens"] = c.in_tokens;
    usage["input_tokens_details"] = Json::object();
    usage["input_tokens_details"]["cached_tokens"] = 0;
    usage["output_tokens"] = c.out_tokens;
    usage["output_tokens_details"] = Json::object();
    usage["output_tokens_details"]["reasoning_tokens"] = 0;
    usage["total_tokens"] = c.in_tokens + c.out_tokens;
    j["usage"] = usage;
  } else {
    j["usage"] = nullptr;
  }
  return j;
}

std::vector<SseEvent> responses_stream(const ReplyContext& c) {
  std::string item_id = "msg_standin_" + id6(c.n);
  Json part = Json::object();
  part["type"] = "output_text";
  part["text"] = c.text;
  part["annotations"] = Json::array();
  Json empty_part = part;
  empty_part["text"] = "";
  auto text_event = [&](const char* key, const Json& value) {
    Json j = Json::object();
    j["item_id"] = item_id;
    j["output_index"] = 0;
    j["content_index"] = 0;
    j[key] = value;
    return j;
  };
  std::vector<std::pair<std::string, Json>> ev;
  Json j = Json::object();
  j["response"] = responses_reply(c, "in_progress");
  ev.emplace_back("response.created", j);
  ev.emplace_back("response.in_progress", j);
  j = Json::object();
  j["output_index"] = 0;
  j["item"] = responses_message(c, "in_progress", nullptr);
  ev.emplace_back("response.output_item.added", j);
  ev.emplace_back("response.content_part.added", text_event("part", empty_part));
  for (const auto& piece : c.pieces) ev.emplace_back("response.output_text.delta", text_event("delta", piece));
  ev.emplace_back("response.output_text.done", text_event("text", c.text));
  ev.emplace_back("response.content_part.done", text_event("part", part));
  j = Json::object();
  j["output_index"] = 0;
  j["item"] = responses_message(c, "completed", &c.text);
  ev.emplace_back("response.output_item.done", j);
  j = Json::object();
  j["response"] = responses_reply(c);
  ev.emplace_back("response.completed", j);
  // Every Responses event repeats its type and carries a sequence number.
  std::vector<SseEvent> out;
  for (size_t i = 0; i < ev.size(); ++i) {
    Json full = Json::object();
    full["type"] = ev[i].first;
    full["sequence_number"] = i;
    for (const auto& [key, value] : ev[i].second.items()) full[key] = value;
    out.push_back(event(ev[i].first, full));
  }
  return out;
}

Json gemini_usage(const ReplyContext& c) {
  Json j = Json::object();
  j["promptTokenCount"] = c.in_tokens;
  j["candidatesTokenCount"] = c.out_tokens;
  j["totalTokenCount"] = c.in_tokens + c.out_tokens;
  return j;
}

Json gemini_content(const std::string& text) {
  Json part = Json::object();
  part["text"] = text;
  Json content = Json::object();
  content["parts"] = Json::array({part});
  content["role"] = "model";
  return content;
}

Json gemini_reply(const ReplyContext& c) {
  Json cand = Json::object();
  cand["content"] = gemini_content(c.text);
  cand["finishReason"] = "STOP";
  cand["index"] = 0;
  Json j = Json::object();
  j["candidates"] = Json::array({cand});
  j["usageMetadata"] = gemini_usage(c);
  j["modelVersion"] = c.model;
  j["responseId"] = "standin-" + id6(c.n);
  return j;
}

Json gemini_chunks(const ReplyContext& c) {
  Json out = Json::array();
  for (size_t i = 0; i < c.pieces.size(); ++i) {
    Json cand = Json::object();
    cand["content"] = gemini_content(c.pieces[i]);
    cand["index"] = 0;
    bool last = i + 1 == c.pieces.size();
    // The last chunk says why it stopped and what it cost.
    if (last) cand["finishReason"] = "STOP";
    Json chunk = Json::object();
    chunk["candidates"] = Json::array({cand});
    chunk["modelVersion"] = c.model;
    chunk["responseId"] = "standin-" + id6(c.n);
    if (last) chunk["usageMetadata"] = gemini_usage(c);
    out.push_back(chunk);
  }
  return out;
}

// ---- sockets ------------------------------------------------------------------

bool poll_fd(int fd, short events, int timeout_ms) {
  pollfd p{fd, events, 0};
  int r;
  do {
    r = ::poll(&p, 1, timeout_ms);
  } while (r < 0 && errno == EINTR);
  if (r <= 0) return false;
  if (events == POLLOUT) return (p.revents & POLLOUT) && !(p.revents & POLLERR);
  return true;  // readable, or an EOF or error that the next read reports
}

void socket_address(int fd, bool peer, std::string& ip, int& port) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  int r = peer ? ::getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len)
               : ::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  ip.clear();
  port = -1;
  if (r != 0) return;
  char host[NI_MAXHOST], serv[NI_MAXSERV];
  if (::getnameinfo(reinterpret_cast<sockaddr*>(&ss), len, host, sizeof host, serv, sizeof serv,
                    NI_NUMERICHOST | NI_NUMERICSERV) == 0) {
    ip = host;
    port = std::atoi(serv);
  }
}

// A failed write on a TLS socket (OpenSSL writes with write(2), not
// send(MSG_NOSIGNAL)) raises SIGPIPE at the writing thread; worker threads
// keep it blocked, and this takes the pending one away.
void discard_pending_sigpipe() {
  sigset_t pending;
  if (sigpending(&pending) != 0 || !sigismember(&pending, SIGPIPE)) return;
  sigset_t only;
  sigemptyset(&only);
  sigaddset(&only, SIGPIPE);
  timespec zero{0, 0};
  sigtimedwait(&only, nullptr, &zero);
}

// A connection as httplib's Stream: buffered reads (httplib reads the request
// head a byte at a time), the head's raw bytes captured, TLS or plain.
class Connection final : public httplib::Stream {
 public:
  Connection(int fd, SSL* ssl) : fd_(fd), ssl_(ssl), buf_(16 * 1024) {}

  bool is_readable() const override { return has_buffered() || poll_fd(fd_, POLLIN, kIoTimeoutSec * 1000); }
  bool is_writable() const override { return discard_ || poll_fd(fd_, POLLOUT, kIoTimeoutSec * 1000); }

  ssize_t read(char* ptr, size_t size) override {
    if (pos_ == end_ && !fill()) return eof_ ? 0 : -1;
    size_t n = std::min(size, end_ - pos_);
    std::memcpy(ptr, buf_.data() + pos_, n);
    pos_ += n;
    if (capturing_) {
      if (head_.empty()) head_start_ns_ = wall_ns();
      head_.append(ptr, n);
    }
    return static_cast<ssize_t>(n);
  }

  ssize_t write(const char* ptr, size_t size) override {
    if (discard_) return static_cast<ssize_t>(size);
    size_t done = 0;
    while (done < size) {
      ssize_t n = raw_write(ptr + done, size - done);
      if (n <= 0) return -1;
      done += static_cast<size_t>(n);
    }
    return static_cast<ssize_t>(size);
  }

  void get_remote_ip_and_port(std::string& ip, int& port) const override { socket_address(fd_, true, ip, port); }
  void get_local_ip_and_port(std::string& ip, int& port) const override { socket_address(fd_, false, ip, port); }
  socket_t socket() const override { return fd_; }

  // Starts capturing the next request's head.
  void begin_request() {
    capturing_ = true;
    head_.clear();
    head_start_ns_ = 0;
  }
  std::string take_head() {
    capturing_ = false;
    return std::move(head_);
  }
  int64_t head_start_ns() const { return head_start_ns_ ? head_start_ns_ : wall_ns(); }

  bool has_buffered() const { return pos_ < end_ || (ssl_ && SSL_pending(ssl_) > 0); }

  // Reads up to n bytes into dst, stopping early only at EOF, an error or a
  // timeout; returns how many arrived.
  size_t read_fully(char* dst, size_t n) {
    size_t got = std::min(n, end_ - pos_);
    std::memcpy(dst, buf_.data() + pos_, got);
    pos_ += got;
    while (got < n) {
      ssize_t r = raw_read(dst + got, n - got);
      if (r <= 0) break;
      got += static_cast<size_t>(r);
    }
    return got;
  }

  // Python's readline(max): up to and including '\n', at most max bytes.
  std::string read_line(size_t max) {
    std::string line;
    while (line.size() < max) {
      if (pos_ == end_ && !fill()) break;
      char c = buf_[pos_++];
      line += c;
      if (c == '\n') break;
    }
    return line;
  }

  // Makes every later write succeed without sending anything: the Python
  // stand-in answers nothing to a request whose body never fully arrived.
  void discard_output() { discard_ = true; }

 private:
  bool fill() {
    ssize_t r = raw_read(buf_.data(), buf_.size());
    if (r <= 0) {
      eof_ = r == 0;
      return false;
    }
    pos_ = 0;
    end_ = static_cast<size_t>(r);
    return true;
  }

  ssize_t raw_read(char* p, size_t n) {
    int chunk = static_cast<int>(std::min<size_t>(n, INT_MAX));
    if (ssl_) {
      int r = SSL_read(ssl_, p, chunk);
      if (r > 0) return r;
      int err = SSL_get_error(ssl_, r);
      ERR_clear_error();
      return err == SSL_ERROR_ZERO_RETURN ? 0 : -1;
    }
    ssize_t r;
    do {
      r = ::recv(fd_, p, static_cast<size_t>(chunk), 0);
    } while (r < 0 && errno == EINTR);
    return r;
  }

  ssize_t raw_write(const char* p, size_t n) {
    int chunk = static_cast<int>(std::min<size_t>(n, INT_MAX));
    if (ssl_) {
      int r = SSL_write(ssl_, p, chunk);
      if (r <= 0) {
        ERR_clear_error();
        discard_pending_sigpipe();
        return -1;
      }
      return r;
    }
    ssize_t r;
    do {
      r = ::send(fd_, p, static_cast<size_t>(chunk), MSG_NOSIGNAL);
    } while (r < 0 && errno == EINTR);
    return r;
  }

  int fd_;
  SSL* ssl_;
  std::vector<char> buf_;
  size_t pos_ = 0, end_ = 0;
  bool eof_ = false;
  bool capturing_ = false;
  std::string head_;
  int64_t head_start_ns_ = 0;
  bool discard_ = false;
};

// The request line and headers, as the client wrote them.
struct Head {
  std::string method, target, version;
  std::vector<std::pair<std::string, std::string>> headers;
};

// What http.client's header parser keeps: the name before the first ':', the
// value after it without leading blanks or the line end.
Head parse_head(const std::string& raw) {
  Head head;
  size_t pos = 0;
  bool first = true;
  while (pos < raw.size()) {
    size_t nl = raw.find('\n', pos);
    size_t end = nl == std::string::npos ? raw.size() : nl;
    std::string line = raw.substr(pos, end - pos);
    pos = end + 1;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (first) {
      first = false;
      size_t a = line.find(' ');
      size_t b = line.rfind(' ');
      if (a != std::string::npos && b > a) {
        head.method = line.substr(0, a);
        head.target = line.substr(a + 1, b - a - 1);
        head.version = line.substr(b + 1);
      }
      continue;
    }
    if (line.empty()) break;
    size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string value = line.substr(colon + 1);
    value.erase(0, value.find_first_not_of(" \t") == std::string::npos ? value.size() : value.find_first_not_of(" \t"));
    head.headers.emplace_back(line.substr(0, colon), value);
  }
  return head;
}

const std::string* find_header(const Head& head, std::string_view name) {
  for (const auto& [key, value] : head.headers) {
    if (iequals(key, name)) return &value;
  }
  return nullptr;
}

// int(text) and int(text, 16) as Python parses them: surrounding whitespace,
// a sign, '_' between digits, "0x" for base 16.
bool parse_py_int(const std::string& text, int base, long long* out) {
  std::string s = trim_ascii(text);
  bool negative = false;
  size_t i = 0;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) negative = s[i++] == '-';
  if (base == 16 && s.size() >= i + 2 && s[i] == '0' && (s[i + 1] == 'x' || s[i + 1] == 'X')) {
    i += 2;
    if (i < s.size() && s[i] == '_') ++i;
  }
  if (i >= s.size()) return false;
  unsigned long long value = 0;
  bool prev_digit = false;
  for (; i < s.size(); ++i) {
    char c = s[i];
    if (c == '_') {
      if (!prev_digit || i + 1 >= s.size()) return false;
      prev_digit = false;
      continue;
    }
    int d = c >= '0' && c <= '9' ? c - '0' : (c | 0x20) >= 'a' && (c | 0x20) <= 'f' ? (c | 0x20) - 'a' + 10 : 99;
    if (d >= base) return false;
    value = value * static_cast<unsigned>(base) + static_cast<unsigned>(d);
    if (value > (1ULL << 62)) return false;  // far beyond any size we accept
    prev_digit = true;
  }
  if (!prev_digit) return false;
  *out = negative ? -static_cast<long long>(value) : static_cast<long long>(value);
  return true;
}

const std::set<std::string>& recorded_methods() {
  static const std::set<std::string> methods = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"};
  return methods;
}

std::string http_date() {
  static const char* const kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static const char* const kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  time_t now = time(nullptr);
  tm t{};
  gmtime_r(&now, &t);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d GMT", kDays[t.tm_wday], t.tm_mday,
                kMonths[t.tm_mon], t.tm_year + 1900, t.tm_hour, t.tm_min, t.tm_sec);
  return buf;
}

void write_file_atomic(const std::string& path, const std::string& data) {
  std::string tmp = path + ".tmp";
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd.valid()) throw Error("cannot create " + tmp + ": " + errno_text(errno) + ".");
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd.get(), data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw Error("cannot write " + tmp + ": " + errno_text(errno) + ".");
    done += static_cast<size_t>(n);
  }
  if (::close(fd.release()) != 0) throw Error("cannot write " + tmp + ": " + errno_text(errno) + ".");
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    throw Error("cannot rename " + tmp + " to " + path + ": " + errno_text(errno) + ".");
  }
}

// Blocks every signal in the calling thread and returns the previous mask.
// Threads inherit the mask of the thread that creates them, so service
// threads created under it never take agenttrace's signals (which it reads
// from a signalfd) or die of a SIGPIPE.
sigset_t block_all_signals() {
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  return old;
}

int alpn_select(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in, unsigned int inlen,
                void*) {
  // Only HTTP/1.1: clients such as curl would otherwise try h2.
  static const unsigned char kHttp11[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
  unsigned char* selected = nullptr;
  if (SSL_select_next_proto(&selected, outlen, kHttp11, sizeof kHttp11, in, inlen) == OPENSSL_NPN_NEGOTIATED) {
    *out = selected;
    return SSL_TLSEXT_ERR_OK;
  }
  return SSL_TLSEXT_ERR_NOACK;
}

std::string openssl_error() {
  unsigned long code = ERR_get_error();
  std::string text = "unknown OpenSSL error";
  if (code != 0) {
    char buf[256];
    ERR_error_string_n(code, buf, sizeof buf);
    text = buf;
  }
  ERR_clear_error();
  return text;
}

SSL_CTX* make_tls_context(const Certificate& cert) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  if (!ctx) throw Error("could not create the stand-in's TLS context (" + openssl_error() + ").");
  auto fail = [&](const std::string& what) {
    std::string why = openssl_error();
    SSL_CTX_free(ctx);
    throw Error("could not " + what + " for the stand-in's TLS server (" + why + ").");
  };
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  // A client that closes without close_notify has still ended the stream.
  SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_NO_RENEGOTIATION);
  BIO* cert_bio = BIO_new_mem_buf(cert.cert_pem.data(), static_cast<int>(cert.cert_pem.size()));
  X509* x509 = cert_bio ? PEM_read_bio_X509(cert_bio, nullptr, nullptr, nullptr) : nullptr;
  BIO_free(cert_bio);
  int ok = x509 ? SSL_CTX_use_certificate(ctx, x509) : 0;
  X509_free(x509);
  if (ok != 1) fail("load the certificate");
  BIO* key_bio = BIO_new_mem_buf(cert.key_pem.data(), static_cast<int>(cert.key_pem.size()));
  EVP_PKEY* key = key_bio ? PEM_read_bio_PrivateKey(key_bio, nullptr, nullptr, nullptr) : nullptr;
  BIO_free(key_bio);
  ok = key ? SSL_CTX_use_PrivateKey(ctx, key) : 0;
  EVP_PKEY_free(key);
  if (ok != 1 || SSL_CTX_check_private_key(ctx) != 1) fail("load the private key");
  SSL_CTX_set_alpn_select_cb(ctx, alpn_select, nullptr);
  return ctx;
}

}  // namespace

// ---- the servers ----------------------------------------------------------------

namespace {

// One request's progress through our hooks (httplib's handlers cannot carry
// it: the pre-routing handler only sees httplib's Request).
struct RequestState {
  explicit RequestState(Connection& c) : conn(c) {}
  Connection& conn;
  bool prepared = false;     // setup ran: httplib accepted the request head
  bool unsupported = false;  // a method the Python stand-in does not record (CONNECT, TRACE, ...)
  bool no_reply = false;     // the body did not arrive: record it, answer nothing
  bool close_after = false;  // close the connection after this request
  RecordedRequest record;
};

thread_local RequestState* t_current = nullptr;

}  // namespace

class Listener;

struct StandIn::Impl {
  explicit Impl(StandInOptions o);
  ~Impl();

  void prepare(RequestState& st, httplib::Request& req, bool tls);
  httplib::Server::HandlerResponse respond(httplib::Response& res);
  void route(RequestState& st, httplib::Response& res);
  void commit(RecordedRequest record);
  void track(int fd) {
    std::lock_guard<std::mutex> lock(mu);
    live_fds.insert(fd);
  }
  void untrack(int fd) {
    std::lock_guard<std::mutex> lock(mu);
    live_fds.erase(fd);
  }
  std::unique_ptr<Listener> make_listener(bool tls, const std::string& host, int port, int* bound_port);

  StandInOptions options;
  std::string owned_dir;  // a temporary cert_dir we created and remove
  CertificateFiles files;
  SSL_CTX* ssl_ctx = nullptr;

  std::unique_ptr<Listener> http, https;
  int http_port = 0, https_port = 0;
  std::thread http_thread, https_thread;
  std::atomic<bool> http_done{false}, https_done{false};
  std::mutex lifecycle;
  bool started = false, stopped = false;

  mutable std::mutex mu;
  uint64_t last_n = 0;
  std::map<uint64_t, RecordedRequest> records;
  std::set<int> live_fds;
};

class Listener final : public httplib::Server {
 public:
  Listener(StandIn::Impl& owner, SSL_CTX* tls) : owner_(owner), tls_(tls) {}

  bool stopping() const { return svr_sock_ == INVALID_SOCKET; }

  // httplib's stop() only closes a server that is listening.
  void close_unstarted() {
    int sock = svr_sock_.exchange(INVALID_SOCKET);
    if (sock != INVALID_SOCKET) ::close(sock);
  }

 private:
  // httplib calls this from a worker thread for each accepted socket.
  bool process_and_close_socket(socket_t sock) override {
    ::fcntl(sock, F_SETFD, FD_CLOEXEC);
    timeval tv{kIoTimeoutSec, 0};
    ::setsockopt(sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(sock, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    // Streams write one small event at a time; don't hold them back.
    int one = 1;
    ::setsockopt(sock, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    owner_.track(sock);
    SSL* ssl = nullptr;
    bool ok = !stopping();
    if (ok && tls_) {
      // TLS is layered on here, in the connection's own thread: a client that
      // stalls in the handshake (or rejects the certificate) holds up only it.
      ssl = SSL_new(tls_);
      ok = ssl && SSL_set_fd(ssl, sock) == 1 && SSL_accept(ssl) == 1;
      ERR_clear_error();
    }
    if (ok) {
      try {
        Connection conn(sock, ssl);
        serve(conn);
      } catch (...) {
        // Nothing may escape into httplib's thread pool; the connection just ends.
      }
    }
    if (ssl) {
      if (ok) SSL_shutdown(ssl);  // close_notify, so clients reading to EOF see a clean end
      SSL_free(ssl);
      ERR_clear_error();
      discard_pending_sigpipe();
    }
    owner_.untrack(sock);
    ::shutdown(sock, SHUT_WR);
    // Read what the client still sends, briefly: closing with unread data
    // makes the kernel reset the connection, which can destroy the end of our
    // reply before the client has read it.
    char sink[4096];
    int64_t deadline = mono_ms() + 100;
    while (mono_ms() < deadline && poll_fd(sock, POLLIN, 20)) {
      if (::recv(sock, sink, sizeof sink, MSG_DONTWAIT) <= 0) break;
    }
    ::close(sock);
    return true;
  }

  bool wait_for_request(Connection& conn) {
    if (conn.has_buffered()) return true;
    int64_t deadline = mono_ms() + kIdleTimeoutMs;
    while (!stopping() && mono_ms() < deadline) {
      if (poll_fd(conn.socket(), POLLIN, kStopPollMs)) return true;
    }
    return false;
  }

  void serve(Connection& conn) {
    while (wait_for_request(conn)) {
      RequestState state(conn);
      t_current = &state;
      conn.begin_request();
      bool connection_closed = false;
      bool ok = process_request(conn, false, connection_closed,
                                [&](httplib::Request& req) { owner_.prepare(state, req, tls_ != nullptr); });
      t_current = nullptr;
      // A head httplib refused itself (400, 414, 416) never reached prepare();
      // like http.server, stop reading a stream that may be out of step.
      if (!ok || connection_closed || state.close_after || !state.prepared || stopping()) break;
    }
  }

  StandIn::Impl& owner_;
  SSL_CTX* tls_;
};

std::string standin_dir_prefix() { return "agenttrace-standin-" + std::to_string(getpid()); }

size_t remove_stale_standin_dirs(const std::string& parent) {
  static constexpr std::string_view kPrefix = "agenttrace-standin-";
  std::error_code ec;
  size_t removed = 0;
  for (const auto& entry : std::filesystem::directory_iterator(parent, ec)) {
    std::string name = entry.path().filename().string();
    if (name.compare(0, kPrefix.size(), kPrefix) != 0) continue;
    // agenttrace-standin-<pid>-XXXXXX
    size_t digits = kPrefix.size();
    pid_t pid = 0;
    while (digits < name.size() && name[digits] >= '0' && name[digits] <= '9' && pid < 4194304)
      pid = pid * 10 + (name[digits++] - '0');
    if (digits == kPrefix.size() || digits >= name.size() || name[digits] != '-' || pid <= 0) continue;
    struct stat st {};
    if (::lstat(entry.path().c_str(), &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != ::geteuid()) continue;
    if (pid == ::getpid() || ::kill(pid, 0) == 0 || errno != ESRCH) continue;  // alive (or not ours to judge)
    std::error_code rm;
    if (std::filesystem::remove_all(entry.path(), rm) != static_cast<std::uintmax_t>(-1) && !rm) ++removed;
  }
  return removed;
}

StandIn::Impl::Impl(StandInOptions o) : options(std::move(o)) {
  const char* tmp = getenv("TMPDIR");
  const std::string tmp_dir = tmp && *tmp ? tmp : "/tmp";
  // What an agenttrace killed before it could clean up left behind (a
  // certificate only: the key was never written).
  remove_stale_standin_dirs(tmp_dir);
  std::string dir = options.cert_dir;
  if (dir.empty()) {
    std::string pattern = tmp_dir + "/" + standin_dir_prefix() + "-XXXXXX";
    if (!mkdtemp(pattern.data())) {
      throw Error("cannot create a directory for the stand-in's certificate in " + pattern + ": " +
                  errno_text(errno) + ".");
    }
    // Others may read cert.pem (the agent may run as another user); it is
    // all there is: the key stays in this process.
    ::chmod(pattern.c_str(), 0755);
    owned_dir = dir = pattern;
  }
  try {
    Certificate cert = make_self_signed_certificate(options.host_names);
    files = write_certificate(cert, dir);
    ssl_ctx = make_tls_context(cert);
    OPENSSL_cleanse(cert.key_pem.data(), cert.key_pem.size());
  } catch (...) {
    if (!owned_dir.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(owned_dir, ec);
    }
    throw;
  }
}

StandIn::Impl::~Impl() {
  https.reset();
  http.reset();
  if (ssl_ctx) SSL_CTX_free(ssl_ctx);
  if (!owned_dir.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(owned_dir, ec);
  }
}

// Runs in httplib's process_request once the head is parsed, before routing.
void StandIn::Impl::prepare(RequestState& st, httplib::Request& req, bool tls) {
  st.prepared = true;
  Head head = parse_head(st.conn.take_head());
  // httplib must neither compress the reply, nor answer a Range, nor send its
  // own 100 Continue: the reply is the Python stand-in's, byte for byte.
  req.headers.erase("Accept-Encoding");
  req.headers.erase("Expect");
  req.ranges.clear();
  if (!recorded_methods().count(head.method)) {
    st.unsupported = true;
    st.close_after = true;
    st.record.method = head.method;
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mu);
    st.record.n = ++last_n;
  }
  RecordedRequest& r = st.record;
  r.wall_ns = st.conn.head_start_ns();
  r.tls = tls;
  r.method = head.method;
  r.target = head.target;
  r.http_version = head.version;
  std::string ip;
  int port = 0;
  st.conn.get_remote_ip_and_port(ip, port);
  r.client = ip + ":" + std::to_string(port);
  r.headers = head.headers;

  // Keep-alive as http.server decides it.
  const std::string* connection = find_header(head, "Connection");
  std::string conntype = connection ? ascii_lower(*connection) : "";
  bool http11 = head.version >= "HTTP/1.1";
  if (conntype == "close" || (!http11 && conntype != "keep-alive")) st.close_after = true;

  const std::string* expect = find_header(head, "Expect");
  if (expect && ascii_lower(*expect) == "100-continue" && http11) {
    static const char kContinue[] = "HTTP/1.1 100 Continue\r\n\r\n";
    st.conn.write(kContinue, sizeof kContinue - 1);
  }

  // The body, as the Python stand-in reads it.
  const std::string* te = find_header(head, "Transfer-Encoding");
  bool complete = true;
  if (te && ascii_lower(*te).find("chunked") != std::string::npos) {
    r.chunked = true;
    complete = false;
    size_t total = 0;
    for (;;) {
      std::string size_line = st.conn.read_line(kMaxChunkLine);
      if (size_line.empty()) break;  // EOF
      long long size = 0;
      std::string size_text = size_line.substr(0, size_line.find(';'));
      if (trim_ascii(size_text).empty()) size_text = "0";
      if (!parse_py_int(size_text, 16, &size) || size < 0) break;
      if (size == 0) {
        // Skip trailers up to the empty line that ends the message.
        for (;;) {
          std::string line = st.conn.read_line(kMaxChunkLine);
          if (line.empty() || line == "\r\n" || line == "\n") break;
        }
        complete = true;
        break;
      }
      total += static_cast<size_t>(size);
      if (total > kMaxBody) break;
      size_t at = r.body.size();
      r.body.resize(at + static_cast<size_t>(size));
      size_t got = st.conn.read_fully(r.body.data() + at, static_cast<size_t>(size));
      r.body.resize(at + got);
      st.conn.read_line(kMaxChunkLine);  // CRLF after the chunk data
      if (got != static_cast<size_t>(size)) break;
    }
  } else {
    const std::string* cl = find_header(head, "Content-Length");
    long long length = 0;
    if (cl && !cl->empty() && (!parse_py_int(*cl, 10, &length) || length < 0 ||
                               static_cast<unsigned long long>(length) > kMaxBody)) {
      complete = false;  // a length we refuse: nothing of the body is read
    } else if (length > 0) {
      r.body.resize(static_cast<size_t>(length));
      size_t got = st.conn.read_fully(r.body.data(), static_cast<size_t>(length));
      r.body.resize(got);
      complete = got == static_cast<size_t>(length);
    }
  }
  r.body_complete = complete;
  if (!complete) {
    st.no_reply = true;
    st.close_after = true;
  }
}

httplib::Server::HandlerResponse StandIn::Impl::respond(httplib::Response& res) {
  RequestState* st = t_current;
  if (!st || !st->prepared) {
    res.status = 500;  // not reached: every request passes prepare() first
    return httplib::Server::HandlerResponse::Handled;
  }
  if (st->unsupported) {
    res.status = 501;
    res.set_content("standin: unsupported method " + st->record.method + "\n", "text/plain");
    return httplib::Server::HandlerResponse::Handled;
  }
  if (st->no_reply) {
    st->conn.discard_output();
    res.status = 400;  // never sent
    st->record.status = 0;
    commit(std::move(st->record));
    return httplib::Server::HandlerResponse::Handled;
  }
  try {
    route(*st, res);
  } catch (const std::exception&) {
    res = httplib::Response();
    res.status = 500;
    res.set_content("standin: internal error\n", "text/plain");
    st->record.status = 500;
    st->close_after = true;
  }
  commit(std::move(st->record));
  return httplib::Server::HandlerResponse::Handled;
}

void StandIn::Impl::route(RequestState& st, httplib::Response& res) {
  RecordedRequest& r = st.record;
  const uint64_t n = r.n;
  auto send_json = [&](int status, const Json& obj) {
    res.status = status;
    res.set_content(py_dumps(obj) + "\n", "application/json");
    res.set_header("x-request-id", "req_standin_" + id6(n));
    r.status = status;
  };
  auto send_sse = [&](const std::vector<SseEvent>& events) {
    auto frames = std::make_shared<std::vector<std::string>>();
    for (const auto& e : events) {
      frames->push_back((e.name.empty() ? std::string() : "event: " + e.name + "\n") + "data: " + e.data + "\n\n");
    }
    res.status = 200;
    res.set_header("Cache-Control", "no-cache");
    res.set_header("Connection", "close");
    res.set_header("x-request-id", "req_standin_" + id6(n));
    // No length: the stream ends when the connection closes.
    res.set_content_provider("text/event-stream; charset=utf-8", [frames](size_t, httplib::DataSink& sink) {
      // One write per event, like a real stream.
      for (const auto& frame : *frames) {
        if (!sink.write(frame.data(), frame.size())) return false;
      }
      sink.done();
      return true;
    });
    st.close_after = true;
    r.status = 200;
  };

  UrlParts url = url_split(python_path(r.target));
  std::string gemini_model, gemini_method;
  static const std::string kGeminiPrefix = "/v1beta/models/";
  if (url.path.rfind(kGeminiPrefix, 0) == 0) {
    std::string rest = url.path.substr(kGeminiPrefix.size());
    size_t colon = rest.find(':');
    if (colon != std::string::npos && colon > 0 && rest.substr(0, colon).find('/') == std::string::npos) {
      std::string method = rest.substr(colon + 1);
      if (method == "generateContent" || method == "streamGenerateContent") {
        gemini_model = rest.substr(0, colon);
        gemini_method = method;
      }
    }
  }
  bool gemini = !gemini_method.empty();
  std::string kind = url.path == "/v1/messages"           ? "anthropic"
                     : url.path == "/v1/chat/completions" ? "chat"
                     : url.path == "/v1/responses"        ? "responses"
                                                          : "";
  if (r.method != "POST" || (kind.empty() && !gemini)) {
    Json error = Json::object();
    error["type"] = "not_found_error";
    error["message"] = latin1_to_utf8("standin: no route for " + r.method + " " + url.path);
    Json obj = Json::object();
    obj["type"] = "error";
    obj["error"] = error;
    send_json(404, obj);
    return;
  }

  Json req = r.body.empty() ? Json::object() : Json::parse(r.body, nullptr, false);
  if (!req.is_object()) req = Json::object();  // lenient: a fixture should answer whatever it is sent
  ReplyContext c;
  c.n = n;
  c.text = options.reply;
  c.pieces = text_pieces(options.reply);
  if (req.contains("model") && truthy(req["model"])) {
    c.model = py_str(req["model"]);
  } else {
    c.model = gemini ? latin1_to_utf8(gemini_model) : "standin-model";
  }
  c.in_tokens = std::max<int64_t>(1, static_cast<int64_t>(r.body.size() / 4));  // a deterministic guess
  c.out_tokens = static_cast<int64_t>(c.pieces.size());
  c.stream = req.contains("stream") && req["stream"].is_boolean() && req["stream"].get<bool>();
  c.req = std::move(req);

  if (gemini) {
    if (gemini_method == "generateContent") {
      send_json(200, gemini_reply(c));
      return;
    }
    Json chunks = gemini_chunks(c);
    if (query_values(url.query, "alt") == std::vector<std::string>{"sse"}) {
      std::vector<SseEvent> events;
      for (const auto& chunk : chunks) events.push_back(event("", chunk));
      send_sse(events);
    } else {
      send_json(200, chunks);
    }
    return;
  }
  if (c.stream) {
    send_sse(kind == "anthropic" ? anthropic_stream(c) : kind == "chat" ? chat_stream(c) : responses_stream(c));
  } else {
    send_json(200, kind == "anthropic" ? anthropic_reply(c) : kind == "chat" ? chat_reply(c) : responses_reply(c));
  }
}

void StandIn::Impl::commit(RecordedRequest record) {
  std::lock_guard<std::mutex> lock(mu);
  uint64_t n = record.n;
  records[n] = std::move(record);
}

std::unique_ptr<Listener> StandIn::Impl::make_listener(bool tls, const std::string& host, int port,
                                                       int* bound_port) {
  // httplib::Server's constructor sets SIGPIPE to SIG_IGN for the whole
  // process, and an ignored SIGPIPE is inherited through exec by every command
  // agenttrace starts; put the disposition back.
  struct sigaction saved {};
  sigaction(SIGPIPE, nullptr, &saved);
  auto listener = std::make_unique<Listener>(*this, tls ? ssl_ctx : nullptr);
  sigaction(SIGPIPE, &saved, nullptr);

  listener->new_task_queue = [] { return new httplib::ThreadPool(kThreadsPerServer); };
  // httplib's default sets SO_REUSEPORT, which lets a second server bind the
  // same port and silently take half the connections.
  listener->set_socket_options([](socket_t sock) {
    int one = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    ::fcntl(sock, F_SETFD, FD_CLOEXEC);
  });
  // Like the Python stand-in: IPv6 only for an IPv6 address, "localhost" is 127.0.0.1.
  listener->set_address_family(host.find(':') != std::string::npos ? AF_INET6 : AF_INET);
  listener->set_default_headers({{"Server", "standin/1"}});
  listener->set_pre_routing_handler(
      [this](const httplib::Request&, httplib::Response& res) { return respond(res); });
  listener->set_post_routing_handler([](const httplib::Request&, httplib::Response& res) {
    // httplib's additions the Python stand-in does not make.
    res.headers.erase("Keep-Alive");
    res.headers.erase("Accept-Ranges");
    if (res.get_header_value_count("Connection") > 1) {
      res.headers.erase("Connection");
      res.set_header("Connection", "close");
    }
    res.set_header("Date", http_date());
  });

  std::string host_text = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  errno = 0;
  int got = port == 0 ? listener->bind_to_any_port(host) : (listener->bind_to_port(host, port) ? port : -1);
  if (got < 0) {
    int err = errno;
    throw Error("cannot listen on " + host_text + ":" + std::to_string(port) + " for the stand-in's " +
                (tls ? "https" : "http") + " server" + (err ? ": " + errno_text(err) : std::string()) + ".");
  }
  *bound_port = got;
  return listener;
}

// ---- StandIn ------------------------------------------------------------------

StandIn::StandIn(StandInOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}

StandIn::~StandIn() { stop(); }

void StandIn::bind(const std::string& host, int http_port, int https_port) {
  std::lock_guard<std::mutex> lock(impl_->lifecycle);
  if (impl_->stopped) throw Error("the stand-in was stopped and cannot be bound again.");
  if (impl_->http) throw Error("the stand-in is already bound.");
  if (http_port < 0 || http_port > 65535 || https_port < 0 || https_port > 65535) {
    throw Error("the stand-in's ports must be between 0 and 65535.");
  }
  int bound_http = 0, bound_https = 0;
  auto http = impl_->make_listener(false, host, http_port, &bound_http);
  std::unique_ptr<Listener> https;
  try {
    https = impl_->make_listener(true, host, https_port, &bound_https);
  } catch (...) {
    http->close_unstarted();
    throw;
  }
  impl_->http = std::move(http);
  impl_->https = std::move(https);
  impl_->http_port = bound_http;
  impl_->https_port = bound_https;
}

void StandIn::start() {
  std::lock_guard<std::mutex> lock(impl_->lifecycle);
  if (impl_->stopped) throw Error("the stand-in was stopped and cannot be started again.");
  if (!impl_->http) throw Error("the stand-in must be bound before it is started.");
  if (impl_->started) return;
  impl_->started = true;
  sigset_t old = block_all_signals();
  auto run = [](Listener* listener, std::atomic<bool>* done) {
    listener->listen_after_bind();
    done->store(true);
  };
  impl_->http_thread = std::thread(run, impl_->http.get(), &impl_->http_done);
  impl_->https_thread = std::thread(run, impl_->https.get(), &impl_->https_done);
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  // httplib's stop() does nothing to a server whose accept loop has not begun.
  while (!(impl_->http->is_running() || impl_->http_done) || !(impl_->https->is_running() || impl_->https_done)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

void StandIn::stop() {
  std::lock_guard<std::mutex> lock(impl_->lifecycle);
  if (impl_->stopped) return;
  impl_->stopped = true;
  for (Listener* listener : {impl_->http.get(), impl_->https.get()}) {
    if (!listener) continue;
    if (impl_->started) {
      listener->stop();
    } else {
      listener->close_unstarted();
    }
  }
  {
    // Wakes workers blocked reading a connection; they then see the stop.
    std::lock_guard<std::mutex> fds(impl_->mu);
    for (int fd : impl_->live_fds) ::shutdown(fd, SHUT_RDWR);
  }
  if (impl_->http_thread.joinable()) impl_->http_thread.join();
  if (impl_->https_thread.joinable()) impl_->https_thread.join();
}

int StandIn::http_port() const { return impl_->http_port; }
int StandIn::https_port() const { return impl_->https_port; }
std::string StandIn::cert_path() const { return impl_->files.cert_path; }

std::vector<RecordedRequest> StandIn::requests() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  std::vector<RecordedRequest> out;
  out.reserve(impl_->records.size());
  for (const auto& [n, record] : impl_->records) out.push_back(record);
  return out;
}

void StandIn::write_records(const std::string& dir) const {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw Error("cannot create the directory " + dir + ": " + ec.message() + ".");
  for (const auto& r : requests()) {
    std::string base = dir + "/request-" + std::to_string(r.n);
    // The body first: once request-N.json exists, request-N.body is complete.
    write_file_atomic(base + ".body", r.body);
    write_file_atomic(base + ".json", record_json(r, python_path(r.target)));
  }
}

void StandIn::write_records_safely(const std::string& dir, const std::vector<RecordedRequest>& requests) {
  std::error_code ec;
  if (auto parent = std::filesystem::path(dir).parent_path(); !parent.empty())
    std::filesystem::create_directories(parent, ec);
  UniqueFd d = open_output_directory(dir);
  for (const auto& r : requests) {
    std::string base = "request-" + std::to_string(r.n);
    // The body first: once request-N.json exists, request-N.body is complete.
    UniqueFd body = create_output_file_in(d.get(), dir, base + ".body");
    write_all(body.get(), dir + "/" + base + ".body", r.body);
    UniqueFd json = create_output_file_in(d.get(), dir, base + ".json");
    write_all(json.get(), dir + "/" + base + ".json", record_json(r, python_path(r.target)));
  }
}

std::vector<std::string> text_pieces(const std::string& text) {
  std::vector<std::string> pieces;
  size_t i = 0;
  auto space_at = [&](size_t at, size_t* len) {
    uint32_t cp = decode_utf8(text, at, len);
    // A byte that is not UTF-8 is no character at all, so not a space either.
    return !(cp >= 0x80 && *len == 1) && py_isspace(cp);
  };
  while (i < text.size()) {
    size_t start = i, len = 1;
    if (space_at(i, &len)) {
      while (i < text.size() && space_at(i, &len)) i += len;
    } else {
      while (i < text.size() && !space_at(i, &len)) i += len;
      while (i < text.size() && space_at(i, &len)) i += len;
    }
    pieces.push_back(text.substr(start, i - start));
  }
  if (pieces.empty()) pieces.emplace_back();
  return pieces;
}

}  // namespace agenttrace::sandbox
