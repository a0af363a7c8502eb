#include "analyzer/inspect.h"

#include <fcntl.h>
#include <unistd.h>
#include <unicode/strenum.h>
#include <unicode/timezone.h>
#include <unicode/uspoof.h>
#include <unicode/utf16.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <unordered_map>

#include "common/error.h"
#include "common/strings.h"
#include "common/utf8.h"

namespace agenttrace::analyzer {

extern const char kInspectRules[];  // generated from kb/inspect.yaml

namespace {

constexpr uint64_t kNone = ~uint64_t{0};

inline bool is_ident(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '$';
}
inline bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }
inline bool is_space(unsigned char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c | 0x20);
  }
  return out;
}

std::string hex_byte(int b) {
  static const char* digits = "0123456789abcdef";
  return std::string("0x") + digits[(b >> 4) & 15] + digits[b & 15];
}

// Strict UTF-8 at s[0..n): the code point and its length, or length 0.
std::pair<uint32_t, size_t> utf8_at(const unsigned char* s, size_t n) {
  if (n == 0) return {0, 0};
  uint32_t b0 = s[0];
  if (b0 < 0x80) return {b0, 1};
  size_t len = b0 >= 0xC2 && b0 <= 0xDF ? 2 : b0 >= 0xE0 && b0 <= 0xEF ? 3 : b0 >= 0xF0 && b0 <= 0xF4 ? 4 : 0;
  if (len == 0 || len > n) return {0, 0};
  uint32_t cp = len == 2 ? b0 & 0x1F : len == 3 ? b0 & 0x0F : b0 & 0x07;
  for (size_t k = 1; k < len; ++k) {
    if ((s[k] & 0xC0) != 0x80) return {0, 0};
    cp = (cp << 6) | (s[k] & 0x3Fu);
  }
  static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMin[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return {0, 0};
  return {cp, len};
}

// ---- byte tables -------------------------------------------------------------------

constexpr uint8_t kB64 = 1;  // base64 digit, either alphabet
constexpr uint8_t kHex = 2;  // hex digit

constexpr std::array<uint8_t, 256> make_run_class() {
  std::array<uint8_t, 256> t{};
  for (int c = 'A'; c <= 'Z'; ++c) t[c] |= kB64;
  for (int c = 'a'; c <= 'z'; ++c) t[c] |= kB64;
  for (int c = '0'; c <= '9'; ++c) t[c] |= kB64 | kHex;
  for (int c = 'a'; c <= 'f'; ++c) t[c] |= kHex;
  for (int c = 'A'; c <= 'F'; ++c) t[c] |= kHex;
  t['+'] = t['/'] = t['-'] = t['_'] = kB64;
  return t;
}
constexpr auto kRunClass = make_run_class();

constexpr std::array<int8_t, 256> make_b64_value() {
  std::array<int8_t, 256> t{};
  for (auto& v : t) v = -1;
  for (int c = 'A'; c <= 'Z'; ++c) t[c] = static_cast<int8_t>(c - 'A');
  for (int c = 'a'; c <= 'z'; ++c) t[c] = static_cast<int8_t>(c - 'a' + 26);
  for (int c = '0'; c <= '9'; ++c) t[c] = static_cast<int8_t>(c - '0' + 52);
  t['+'] = t['-'] = 62;
  t['/'] = t['_'] = 63;
  return t;
}
constexpr auto kB64Value = make_b64_value();

constexpr std::array<int8_t, 256> make_hex_value() {
  std::array<int8_t, 256> t{};
  for (auto& v : t) v = -1;
  for (int c = '0'; c <= '9'; ++c) t[c] = static_cast<int8_t>(c - '0');
  for (int c = 'a'; c <= 'f'; ++c) t[c] = static_cast<int8_t>(c - 'a' + 10);
  for (int c = 'A'; c <= 'F'; ++c) t[c] = static_cast<int8_t>(c - 'A' + 10);
  return t;
}
constexpr auto kHexValue = make_hex_value();

// Bytes a decoded list may consist of: printable ASCII, tab, CR, LF and NUL
// (a separator).
constexpr bool list_byte(unsigned b) {
  return (b >= 0x20 && b < 0x7F) || b == '\t' || b == '\n' || b == '\r' || b == 0;
}

// kViable[b]: the XOR keys k (bit k of 256) under which byte b becomes a
// list byte. A blob can hide a list under key k only if k is viable for
// every distinct byte in it, so the candidate keys of a whole blob are the
// AND of these sets over its bytes: four word operations per byte, for all
// 256 keys at once, before anything is XORed.
using KeySet = std::array<uint64_t, 4>;
constexpr std::array<KeySet, 256> make_viable() {
  std::array<KeySet, 256> t{};
  for (unsigned b = 0; b < 256; ++b) {
    for (unsigned k = 0; k < 256; ++k) {
      if (list_byte(b ^ k)) t[b][k >> 6] |= uint64_t{1} << (k & 63);
    }
  }
  return t;
}
constexpr auto kViable = make_viable();

// ---- ICU --------------------------------------------------------------------------

// ICU's time zone IDs of the Area/Location form ("Asia/Shanghai",
// "Etc/UTC"). Bare IDs ("Japan", "Egypt", "EST", "Cuba") are left out: in a
// list they are more often country or abbreviation names than zones.
const std::unordered_set<std::string>& time_zone_ids() {
  static const std::unordered_set<std::string> ids = [] {
    std::unordered_set<std::string> out;
    UErrorCode status = U_ZERO_ERROR;
    std::unique_ptr<icu::StringEnumeration> e(icu::TimeZone::createEnumeration(status));
    if (U_FAILURE(status) || !e) return out;
    for (;;) {
      int32_t len = 0;
      status = U_ZERO_ERROR;
      const char* id = e->next(&len, status);
      if (U_FAILURE(status) || id == nullptr) break;
      std::string s(id, static_cast<size_t>(len));
      if (s.find('/') != std::string::npos) out.insert(std::move(s));
    }
    return out;
  }();
  return ids;
}

// UTS #39 skeletons: two code points are confusable when their skeletons
// are equal.
class Skeletons {
 public:
  static Skeletons& get() {
    static Skeletons instance;
    return instance;
  }
  std::u16string of(uint32_t cp) {
    if (checker_ == nullptr) return {};
    UChar in[2];
    int32_t in_len = 0;
    U16_APPEND_UNSAFE(in, in_len, static_cast<UChar32>(cp));
    UChar out[32];
    UErrorCode status = U_ZERO_ERROR;
    int32_t len = uspoof_getSkeleton(checker_, 0, in, in_len, out, 32, &status);
    if (U_FAILURE(status) || len <= 0) return {};
    return std::u16string(reinterpret_cast<const char16_t*>(out), static_cast<size_t>(len));
  }

 private:
  Skeletons() {
    UErrorCode status = U_ZERO_ERROR;
    checker_ = uspoof_open(&status);
    if (U_SUCCESS(status)) uspoof_setChecks(checker_, USPOOF_CONFUSABLE, &status);
    if (U_FAILURE(status)) {
      // ICU's data is linked in; should it fail, look-alike choices are not
      // found rather than the scan failing.
      if (checker_ != nullptr) uspoof_close(checker_);
      checker_ = nullptr;
    }
  }
  ~Skeletons() {
    if (checker_ != nullptr) uspoof_close(checker_);
  }
  USpoofChecker* checker_ = nullptr;
};

// ---- rules ------------------------------------------------------------------------

std::vector<std::string> yaml_strings(const YAML::Node& node, const std::string& what, const std::string& source) {
  std::vector<std::string> out;
  if (!node) return out;
  if (!node.IsSequence())
    throw Error(source + ": line " + std::to_string(node.Mark().line + 1) + ": " + what + " must be a list");
  for (const auto& item : node) {
    if (!item.IsScalar() || item.Scalar().empty())
      throw Error(source + ": line " + std::to_string(item.Mark().line + 1) + ": " + what +
                  " entries must be non-empty strings");
    out.push_back(item.Scalar());
  }
  return out;
}

// ---- Aho-Corasick over the pattern literals ------------------------------------------

// One pass over the input finds every literal: a DFA over byte classes (the
// bytes that occur in some literal, plus one class for all others), so a
// hundred patterns cost one table lookup per byte.
class Matcher {
 public:
  explicit Matcher(const std::vector<SourcePattern>& patterns) {
    std::array<int, 256> cls{};
    int nclass = 1;
    for (const auto& p : patterns) {
      for (unsigned char c : p.literal) {
        if (cls[c] == 0) cls[c] = nclass++;
      }
    }
    for (int b = 0; b < 256; ++b) class_[b] = static_cast<uint8_t>(cls[b]);
    nclass_ = nclass;
    // Trie.
    std::vector<int32_t> go(static_cast<size_t>(nclass_), -1);
    delta_ = go;
    out_.emplace_back();
    for (size_t i = 0; i < patterns.size(); ++i) {
      int32_t s = 0;
      for (unsigned char c : patterns[i].literal) {
        int32_t& next = delta_[static_cast<size_t>(s) * nclass_ + class_[c]];
        if (next < 0) {
          next = static_cast<int32_t>(out_.size());
          out_.emplace_back();
          delta_.insert(delta_.end(), go.begin(), go.end());
        }
        s = delta_[static_cast<size_t>(s) * nclass_ + class_[c]];
      }
      out_[static_cast<size_t>(s)].push_back(static_cast<uint32_t>(i));
      max_len_ = std::max(max_len_, patterns[i].literal.size());
    }
    // Failure links, breadth first, folded into a full DFA.
    std::vector<int32_t> fail(out_.size(), 0);
    std::vector<int32_t> queue;
    for (int c = 0; c < nclass_; ++c) {
      int32_t& next = delta_[static_cast<size_t>(c)];
      if (next < 0) {
        next = 0;
      } else {
        fail[static_cast<size_t>(next)] = 0;
        queue.push_back(next);
      }
    }
    for (size_t qi = 0; qi < queue.size(); ++qi) {
      int32_t s = queue[qi];
      const auto& inherited = out_[static_cast<size_t>(fail[static_cast<size_t>(s)])];
      out_[static_cast<size_t>(s)].insert(out_[static_cast<size_t>(s)].end(), inherited.begin(), inherited.end());
      for (int c = 0; c < nclass_; ++c) {
        int32_t& next = delta_[static_cast<size_t>(s) * nclass_ + c];
        int32_t via_fail = delta_[static_cast<size_t>(fail[static_cast<size_t>(s)]) * nclass_ + c];
        if (next < 0) {
          next = via_fail;
        } else {
          fail[static_cast<size_t>(next)] = via_fail;
          queue.push_back(next);
        }
      }
    }
    has_out_.resize(out_.size());
    for (size_t s = 0; s < out_.size(); ++s) has_out_[s] = out_[s].empty() ? 0 : 1;
  }

  size_t max_len() const { return max_len_; }

  // on_match(pattern, end) for every occurrence ending in [data, data + n),
  // `end` being the index just past it, scanning from the start state.
  template <typename OnMatch>
  void scan(const unsigned char* data, size_t n, OnMatch on_match) const {
    int32_t s = 0;
    const int32_t* delta = delta_.data();
    for (size_t i = 0; i < n; ++i) {
      s = delta[static_cast<size_t>(s) * nclass_ + class_[data[i]]];
      if (has_out_[static_cast<size_t>(s)]) {
        for (uint32_t p : out_[static_cast<size_t>(s)]) on_match(p, i + 1);
      }
    }
  }

 private:
  std::array<uint8_t, 256> class_{};
  int nclass_ = 1;
  std::vector<int32_t> delta_;
  std::vector<std::vector<uint32_t>> out_;
  std::vector<uint8_t> has_out_;
  size_t max_len_ = 0;
};

// ---- list recognition ---------------------------------------------------------------

enum ItemKind { kHost, kSuffix, kTimeZone, kEnvKnown, kKeyword, kEnvShape, kUnknown };

bool is_ipv4(std::string_view s) {
  int parts = 0;
  size_t i = 0;
  while (i <= s.size()) {
    size_t j = i;
    int v = 0;
    while (j < s.size() && is_digit(static_cast<unsigned char>(s[j])) && j - i < 3) v = v * 10 + (s[j++] - '0');
    if (j == i || v > 255) return false;
    ++parts;
    if (j == s.size()) break;
    if (s[j] != '.') return false;
    i = j + 1;
  }
  return parts == 4;
}

// A lower-case DNS name of two or more labels whose last label is a known
// TLD or two letters (a country code); `single_label` also accepts a TLD
// alone (for suffixes such as ".cn").
bool is_host_name(std::string_view s, const InspectRules& rules, bool single_label = false) {
  if (s.empty() || s.size() > kMaxListItemBytes) return false;
  if (s.back() == '.') s.remove_suffix(1);  // fully qualified
  size_t labels = 0;
  std::string_view last;
  size_t start = 0;
  for (size_t i = 0; i <= s.size(); ++i) {
    if (i < s.size() && s[i] != '.') continue;
    std::string_view label = s.substr(start, i - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') return false;
    for (char c : label) {
      if (!((c >= 'a' && c <= 'z') || is_digit(static_cast<unsigned char>(c)) || c == '-')) return false;
    }
    ++labels;
    last = label;
    start = i + 1;
  }
  if (labels < (single_label ? 1u : 2u)) return false;
  for (char c : last) {
    if (c < 'a' || c > 'z') return false;
  }
  return last.size() == 2 || rules.tlds.count(std::string(last)) != 0;
}

// "https://api.example.com:443/v1" -> "api.example.com"; "host:8080" -> "host".
std::string_view host_part(std::string_view s) {
  size_t scheme = s.find("://");
  if (scheme != std::string_view::npos && scheme <= 5) s = s.substr(scheme + 3);
  size_t slash = s.find('/');
  if (slash != std::string_view::npos) {
    if (scheme == std::string_view::npos) return {};  // a path, not a host
    s = s.substr(0, slash);
  }
  size_t colon = s.rfind(':');
  if (colon != std::string_view::npos && colon + 1 < s.size() &&
      std::all_of(s.begin() + static_cast<long>(colon) + 1, s.end(),
                  [](char c) { return is_digit(static_cast<unsigned char>(c)); })) {
    s = s.substr(0, colon);
  }
  return s;
}

bool env_shape(std::string_view s) {
  if (s.size() < 2 || s.size() > 64 || !(s[0] >= 'A' && s[0] <= 'Z')) return false;
  bool underscore = false;
  for (char c : s) {
    if (c == '_') {
      underscore = true;
    } else if (!((c >= 'A' && c <= 'Z') || is_digit(static_cast<unsigned char>(c)))) {
      return false;
    }
  }
  return underscore && s.back() != '_';
}

bool contains_word(std::string_view hay, std::string_view word) {
  auto boundary = [](char c) { return !((c >= 'a' && c <= 'z') || is_digit(static_cast<unsigned char>(c))); };
  for (size_t at = hay.find(word); at != std::string_view::npos; at = hay.find(word, at + 1)) {
    bool before = at == 0 || boundary(hay[at - 1]);
    bool after = at + word.size() == hay.size() || boundary(hay[at + word.size()]);
    if (before && after) return true;
  }
  return false;
}

ItemKind classify_item(std::string_view item, const InspectRules& rules) {
  // Environment names the rules know: listed ones, the literals of the
  // variable patterns, and names a wildcard pattern ("*_BASE_URL") matches.
  if (rules.env_names.count(std::string(item)) != 0) return kEnvKnown;
  bool shape = env_shape(item);
  if (shape) {
    for (const auto& p : rules.patterns) {
      if (p.wildcard ? item.size() > p.literal.size() && item.substr(item.size() - p.literal.size()) == p.literal
                     : item == p.literal) {
        return kEnvKnown;
      }
    }
  }
  std::string low = lower(item);
  if (rules.keywords.count(low) != 0) return kKeyword;
  for (const auto& k : rules.keywords) {
    if (k.size() >= 5 && low.size() > k.size() && contains_word(low, k)) return kKeyword;
  }
  if (time_zone_ids().count(std::string(item)) != 0) return kTimeZone;
  if (item.size() > 1 && item[0] == '.' && is_host_name(item.substr(1), rules, true)) return kSuffix;
  if (item.size() > 2 && item[0] == '*' && item[1] == '.' && is_host_name(item.substr(2), rules, true)) return kSuffix;
  std::string_view host = host_part(item);
  if (!host.empty() && (is_host_name(host, rules) || is_ipv4(host))) return kHost;
  if (shape) return kEnvShape;
  return kUnknown;
}

struct ListResult {
  std::string separator;
  std::vector<std::string> items;
  size_t recognized = 0;
  std::string kind;
};

std::string trim_item(std::string_view s) {
  while (!s.empty() && (is_space(static_cast<unsigned char>(s.front())) || s.front() == '\0')) s.remove_prefix(1);
  while (!s.empty() && (is_space(static_cast<unsigned char>(s.back())) || s.back() == '\0')) s.remove_suffix(1);
  if (s.size() >= 2 && (s.front() == '"' || s.front() == '\'') && s.back() == s.front()) {
    s = s.substr(1, s.size() - 2);
  }
  return std::string(s);
}

// Whether printable `plain` is a list of recognisable names; see inspect.h.
std::optional<ListResult> classify_list(std::string_view plain, const InspectRules& rules) {
  while (!plain.empty() && (plain.back() == '\0' || is_space(static_cast<unsigned char>(plain.back())))) {
    plain.remove_suffix(1);
  }
  while (!plain.empty() && is_space(static_cast<unsigned char>(plain.front()))) plain.remove_prefix(1);
  if (plain.size() < 4) return std::nullopt;
  ListResult r;
  if (plain.front() == '[' && plain.back() == ']') {
    trace::Json j = trace::Json::parse(plain, nullptr, false);
    if (j.is_discarded() || !j.is_array()) return std::nullopt;
    for (const auto& e : j) {
      if (!e.is_string()) return std::nullopt;
      r.items.push_back(e.get<std::string>());
    }
    r.separator = "json-array";
  } else {
    static constexpr std::array<std::pair<char, const char*>, 4> kSeparators = {
        {{'\0', "nul"}, {'\n', "newline"}, {',', "comma"}, {'|', "pipe"}}};
    size_t best = 0;
    char sep = 0;
    for (auto [c, name] : kSeparators) {
      size_t n = static_cast<size_t>(std::count(plain.begin(), plain.end(), c));
      if (n > best) {
        best = n;
        sep = c;
        r.separator = name;
      }
    }
    if (best == 0) return std::nullopt;
    size_t start = 0;
    for (size_t i = 0; i <= plain.size(); ++i) {
      if (i < plain.size() && plain[i] != sep) continue;
      std::string item = trim_item(plain.substr(start, i - start));
      if (!item.empty()) r.items.push_back(std::move(item));
      start = i + 1;
    }
  }
  if (r.items.size() < 2) return std::nullopt;
  std::array<size_t, kUnknown + 1> count{};
  for (const auto& item : r.items) {
    if (item.size() > kMaxListItemBytes) return std::nullopt;
    for (unsigned char c : item) {
      if (c < 0x20 || c >= 0x7F) return std::nullopt;
    }
    ++count[classify_item(item, rules)];
  }
  size_t n = r.items.size();
  size_t strong = count[kHost] + count[kSuffix] + count[kTimeZone] + count[kEnvKnown] + count[kKeyword];
  // Upper-case names with '_' (error codes, enum constants) count only next
  // to something that is clearly about the host.
  r.recognized = strong == 0 ? 0 : strong + count[kEnvShape];
  bool list = n >= kMinListItems && r.recognized >= kMinRecognizedItems &&
              r.recognized * 100 >= n * kMinRecognizedPercent;
  bool keyword_pair = n == 2 && count[kKeyword] + count[kEnvKnown] == 2;
  if (!list && !keyword_pair) return std::nullopt;
  static constexpr std::array<std::pair<int, const char*>, 5> kKinds = {
      {{kHost, "hosts"}, {kSuffix, "domain-suffixes"}, {kTimeZone, "time-zones"}, {kEnvKnown, "env-names"},
       {kKeyword, "keywords"}}};
  r.kind = "mixed";
  for (auto [k, name] : kKinds) {
    size_t c = count[static_cast<size_t>(k)] + (k == kEnvKnown ? count[kEnvShape] : 0);
    if (c * 4 >= r.recognized * 3) r.kind = name;
  }
  return r;
}

inline bool is_quote(unsigned char c) { return c == '"' || c == '\'' || c == '`'; }

}  // namespace

// ---- InspectRules ----------------------------------------------------------------------

const InspectRules& InspectRules::builtin() {
  static const InspectRules rules = parse(kInspectRules, "built-in inspect rules");
  return rules;
}

InspectRules InspectRules::parse(std::string_view yaml, const std::string& source) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& e) {
    throw Error(source + ": line " + std::to_string(e.mark.line + 1) + ": " + e.msg);
  }
  if (!root.IsMap()) throw Error(source + " is not an inspect rules file (expected a mapping with `sources`)");
  for (const auto& kv : root) {
    std::string key = kv.first.as<std::string>("");
    if (key != "version" && key != "sources" && key != "keywords" && key != "env_names" && key != "tlds")
      throw Error(source + ": line " + std::to_string(kv.first.Mark().line + 1) + ": unknown key `" + key +
                  "` (expected version, sources, keywords, env_names, tlds)");
  }
  if (root["version"] && (!root["version"].IsScalar() || root["version"].Scalar() != "1"))
    throw Error(source + ": inspect rules version must be 1");
  const YAML::Node sources = root["sources"];
  if (!sources || !sources.IsSequence()) throw Error(source + ": `sources` must be a list");
  InspectRules rules;
  for (const auto& node : sources) {
    std::string line = std::to_string(node.Mark().line + 1);
    if (!node.IsMap()) throw Error(source + ": line " + line + ": a source must be a mapping");
    for (const auto& kv : node) {
      std::string key = kv.first.as<std::string>("");
      if (key != "id" && key != "title" && key != "text" && key != "strings")
        throw Error(source + ": line " + std::to_string(kv.first.Mark().line + 1) + ": unknown key `" + key +
                    "` (expected id, title, text, strings)");
    }
    if (!node["id"] || !node["id"].IsScalar() || node["id"].Scalar().empty())
      throw Error(source + ": line " + line + ": a source needs an `id`");
    SourceCategory c;
    c.id = node["id"].Scalar();
    c.title = node["title"] && node["title"].IsScalar() ? node["title"].Scalar() : c.id;
    for (const auto& other : rules.categories) {
      if (other.id == c.id) throw Error(source + ": line " + line + ": source `" + c.id + "` appears twice");
    }
    size_t index = rules.categories.size();
    rules.categories.push_back(c);
    for (bool whole : {false, true}) {
      for (const auto& text : yaml_strings(node[whole ? "strings" : "text"], whole ? "strings" : "text", source)) {
        SourcePattern p;
        p.category = index;
        p.pattern = text;
        p.whole_string = whole;
        p.wildcard = !whole && text[0] == '*';
        p.literal = p.wildcard ? text.substr(1) : text;
        if (p.literal.empty() || p.literal.find('*') != std::string::npos)
          throw Error(source + ": line " + line + ": pattern `" + text +
                      "` may only have one `*`, at its start, before other characters");
        if (p.literal.size() > 200)
          throw Error(source + ": line " + line + ": pattern `" + text.substr(0, 40) + "...` is over 200 bytes");
        if (!p.wildcard) rules.keywords.insert(lower(p.literal));
        rules.patterns.push_back(std::move(p));
      }
    }
  }
  for (const auto& k : yaml_strings(root["keywords"], "keywords", source)) rules.keywords.insert(lower(k));
  for (const auto& e : yaml_strings(root["env_names"], "env_names", source)) rules.env_names.insert(e);
  for (const auto& t : yaml_strings(root["tlds"], "tlds", source)) rules.tlds.insert(lower(t));
  return rules;
}

