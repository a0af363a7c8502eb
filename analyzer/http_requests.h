// HTTP/1.x requests in one connection's captured outgoing bytes: the unit
// `agenttrace diff` compares. A keep-alive connection carries several
// requests back to back; each body is framed by Content-Length or chunked
// transfer coding, and the chunked framing is removed so that two runs whose
// clients split the same body differently still compare equal.
//
// The bytes come from a capture with a budget, so a stream may stop anywhere:
// in the request line, in a header, inside a chunk. What was seen is kept
// and the request is marked truncated; nothing past the cut is guessed.
//
// Deliberately not handled: HTTP/2 (its preface is not a request line, so an
// h2 stream gives no requests and is compared as bytes), bytes tunneled after
// CONNECT or an Upgrade (they are not HTTP/1 requests: parsing stops there),
// and content codings (a gzip body stays gzip).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace agenttrace::analyzer {

struct HttpRequest {
  std::string method, target, version;  // "POST", "/v1/messages?beta=true", "HTTP/1.1"
  // In the order sent, names as sent; values without the whitespace around
  // them. Folded continuation lines are joined with one space. Trailer
  // fields of a chunked body are appended after the header fields.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;  // chunked framing removed; content codings left as they are
  // The stream ended (capture budget, connection cut) or its framing stopped
  // making sense before this request did: the body, or even the header
  // section, is what was seen up to there, and no request follows.
  bool truncated = false;
  uint64_t stream_offset = 0;  // of the request line in the stream
  uint64_t body_offset = 0;    // of the first body byte (of the first chunk-size line when chunked)
  // The request line and header section exactly as sent, blank line included:
  // line endings, spacing and header-name case are choices a program makes,
  // and the diff compares them too.
  std::string head;
};

// The value of the first header named `name` (case-insensitively), or
// nullptr.
const std::string* header_value(const HttpRequest& request, std::string_view name);

struct HttpParse {
  std::vector<HttpRequest> requests;
  // Bytes of the stream the requests account for. Less than the stream's
  // size when bytes follow that are not an HTTP/1 request (a tunnel after
  // CONNECT, a WebSocket after Upgrade, junk): those are left to the caller.
  uint64_t consumed = 0;
};

// Every request in `stream`, in order. A stream that does not start with an
// HTTP/1.x request line (after optional empty lines) gives none. Never throws
// on any input.
HttpParse parse_http_stream(std::string_view stream);

// parse_http_stream(stream).requests.
std::vector<HttpRequest> parse_http_requests(std::string_view stream);

}  // namespace agenttrace::analyzer
