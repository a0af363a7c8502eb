#include "analyzer/http_requests.h"

#include <algorithm>
#include <array>

namespace agenttrace::analyzer {

namespace {

// Methods a first line must start with before its end was captured: a cut
// stream of a few letters is otherwise indistinguishable from any text.
constexpr std::array<std::string_view, 9> kKnownMethods = {
    "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"};

// Real clients send methods in upper case; accepting only that (and the
// token characters registered methods use) keeps prose from looking like a
// request line.
inline bool is_method_char(unsigned char c) { return (c >= 'A' && c <= 'Z') || c == '-' || c == '_'; }
inline bool is_target_char(unsigned char c) { return c > 0x20 && c != 0x7F; }
inline bool is_ows(char c) { return c == ' ' || c == '\t'; }
constexpr size_t kMaxMethodLen = 24;

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; }

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (lower(a[i]) != lower(b[i])) return false;
  return true;
}

std::string_view trim(std::string_view v) {
  while (!v.empty() && is_ows(v.front())) v.remove_prefix(1);
  while (!v.empty() && is_ows(v.back())) v.remove_suffix(1);
  return v;
}

bool is_known_method(std::string_view m) {
  for (auto k : kKnownMethods)
    if (k == m) return true;
  return false;
}

// One line: [begin, end) without its terminator (LF or CRLF), `next` after
// it. A line without LF before the end of the stream is not complete.
struct Line {
  size_t begin = 0, end = 0, next = 0;
  bool complete = false;
};

Line line_at(std::string_view s, size_t p) {
  size_t nl = s.find('\n', p);
  if (nl == std::string_view::npos) {
    size_t end = s.size();
    return {p, end, end, false};
  }
  size_t end = nl;
  if (end > p && s[end - 1] == '\r') --end;
  return {p, end, nl + 1, true};
}

// "METHOD SP target SP HTTP/1.x" for a complete line.
bool parse_request_line(std::string_view line, HttpRequest& r) {
  size_t i = 0;
  while (i < line.size() && is_method_char(static_cast<unsigned char>(line[i]))) ++i;
  if (i == 0 || i > kMaxMethodLen || i >= line.size() || line[i] != ' ') return false;
  size_t j = i + 1;
  while (j < line.size() && is_target_char(static_cast<unsigned char>(line[j]))) ++j;
  if (j == i + 1 || j >= line.size() || line[j] != ' ') return false;
  std::string_view version = line.substr(j + 1);
  if (version.size() != 8 || version.substr(0, 7) != "HTTP/1." || version[7] < '0' || version[7] > '9')
    return false;
  r.method = line.substr(0, i);
  r.target = line.substr(i + 1, j - i - 1);
  r.version = version;
  return true;
}

// The start of a request line whose end was not captured. The first request
// of a stream needs a known method followed by a space to count; after a
// request, any consistent prefix does (the connection was already HTTP).
bool parse_partial_request_line(std::string_view rest, bool first, HttpRequest& r) {
  if (!rest.empty() && rest.back() == '\r') rest.remove_suffix(1);
  size_t i = 0;
  while (i < rest.size() && is_method_char(static_cast<unsigned char>(rest[i]))) ++i;
  if (i > kMaxMethodLen) return false;
  if (i == rest.size()) {
    if (first || i == 0) return false;
    r.method = rest;
    return true;
  }
  if (i == 0 || rest[i] != ' ') return false;
  if (first && !is_known_method(rest.substr(0, i))) return false;
  r.method = rest.substr(0, i);
  size_t j = i + 1;
  while (j < rest.size() && is_target_char(static_cast<unsigned char>(rest[j]))) ++j;
  r.target = rest.substr(i + 1, j - i - 1);
  if (j == rest.size()) return true;
  if (rest[j] != ' ' || j == i + 1) return false;
  std::string_view version = rest.substr(j + 1);
  constexpr std::string_view kPrefix = "HTTP/1.";
  if (version.size() > 8) return false;
  if (version.substr(0, std::min(version.size(), kPrefix.size())) != kPrefix.substr(0, std::min(version.size(), kPrefix.size())))
    return false;
  if (version.size() == 8 && (version[7] < '0' || version[7] > '9')) return false;
  r.version = version;
  return true;
}

// A header field line into `headers`; a line starting with whitespace
// continues the previous field (obsolete folding, RFC 9112 section 5.2). A
// line without a colon is kept as a name with an empty value: the diff should
// still see it.
void add_field_line(std::string_view text, std::vector<std::pair<std::string, std::string>>& headers) {
  if (!text.empty() && is_ows(text.front()) && !headers.empty()) {
    std::string_view more = trim(text);
    if (!more.empty()) {
      std::string& v = headers.back().second;
      if (!v.empty()) v += ' ';
      v += more;
    }
    return;
  }
  size_t colon = text.find(':');
  if (colon == std::string_view::npos) {
    headers.emplace_back(std::string(trim(text)), std::string());
    return;
  }
  headers.emplace_back(std::string(trim(text.substr(0, colon))), std::string(trim(text.substr(colon + 1))));
}

// Content-Length: digits, or a list of identical values ("5, 5", which
// RFC 9110 section 8.6 lets a recipient accept). -1 when invalid.
int64_t parse_content_length(std::string_view v) {
  int64_t result = -1;
  while (true) {
    size_t comma = v.find(',');
    std::string_view item = trim(v.substr(0, comma));
    if (item.empty() || item.size() > 15) return -1;
    int64_t n = 0;
    for (char c : item) {
      if (c < '0' || c > '9') return -1;
      n = n * 10 + (c - '0');
    }
    if (result >= 0 && n != result) return -1;
    result = n;
    if (comma == std::string_view::npos) break;
    v.remove_prefix(comma + 1);
  }
  return result;
}

