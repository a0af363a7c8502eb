// The stand-in's answers, one shape per API (the table in standin_shapes.cpp;
// a new shape is one entry there plus the code that builds its reply). No
// sockets here: the server (standin.cpp) hands over what it read and writes
// out what comes back.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace agenttrace::sandbox {

// What the stand-in answers to one request.
struct StandInReply {
  int status = 200;
  std::string request_id;           // the x-request-id header
  bool stream = false;              // server-sent events, ended by closing the connection
  std::string body;                 // !stream: the JSON body, newline-terminated (application/json)
  std::vector<std::string> frames;  // stream: one "event: NAME\ndata: ...\n\n" frame per event
};

// The answer to request number `n` (1, 2, ...) for `path` (the request
// target as http.server rewrites it) with these body bytes, whose assistant
// text is `text`. POST to a shape's path gets that shape's reply (a body that
// is no JSON object is taken as {}); everything else a 404 with a JSON error.
// The bytes are the Python stand-in's: ids from n, a fixed creation time,
// token counts from the body's length and text's pieces, json.dumps spelling.
StandInReply answer_request(const std::string& method, const std::string& path, const std::string& body,
                            uint64_t n, const std::string& text);

// Pieces of the reply text, one per word with the whitespace after it (and a
// leading run of whitespace on its own), like the Python stand-in's
// re.findall(r"\S+\s*|\s+", text) on Unicode text; [""] for an empty text.
// Streams send one delta per piece and the output token count is their number.
std::vector<std::string> text_pieces(const std::string& text);

}  // namespace agenttrace::sandbox
