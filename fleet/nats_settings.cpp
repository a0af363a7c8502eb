#include "fleet/nats_settings.h"

#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>

#include "common/error.h"
#include "common/strings.h"

namespace agenttrace::fleet {

namespace {

std::string trim(std::string_view s) {
  size_t a = s.find_first_not_of(" \t\r");
  if (a == std::string_view::npos) return "";
  size_t b = s.find_last_not_of(" \t\r");
  return std::string(s.substr(a, b - a + 1));
}

// One server URL, checked and normalised to scheme://host:port.
std::string parse_server(std::string_view text, bool* tls) {
  std::string given(text);
  size_t scheme_end = text.find("://");
  if (scheme_end == std::string_view::npos)
    throw Error("'" + given + "' is not a NATS URL (expected nats://HOST:PORT or tls://HOST:PORT)");
  std::string scheme(text.substr(0, scheme_end));
  if (scheme != "nats" && scheme != "tls")
    throw Error("'" + given + "' is not a NATS URL: the scheme must be nats:// or tls://, not " + scheme + "://");
  if (scheme == "tls") *tls = true;
  std::string_view rest = text.substr(scheme_end + 3);
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  if (rest.find('@') != std::string_view::npos)
    throw Error("the NATS URL " + scheme + "://... holds credentials; give them in --export-config or the "
                "AGENTTRACE_NATS_* variables instead, where other users cannot read them");
  if (rest.find('/') != std::string_view::npos || rest.find('?') != std::string_view::npos)
    throw Error("'" + given + "' is not a NATS URL: it has a path; expected " + scheme + "://HOST:PORT");
  std::string host;
  std::string_view port_text;
  if (!rest.empty() && rest[0] == '[') {  // [::1]:4222
    size_t close = rest.find(']');
    if (close == std::string_view::npos) throw Error("'" + given + "' is not a NATS URL: unclosed '['");
    host = std::string(rest.substr(0, close + 1));
    std::string_view after = rest.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') throw Error("'" + given + "' is not a NATS URL");
      port_text = after.substr(1);
    }
  } else {
    size_t colon = rest.rfind(':');
    host = std::string(rest.substr(0, colon));
    if (colon != std::string_view::npos) {
      port_text = rest.substr(colon + 1);
      if (port_text.empty()) throw Error("'" + given + "' is not a NATS URL: the port is missing after ':'");
    }
  }
  if (host.empty() || host == "[]") throw Error("'" + given + "' is not a NATS URL: it names no host");
  unsigned port = 4222;
  if (!port_text.empty()) {
    auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (ec != std::errc() || end != port_text.data() + port_text.size() || port == 0 || port > 65535)
      throw Error("'" + given + "' is not a NATS URL: '" + std::string(port_text) + "' is not a port number");
  }
  return scheme + "://" + host + ":" + std::to_string(port);
}

void check_readable(const std::string& path, const std::string& what) {
  if (path.empty()) return;
  if (::access(path.c_str(), R_OK) != 0)
    throw Error("cannot read the " + what + " " + path + ": " + errno_text(errno));
}

bool parse_bool(const std::string& key, const std::string& v) {
  if (v == "true" || v == "yes" || v == "1" || v == "on") return true;
  if (v == "false" || v == "no" || v == "0" || v == "off") return false;
  throw Error("'" + v + "' is not a yes/no value for " + key);
}

int64_t parse_int(const std::string& key, const std::string& v, int64_t lo, int64_t hi) {
  int64_t n = 0;
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc() || end != v.data() + v.size() || n < lo || n > hi)
    throw Error("'" + v + "' is not a number from " + std::to_string(lo) + " to " + std::to_string(hi) + " for " + key);
  return n;
}

// Applies one setting; `origin` names the file or variable for messages.
void apply(NatsSettings& s, const std::string& key, const std::string& value, const std::string& origin) {
  try {
    if (key == "creds") s.creds_file = value;
    else if (key == "user") s.user = value;
    else if (key == "password") s.password = value;
    else if (key == "token") s.token = value;
    else if (key == "nkey" || key == "nkey_seed") s.nkey_seed_file = value;
    else if (key == "ca") s.ca_file = value;
    else if (key == "cert") s.cert_file = value;
    else if (key == "key") s.key_file = value;
    else if (key == "tls") {
      s.tls = parse_bool(key, value);
      s.tls_stated = true;
    }
    else if (key == "stream") s.stream = value;
    else if (key == "create_stream") s.create_stream = parse_bool(key, value);
    else if (key == "replicas") s.stream_replicas = static_cast<int>(parse_int(key, value, 1, 5));
    else if (key == "max_bytes") {
      auto n = parse_size(value);
      if (!n || *n > static_cast<uint64_t>(INT64_MAX)) throw Error("'" + value + "' is not a size (e.g. 10G) for max_bytes");
      s.stream_max_bytes = static_cast<int64_t>(*n);
    } else if (key == "max_age") {
      auto n = parse_duration_ns(value);
      if (!n) throw Error("'" + value + "' is not a duration (e.g. 7d, 12h) for max_age");
      s.stream_max_age_ns = *n;
    } else if (key == "ack_timeout_ms") s.ack_timeout_ms = parse_int(key, value, 100, 600000);
    else
      throw Error("unknown setting '" + key +
                  "' (known: creds, user, password, token, nkey, ca, cert, key, tls, stream, create_stream, replicas, "
                  "max_bytes, max_age, ack_timeout_ms)");
  } catch (const Error& e) {
    throw Error(origin + ": " + e.what());
  }
}

