#include "collector/redactor.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sys/random.h>

#include <algorithm>
#include <cctype>
#include <cstring>

#include "common/error.h"

namespace agenttrace::collector {

namespace {

// Secrets shorter than this are not remembered as known values: their
// encoded images would turn up by accident.
constexpr size_t kMinKnownSecret = 8;

bool is_alnum(char c) { return isalnum(static_cast<unsigned char>(c)) != 0; }

bool in_charset(const std::string& set, char c) {
  if (is_alnum(c)) {
    if (set == "upper-digit") return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    return true;
  }
  if (set == "alnum-_" || set == "base64url") return c == '-' || c == '_';
  if (set == "alnum_") return c == '_';
  if (set == "alnum-") return c == '-';
  return false;
}

bool is_base64url(char c) { return is_alnum(c) || c == '-' || c == '_'; }

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(tolower(static_cast<unsigned char>(c)));
  return out;
}

bool is_header_name_char(char c) { return is_alnum(c) || strchr("!#$%&'*+.^_`|~-", c) != nullptr; }

// A marker already stands at `at` (a span redacted by an earlier pass).
bool marker_at(const std::string& data, size_t at) {
  return data.compare(at, 10, "[redacted:") == 0 || data.compare(at, 3, "[r:") == 0;
}

// Encoding names of the value echo, as they go into a marker's kind.
std::string encoding_suffix(const std::string& encoding) {
  if (encoding == "plain") return "";
  std::string e = encoding;
  std::replace(e.begin(), e.end(), '+', '-');
  return "~" + e;
}

}  // namespace

Redactor::Redactor(trace::SecretRules rules, std::function<bool(std::string_view)> secret_env, CopyFinder find_copies)
    : rules_(std::move(rules)), secret_env_(std::move(secret_env)), find_copies_(std::move(find_copies)) {
  // Compared case-blind on every payload: lowered once here.
  for (auto& h : rules_.headers) h = lower(h);
  for (auto& k : rules_.keys) k = lower(k);
  size_t got = 0;
  while (got < key_.size()) {
    ssize_t n = getrandom(key_.data() + got, key_.size() - got, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw Error("cannot make a redaction key: getrandom: " + errno_text(errno));
    }
    got += static_cast<size_t>(n);
  }
}

std::string Redactor::hash_of(std::string_view value) const {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key_.data(), static_cast<int>(key_.size()), reinterpret_cast<const unsigned char*>(value.data()),
       value.size(), mac, &len);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < 8 && i < len; ++i) {
    out += hex[mac[i] >> 4];
    out += hex[mac[i] & 15];
  }
  return out;
}

bool Redactor::learn(const std::string& kind, std::string_view value) {
  if (value.size() < kMinKnownSecret) return false;
  for (const auto& k : known_)
    if (k.value == value) return false;
  known_.push_back({kind, std::string(value)});
  return true;
}

void Redactor::add_secret(const std::string& kind, const std::string& value) { learn(kind, value); }

void Redactor::add_environment(const std::vector<std::string>& env) {
  for (const auto& kv : env) {
    size_t eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) continue;
    std::string name = kv.substr(0, eq);
    if (secret_env_ && secret_env_(name)) learn("env." + name, std::string_view(kv).substr(eq + 1));
  }
}

std::vector<std::string> Redactor::kinds_looked_for() const {
  std::vector<std::string> out;
  for (const auto& h : rules_.headers) out.push_back("header " + h);
  for (const auto& k : rules_.keys) out.push_back("key " + k);
  for (const auto& t : rules_.tokens) out.push_back("token " + t.kind);
  if (rules_.jwt) out.push_back("token jwt");
  out.push_back("secret-bearing environment values");
  // One entry per kind: several prefixes may name one format.
  std::vector<std::string> unique;
  for (auto& k : out)
    if (std::find(unique.begin(), unique.end(), k) == unique.end()) unique.push_back(std::move(k));
  return unique;
}

void Redactor::replace(std::string* data, size_t at, size_t len, const std::string& kind, std::string_view value) {
  std::string hash = hash_of(value);
  std::string marker = trace::redaction_marker(kind, hash, len);
  data->replace(at, len, marker);
  std::string base = kind.substr(0, kind.find('~'));
  counts_[base]++;
  secret_kinds_.try_emplace(hash, base);
}

size_t Redactor::redact_known(std::string* data) {
  size_t n = 0;
  for (const auto& k : known_) {
    if (data->size() < 4) break;
    // The value itself first: its copies are what a trace most often holds.
    auto matches = find_copies_(*data, k.value, kMinKnownSecret);
    for (const auto& m : matches) {
      if (m.offset + m.length > data->size() || marker_at(*data, m.offset)) continue;
      std::string original = data->substr(m.offset, m.length);
      if (original.find("[redacted:") != std::string::npos) continue;
      replace(data, m.offset, m.length, k.kind + encoding_suffix(m.encoding), k.value);
      ++n;
    }
  }
  return n;
}