bool is_suspicious(const InspectReport& r) {
  return !r.tables.empty() || r.hidden_total > 0 || !r.choices.empty();
}

// ---- the engine -------------------------------------------------------------------------

class Inspector::Engine {
 public:
  explicit Engine(const InspectRules& rules) : rules_(rules), matcher_(rules.patterns) {
    // Once, at its bound for kReadChunkBytes pieces: growing by doubling
    // could otherwise reserve twice that.
    buf_.reserve(kMaxRetainedBytes + kReadChunkBytes);
  }

  void feed(std::string_view bytes) {
    buf_.append(bytes.data(), bytes.size());
    report_.size += bytes.size();
    if (!kind_decided_) {
      if (buf_.size() < kKindSample) return;
      decide_kind();
    }
    // Each position is scanned once, when kLookahead bytes after it are
    // there; small feeds are gathered into steps of at least kMinStep.
    if (end() >= done_ + kLookahead + kMinStep) process(end() - kLookahead, false);
    trim();
  }

  InspectReport finish() {
    if (!kind_decided_) decide_kind();
    process(end(), true);
    auto by_offset = [](const auto& a, const auto& b) { return a.offset < b.offset; };
    std::stable_sort(report_.tables.begin(), report_.tables.end(), by_offset);
    // A run can be seen as base64 and as hex; one table per offset.
    report_.tables.erase(std::unique(report_.tables.begin(), report_.tables.end(),
                                     [](const EncodedTable& a, const EncodedTable& b) { return a.offset == b.offset; }),
                         report_.tables.end());
    std::stable_sort(report_.hidden.begin(), report_.hidden.end(),
                     [](const HiddenCharFinding& a, const HiddenCharFinding& b) { return a.ch.offset < b.ch.offset; });
    std::stable_sort(report_.choices.begin(), report_.choices.end(), by_offset);
    std::stable_sort(report_.references.begin(), report_.references.end(), by_offset);
    return std::move(report_);
  }

