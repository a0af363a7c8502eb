// The engine of `agenttrace diff`: given the outgoing requests of one command
// run once per variant of one input (TZ=Asia/Shanghai, TZ=Asia/Hong_Kong; a
// different API base URL) and repeated with identical input, which
// differences in what it sent follow the input and not the noise?
//
// Pure: no kernel, no processes. Whoever runs the variants hands over what
// each run sent, as RunCapture.
//
// How it decides (diff.cpp and docs/diff.md have the details):
//   * Requests are aligned across runs by order and (method, path without
//     query): a longest common subsequence over those keys, so one extra
//     request does not shift the rest.
//   * Repeats of a variant teach the noise: a header, JSON value or byte that
//     differs between identical runs. Inside text, noise is learned per code
//     point (then widened to the letters-and-digits word it falls in), so a
//     timestamp inside a prompt masks those digits and nothing else. A
//     difference between variants counts as noise only where each side is
//     noise in its own variant's repeats: a value that is constant across
//     repeats is never masked, however random it looks.
//   * Between variants, JSON bodies are compared by path and, inside strings,
//     by a shortest edit script over code points (Myers; over words first,
//     then inside the changed words, so separators between two random ids
//     stay put), so one inserted invisible character is one difference at
//     one offset. Runs of noise line up with each other as single units and
//     the rest is compared exactly. Other bodies, non-HTTP streams and header
//     values are compared the same way as text.
//     Serialization choices the JSON tree does not show (key order, spacing,
//     optional escapes) and the header section's layout (order, name case,
//     spacing, line endings) are compared as well.
//   * A difference that is the varied value itself, or its URL or JSON
//     escaped form (find_value_echo), in the same form in both variants, is
//     expected. Everything else is suspicious, including the varied value in
//     an obfuscating encoding (base64, hex, XOR, ...).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "analyzer/http_requests.h"

namespace agenttrace::analyzer {

// What one run of the command sent.
struct RunCapture {
  std::string variant;       // "TZ=Asia/Shanghai": runs with the same label are repeats
  std::string varied_value;  // "Asia/Shanghai"; for a URL its host and path count too
  std::vector<HttpRequest> requests;     // in the order sent, across connections
  std::vector<std::string> raw_streams;  // outgoing streams that are not HTTP/1, in order
};

// Adds one connection's outgoing bytes to `run`: its HTTP/1 requests, and
// the stream (or the part after the last request) as a raw stream when it is
// not HTTP/1.
void add_stream(RunCapture& run, std::string_view stream);

struct Profile;
// A run's outgoing requests, as the bytes it sent: per connection, TLS
// plaintext where it was captured, in the order the connections began. What
// stays on the host is no request: name lookups (port 53), unix and netlink
// sockets (the profile keeps no streams of them), and writes on a socket of
// no IP family (its peer unknown: packet, vsock, or netlink in a trace
// recorded before agenttrace named the family).
RunCapture capture_of(const Profile& p, const std::string& variant, const std::string& value);

struct DiffCodePoint {
  uint32_t code_point = 0;  // for a byte that is not UTF-8: the byte, with `byte` set
  bool byte = false;
  bool added = false;       // present in the other variant only; false: in the base only
  std::string label;        // "U+200B ZERO WIDTH SPACE", "byte 0xFF (not UTF-8)"
};

struct Difference {
  size_t request = 0;        // aligned request number (0-based, in the order sent)
  std::string method, target;
  // "request" (sent in one variant only), "request-line", "header",
  // "header-layout", "json", "json-layout", "body", "stream".
  std::string part;
  // Header name, JSON path ("$.messages[0].content"), "method", "target",
  // "version", "body", "stream 0".
  std::string location;
  std::string change;        // "changed", "inserted", "deleted", "added", "removed", "type"
  // Where it starts in the base variant's value: code points from the start
  // of the string (JSON string, header value, target, layout), and the byte
  // offset of that code point (for a JSON string in its UTF-8 form; for a
  // body or stream in the body or stream; for json-layout in the raw body).
  uint64_t offset = 0;
  uint64_t byte_offset = 0;
  std::string before, after;  // the differing text in base and other; hidden code points as <U+XXXX>
  std::string context_before, context_after;  // the text around it in each
  std::vector<DiffCodePoint> code_points;     // the code points that make the difference
  std::string reason;         // one phrase: why it is expected, or what is off
};

// Where repeats of a variant differed: masked in every comparison.
struct NoiseLocation {
  size_t request = 0;
  std::string method, target, part, location;
  std::vector<std::string> variants;  // whose repeats differed there
  bool whole_value = false;  // presence, type or an atomic value varies, not code points of text
  size_t code_points = 0;    // code points masked in the first such variant's value
  std::string sample;        // that value around the first masked code point, masked ones as '·'
};

// One variant against the base variant.
struct VariantComparison {
  std::string base, other;              // variant labels
  std::string base_value, other_value;  // their varied values
  size_t base_runs = 0, other_runs = 0;
  size_t requests_compared = 0;  // aligned requests sent in both
  size_t noise_masked = 0;       // differences between them explained by noise
  std::vector<Difference> suspicious;
  std::vector<Difference> expected;
  size_t suspicious_omitted = 0;  // beyond DiffOptions::max_differences
  size_t expected_omitted = 0;
  double seconds = 0;             // time spent comparing
};

struct DiffReport {
  std::vector<std::string> variants;  // in order of first appearance; the first is the base
  std::vector<size_t> runs;           // runs per variant
  size_t requests = 0;                // aligned requests (union over runs)
  std::vector<VariantComparison> comparisons;  // base against each other variant
  std::vector<NoiseLocation> noise;
  std::vector<std::string> notes;     // what limits the comparison (no repeats, truncation, ...)
  bool input_dependent = false;       // any suspicious difference
};

struct DiffOptions {
  // Suspicious differences kept per comparison; the rest are counted.
  size_t max_differences = 200;
  // Shortest-edit-script work per pair of texts (roughly code points times
  // edits). Beyond it the rest of the pair is one replaced block: exact for
  // small changes in large texts, coarse for texts that have nothing in common.
  uint64_t max_edit_work = 50'000'000;
  // Characters of `before`/`after` kept before eliding the middle.
  size_t max_text = 160;
};

// Compares the base variant (the first run's) with each other variant.
// Never throws on any input.
DiffReport diff_runs(const std::vector<RunCapture>& runs, const DiffOptions& options = {});

// Exposed for tests: a shortest edit script between two unit sequences as
// replaced blocks [a_begin, a_end) -> [b_begin, b_end), in order; equal units
// between blocks. Over budget, the remaining middle is one block.
struct EditBlock {
  size_t a_begin = 0, a_end = 0, b_begin = 0, b_end = 0;
};
std::vector<EditBlock> edit_blocks(const std::vector<uint32_t>& a, const std::vector<uint32_t>& b,
                                   uint64_t max_work = 50'000'000);

// UTF-8 to code points; a byte that is not part of well-formed UTF-8 becomes
// kByteUnit + the byte, so binary data still diffs byte by byte.
inline constexpr uint32_t kByteUnit = 0x110000;
std::vector<uint32_t> decode_units(std::string_view utf8);

}  // namespace agenttrace::analyzer
