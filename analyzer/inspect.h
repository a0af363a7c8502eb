// Static triage of a suspect script bundle (JavaScript, Python) or binary,
// for incident response: `agenttrace inspect FILE`. Three questions, all
// answered without running anything:
//
//   * Does it carry encoded string tables? Runs of base64, hex or "\xNN"
//     escapes (in string literals or raw in a binary) that decode, directly
//     or after a single-byte XOR with any key 1-255, to a list of host names,
//     domain suffixes, time zone names, environment variable names or
//     fingerprinting keywords. A program that hides what it collects keeps
//     the names of what it collects, and where it sends them, out of sight.
//   * Does its source text carry invisible or look-alike Unicode, or code
//     that picks between look-alike characters ('a' or U+0430, U+200B or
//     U+200C) to spell out bits a reader will not see?
//   * Which fingerprint sources does it reference (time zone APIs, proxy and
//     base-URL variables, machine-id, DMI and hypervisor paths, host name and
//     network interface APIs), and from which function?
//
// The scan streams: Inspector::feed() takes the file in pieces of any size
// and keeps only a bounded window (see kMaxRetainedBytes), so a 100 MB
// single-file executable is read in seconds with a few MiB of memory.
// Results do not depend on how the input was cut into pieces. Each of the
// three questions is answered by scanners the Inspector feeds
// (analyzer/inspect/scanner.h; docs/inspect.md, "How the scan is arranged").
//
// The thresholds that keep ordinary data quiet (images, keys, hashes,
// minified code, machine code) are the constants below; docs/inspect.md
// explains each one. The patterns are data: analyzer/kb/inspect.yaml.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "analyzer/unicode_scan.h"
#include "trace/json.h"

namespace agenttrace::analyzer {

// ---- thresholds -----------------------------------------------------------------

// Shortest runs examined as encoded blobs: 12 decoded bytes, the size of the
// shortest list worth hiding ("a.io,b.io,c" is 11). Shorter runs are
// everywhere in code (identifiers, numbers) and could not hold a table.
inline constexpr size_t kMinBase64Chars = 16;
inline constexpr size_t kMinHexDigits = 24;
inline constexpr size_t kMinHexEscapes = 12;

// Longest run examined: 1 MiB of encoded text (tens of thousands of host
// names). Longer runs are embedded assets (images, fonts, WebAssembly,
// source maps); they are counted and skipped, which also bounds memory.
inline constexpr size_t kMaxBlobChars = 1 << 20;

// A decoded (and possibly XORed) blob is a list when it is printable ASCII
// split by one separator (NUL, newline, comma, pipe) or is a JSON array of
// strings, and has at least kMinListItems items of which at least
// kMinRecognizedItems, and at least kMinRecognizedPercent percent, are
// recognised names (host, domain suffix, time zone, environment variable,
// fingerprint keyword). Two items are enough when both are fingerprint
// keywords. Items longer than kMaxListItemBytes mean it is not a list.
inline constexpr size_t kMinListItems = 3;
inline constexpr size_t kMinRecognizedItems = 3;
inline constexpr size_t kMinRecognizedPercent = 60;
inline constexpr size_t kMaxListItemBytes = 253;  // the longest DNS name

// Encodings are peeled at most this deep before the XOR step
// ("base64 -> hex -> xor 0x11").
inline constexpr int kMaxDecodeDepth = 2;

// In a file that is not text (an executable), a hidden character counts
// only when the kTextContextBytes on each side of it (up to a NUL, which
// ends a C string) are text: well-formed UTF-8, no control characters, at
// least half ASCII, kMinContextLetters ASCII letters and some whitespace
// (Go packs string constants without separators), and it must sit between
// two quotes of the same kind on its line: inside a string literal of an
// embedded script, not in a table of packed constants (Go and Rust hold
// real ZWJ and BOM constants). Machine code and compressed data decode to
// thousands of "invisible characters" by chance (17,000 in a 100 MB
// executable). Text files are reported in full.
inline constexpr size_t kTextContextBytes = 32;
inline constexpr size_t kMinContextLetters = 8;

// Two single-character literals form a look-alike choice when at most this
// many bytes of ternary, array or table syntax separate them.
inline constexpr size_t kMaxChoiceGap = 48;

// The surrounding function of a reference is looked for at most this far back.
inline constexpr size_t kFunctionLookback = 64 * 1024;

// Memory. The inspector keeps, besides the piece being fed, at most
// kMaxRetainedBytes of input: the larger of kFunctionLookback and one open
// run of kMaxBlobChars, kLookahead bytes not yet scanned, kMinStep bytes
// gathered from small feeds and kTrimStep bytes not yet released (input is
// dropped in steps, not byte by byte). Decoding one blob takes at most
// kDecodeBytes more. inspect_file() feeds kReadChunkBytes at a time, so the
// file is never held beyond kMaxInputMemory (about 7 MiB), whatever its
// size; findings are capped (InspectReport::kMax*, a few MiB at worst).
inline constexpr size_t kLookahead = 1024;
inline constexpr size_t kMinStep = 4096;
inline constexpr size_t kTrimStep = 256 * 1024;
inline constexpr size_t kMaxRetainedBytes = kMaxBlobChars + kFunctionLookback + kLookahead + kMinStep + kTrimStep;
// A blob decoded (base64, hex), XORed and decoded once more, at most 3/4 of
// its characters each, in buffers that are reused.
inline constexpr size_t kDecodeBytes = 4 * (kMaxBlobChars / 4 * 3);
inline constexpr size_t kReadChunkBytes = 1 << 20;
inline constexpr size_t kMaxInputMemory = 2 * kReadChunkBytes + kMaxRetainedBytes + kDecodeBytes;

// ---- rules: analyzer/kb/inspect.yaml ----------------------------------------------

struct SourceCategory {
  std::string id;     // "timezone"
  std::string title;  // "time zone"
};

struct SourcePattern {
  size_t category = 0;  // index into InspectRules::categories
  std::string pattern;  // as written in the YAML: "*_BASE_URL", "os.hostname"
  std::string literal;  // what is searched: "_BASE_URL"
  // `strings:` entries match only a whole string: between quotes of the same
  // kind or between NULs ("TZ" is two letters; "TZ" in quotes is the variable).
  bool whole_string = false;
  // A leading "*": one or more identifier characters before the literal.
  bool wildcard = false;
};

class InspectRules {
 public:
  // analyzer/kb/inspect.yaml, compiled in; parsed once.
  static const InspectRules& builtin();
  // Throws agenttrace::Error naming `source` and the line.
  static InspectRules parse(std::string_view yaml, const std::string& source);