 private:
  static constexpr size_t kKindSample = 64 * 1024;  // first bytes that decide text or binary
  static constexpr size_t kUnicodeMargin = 256;  // context scan_hidden_chars sees around a window

  uint64_t end() const { return base_ + buf_.size(); }
  const unsigned char* ptr(uint64_t off) const {
    return reinterpret_cast<const unsigned char*>(buf_.data()) + (off - base_);
  }
  unsigned char at(uint64_t off) const { return static_cast<unsigned char>(buf_[off - base_]); }
  std::string_view view(uint64_t a, uint64_t b) const { return std::string_view(buf_).substr(a - base_, b - a); }

  // Executables and data files are not text; embedded scripts in them are
  // told apart from machine code by their surroundings (see
  // kTextContextBytes).
  void decide_kind() {
    kind_decided_ = true;
    std::string_view s = std::string_view(buf_).substr(0, std::min(buf_.size(), kKindSample));
    if (s.size() >= 4 && s.substr(0, 4) == "\x7f" "ELF") {
      report_.file_kind = "elf";
      text_file_ = false;
      return;
    }
    size_t bad = 0;
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
    for (size_t i = 0; i < s.size();) {
      unsigned char c = p[i];
      if (c == 0) {
        bad = s.size();
        break;
      }
      if (c < 0x80) {
        if (c < 0x20 && !is_space(c) && c != '\f' && c != '\v' && c != 0x1b) ++bad;
        ++i;
        continue;
      }
      auto [cp, len] = utf8_at(p + i, s.size() - i);
      if (len == 0) {
        // A sequence cut by the end of the sample is not an error.
        if (s.size() - i < 4 && s.size() < report_.size) break;
        ++bad;
        ++i;
      } else {
        i += len;
      }
    }
    text_file_ = bad * 100 <= s.size();
    report_.file_kind = text_file_ ? "text" : "binary";
  }

