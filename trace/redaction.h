// Credentials redaction: the rules and the marker format. The collector
// (collector/redactor.h) applies them to every event and the header before
// anything is written or exported (unless --keep-secrets); the analyzer reads
// the markers back.
//
// A secret is replaced in place by a marker of exactly its byte length, so
// captured HTTP still parses and byte offsets in findings stay true. The
// marker names the secret's kind and a keyed hash of its value (HMAC-SHA256
// with a key made for each recording and never stored), so two occurrences
// of one secret in a trace carry the same marker:
//
//   [redacted:x-api-key:3fa9c1d2e0b47a55*****]   a secret of 42 bytes
//   [redacted:x-api-key:3fa9c1d2]                 29 to 36 bytes: half the hash
//   [r:3fa9c1d2]                                  shorter, down to 12 bytes
//   [r~base64:3fa9c1d2]                           an encoded copy, short form
//   ********                                      too short for any of these
//
// The short forms carry no kind: the trailer's `redacted_secrets` names the
// kind of every hash.
//
// The kind is a header name ("x-api-key"), a token format ("anthropic-key"),
// or "env.NAME" for the value of a secret-bearing environment variable; an
// encoded copy of a known secret adds the encoding: "env.OPENAI_API_KEY~base64".
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace agenttrace::trace {

// A token format found anywhere: `prefix` then between min and max
// characters of `chars` ("alnum", "alnum-_", "base64url", "upper-digit"),
// not preceded by a letter or digit. A JWT has its own shape (kind "jwt").
struct TokenRule {
  std::string kind;
  std::string prefix;
  std::string chars = "alnum-_";
  size_t min = 16;
  size_t max = 512;
};

// What is a secret: from the knowledge base's `secrets` section.
struct SecretRules {
  std::vector<std::string> headers;    // HTTP header names, lower case
  std::vector<std::string> keys;       // JSON keys and query/form parameters whose string values are secrets
  std::vector<TokenRule> tokens;
  bool jwt = true;
};

// The marker for a secret of `length` bytes.
std::string redaction_marker(std::string_view kind, std::string_view hash_hex, size_t length);

struct ParsedMarker {
  std::string kind;      // empty for the short forms
  std::string encoding;  // after '~' in the kind ("base64"); empty: as is
  std::string hash;      // hex; empty for the all-'*' form
  size_t length = 0;
};
// A marker at the start of `text`, if there is one.
std::optional<ParsedMarker> parse_redaction_marker(std::string_view text);
// Every marker in `text`, with its offset.
std::vector<std::pair<size_t, ParsedMarker>> find_redaction_markers(std::string_view text);

}  // namespace agenttrace::trace