// Whether the last transfer coding is chunked ("gzip, chunked").
bool last_coding_chunked(std::string_view te) {
  size_t comma = te.rfind(',');
  std::string_view last = trim(comma == std::string_view::npos ? te : te.substr(comma + 1));
  return iequals(last, "chunked");
}

// The chunked body starting at `q`. Returns where parsing ended; sets
// `truncated` when the stream or its framing ends before the last chunk and
// trailer section. Trailer fields go to `r.headers`.
size_t read_chunked(std::string_view s, size_t q, HttpRequest& r, bool& truncated) {
  const size_t n = s.size();
  for (;;) {
    Line l = line_at(s, q);
    if (!l.complete) {
      truncated = true;
      return n;
    }
    uint64_t size = 0;
    size_t k = l.begin, digits = 0;
    for (; k < l.end; ++k, ++digits) {
      char c = s[k];
      int d = c >= '0' && c <= '9' ? c - '0' : (lower(c) >= 'a' && lower(c) <= 'f') ? lower(c) - 'a' + 10 : -1;
      if (d < 0) break;
      if (digits >= 15) {  // more than 2^60 bytes: not a length anyone sends
        truncated = true;
        return n;
      }
      size = size * 16 + static_cast<uint64_t>(d);
    }
    while (k < l.end && is_ows(s[k])) ++k;
    if (digits == 0 || (k < l.end && s[k] != ';')) {  // not a chunk-size line: framing lost
      truncated = true;
      return n;
    }
    q = l.next;
    if (size == 0) {
      for (;;) {
        Line t = line_at(s, q);
        if (!t.complete) {
          truncated = true;
          return n;
        }
        q = t.next;
        if (t.end == t.begin) return q;
        add_field_line(s.substr(t.begin, t.end - t.begin), r.headers);
      }
    }
    if (n - q < size) {
      r.body.append(s.substr(q));
      truncated = true;
      return n;
    }
    r.body.append(s.substr(q, size));
    q += size;
    if (q + 1 < n && s[q] == '\r' && s[q + 1] == '\n') {
      q += 2;
    } else if (q < n && s[q] == '\n') {
      q += 1;
    } else {
      truncated = true;  // the stream ends here, or the chunk is not followed by CRLF
      return n;
    }
  }
}

}  // namespace

const std::string* header_value(const HttpRequest& request, std::string_view name) {
  for (const auto& [k, v] : request.headers)
    if (iequals(k, name)) return &v;
  return nullptr;
}

HttpParse parse_http_stream(std::string_view s) {
  HttpParse out;
  const size_t n = s.size();
  size_t p = 0;
  while (p < n) {
    // Empty lines before a request line are ignored (RFC 9112 section 2.2).
    size_t start = p;
    while (start < n && (s[start] == '\n' || (s[start] == '\r' && start + 1 < n && s[start + 1] == '\n')))
      start += s[start] == '\r' ? 2 : 1;
    if (start == n) {
      out.consumed = n;
      break;
    }
    const bool first = out.requests.empty();
    HttpRequest r;
    r.stream_offset = start;
    Line line = line_at(s, start);
    if (!line.complete) {
      if (!parse_partial_request_line(s.substr(start), first, r)) break;
      r.truncated = true;
      r.body_offset = n;
      r.head = s.substr(start);
      out.requests.push_back(std::move(r));
      out.consumed = n;
      break;
    }
    if (!parse_request_line(s.substr(line.begin, line.end - line.begin), r)) break;

    size_t q = line.next;
    bool head_done = false;
    while (true) {
      Line l = line_at(s, q);
      if (!l.complete) break;  // a field line cut short is not kept: its value is unknown
      q = l.next;
      if (l.end == l.begin) {
        head_done = true;
        break;
      }
      add_field_line(s.substr(l.begin, l.end - l.begin), r.headers);
    }
    if (!head_done) {
      r.truncated = true;
      r.head = s.substr(start);
      r.body_offset = n;
      out.requests.push_back(std::move(r));
      out.consumed = n;
      break;
    }
    r.head = s.substr(start, q - start);
    r.body_offset = q;

    const std::string* te = header_value(r, "transfer-encoding");
    const std::string* cl = header_value(r, "content-length");
    bool stop = false;
    if (te != nullptr) {
      if (last_coding_chunked(*te)) {
        bool truncated = false;
        q = read_chunked(s, q, r, truncated);
        r.truncated = truncated;
        stop = truncated;
      } else {
        // A request whose length is not known (RFC 9112 section 6.3): the
        // rest of the stream is its body.
        r.body = s.substr(q);
        q = n;
        stop = true;
      }
    } else if (cl != nullptr) {
      int64_t len = parse_content_length(*cl);
      if (len < 0) {
        r.body = s.substr(q);
        r.truncated = true;
        q = n;
        stop = true;
      } else if (n - q < static_cast<uint64_t>(len)) {
        r.body = s.substr(q);
        r.truncated = true;
        q = n;
        stop = true;
      } else {
        r.body = s.substr(q, static_cast<size_t>(len));
        q += static_cast<size_t>(len);
      }
    }
    out.requests.push_back(std::move(r));
    out.consumed = q;
    p = q;
    if (stop) break;
  }
  return out;
}

std::vector<HttpRequest> parse_http_requests(std::string_view stream) {
  return parse_http_stream(stream).requests;
}

}  // namespace agenttrace::analyzer
