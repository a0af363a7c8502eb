#include "common/strings.h"

#include <cerrno>
#include <cstring>
#include <ctime>

#include "common/error.h"
#include "common/utf8.h"

namespace agenttrace {

std::string errno_text(int err) {
  char buf[256];
  // GNU strerror_r returns a pointer that may or may not be buf.
  return std::string(strerror_r(err, buf, sizeof(buf)));
}

uint64_t fnv1a(std::string_view bytes) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

std::string join(const std::vector<std::string>& parts, std::string_view sep) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i) out += sep;
    out += parts[i];
  }
  return out;
}

std::optional<uint64_t> parse_size(std::string_view text) {
  if (text.empty()) return std::nullopt;
  uint64_t value = 0;
  size_t i = 0;
  for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) {
    uint64_t digit = text[i] - '0';
    if (value > (UINT64_MAX - digit) / 10) return std::nullopt;
    value = value * 10 + digit;
  }
  if (i == 0) return std::nullopt;
  std::string_view suffix = text.substr(i);
  uint64_t mult = 1;
  if (suffix.empty() || suffix == "B") {
    mult = 1;
  } else if (suffix == "K" || suffix == "k" || suffix == "KiB" || suffix == "KB") {
    mult = 1ull << 10;
  } else if (suffix == "M" || suffix == "m" || suffix == "MiB" || suffix == "MB") {
    mult = 1ull << 20;
  } else if (suffix == "G" || suffix == "g" || suffix == "GiB" || suffix == "GB") {
    mult = 1ull << 30;
  } else {
    return std::nullopt;
  }
  if (value > UINT64_MAX / mult) return std::nullopt;
  return value * mult;
}

std::optional<int64_t> parse_duration_ns(std::string_view text) {
  size_t i = 0;
  int64_t value = 0;
  for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) {
    if (value > (INT64_MAX - 9) / 10) return std::nullopt;
    value = value * 10 + (text[i] - '0');
  }
  if (i == 0) return std::nullopt;
  std::string_view unit = text.substr(i);
  int64_t mult;
  if (unit == "ms") mult = 1000000;
  else if (unit == "s") mult = 1000000000;
  else if (unit == "m") mult = 60ll * 1000000000;
  else if (unit == "h") mult = 3600ll * 1000000000;
  else if (unit == "d") mult = 86400ll * 1000000000;
  else return std::nullopt;
  if (value > INT64_MAX / mult) return std::nullopt;
  return value * mult;
}

std::string human_bytes(uint64_t bytes) {
  static const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024.0 && u < 4) {
    v /= 1024.0;
    ++u;
  }
  char buf[32];
  if (u == 0)
    snprintf(buf, sizeof(buf), "%llu B", static_cast<unsigned long long>(bytes));
  else
    snprintf(buf, sizeof(buf), "%.1f %s", v, units[u]);
  return buf;
}

std::string shell_quote(std::string_view word) {
  if (word.empty()) return "''";
  bool plain = true;
  for (char c : word) {
    if (!(isalnum(static_cast<unsigned char>(c)) || strchr("@%+=:,./_-", c))) {
      plain = false;
      break;
    }
  }
  if (plain) return std::string(word);
  std::string out = "'";
  for (char c : word) {
    if (c == '\'')
      out += "'\\''";
    else
      out += c;
  }
  out += "'";
  return out;
}

std::string format_time_ns(int64_t wall_ns) {
  time_t secs = static_cast<time_t>(wall_ns / 1000000000);
  long nanos = static_cast<long>(wall_ns % 1000000000);
  if (nanos < 0) {
    nanos += 1000000000;
    --secs;
  }
  struct tm tm;
  gmtime_r(&secs, &tm);
  char buf[64];
  size_t n = strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(buf + n, sizeof(buf) - n, ".%09ldZ", nanos);
  return buf;
}

std::string printable_preview(std::string_view bytes, size_t max_len) {
  std::string out;
  size_t n = bytes.size() < max_len ? bytes.size() : max_len;
  out.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    unsigned char c = static_cast<unsigned char>(bytes[i]);
    out += (c >= 0x20 && c < 0x7f) ? static_cast<char>(c) : '.';
  }
  return out;
}

std::string terminal_safe(std::string_view text) {
  static const char kHex[] = "0123456789abcdef";
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  std::string out;
  out.reserve(n);
  for (size_t i = 0; i < n;) {
    unsigned char c = s[i];
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
      ++i;
      continue;
    }
    if (c < 0x80) {
      switch (c) {
        case '\t': out += "\\t"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        default:
          out += "\\x";
          out += kHex[c >> 4];
          out += kHex[c & 0xf];
      }
      ++i;
      continue;
    }
    Utf8Decoded d = decode_utf8_at(s, n, i);
    if (d.len == 0) {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
      ++i;
    } else if (d.cp >= 0x80 && d.cp <= 0x9f) {
      out += "\\u00";
      out += kHex[d.cp >> 4];
      out += kHex[d.cp & 0xf];
      i += d.len;
    } else {
      out.append(text.substr(i, d.len));
      i += d.len;
    }
  }
  return out;
}

std::string errno_name(int err) {
  const char* name = strerrorname_np(err);
  if (name) return name;
  return "E" + std::to_string(err);
}

std::string result_error_name(int64_t result) {
  constexpr int64_t kMaxErrno = 4095;  // the kernel's MAX_ERRNO
  if (result < 0 && result >= -kMaxErrno) return errno_name(static_cast<int>(-result));
  return std::to_string(result);
}

}  // namespace agenttrace