  void process(uint64_t to, bool eof) {
    if (to > done_) {
      uint64_t from = done_;
      scan_references(from, to);
      scan_runs(from, to, eof);
      scan_escapes(from, to, eof);
      scan_hidden(from, to);
      scan_literals(from, to);
      done_ = to;
    } else if (eof) {
      scan_runs(done_, done_, true);
      scan_escapes(done_, done_, true);
    }
  }

  // Drops input no scanner needs any more: everything before the function
  // lookback and before the start of an open run (unless that run is already
  // too long to be decoded).
  void trim() {
    uint64_t keep = done_ > kFunctionLookback ? done_ - kFunctionLookback : 0;
    for (uint64_t start : {b64_start_, hex_start_, esc_start_}) {
      if (start != kNone && done_ - start <= kMaxBlobChars) keep = std::min(keep, start);
    }
    if (keep > base_ + kTrimStep) {
      buf_.erase(0, keep - base_);
      base_ = keep;
    }
  }

  // ---- fingerprint sources ----------------------------------------------------------

  struct RawMatch {
    uint64_t start;
    uint64_t end;
    size_t pattern;
  };

  // Matches starting in [from, to); the automaton starts afresh at `from`,
  // which finds every one of them, and reads on until they have all ended.
  void scan_references(uint64_t from, uint64_t to) {
    uint64_t stop = std::min(end(), to + matcher_.max_len());
    std::vector<RawMatch> found;
    matcher_.scan(ptr(from), stop - from, [&](uint32_t pid, size_t end_index) {
      const SourcePattern& p = rules_.patterns[pid];
      uint64_t lit_end = from + end_index;
      uint64_t lit_start = lit_end - p.literal.size();
      if (lit_start >= to) return;
      uint64_t start = lit_start;
      if (!verify(p, &start, lit_end)) return;
      found.push_back({start, lit_end, pid});
    });
    // The longest match at a place wins ("resolvedOptions().timeZone" over
    // "resolvedOptions"); an exact pattern wins over a wildcard one.
    std::sort(found.begin(), found.end(), [&](const RawMatch& a, const RawMatch& b) {
      if (a.start != b.start) return a.start < b.start;
      if (a.end != b.end) return a.end > b.end;
      return rules_.patterns[a.pattern].wildcard < rules_.patterns[b.pattern].wildcard;
    });
    for (const RawMatch& m : found) {
      if (m.start >= last_ref_start_ && m.end <= last_ref_end_) continue;  // inside the previous one
      last_ref_start_ = m.start;
      last_ref_end_ = m.end;
      ++report_.references_total;
      if (report_.references.size() >= InspectReport::kMaxReferences) continue;
      SourceReference r;
      r.offset = m.start;
      r.pattern = m.pattern;
      r.category = rules_.patterns[m.pattern].category;
      r.match = std::string(view(m.start, m.end));
      r.function = function_at(m.start);
      report_.references.push_back(std::move(r));
    }
  }

  bool verify(const SourcePattern& p, uint64_t* start, uint64_t lit_end) const {
    uint64_t s = *start;
    bool at_eof_end = lit_end >= end();
    if (p.whole_string) {
      if (s == 0 || s <= base_ || at_eof_end) return false;
      unsigned char q = at(s - 1);
      return (is_quote(q) || q == 0) && at(lit_end) == q;
    }
    if (p.wildcard) {
      // An upper-case literal ("_BASE_URL") names a variable: the name before
      // it is upper-case too, which also finds it where a binary packs
      // strings without separators ("comGITHUB_API_URL").
      bool upper = std::none_of(p.literal.begin(), p.literal.end(), [](char c) { return c >= 'a' && c <= 'z'; });
      uint64_t j = s;
      size_t n = 0;
      while (j > base_ && n <= 64) {
        unsigned char c = at(j - 1);
        bool ok = (c >= 'A' && c <= 'Z') || is_digit(c) || c == '_' || (!upper && c >= 'a' && c <= 'z');
        if (!ok) break;
        --j;
        ++n;
      }
      while (n > 0 && at(j) == '_') {  // "__PROXY" is not a name
        ++j;
        --n;
      }
      if (n == 0 || n > 64 || is_digit(at(j)) || (!upper && j > base_ && is_ident(at(j - 1)))) return false;
      *start = s = j;
    } else if (is_ident(static_cast<unsigned char>(p.literal.front())) && s > base_ && is_ident(at(s - 1))) {
      return false;
    }
    if (is_ident(static_cast<unsigned char>(p.literal.back())) && !at_eof_end && is_ident(at(lit_end))) return false;
    return true;
  }

  // ---- the surrounding function -------------------------------------------------------

  // The nearest definition before `offset`, within kFunctionLookback: a
  // forward scan that resumes where the previous reference left it, so the
  // whole file is read at most once for this.
  std::string function_at(uint64_t offset) {
    uint64_t floor = std::max(base_, offset > kFunctionLookback ? offset - kFunctionLookback : 0);
    if (offset < def_cursor_) {
      // Out of order (a wildcard match reaching back): a fresh look.
      Def saved = last_def_;
      last_def_ = {};
      scan_defs(floor, offset);
      Def found = last_def_;
      last_def_ = saved;
      return found.name.empty() ? "unknown" : found.name;
    }
    uint64_t from = std::max(def_cursor_, floor);
    if (from > def_cursor_) last_def_ = {};
    scan_defs(from, offset);
    def_cursor_ = offset;
    if (last_def_.name.empty() || offset - last_def_.offset > kFunctionLookback) return "unknown";
    return last_def_.name;
  }

  struct Def {
    uint64_t offset = 0;
    std::string name;
  };

  void scan_defs(uint64_t a, uint64_t b) {
    for (uint64_t i = a; i < b; ++i) {
      unsigned char c = at(i);
      if (c != 'f' && c != 'd' && c != 'l' && c != '=' && c != '{') continue;
      std::string name;
      if (c == 'f') {
        name = def_function(i);
      } else if (c == 'd') {
        name = def_python(i);
      } else if (c == 'l') {
        if (keyword_at(i, "lambda")) name = assigned_name(i);
      } else if (c == '=') {
        if (i + 1 < end() && at(i + 1) == '>') name = def_arrow(i);
      } else {
        name = def_method(i);
      }
      if (!name.empty()) last_def_ = {i, std::move(name)};
    }
  }

  bool keyword_at(uint64_t i, std::string_view word) const {
    if (i + word.size() > end()) return false;
    if (view(i, i + word.size()) != word) return false;
    if (i > base_ && is_ident(at(i - 1))) return false;
    return i + word.size() == end() || !is_ident(at(i + word.size()));
  }

  uint64_t skip_space(uint64_t i) const {
    while (i < end() && is_space(at(i))) ++i;
    return i;
  }
  // The position after the spaces that end just before i.
  uint64_t skip_space_back(uint64_t i) const {
    while (i > base_ && is_space(at(i - 1))) --i;
    return i;
  }
  std::string ident_at(uint64_t i) const {
    uint64_t j = i;
    while (j < end() && j - i < 64 && is_ident(at(j))) ++j;
    if (j == i || is_digit(at(i)) || (j < end() && is_ident(at(j)))) return {};
    return std::string(view(i, j));
  }
  // The identifier that ends just before i.
  std::string ident_before(uint64_t i, uint64_t* start = nullptr) const {
    uint64_t j = i;
    while (j > base_ && i - j < 64 && is_ident(at(j - 1))) --j;
    if (j == i || is_digit(at(j)) || (j > base_ && is_ident(at(j - 1)))) return {};
    if (start != nullptr) *start = j;
    return std::string(view(j, i));
  }

  // `function NAME(`, `function* NAME(`; anonymous: `NAME = function`.
  std::string def_function(uint64_t i) {
    if (!keyword_at(i, "function")) return {};
    uint64_t j = skip_space(i + 8);
    if (j < end() && at(j) == '*') j = skip_space(j + 1);
    std::string name = ident_at(j);
    if (!name.empty()) {
      uint64_t k = skip_space(j + name.size());
      return k < end() && at(k) == '(' ? name : std::string();
    }
    return assigned_name(i);
  }

  // `def NAME(` and `async def NAME(`.
  std::string def_python(uint64_t i) {
    if (!keyword_at(i, "def")) return {};
    uint64_t j = skip_space(i + 3);
    if (j == i + 3) return {};
    std::string name = ident_at(j);
    uint64_t k = skip_space(j + name.size());
    return !name.empty() && k < end() && at(k) == '(' ? name : std::string();
  }

