#include "analyzer/inspect/encoded_tables.h"

#include <unicode/strenum.h>
#include <unicode/timezone.h>

#include <algorithm>
#include <array>
#include <memory>
#include <optional>
#include <unordered_set>
#include <vector>

#include "common/base64.h"
#include "common/hex.h"
#include "trace/json.h"

namespace agenttrace::analyzer::inspect {

namespace {

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
  // Two different keywords; the same one twice ("tZ\ntZ" out of binary
  // data by chance) is not a list of anything.
  bool keyword_pair = n == 2 && count[kKeyword] + count[kEnvKnown] == 2 && lower(r.items[0]) != lower(r.items[1]);
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

void record_table(ListResult list, const std::string& chain, int key, const EncodedRun& run, InspectReport& out) {
  if (out.tables.size() >= InspectReport::kMaxTables) return;
  EncodedTable t;
  t.offset = run.offset;
  t.length = run.length;
  t.encoding = key == 0 ? chain : chain + " -> xor " + key_text(key);
  t.xor_key = key;
  t.in_string = run.in_string;
  t.separator = std::move(list.separator);
  t.kind = std::move(list.kind);
  t.item_count = list.items.size();
  t.recognized = list.recognized;
  for (auto& item : list.items) {
    if (t.items.size() == EncodedTable::kMaxItemsKept) break;
    t.items.push_back(std::move(item));
  }
  out.tables.push_back(std::move(t));
}

}  // namespace

bool count_run(uint64_t length, size_t min, InspectReport& out) {
  if (length < min) return false;
  if (length > kMaxBlobChars) {
    ++out.blobs_too_long;
    return false;
  }
  ++out.blobs_examined;
  return true;
}

bool whole_string_literal(const Input& in, uint64_t start, uint64_t stop) {
  if (start <= in.base() || stop >= in.end()) return false;
  unsigned char q = in.at(start - 1);
  return is_quote(q) && in.at(stop) == q;
}

void TableFinder::examine(const std::string& bytes, const std::string& chain, const EncodedRun& run, int depth,
                          InspectReport& out) {
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
    record_table(std::move(*best), chain, best_key, run, out);
    return;
  }
  if (depth >= kMaxDecodeDepth || !(keys[0] & 1)) return;
  bool all_hex = bytes.size() >= kMinHexDigits && bytes.size() % 2 == 0;
  bool all_b64 = bytes.size() >= kMinBase64Chars;
  for (unsigned char b : bytes) {
    all_hex = all_hex && hex_digit_value(b) >= 0;
    all_b64 = all_b64 && (is_base64_digit(b) || b == '=');
  }
  std::string inner;
  if (all_hex) {
    hex_decode_pairs(bytes, inner);
    examine(inner, chain + " -> hex", run, depth + 1, out);
  } else if (all_b64) {
    std::string_view chars(bytes);
    while (!chars.empty() && chars.back() == '=') chars.remove_suffix(1);
    if (chars.find('=') != std::string_view::npos) return;
    base64_decode_digits(chars, inner);
    examine(inner, chain + " -> base64", run, depth + 1, out);
  }
}

}  // namespace agenttrace::analyzer::inspect