size_t Redactor::redact_headers(std::string* data) {
  size_t n = 0;
  for (size_t line = 0; line < data->size();) {
    size_t name_end = line;
    while (name_end < data->size() && is_header_name_char((*data)[name_end])) ++name_end;
    if (name_end > line && name_end < data->size() && (*data)[name_end] == ':') {
      std::string name = lower(std::string_view(*data).substr(line, name_end - line));
      if (std::find(rules_.headers.begin(), rules_.headers.end(), name) != rules_.headers.end()) {
        size_t v = name_end + 1;
        while (v < data->size() && ((*data)[v] == ' ' || (*data)[v] == '\t')) ++v;
        size_t end = v;
        while (end < data->size() && (*data)[end] != '\r' && (*data)[end] != '\n') ++end;
        // "Bearer TOKEN", "Basic B64": the scheme stays readable.
        size_t sp = data->find(' ', v);
        if (sp != std::string::npos && sp < end && sp - v <= 12) {
          bool word = true;
          for (size_t i = v; i < sp; ++i) word = word && isalpha(static_cast<unsigned char>((*data)[i]));
          if (word) {
            v = sp + 1;
            while (v < end && (*data)[v] == ' ') ++v;
          }
        }
        if (end > v && !marker_at(*data, v)) {
          std::string value = data->substr(v, end - v);
          learn(name, value);
          replace(data, v, end - v, name, value);
          ++n;
        }
      }
    }
    size_t nl = data->find('\n', line);
    if (nl == std::string::npos) break;
    line = nl + 1;
  }
  return n;
}

size_t Redactor::redact_keys(std::string* data) {
  size_t n = 0;
  auto is_key = [&](std::string_view k) {
    return std::find(rules_.keys.begin(), rules_.keys.end(), lower(k)) != rules_.keys.end();
  };
  // JSON: "key" : "value"
  for (size_t q = data->find('"'); q != std::string::npos && q + 1 < data->size(); q = data->find('"', q + 1)) {
    size_t kend = data->find('"', q + 1);
    if (kend == std::string::npos) break;
    if (kend - q - 1 > 64 || !is_key(std::string_view(*data).substr(q + 1, kend - q - 1))) {
      continue;
    }
    size_t i = kend + 1;
    while (i < data->size() && isspace(static_cast<unsigned char>((*data)[i]))) ++i;
    if (i >= data->size() || (*data)[i] != ':') {
      q = kend;
      continue;
    }
    ++i;
    while (i < data->size() && isspace(static_cast<unsigned char>((*data)[i]))) ++i;
    if (i >= data->size() || (*data)[i] != '"') {
      q = kend;
      continue;
    }
    size_t v = i + 1, end = v;
    while (end < data->size() && (*data)[end] != '"') end += (*data)[end] == '\\' ? 2 : 1;
    if (end > data->size()) end = data->size();
    if (end > v && !marker_at(*data, v)) {
      std::string value = data->substr(v, end - v);
      std::string kind = lower(std::string_view(*data).substr(q + 1, kend - q - 1));
      learn(kind, value);
      replace(data, v, end - v, kind, value);
      ++n;
    }
    q = end;
  }
  // Query strings and form bodies: ?key=value&...
  for (size_t i = 0; i < data->size(); ++i) {
    // A parameter starts after '?' or '&', or at the start of a form body
    // (of the data, or of a line).
    char c = (*data)[i];
    size_t k;
    if (c == '?' || c == '&' || c == '\n') k = i + 1;
    else if (i == 0) k = 0;
    else continue;
    size_t kend = k;
    while (kend < data->size() && (is_alnum((*data)[kend]) || (*data)[kend] == '_' || (*data)[kend] == '-')) ++kend;
    if (kend == k || kend >= data->size() || (*data)[kend] != '=' || !is_key(std::string_view(*data).substr(k, kend - k)))
      continue;
    size_t v = kend + 1, end = v;
    while (end < data->size() && !strchr("&# \r\n\"'", (*data)[end])) ++end;
    if (end > v && !marker_at(*data, v)) {
      std::string value = data->substr(v, end - v);
      std::string kind = lower(std::string_view(*data).substr(k, kend - k));
      learn(kind, value);
      replace(data, v, end - v, kind, value);
      ++n;
    }
    i = end - 1;
  }
  return n;
}