  // The NAME in `NAME = <here>`, `NAME: <here>`, `obj.NAME = async <here>`.
  std::string assigned_name(uint64_t i) const {
    uint64_t j = skip_space_back(i);
    if (j >= base_ + 5 && view(j - 5, j) == "async" && (j - 5 == base_ || !is_ident(at(j - 6)))) {
      j = skip_space_back(j - 5);
    }
    if (j <= base_ + 1) return {};
    unsigned char op = at(j - 1);
    if (op == '=') {
      unsigned char before = at(j - 2);
      if (std::string_view("=!<>+-*/%&|^?").find(static_cast<char>(before)) != std::string_view::npos) return {};
    } else if (op != ':') {
      return {};
    }
    std::string name = ident_before(skip_space_back(j - 1));
    static const std::unordered_set<std::string> kNotNames = {"default", "case", "return"};
    return kNotNames.count(name) != 0 ? std::string() : name;
  }

  // `NAME = (a, b) =>`, `NAME = async x =>`: only arrows given a name.
  std::string def_arrow(uint64_t i) {
    uint64_t j = skip_space_back(i);
    if (j <= base_) return {};
    if (at(j - 1) == ')') {
      uint64_t open = matching_open(j - 1);
      if (open == kNone) return {};
      j = open;
    } else {
      uint64_t start;
      if (ident_before(j, &start).empty()) return {};
      j = start;
    }
    return assigned_name(j);
  }

  // `NAME(args) {`: a method, or a C function; not `if (...) {` and the like.
  std::string def_method(uint64_t i) {
    uint64_t j = skip_space_back(i);
    if (j <= base_ || at(j - 1) != ')') return {};
    uint64_t open = matching_open(j - 1);
    if (open == kNone) return {};
    std::string name = ident_before(skip_space_back(open));
    static const std::unordered_set<std::string> kKeywords = {
        "if", "for", "while", "switch", "catch", "with", "function", "return", "typeof", "do", "else",
        "in", "of", "new", "await", "yield", "super", "elif", "sizeof", "foreach"};
    return kKeywords.count(name) != 0 ? std::string() : name;
  }

  // The '(' that matches the ')' at `close`, within 1 KiB; kNone if none.
  uint64_t matching_open(uint64_t close) const {
    int depth = 0;
    uint64_t limit = close > base_ + 1024 ? close - 1024 : base_;
    for (uint64_t k = close + 1; k > limit; --k) {
      unsigned char c = at(k - 1);
      if (c == ')') ++depth;
      if (c == '(' && --depth == 0) return k - 1;
    }
    return kNone;
  }

  // ---- encoded blobs ---------------------------------------------------------------

  void scan_runs(uint64_t from, uint64_t to, bool eof) {
    const unsigned char* p = ptr(from);
    for (uint64_t i = from; i < to; ++i, ++p) {
      uint8_t k = kRunClass[*p];
      if (k & kB64) {
        if (b64_start_ == kNone) b64_start_ = i;
      } else if (b64_start_ != kNone) {
        end_base64_run(i);
      }
      if (k & kHex) {
        if (hex_start_ == kNone) hex_start_ = i;
      } else if (hex_start_ != kNone) {
        end_hex_run(i);
      }
    }
    if (eof) {
      if (b64_start_ != kNone) end_base64_run(to);
      if (hex_start_ != kNone) end_hex_run(to);
    }
  }

  // Whether [start, stop) is a whole string literal.
  bool in_string(uint64_t start, uint64_t stop) const {
    if (start <= base_ || stop >= end()) return false;
    unsigned char q = at(start - 1);
    return is_quote(q) && at(stop) == q;
  }

  bool run_length_ok(uint64_t length, size_t min) {
    if (length < min) return false;
    if (length > kMaxBlobChars) {
      ++report_.blobs_too_long;
      return false;
    }
    ++report_.blobs_examined;
    return true;
  }

  void end_base64_run(uint64_t stop) {
    uint64_t start = b64_start_;
    b64_start_ = kNone;
    uint64_t pad = 0;
    while (pad < 2 && stop + pad < end() && at(stop + pad) == '=') ++pad;
    if (!run_length_ok(stop - start, kMinBase64Chars)) return;
    // Padding fixes where the blob starts: a padded blob is a whole number of
    // quads, so extra characters in front are not part of it.
    uint64_t phase = pad > 0 ? (stop - start + pad) % 4 : 0;
    std::string_view chars = view(start + phase, stop);
    bool url = chars.find_first_of("-_") != std::string_view::npos;
    bool std_alpha = chars.find_first_of("+/") != std::string_view::npos;
    decode_base64(chars, decoded_);
    const char* name = url && !std_alpha ? "base64url" : "base64";
    analyze_blob(decoded_, name, start + phase, stop + pad - start - phase, in_string(start, stop + pad), 1);
  }

  void end_hex_run(uint64_t stop) {
    uint64_t start = hex_start_;
    hex_start_ = kNone;
    if (!run_length_ok(stop - start, kMinHexDigits)) return;
    decode_hex(view(start, stop), hex_decoded_);
    analyze_blob(hex_decoded_, "hex", start, stop - start, in_string(start, stop), 1);
  }

  // Runs of "\xNN" escapes, as a string literal spells arbitrary bytes.
  void scan_escapes(uint64_t from, uint64_t to, bool eof) {
    uint64_t i = from;
    while (i < to) {
      const void* hit = memchr(ptr(i), '\\', to - i);
      if (hit == nullptr) break;
      i = static_cast<uint64_t>(static_cast<const unsigned char*>(hit) - ptr(i)) + i;
      if (i + 4 <= end() && at(i + 1) == 'x' && kHexValue[at(i + 2)] >= 0 && kHexValue[at(i + 3)] >= 0) {
        if (esc_start_ != kNone && i == esc_next_) {
          esc_next_ = i + 4;
        } else {
          if (esc_start_ != kNone) end_escape_run();
          esc_start_ = i;
          esc_next_ = i + 4;
        }
        i += 4;
        continue;
      }
      ++i;
    }
    // A run continues only with an escape exactly at esc_next_.
    if (esc_start_ != kNone && (esc_next_ < to || eof)) end_escape_run();
  }

  void end_escape_run() {
    uint64_t start = esc_start_;
    uint64_t stop = esc_next_;
    esc_start_ = kNone;
    if (!run_length_ok(stop - start, 4 * kMinHexEscapes)) return;
    hex_decoded_.clear();
    for (uint64_t k = start; k < stop; k += 4) {
      hex_decoded_ += static_cast<char>(kHexValue[at(k + 2)] << 4 | kHexValue[at(k + 3)]);
    }
    analyze_blob(hex_decoded_, "hex-escape", start, stop - start, in_string(start, stop), 1);
  }

  static void decode_base64(std::string_view chars, std::string& out) {
    out.clear();
    uint32_t acc = 0;
    int bits = 0;
    for (char c : chars) {
      acc = (acc << 6) | static_cast<uint32_t>(kB64Value[static_cast<unsigned char>(c)]);
      bits += 6;
      if (bits >= 8) {
        bits -= 8;
        out += static_cast<char>((acc >> bits) & 0xFF);
      }
    }
  }

  static void decode_hex(std::string_view digits, std::string& out) {
    out.clear();
    for (size_t k = 0; k + 1 < digits.size(); k += 2) {
      out += static_cast<char>(kHexValue[static_cast<unsigned char>(digits[k])] << 4 |
                               kHexValue[static_cast<unsigned char>(digits[k + 1])]);
    }
  }

  // Tries `bytes` as a list under no key and every XOR key that could give
  // printable text; failing that, peels one more encoding when the bytes are
  // themselves base64 or hex text.
  void analyze_blob(const std::string& bytes, const std::string& chain, uint64_t offset, uint64_t length,
                    bool in_str, int depth) {
    if (bytes.size() < 12) return;
    KeySet keys = {~uint64_t{0}, ~uint64_t{0}, ~uint64_t{0}, ~uint64_t{0}};
    for (unsigned char b : bytes) {
      const KeySet& v = kViable[b];
      keys[0] &= v[0];
      keys[1] &= v[1];
      keys[2] &= v[2];
      keys[3] &= v[3];
      if ((keys[0] | keys[1] | keys[2] | keys[3]) == 0) return;  // not text under any key
    }
    std::array<uint32_t, 256> hist{};
    for (unsigned char b : bytes) ++hist[b];
    std::optional<ListResult> best;
    int best_key = 0;
    for (int key = 0; key < 256; ++key) {
      if (!(keys[static_cast<size_t>(key) >> 6] >> (key & 63) & 1)) continue;
      uint32_t separators = hist[static_cast<unsigned>(',' ^ key)] + hist[static_cast<unsigned>('\n' ^ key)] +
                            hist[static_cast<unsigned>(0 ^ key)] + hist[static_cast<unsigned>('|' ^ key)];
      if (separators == 0 && (static_cast<unsigned char>(bytes[0]) ^ key) != '[') continue;
      plain_.resize(bytes.size());
      for (size_t k = 0; k < bytes.size(); ++k) plain_[k] = static_cast<char>(bytes[k] ^ key);
      auto list = classify_list(plain_, rules_);
      if (list && (!best || list->recognized > best->recognized)) {
        best = std::move(list);
        best_key = key;
      }
    }
    if (best) {
      record_table(std::move(*best), chain, best_key, offset, length, in_str);
      return;
    }
    if (depth >= kMaxDecodeDepth || !(keys[0] & 1)) return;
    bool all_hex = bytes.size() >= kMinHexDigits && bytes.size() % 2 == 0;
    bool all_b64 = bytes.size() >= kMinBase64Chars;
    for (unsigned char b : bytes) {
      all_hex = all_hex && kHexValue[b] >= 0;
      all_b64 = all_b64 && (kB64Value[b] >= 0 || b == '=');
    }
    std::string inner;
    if (all_hex) {
      decode_hex(bytes, inner);
      analyze_blob(inner, chain + " -> hex", offset, length, in_str, depth + 1);
    } else if (all_b64) {
      std::string_view chars(bytes);
      while (!chars.empty() && chars.back() == '=') chars.remove_suffix(1);
      if (chars.find('=') != std::string_view::npos) return;
      decode_base64(chars, inner);
      analyze_blob(inner, chain + " -> base64", offset, length, in_str, depth + 1);
    }
  }

