#include "sandbox/standin_shapes.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <string_view>

#include "sandbox/standin_json.h"

namespace agenttrace::sandbox {
namespace {

// A fixed creation time keeps replies byte-for-byte reproducible.
constexpr int64_t kCreated = 1700000000;

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

// ---- reply shapes ------------------------------------------------------------

struct ReplyContext {
  uint64_t n = 0;
  std::string text;
  std::vector<std::string> pieces;
  std::string model;
  int64_t in_tokens = 0;
  int64_t out_tokens = 0;
  bool stream = false;  // the request asked for a stream ("stream": true)
  std::string query;    // the URL's query
  Json req;             // the request's JSON object
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

// Input, output and total tokens under each API's own three names.
Json token_counts(const ReplyContext& c, const char* in, const char* out, const char* total) {
  Json j = Json::object();
  j[in] = c.in_tokens;
  j[out] = c.out_tokens;
  j[total] = c.in_tokens + c.out_tokens;
  return j;
}

Json chat_usage(const ReplyContext& c) { return token_counts(c, "prompt_tokens", "completion_tokens", "total_tokens"); }

// A completion or a stream's chunk of one, around its one choice.
Json chat_completion(const ReplyContext& c, const char* object, const Json& choice) {
  Json j = Json::object();
  j["id"] = "chatcmpl-standin-" + id6(c.n);
  j["object"] = object;
  j["created"] = kCreated;
  j["model"] = c.model;
  j["system_fingerprint"] = "fp_standin";
  j["choices"] = Json::array({choice});
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
  Json j = chat_completion(c, "chat.completion", choice);
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
    return chat_completion(c, "chat.completion.chunk", choice);
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
  if (opts.is_object() && opts.contains("include_usage") && py_truthy(opts["include_usage"])) {
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
  return token_counts(c, "promptTokenCount", "candidatesTokenCount", "totalTokenCount");
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


// ---- the table of shapes --------------------------------------------------------

StandInReply json_reply(const ReplyContext& c, int status, const Json& obj) {
  StandInReply reply;
  reply.status = status;
  reply.request_id = "req_standin_" + id6(c.n);
  reply.body = py_dumps(obj) + "\n";
  return reply;
}

StandInReply stream_reply(const ReplyContext& c, const std::vector<SseEvent>& events) {
  StandInReply reply;
  reply.request_id = "req_standin_" + id6(c.n);
  reply.stream = true;
  for (const auto& e : events) {
    reply.frames.push_back((e.name.empty() ? std::string() : "event: " + e.name + "\n") + "data: " + e.data + "\n\n");
  }
  return reply;
}

// The Gemini shapes' paths: /v1beta/models/MODEL:METHOD.
bool gemini_path(const std::string& path, std::string_view method, std::string* model) {
  static constexpr std::string_view kPrefix = "/v1beta/models/";
  if (path.rfind(kPrefix, 0) != 0) return false;
  std::string rest = path.substr(kPrefix.size());
  size_t colon = rest.find(':');
  if (colon == std::string::npos || colon == 0 || rest.substr(0, colon).find('/') != std::string::npos ||
      rest.substr(colon + 1) != method) {
    return false;
  }
  *model = rest.substr(0, colon);
  return true;
}

struct Shape {
  // Whether `path` is this shape's; *path_model gets the model the path
  // names, for the shapes whose paths name one.
  bool (*matches)(const std::string& path, std::string* path_model);
  StandInReply (*answer)(const ReplyContext& c);
};

const Shape kShapes[] = {
    // Anthropic Messages
    {[](const std::string& path, std::string*) { return path == "/v1/messages"; },
     [](const ReplyContext& c) {
       return c.stream ? stream_reply(c, anthropic_stream(c)) : json_reply(c, 200, anthropic_reply(c));
     }},
    // OpenAI Chat Completions
    {[](const std::string& path, std::string*) { return path == "/v1/chat/completions"; },
     [](const ReplyContext& c) {
       return c.stream ? stream_reply(c, chat_stream(c)) : json_reply(c, 200, chat_reply(c));
     }},
    // OpenAI Responses
    {[](const std::string& path, std::string*) { return path == "/v1/responses"; },
     [](const ReplyContext& c) {
       return c.stream ? stream_reply(c, responses_stream(c)) : json_reply(c, 200, responses_reply(c));
     }},
    // Gemini
    {[](const std::string& path, std::string* model) { return gemini_path(path, "generateContent", model); },
     [](const ReplyContext& c) { return json_reply(c, 200, gemini_reply(c)); }},
    // Gemini, streamed: server-sent events with ?alt=sse (what the SDKs ask
    // for), otherwise a JSON array of chunks, like the real API.
    {[](const std::string& path, std::string* model) { return gemini_path(path, "streamGenerateContent", model); },
     [](const ReplyContext& c) {
       Json chunks = gemini_chunks(c);
       if (query_values(c.query, "alt") != std::vector<std::string>{"sse"}) return json_reply(c, 200, chunks);
       std::vector<SseEvent> events;
       for (const auto& chunk : chunks) events.push_back(event("", chunk));
       return stream_reply(c, events);
     }},
};

}  // namespace

StandInReply answer_request(const std::string& method, const std::string& path, const std::string& body,
                            uint64_t n, const std::string& text) {
  UrlParts url = url_split(path);
  ReplyContext c;
  c.n = n;
  std::string path_model;
  const Shape* shape = nullptr;
  for (const Shape& s : kShapes) {
    if (s.matches(url.path, &path_model)) {
      shape = &s;
      break;
    }
  }
  if (method != "POST" || !shape) {
    Json error = Json::object();
    error["type"] = "not_found_error";
    error["message"] = latin1_to_utf8("standin: no route for " + method + " " + url.path);
    Json obj = Json::object();
    obj["type"] = "error";
    obj["error"] = error;
    return json_reply(c, 404, obj);
  }

  Json req = body.empty() ? Json::object() : Json::parse(body, nullptr, false);
  if (!req.is_object()) req = Json::object();  // lenient: a fixture should answer whatever it is sent
  c.text = text;
  c.pieces = text_pieces(text);
  if (req.contains("model") && py_truthy(req["model"])) {
    c.model = py_str(req["model"]);
  } else {
    c.model = path_model.empty() ? "standin-model" : latin1_to_utf8(path_model);
  }
  c.in_tokens = std::max<int64_t>(1, static_cast<int64_t>(body.size() / 4));  // a deterministic guess
  c.out_tokens = static_cast<int64_t>(c.pieces.size());
  c.stream = req.contains("stream") && req["stream"].is_boolean() && req["stream"].get<bool>();
  c.query = url.query;
  c.req = std::move(req);
  return shape->answer(c);
}

std::vector<std::string> text_pieces(const std::string& text) {
  std::vector<std::string> pieces;
  size_t i = 0;
  auto space_at = [&](size_t at, size_t* len) {
    uint32_t cp = code_point_at(text, at, len);
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
