#include "trace/redaction.h"

#include <algorithm>
#include <cctype>

namespace agenttrace::trace {

namespace {

constexpr std::string_view kLongPrefix = "[redacted:";
constexpr std::string_view kShortPrefix = "[r:";
constexpr size_t kShortMin = 12;  // "[r:" + 8 hex + "]"
constexpr size_t kHashChars = 16;

bool is_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

}  // namespace

std::string redaction_marker(std::string_view kind, std::string_view hash_hex, size_t length) {
  std::string hash(hash_hex.substr(0, kHashChars));
  auto padded = [&](std::string m) {
    m.insert(m.size() - 1, length - m.size(), '*');
    return m;
  };
  // The long form with the whole hash, then with half of it: a key's kind
  // and a hash that still tells two keys apart fit most secrets.
  for (size_t h : {kHashChars, kHashChars / 2}) {
    std::string full = std::string(kLongPrefix) + std::string(kind) + ":" + hash.substr(0, h) + "]";
    if (length >= full.size()) return padded(full);
  }
  // The short form keeps the encoding (what the analyzer needs to tell an
  // encoded copy from the secret where it belongs) and as much hash as fits;
  // the trailer names the kind of each hash.
  size_t tilde = kind.find('~');
  std::string prefix = tilde == std::string_view::npos ? std::string(kShortPrefix)
                                                       : "[r" + std::string(kind.substr(tilde)) + ":";
  if (length >= prefix.size() + 9) {
    size_t h = std::min(hash.size(), length - prefix.size() - 1);
    return padded(prefix + hash.substr(0, h) + "]");
  }
  return std::string(length, '*');
}

std::optional<ParsedMarker> parse_redaction_marker(std::string_view text) {
  ParsedMarker m;
  size_t i;
  if (text.substr(0, kLongPrefix.size()) == kLongPrefix) {
    i = kLongPrefix.size();
    size_t colon = text.find(':', i);
    if (colon == std::string_view::npos || colon == i || colon - i > 200) return std::nullopt;
    std::string_view kind = text.substr(i, colon - i);
    for (char c : kind)
      if (!(isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' || c == '~')) return std::nullopt;
    size_t tilde = kind.find('~');
    m.kind = std::string(kind.substr(0, tilde));
    if (tilde != std::string_view::npos) m.encoding = std::string(kind.substr(tilde + 1));
    i = colon + 1;
  } else if (text.substr(0, kShortPrefix.size()) == kShortPrefix) {
    i = kShortPrefix.size();
  } else if (text.substr(0, 3) == "[r~") {
    size_t colon = text.find(':', 3);
    if (colon == std::string_view::npos || colon == 3 || colon > 40) return std::nullopt;
    for (size_t k = 3; k < colon; ++k)
      if (!(isalnum(static_cast<unsigned char>(text[k])) || text[k] == '-')) return std::nullopt;
    m.encoding = std::string(text.substr(3, colon - 3));
    i = colon + 1;
  } else {
    return std::nullopt;
  }
  size_t h = i;
  while (i < text.size() && is_hex(text[i])) ++i;
  if (i - h < 8) return std::nullopt;
  m.hash = std::string(text.substr(h, i - h));
  while (i < text.size() && text[i] == '*') ++i;
  if (i >= text.size() || text[i] != ']') return std::nullopt;
  m.length = i + 1;
  return m;
}

std::vector<std::pair<size_t, ParsedMarker>> find_redaction_markers(std::string_view text) {
  std::vector<std::pair<size_t, ParsedMarker>> out;
  size_t at = 0;
  while ((at = text.find('[', at)) != std::string_view::npos) {
    if (auto m = parse_redaction_marker(text.substr(at))) {
      size_t len = m->length;
      out.emplace_back(at, std::move(*m));
      at += len;
    } else {
      ++at;
    }
  }
  return out;
}

}  // namespace agenttrace::trace