  void record_table(ListResult list, const std::string& chain, int key, uint64_t offset, uint64_t length,
                    bool in_str) {
    if (report_.tables.size() >= InspectReport::kMaxTables) return;
    EncodedTable t;
    t.offset = offset;
    t.length = length;
    t.encoding = key == 0 ? chain : chain + " -> xor " + hex_byte(key);
    t.xor_key = key;
    t.in_string = in_str;
    t.separator = std::move(list.separator);
    t.kind = std::move(list.kind);
    t.item_count = list.items.size();
    t.recognized = list.recognized;
    for (auto& item : list.items) {
      if (t.items.size() == EncodedTable::kMaxItemsKept) break;
      t.items.push_back(std::move(item));
    }
    report_.tables.push_back(std::move(t));
  }

  // ---- hidden and look-alike characters ----------------------------------------------

  void scan_hidden(uint64_t from, uint64_t to) {
    uint64_t a = std::max(base_, from > kUnicodeMargin ? from - kUnicodeMargin : 0);
    uint64_t b = std::min(end(), to + kUnicodeMargin);
    std::string_view v = view(a, b);
    ScanResult r = scan_hidden_chars(v, 1000000);
    for (HiddenChar& h : r.chars) {
      uint64_t off = a + h.offset;
      if (off < from || off >= to) continue;
      if (off == 0 && h.code_point == 0xFEFF) continue;  // a byte order mark where it belongs
      if (!text_file_ && !(text_around(off) && in_quotes(off))) continue;
      ++report_.hidden_total;
      if (report_.hidden.size() >= InspectReport::kMaxHidden) continue;
      HiddenCharFinding f;
      f.context = context_around(v, h.offset);
      f.ch = std::move(h);
      f.ch.offset = off;
      report_.hidden.push_back(std::move(f));
    }
  }

  // Whether the kTextContextBytes on each side of `off` read as text. A NUL
  // ends the context: strings in a binary are NUL-terminated. Whitespace is
  // required because Go packs its string constants back to back, and its
  // standard library has real ZWJ/ZWNJ constants; scripts and prose have
  // spaces or line breaks.
  bool text_around(uint64_t off) const {
    uint64_t a = std::max(base_, off > kTextContextBytes ? off - kTextContextBytes : 0);
    uint64_t b = std::min(end(), off + kTextContextBytes);
    for (uint64_t i = off; i > a; --i) {
      if (at(i - 1) == 0) {
        a = i;
        break;
      }
    }
    for (uint64_t i = off; i < b; ++i) {
      if (at(i) == 0) {
        b = i;
        break;
      }
    }
    while (a < off && (at(a) & 0xC0) == 0x80) ++a;  // start on a code point
    size_t ascii = 0, total = 0, letters = 0, spaces = 0;
    for (uint64_t i = a; i < b;) {
      unsigned char c = at(i);
      if (c < 0x80) {
        if ((c < 0x20 && !is_space(c)) || c == 0x7F) return false;
        if (is_space(c)) ++spaces;
        ++ascii;
        ++total;
        if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') ++letters;
        ++i;
        continue;
      }
      auto [cp, len] = utf8_at(ptr(i), end() - i);
      if (len == 0) {
        if (i + 4 > b && b < end()) break;  // cut by the window, not invalid
        return false;
      }
      if (cp >= 0x80 && cp < 0xA0) return false;  // C1 controls
      ++total;
      i += len;
    }
    return letters >= kMinContextLetters && spaces > 0 && ascii * 2 >= total;
  }

  // Whether a quote of one kind stands on each side of `off`, on the same
  // line and within kQuoteReach bytes: the code point is inside a string
  // literal of an embedded script, not in a table of packed string
  // constants (Go and Rust binaries hold real ZWJ and BOM constants).
  static constexpr size_t kQuoteReach = 256;
  bool in_quotes(uint64_t off) const {
    int left = 0, right = 0;  // bit 0 ", bit 1 ', bit 2 `
    auto bit = [](unsigned char c) { return c == '"' ? 1 : c == '\'' ? 2 : c == '`' ? 4 : 0; };
    uint64_t floor = std::max(base_, off > kQuoteReach ? off - kQuoteReach : 0);
    for (uint64_t i = off; i > floor && at(i - 1) != '\n' && at(i - 1) != 0; --i) left |= bit(at(i - 1));
    uint64_t ceiling = std::min(end(), off + kQuoteReach);
    for (uint64_t i = off + 1; i < ceiling && at(i) != '\n' && at(i) != 0; ++i) right |= bit(at(i));
    return (left & right) != 0;
  }

  // Single-character string literals: 'a', "\u0430", '\u{200B}', "\x61",
  // or the character itself.
  struct Literal {
    uint64_t start = 0;
    uint64_t end = 0;
    uint32_t cp = 0;
  };

  void scan_literals(uint64_t from, uint64_t to) {
    uint64_t i = std::max(from, literal_resume_);
    while (i < to) {
      const unsigned char* p = ptr(i);
      size_t n = to - i;
      size_t k = 0;
      while (k < n && !is_quote(p[k])) ++k;
      if (k == n) {
        i = to;
        break;
      }
      i += k;
      Literal lit;
      if (parse_literal(i, &lit)) {
        on_literal(lit);
        i = lit.end;
      } else {
        ++i;
      }
    }
    literal_resume_ = i;
  }

  bool parse_literal(uint64_t i, Literal* lit) const {
    unsigned char q = at(i);
    uint64_t j = i + 1;
    uint64_t limit = std::min(end(), i + 16);
    if (j >= limit) return false;
    uint32_t cp = 0;
    if (at(j) == '\\') {
      if (j + 1 >= limit) return false;
      unsigned char e = at(j + 1);
      auto hex_digits = [&](uint64_t s, size_t count, uint64_t* next) -> bool {
        uint32_t v = 0;
        for (size_t d = 0; d < count; ++d) {
          if (s + d >= limit || kHexValue[at(s + d)] < 0) return false;
          v = v << 4 | static_cast<uint32_t>(kHexValue[at(s + d)]);
        }
        cp = v;
        *next = s + count;
        return true;
      };
      if (e == 'u' && j + 2 < limit && at(j + 2) == '{') {
        uint64_t s = j + 3, k = s;
        uint32_t v = 0;
        while (k < limit && k - s < 6 && kHexValue[at(k)] >= 0) v = v << 4 | static_cast<uint32_t>(kHexValue[at(k++)]);
        if (k == s || k >= limit || at(k) != '}') return false;
        cp = v;
        j = k + 1;
      } else if (e == 'u') {
        if (!hex_digits(j + 2, 4, &j)) return false;
      } else if (e == 'U') {
        if (!hex_digits(j + 2, 8, &j)) return false;
      } else if (e == 'x') {
        if (!hex_digits(j + 2, 2, &j)) return false;
      } else if (e == '\\' || e == '\'' || e == '"' || e == '`') {
        cp = e;
        j += 2;
      } else {
        return false;
      }
    } else {
      auto [c, len] = utf8_at(ptr(j), limit - j);
      if (len == 0 || c == q || c == '\n' || c == '\r') return false;
      cp = c;
      j += len;
    }
    if (j >= limit || at(j) != q || cp > 0x10FFFF) return false;
    *lit = {i, j + 1, cp};
    return true;
  }