std::map<std::string, std::string> read_config_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw Error("cannot read the export configuration " + path + ": " + errno_text(errno));
  std::stringstream buf;
  buf << in.rdbuf();
  std::string text = buf.str();
  std::map<std::string, std::string> out;
  // A YAML mapping ("user: alice"); otherwise key=value lines.
  try {
    YAML::Node root = YAML::Load(text);
    if (root.IsMap()) {
      for (const auto& kv : root) {
        if (!kv.second.IsScalar())
          throw Error(path + ": the value of '" + kv.first.as<std::string>() + "' must be a single value");
        out[kv.first.as<std::string>()] = kv.second.as<std::string>();
      }
      return out;
    }
  } catch (const YAML::Exception&) {
    // Not YAML: read it as key=value lines below.
  }
  std::istringstream lines(text);
  std::string line;
  int n = 0;
  while (std::getline(lines, line)) {
    ++n;
    std::string t = trim(line);
    if (t.empty() || t[0] == '#') continue;
    size_t eq = t.find('=');
    if (eq == std::string::npos)
      throw Error(path + " line " + std::to_string(n) + " is neither YAML nor key=value: " + t);
    out[trim(std::string_view(t).substr(0, eq))] = trim(std::string_view(t).substr(eq + 1));
  }
  return out;
}

}  // namespace

bool is_nats_url(std::string_view text) {
  return text.substr(0, 7) == "nats://" || text.substr(0, 6) == "tls://";
}

NatsSettings load_nats_settings(const std::string& url, const std::string& config_file) {
  NatsSettings s;
  if (url.empty()) throw Error("no NATS URL given (expected nats://HOST:PORT)");
  std::string_view rest = url;
  while (!rest.empty()) {
    size_t comma = rest.find(',');
    std::string one = trim(rest.substr(0, comma));
    if (!one.empty()) s.servers.push_back(parse_server(one, &s.tls));
    if (comma == std::string_view::npos) break;
    rest = rest.substr(comma + 1);
  }
  if (s.servers.empty()) throw Error("'" + url + "' names no NATS server (expected nats://HOST:PORT)");
  s.url = url;
  const bool url_tls = s.tls;

  static const std::pair<const char*, const char*> env_keys[] = {
      {"AGENTTRACE_NATS_CREDS", "creds"}, {"AGENTTRACE_NATS_USER", "user"},  {"AGENTTRACE_NATS_PASSWORD", "password"},
      {"AGENTTRACE_NATS_TOKEN", "token"}, {"AGENTTRACE_NATS_NKEY", "nkey"},  {"AGENTTRACE_NATS_CA", "ca"},
      {"AGENTTRACE_NATS_CERT", "cert"},   {"AGENTTRACE_NATS_KEY", "key"},    {"AGENTTRACE_NATS_TLS", "tls"},
      {"AGENTTRACE_NATS_STREAM", "stream"}};
  for (const auto& [var, key] : env_keys) {
    const char* v = getenv(var);
    if (v && *v) {
      apply(s, key, v, var);
      s.sources.push_back(var);
    }
  }
  if (!config_file.empty()) {
    for (const auto& [k, v] : read_config_file(config_file)) apply(s, k, v, config_file);
    s.sources.push_back(config_file);
  }

  int kinds = !s.creds_file.empty() + !s.user.empty() + !s.token.empty() + !s.nkey_seed_file.empty();
  if (kinds > 1)
    throw Error("give one kind of NATS credentials: a creds file, a user and password, a token, or an nkey seed");
  if (!s.password.empty() && s.user.empty()) throw Error("a NATS password was given without a user");
  if (!s.user.empty() && s.password.empty()) throw Error("the NATS user " + s.user + " was given without a password");
  if (s.cert_file.empty() != s.key_file.empty())
    throw Error("a TLS client certificate needs both cert and key");
  if (s.stream.empty() || s.stream.find_first_of(". *>") != std::string::npos)
    throw Error("'" + s.stream + "' is not a JetStream stream name (no dots, spaces or wildcards)");
  check_readable(s.creds_file, "NATS credentials file");
  check_readable(s.nkey_seed_file, "NATS nkey seed file");
  check_readable(s.ca_file, "TLS CA file");
  check_readable(s.cert_file, "TLS certificate file");
  check_readable(s.key_file, "TLS key file");
  if (url_tls || !s.ca_file.empty() || !s.cert_file.empty()) s.tls = true;
  // A password or token crosses the network as it is: anyone on the path
  // reads it, then publishes as this host. Plain text only when asked for.
  if (!s.tls && !s.tls_stated && (!s.user.empty() || !s.token.empty()))
    throw Error(std::string("refusing to send the NATS ") + (s.user.empty() ? "token" : "password") +
                " over " + s.servers.front() + " without TLS: use tls://, a ca file, or say tls: false "
                "(AGENTTRACE_NATS_TLS=false) to send it in plain text anyway");
  return s;
}

}  // namespace agenttrace::fleet