size_t Redactor::redact_tokens(std::string* data) {
  size_t n = 0;
  for (const auto& rule : rules_.tokens) {
    if (rule.prefix.empty()) continue;
    for (size_t at = data->find(rule.prefix); at != std::string::npos; at = data->find(rule.prefix, at + 1)) {
      if (at > 0 && is_alnum((*data)[at - 1])) continue;
      size_t end = at + rule.prefix.size();
      while (end < data->size() && end - at - rule.prefix.size() < rule.max && in_charset(rule.chars, (*data)[end])) ++end;
      if (end - at - rule.prefix.size() < rule.min) continue;
      std::string value = data->substr(at, end - at);
      learn(rule.kind, value);
      replace(data, at, end - at, rule.kind, value);
      ++n;
      at = end - 1;
    }
  }
  if (rules_.jwt) {
    // header.payload.signature, base64url; header and payload are JSON
    // objects, so both start with "eyJ".
    for (size_t at = data->find("eyJ"); at != std::string::npos; at = data->find("eyJ", at + 1)) {
      if (at > 0 && is_base64url((*data)[at - 1])) continue;
      size_t i = at, seg = 0, end = at;
      size_t lens[3] = {0, 0, 0};
      while (seg < 3) {
        size_t s = i;
        while (i < data->size() && is_base64url((*data)[i])) ++i;
        lens[seg] = i - s;
        end = i;
        if (seg < 2 && (i >= data->size() || (*data)[i] != '.')) break;
        ++seg;
        if (seg < 3) ++i;
      }
      if (seg < 3 || lens[0] < 10 || lens[1] < 10 || lens[2] < 10 || data->compare(at + lens[0] + 1, 3, "eyJ") != 0)
        continue;
      std::string value = data->substr(at, end - at);
      learn("jwt", value);
      replace(data, at, end - at, "jwt", value);
      ++n;
      at = end - 1;
    }
  }
  return n;
}

size_t Redactor::redact_bytes(std::string* data) {
  if (data->empty()) return 0;
  // Known secrets first: they name the most precise kind (the variable the
  // value came from) and catch encoded copies.
  size_t n = redact_known(data);
  n += redact_headers(data);
  n += redact_keys(data);
  n += redact_tokens(data);
  return n;
}

size_t Redactor::redact_value(std::string* value, std::string_view env_name) {
  if (value->empty()) return 0;
  if (!env_name.empty() && secret_env_ && secret_env_(env_name) && !trace::parse_redaction_marker(*value)) {
    std::string kind = "env." + std::string(env_name);
    std::string original = *value;
    learn(kind, original);
    replace(value, 0, value->size(), kind, original);
    return 1;
  }
  size_t n = redact_known(value);
  return n + redact_tokens(value);
}

size_t Redactor::redact_argv(google::protobuf::RepeatedPtrField<std::string>* argv) {
  size_t n = 0;
  bool next_is_secret = false;
  for (auto& a : *argv) {
    if (next_is_secret && !a.empty() && a[0] != '-') {
      std::string original = a;
      learn("argv", original);
      replace(&a, 0, a.size(), "argv", original);
      ++n;
      next_is_secret = false;
      continue;
    }
    next_is_secret = false;
    // --api-key VALUE, --token=VALUE: an option named like a secret.
    std::string_view opt(a);
    if (opt.size() > 2 && opt[0] == '-') {
      size_t eq = opt.find('=');
      std::string name = lower(opt.substr(0, eq));
      while (!name.empty() && name[0] == '-') name.erase(0, 1);
      std::replace(name.begin(), name.end(), '-', '_');
      bool secret_opt = false;
      for (const char* s : {"api_key", "apikey", "token", "password", "secret", "auth"})
        if (name.find(s) != std::string::npos) secret_opt = true;
      if (secret_opt) {
        if (eq == std::string_view::npos) {
          next_is_secret = true;
        } else if (eq + 1 < a.size() && !trace::parse_redaction_marker(std::string_view(a).substr(eq + 1))) {
          std::string original = a.substr(eq + 1);
          learn("argv", original);
          replace(&a, eq + 1, original.size(), "argv", original);
          ++n;
          continue;
        }
      }
    }
    // NAME=VALUE (env(1), --env K=V, --env=K=V) with a secret-bearing NAME.
    std::string_view kv(a);
    if (kv.rfind("--env=", 0) == 0) kv.remove_prefix(6);
    size_t eq = kv.find('=');
    if (eq != std::string_view::npos && eq > 0 && eq + 1 < kv.size() && secret_env_ &&
        secret_env_(kv.substr(0, eq))) {
      size_t at = static_cast<size_t>(kv.data() - a.data()) + eq + 1;
      std::string original = a.substr(at);
      if (!trace::parse_redaction_marker(original)) {
        std::string kind = "env." + std::string(kv.substr(0, eq));
        learn(kind, original);
        replace(&a, at, original.size(), kind, original);
        ++n;
        continue;
      }
    }
    n += redact_known(&a);
    n += redact_tokens(&a);
  }
  return n;
}

size_t Redactor::redact_header(trace::Header* h) {
  size_t n = redact_argv(h->mutable_command());
  n += redact_argv(h->mutable_options());
  h->set_redaction(true);
  h->clear_redaction_kinds();
  for (const auto& k : kinds_looked_for()) h->add_redaction_kinds(k);
  return n;
}

size_t Redactor::redact_event(trace::Event* e) {
  switch (e->body_case()) {
    case trace::Event::kSend: return redact_bytes(e->mutable_send()->mutable_data());
    case trace::Event::kRecv: return redact_bytes(e->mutable_recv()->mutable_data());
    case trace::Event::kExec: return redact_argv(e->mutable_exec()->mutable_argv());
    case trace::Event::kProcess: return redact_argv(e->mutable_process()->mutable_argv());
    case trace::Event::kGetenv:
      return redact_value(e->mutable_getenv()->mutable_value(), e->getenv().name());
    default: return 0;
  }
}

}  // namespace agenttrace::collector