  void on_literal(const Literal& lit) {
    bool ascii_alnum = lit.cp < 0x80 && is_ident(static_cast<unsigned char>(lit.cp)) && lit.cp != '_' && lit.cp != '$';
    if ((!ascii_alnum && lit.cp < 0x80) || in_line_comment(lit.start)) {
      have_prev_literal_ = false;
      return;
    }
    // `{a: "\u0430"}`: a bare key and its look-alike.
    if (lit.cp >= 0x80) {
      uint64_t j = skip_space_back(lit.start);
      if (j > base_ + 2 && at(j - 1) == ':') {
        uint64_t k = skip_space_back(j - 1);
        if (k > base_ + 1 && is_ident(at(k - 1)) && !is_ident(at(k - 2)) && at(k - 2) != '.') {
          uint32_t key = at(k - 1);
          if (std::string reason = pair_reason(key, lit.cp); !reason.empty()) {
            add_choice(k - 1, lit.start, key, lit.cp, std::move(reason), lit.end);
          }
        }
      }
    }
    if (have_prev_literal_ && lit.start - prev_literal_.end <= kMaxChoiceGap) {
      Gap gap = classify_gap(prev_literal_.end, lit.start);
      // A table of several ("\u200b","\u200c","\u200d"): one finding.
      bool continues = !report_.choices.empty() && last_choice_end_ == prev_literal_.end;
      bool opens = gap != Gap::kElement || continues || opens_bracket(prev_literal_.start);
      if (gap != Gap::kNone && opens) {
        if (std::string reason = pair_reason(prev_literal_.cp, lit.cp); !reason.empty()) {
          add_choice(prev_literal_.start, lit.start, prev_literal_.cp, lit.cp, std::move(reason), lit.end);
        }
      }
    }
    prev_literal_ = lit;
    have_prev_literal_ = true;
  }

  // What separates two alternatives: `?X:Y` and `{'a':X}` (kAlternative),
  // `{0:X,1:Y}` and `{'a':X,'b':Y}` (kAlternative), Python's `X if c else Y`
  // (kAlternative), or a bare `,` (kElement: only a choice when the pair
  // opens a bracket, `[X,Y]`, not in the middle of a longer tuple).
  enum class Gap { kNone, kAlternative, kElement };
  Gap classify_gap(uint64_t a, uint64_t b) const {
    std::string g;
    for (uint64_t i = a; i < b; ++i) {
      if (!is_space(at(i))) g += static_cast<char>(at(i));
    }
    if (g == ":") return Gap::kAlternative;
    if (g == ",") return Gap::kElement;
    if (g.size() >= 3 && g.front() == ',' && g.back() == ':') {
      std::string_view key = std::string_view(g).substr(1, g.size() - 2);
      if (key.size() >= 2 && is_quote(static_cast<unsigned char>(key.front())) && key.back() == key.front()) {
        key = key.substr(1, key.size() - 2);
      }
      bool ident = !key.empty() && std::all_of(key.begin(), key.end(), [](char c) {
        return is_ident(static_cast<unsigned char>(c));
      });
      return ident ? Gap::kAlternative : Gap::kNone;
    }
    std::string_view raw = view(a, b);
    size_t ifpos = raw.find(" if ");
    bool python = ifpos != std::string_view::npos && raw.find(" else ", ifpos) != std::string_view::npos;
    return python ? Gap::kAlternative : Gap::kNone;
  }

  bool opens_bracket(uint64_t start) const {
    uint64_t j = skip_space_back(start);
    return j > base_ && (at(j - 1) == '[' || at(j - 1) == '(' || at(j - 1) == '{');
  }

  // Whether `off` is inside a `//` or `#` comment that started on its line
  // (quotes before it on the line are followed, so "#fff" is not one). A
  // line longer than 512 bytes (minified code) is taken as code.
  bool in_line_comment(uint64_t off) const {
    uint64_t floor = std::max(base_, off > 512 ? off - 512 : 0);
    uint64_t line = off;
    while (line > floor && at(line - 1) != '\n') --line;
    if (line == floor && floor > 0 && (floor == base_ || at(floor - 1) != '\n')) return false;
    unsigned char quote = 0;
    for (uint64_t i = line; i < off; ++i) {
      unsigned char c = at(i);
      if (quote != 0) {
        if (c == '\\') {
          ++i;
        } else if (c == quote) {
          quote = 0;
        }
        continue;
      }
      if (is_quote(c)) {
        quote = c;
      } else if (c == '#' && (i == line || at(i - 1) != '.')) {
        return true;
      } else if (c == '/' && i + 1 < off && at(i + 1) == '/') {
        return true;
      }
    }
    return false;
  }

  // Why choosing between a and b hides something, or empty: both invisible
  // (other than VS15/VS16, the text/emoji presentation switch every emoji
  // library has), or one an ASCII letter or digit and the other a code point
  // confusable with it (same UTS #39 skeleton). Two non-ASCII look-alikes
  // (curly quotes, breve and caron) are Unicode tables, not a hiding place.
  std::string pair_reason(uint32_t a, uint32_t b) {
    if (a == b) return {};
    if (hidden_cp(a) && hidden_cp(b)) {
      bool presentation = (a == 0xFE0E && b == 0xFE0F) || (a == 0xFE0F && b == 0xFE0E);
      return presentation ? std::string() : "invisible pair";
    }
    if ((a < 0x80) == (b < 0x80)) return {};
    uint32_t ascii = a < 0x80 ? a : b;
    if (!is_ident(static_cast<unsigned char>(ascii)) || ascii == '_' || ascii == '$') return {};
    const std::u16string& sa = skeleton(a);
    if (sa.empty() || sa != skeleton(b)) return {};
    return std::string("look-alike of '") + static_cast<char>(ascii) + "'";
  }

  bool hidden_cp(uint32_t cp) {
    auto it = hidden_cache_.find(cp);
    if (it != hidden_cache_.end()) return it->second;
    std::string s;
    append_utf8(s, cp);
    ScanResult r = scan_hidden_chars(s);
    bool hidden = !r.chars.empty() && r.chars[0].kind != HiddenChar::Kind::kLookalike;
    hidden_cache_[cp] = hidden;
    return hidden;
  }

  const std::u16string& skeleton(uint32_t cp) {
    auto it = skeleton_cache_.find(cp);
    if (it != skeleton_cache_.end()) return it->second;
    return skeleton_cache_[cp] = Skeletons::get().of(cp);
  }

  void add_choice(uint64_t first_off, uint64_t second_off, uint32_t first, uint32_t second, std::string reason,
                  uint64_t stop) {
    if (!report_.choices.empty() && first_off <= last_choice_end_ + kMaxChoiceGap &&
        first_off >= report_.choices.back().offset) {
      // The same table goes on ({a:"\u0430",e:"\u0435"}): one finding.
      report_.choices.back().second_offset = second_off;
      last_choice_end_ = stop;
      return;
    }
    last_choice_end_ = stop;
    if (report_.choices.size() >= InspectReport::kMaxChoices) return;
    LookalikeChoice c;
    c.offset = first_off;
    c.second_offset = second_off;
    c.first = first;
    c.second = second;
    c.reason = std::move(reason);
    // The code from a little before the first to a little after the second,
    // hidden code points spelled <U+200B> by context_around().
    uint64_t a = std::max(base_, first_off > 24 ? first_off - 24 : 0);
    uint64_t b = std::min(end(), stop + 24);
    std::string_view v = view(a, b);
    size_t radius = static_cast<size_t>(stop - first_off) / 2 + 24;
    c.snippet = context_around(v, (first_off - a) + (stop - first_off) / 2, radius);
    report_.choices.push_back(std::move(c));
  }

  const InspectRules& rules_;
  Matcher matcher_;
  std::string buf_;
  uint64_t base_ = 0;
  uint64_t done_ = 0;
  bool kind_decided_ = false;
  bool text_file_ = true;
  InspectReport report_;

  uint64_t last_ref_start_ = 0;
  uint64_t last_ref_end_ = 0;
  uint64_t def_cursor_ = 0;
  Def last_def_;

  uint64_t b64_start_ = kNone;
  uint64_t hex_start_ = kNone;
  uint64_t esc_start_ = kNone;
  uint64_t esc_next_ = 0;
  std::string decoded_, hex_decoded_, plain_;

  uint64_t literal_resume_ = 0;
  Literal prev_literal_;
  bool have_prev_literal_ = false;
  uint64_t last_choice_end_ = 0;
  std::unordered_map<uint32_t, bool> hidden_cache_;
  std::unordered_map<uint32_t, std::u16string> skeleton_cache_;
};

Inspector::Inspector(const InspectRules& rules) : engine_(new Engine(rules)) {}
Inspector::~Inspector() { delete engine_; }
void Inspector::feed(std::string_view bytes) { engine_->feed(bytes); }
InspectReport Inspector::finish() { return engine_->finish(); }

InspectReport inspect_buffer(std::string_view data, const InspectRules& rules) {
  Inspector in(rules);
  for (size_t off = 0; off < data.size(); off += kReadChunkBytes) {
    in.feed(data.substr(off, kReadChunkBytes));
  }
  return in.finish();
}

InspectReport inspect_file(const std::string& path, const InspectRules& rules) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error("cannot read " + path + ": " + errno_text(errno));
  (void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  Inspector in(rules);
  std::unique_ptr<char[]> chunk(new char[kReadChunkBytes]);
  for (;;) {
    ssize_t n = ::read(fd, chunk.get(), kReadChunkBytes);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      throw Error("cannot read " + path + ": " + errno_text(err));
    }
    if (n == 0) break;
    in.feed(std::string_view(chunk.get(), static_cast<size_t>(n)));
  }
  ::close(fd);
  InspectReport r = in.finish();
  r.path = path;
  return r;
}

// ---- reports -------------------------------------------------------------------------------