  std::vector<SourceCategory> categories;
  std::vector<SourcePattern> patterns;
  // Lower-case; items of a decoded list that equal one, or contain one of
  // five or more characters as a whole word, are fingerprint keywords. Every
  // pattern's literal is a keyword too.
  std::unordered_set<std::string> keywords;
  std::unordered_set<std::string> env_names;  // known variables without '_' (TZ, HOME)
  std::unordered_set<std::string> tlds;       // generic TLDs; two-letter ones are implied
};

// ---- findings ---------------------------------------------------------------------

struct EncodedTable {
  uint64_t offset = 0;  // first character of the encoded run in the file
  uint64_t length = 0;  // characters of the run, padding included
  std::string encoding;  // "base64 -> xor 0x5a", "hex", "hex-escape -> base64"
  int xor_key = 0;       // 0: none
  bool in_string = false;  // the run is a whole string literal ("...", '...', `...`)
  std::string separator;   // "nul", "newline", "comma", "pipe", "json-array"
  // "hosts", "domain-suffixes", "time-zones", "env-names", "keywords", "mixed"
  std::string kind;
  std::vector<std::string> items;  // the first kMaxItemsKept (items are at most 253 bytes)
  size_t item_count = 0;
  size_t recognized = 0;  // items that are one of the recognised kinds
  static constexpr size_t kMaxItemsKept = 100;
};

struct HiddenCharFinding {
  HiddenChar ch;         // offset, code point, ICU name, kind, imitates
  std::string context;   // context_around(), one line
  // Where it stands in the code (analyzer/inspect/code_lexer.h): "string"
  // (text the program may send: these make the verdict suspicious),
  // "regex" (a character class or range: data), "comment" or "code".
  std::string where = "string";
};

// One of the things a look-alike choice picks from: a character or a short
// string (at most kMaxCandidateCodePoints), however it was spelled.
struct ChoiceCandidate {
  uint64_t offset = 0;
  std::u32string text;
  std::string spelling;  // as written: "\u02BC", "'", "String.fromCharCode(0x2019)"
};
inline constexpr size_t kMaxCandidateCodePoints = 4;

struct LookalikeChoice {
  uint64_t offset = 0;          // the first candidate
  uint64_t second_offset = 0;   // the last
  uint32_t first = 0;           // first code points of the first two candidates
  uint32_t second = 0;
  // "invisible pair", "look-alike of 'a'", "look-alike of \"'\"",
  // "separator switch"
  std::string reason;
  // How the choice is made: "ternary", "returns" (branches of one
  // function), "assignments" (one variable, set in branches), "array",
  // "object", "look-alike map" (keys and their look-alikes), "replace"
  // (one separator for another, under a condition).
  std::string shape;
  std::vector<ChoiceCandidate> candidates;
  std::vector<std::string> conditions;  // names the selecting conditions test, when visible
  std::string function = "unknown";      // the enclosing function (definitions.h)
  std::string snippet;  // the code, hidden code points shown as <U+200B>
};

// Confusable or invisible characters arranged as data, not as a choice: a
// table whose keys are names (HTML entities: zwj, InvisibleComma), a long
// transliteration map, typographic quotes and dashes. Reported, never
// suspicious (docs/inspect.md, "Data is not a choice").
struct DataTable {
  uint64_t offset = 0;
  uint64_t end = 0;  // hidden characters in [offset, end) are the table's ("where": "table")
  std::string kind;  // "named table", "transliteration map", "character table", "typography"
  size_t entries = 0;
  std::string snippet;
};

struct SourceReference {
  uint64_t offset = 0;
  size_t category = 0;  // index into InspectRules::categories
  size_t pattern = 0;   // index into InspectRules::patterns
  std::string match;    // the text matched ("ANTHROPIC_BASE_URL" for "*_BASE_URL")
  std::string function;  // surrounding function, best effort; "unknown"
};

struct InspectReport {
  std::string path;
  uint64_t size = 0;
  std::string file_kind;  // "elf", "binary", "text"
  std::vector<EncodedTable> tables;
  std::vector<HiddenCharFinding> hidden;
  std::vector<LookalikeChoice> choices;
  std::vector<DataTable> data;
  std::vector<SourceReference> references;
  // Totals, which go on counting after the lists are full.
  uint64_t hidden_total = 0;
  uint64_t hidden_in_strings = 0;  // of hidden_total: in string literals (suspicious)
  uint64_t hidden_in_regex = 0;    // of hidden_total: in regular expressions (data)
  uint64_t references_total = 0;
  uint64_t blobs_examined = 0;   // runs long enough to be decoded
  uint64_t blobs_too_long = 0;   // runs over kMaxBlobChars, skipped
  static constexpr size_t kMaxTables = 200;
  static constexpr size_t kMaxHidden = 1000;
  static constexpr size_t kMaxChoices = 500;
  static constexpr size_t kMaxData = 200;
  static constexpr size_t kMaxReferences = 5000;
};

// Encoded tables, look-alike choices, or hidden characters in string
// literals: exit kExitFindings. References alone are not (every HTTP client
// reads HTTPS_PROXY), nor hidden characters in regular expressions,
// comments or code, nor data tables.
bool is_suspicious(const InspectReport& r);

// ---- the scan ---------------------------------------------------------------------

class Inspector {
 public:
  explicit Inspector(const InspectRules& rules = InspectRules::builtin());
  ~Inspector();
  Inspector(const Inspector&) = delete;
  Inspector& operator=(const Inspector&) = delete;

  // The next bytes of the input, any size (zero included). Never throws on
  // any input.
  void feed(std::string_view bytes);
  // The report; call once, after the last feed().
  InspectReport finish();

 private:
  class Engine;
  Engine* engine_;
};

InspectReport inspect_buffer(std::string_view data, const InspectRules& rules = InspectRules::builtin());
// Reads `path` in kReadChunkBytes pieces. Throws agenttrace::Error with one
// sentence when the file cannot be opened or read.
InspectReport inspect_file(const std::string& path, const InspectRules& rules = InspectRules::builtin());

// ---- reports: shapes in docs/inspect.md --------------------------------------------

trace::Json inspect_json(const InspectReport& r, const InspectRules& rules = InspectRules::builtin());
std::string inspect_text(const InspectReport& r, const InspectRules& rules = InspectRules::builtin());

}  // namespace agenttrace::analyzer