namespace {

std::string cp_hex(uint32_t cp) {
  char buf[16];
  snprintf(buf, sizeof buf, "U+%04X", cp);
  return buf;
}

trace::Json char_json(uint32_t cp) {
  std::string label = code_point_label(cp);
  std::string hex = cp_hex(cp);
  std::string name = label.size() > hex.size() + 1 ? label.substr(hex.size() + 1) : std::string();
  return trace::Json{{"code_point", hex}, {"name", name}};
}

}  // namespace

trace::Json inspect_json(const InspectReport& r, const InspectRules& rules) {
  trace::Json j;
  j["file"] = r.path;
  j["size"] = r.size;
  j["file_kind"] = r.file_kind;
  j["suspicious"] = is_suspicious(r);
  j["exit_status"] = is_suspicious(r) ? kExitFindings : kExitOk;

  trace::Json tables = trace::Json::array();
  for (const auto& t : r.tables) {
    trace::Json e;
    e["offset"] = t.offset;
    e["length"] = t.length;
    e["encoding"] = t.encoding;
    e["key"] = t.xor_key == 0 ? std::string("none") : hex_byte(t.xor_key);
    e["in_string"] = t.in_string;
    e["separator"] = t.separator;
    e["kind"] = t.kind;
    e["item_count"] = t.item_count;
    e["recognized"] = t.recognized;
    e["items"] = t.items;
    e["items_truncated"] = t.items.size() < t.item_count;
    tables.push_back(std::move(e));
  }
  j["encoded_tables"] = std::move(tables);

  trace::Json hidden = trace::Json::array();
  for (const auto& h : r.hidden) {
    trace::Json e;
    e["offset"] = h.ch.offset;
    e["code_point"] = cp_hex(h.ch.code_point);
    e["name"] = h.ch.name;
    e["kind"] = kind_name(h.ch.kind);
    if (!h.ch.imitates.empty()) e["imitates"] = h.ch.imitates;
    e["context"] = h.context;
    hidden.push_back(std::move(e));
  }
  j["hidden_characters"] = {{"total", r.hidden_total}, {"truncated", r.hidden.size() < r.hidden_total},
                            {"items", std::move(hidden)}};

  trace::Json choices = trace::Json::array();
  for (const auto& c : r.choices) {
    trace::Json e;
    e["offset"] = c.offset;
    e["second_offset"] = c.second_offset;
    e["reason"] = c.reason;
    e["characters"] = trace::Json::array({char_json(c.first), char_json(c.second)});
    e["snippet"] = c.snippet;
    choices.push_back(std::move(e));
  }
  j["lookalike_choices"] = std::move(choices);

  std::vector<size_t> per_category(rules.categories.size());
  for (const auto& ref : r.references) ++per_category[ref.category];
  trace::Json cats = trace::Json::array();
  for (size_t i = 0; i < rules.categories.size(); ++i) {
    if (per_category[i] == 0) continue;
    cats.push_back({{"id", rules.categories[i].id}, {"title", rules.categories[i].title}, {"count", per_category[i]}});
  }
  trace::Json refs = trace::Json::array();
  for (const auto& ref : r.references) {
    refs.push_back({{"offset", ref.offset},
                    {"category", rules.categories[ref.category].id},
                    {"pattern", rules.patterns[ref.pattern].pattern},
                    {"match", ref.match},
                    {"function", ref.function}});
  }
  j["fingerprint_sources"] = {{"total", r.references_total},
                              {"truncated", r.references.size() < r.references_total},
                              {"categories", std::move(cats)},
                              {"references", std::move(refs)}};
  j["blobs"] = {{"examined", r.blobs_examined}, {"too_long", r.blobs_too_long}};
  return j;
}

std::string inspect_text(const InspectReport& r, const InspectRules& rules) {
  constexpr size_t kShown = 8;  // entries per section: one screen for the common case
  std::string out;
  // Items, contexts and snippets are the file's own bytes: each line is
  // escaped whole (it has no colour of its own), so none can forge another.
  auto line = [&](const std::string& s) { out += terminal_safe(s) + "\n"; };
  auto plural = [](size_t n, const char* one, const char* many) {
    return std::to_string(n) + " " + (n == 1 ? one : many);
  };
  line("agenttrace inspect: " + (r.path.empty() ? std::string("(buffer)") : r.path) + " (" + human_bytes(r.size) +
       ", " + r.file_kind + ")");

  if (!r.tables.empty()) {
    line("");
    line("encoded string tables (" + std::to_string(r.tables.size()) + "):");
    for (size_t i = 0; i < r.tables.size() && i < kShown; ++i) {
      const EncodedTable& t = r.tables[i];
      static const std::map<std::string, std::string> kKindText = {
          {"hosts", "hosts"}, {"domain-suffixes", "domain suffixes"}, {"time-zones", "time zones"},
          {"env-names", "environment variable names"}, {"keywords", "fingerprint keywords"},
          {"mixed", "fingerprint names (mixed kinds)"}};
      auto kt = kKindText.find(t.kind);
      std::string kind = kt == kKindText.end() ? t.kind : kt->second;
      line("  @" + std::to_string(t.offset) + "  " + t.encoding + ", key " +
           (t.xor_key == 0 ? std::string("none") : hex_byte(t.xor_key)) + ", " +
           std::to_string(t.item_count) + " " + kind + (t.in_string ? " (string literal, " : " (raw, ") +
           std::to_string(t.length) + " chars)");
      std::string items;
      size_t shown = 0;
      for (const auto& item : t.items) {
        if (items.size() + item.size() > 200) break;
        items += (shown++ == 0 ? "" : ", ") + item;
      }
      if (shown < t.item_count) items += ", ... " + std::to_string(t.item_count - shown) + " more";
      line("      " + items);
    }
    if (r.tables.size() > kShown) line("  ... " + std::to_string(r.tables.size() - kShown) + " more (--format json)");
  }

  if (r.hidden_total > 0) {
    line("");
    line("hidden characters (" + std::to_string(r.hidden_total) + "):");
    for (size_t i = 0; i < r.hidden.size() && i < kShown; ++i) {
      const HiddenCharFinding& h = r.hidden[i];
      std::string what = code_point_label(h.ch.code_point) + " (" + kind_name(h.ch.kind) +
                         (h.ch.imitates.empty() ? "" : ", imitates '" + h.ch.imitates + "'") + ")";
      line("  @" + std::to_string(h.ch.offset) + "  " + what);
      line("      " + h.context);
    }
    if (r.hidden_total > kShown) line("  ... " + std::to_string(r.hidden_total - kShown) + " more (--format json)");
  }

  if (!r.choices.empty()) {
    line("");
    line("look-alike choices (" + std::to_string(r.choices.size()) + "):");
    for (size_t i = 0; i < r.choices.size() && i < kShown; ++i) {
      const LookalikeChoice& c = r.choices[i];
      line("  @" + std::to_string(c.offset) + "  " + c.reason + ": " + code_point_label(c.first) + " / " +
           code_point_label(c.second));
      line("      " + c.snippet);
    }
    if (r.choices.size() > kShown) line("  ... " + std::to_string(r.choices.size() - kShown) + " more (--format json)");
  }

  line("");
  if (r.references_total == 0) {
    line("fingerprint sources: none referenced");
  } else {
    line("fingerprint sources (" + plural(r.references_total, "reference", "references") + "):");
    for (size_t c = 0; c < rules.categories.size(); ++c) {
      // Per category: each distinct text matched, how often, and where first.
      std::map<std::string, std::pair<size_t, const SourceReference*>> by_match;
      std::vector<std::string> order;
      size_t count = 0;
      for (const auto& ref : r.references) {
        if (ref.category != c) continue;
        ++count;
        auto [it, fresh] = by_match.try_emplace(ref.match, 0, &ref);
        if (fresh) order.push_back(ref.match);
        ++it->second.first;
      }
      if (count == 0) continue;
      std::string s = "  " + rules.categories[c].title + " (" + std::to_string(count) + "): ";
      for (size_t i = 0; i < order.size() && i < 4; ++i) {
        const auto& [n, first] = by_match[order[i]];
        s += (i == 0 ? "" : "; ") + order[i] + (n > 1 ? " x" + std::to_string(n) : "") + " @" +
             std::to_string(first->offset) + (first->function == "unknown" ? "" : " in " + first->function);
      }
      if (order.size() > 4) s += "; ... " + std::to_string(order.size() - 4) + " more";
      line(s);
    }
    if (r.references.size() < r.references_total) {
      line("  (the first " + std::to_string(r.references.size()) + " are listed in --format json)");
    }
  }

  line("");
  if (is_suspicious(r)) {
    std::vector<std::string> what;
    if (!r.tables.empty()) what.push_back(plural(r.tables.size(), "encoded table", "encoded tables"));
    if (r.hidden_total > 0) what.push_back(plural(r.hidden_total, "hidden character", "hidden characters"));
    if (!r.choices.empty()) what.push_back(plural(r.choices.size(), "look-alike choice", "look-alike choices"));
    line("verdict: suspicious: " + join(what, ", ") + " (exit 3)");
  } else {
    line("verdict: nothing hidden found (exit 0)");
  }
  return out;
}

}  // namespace agenttrace::analyzer
