// Where the NATS servers are and how to reach them: the URL from the command
// line, credentials and TLS from a file or the environment (never from the
// command line, where every user of the machine can read them), and the
// JetStream stream to use.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace agenttrace::fleet {

struct NatsSettings {
  std::string url;                   // as given, for messages (without credentials)
  std::vector<std::string> servers;  // "nats://host:port" each
  // Credentials: a .creds file (user JWT and seed), a user and password, a
  // token, or an nkey seed file; at most one kind. A password or a token is
  // sent to the server as it is, so it needs TLS unless `tls: false` says
  // explicitly that plain text is meant (a creds file or an nkey only signs
  // the server's nonce).
  std::string creds_file;
  std::string user;
  std::string password;
  std::string token;
  std::string nkey_seed_file;
  // TLS: required by a tls:// URL or `tls: true`; a CA bundle to trust, a
  // client certificate and key.
  bool tls = false;
  bool tls_stated = false;           // `tls:` was given (file or AGENTTRACE_NATS_TLS)
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
  // JetStream.
  std::string stream = "AGENTTRACE";
  bool create_stream = true;         // create it when it does not exist
  int stream_replicas = 1;
  // Limits of a stream agenttrace creates (0: none): the oldest messages go
  // first when either is reached.
  int64_t stream_max_bytes = 0;
  int64_t stream_max_age_ns = 0;
  int64_t ack_timeout_ms = 5000;     // a publish not acknowledged in time is sent again
  std::vector<std::string> sources;  // where settings came from, for messages
};

// True for "nats://..." and "tls://...": a NATS source where a trace file
// could be named.
bool is_nats_url(std::string_view text);

// Parses `url` (nats://HOST[:PORT] or tls://..., several separated by
// commas), then the environment (AGENTTRACE_NATS_*), then `config_file` when
// given (a YAML mapping or key=value lines), which wins over the
// environment. Checks that every file it names can be read. Throws
// agenttrace::Error with one sentence.
NatsSettings load_nats_settings(const std::string& url, const std::string& config_file);

// The environment variables read, for --help and the docs.
inline constexpr const char* kNatsEnvironment[] = {
    "AGENTTRACE_NATS_CREDS", "AGENTTRACE_NATS_USER", "AGENTTRACE_NATS_PASSWORD", "AGENTTRACE_NATS_TOKEN",
    "AGENTTRACE_NATS_NKEY",  "AGENTTRACE_NATS_CA",   "AGENTTRACE_NATS_CERT",     "AGENTTRACE_NATS_KEY",
    "AGENTTRACE_NATS_TLS",   "AGENTTRACE_NATS_STREAM"};

}  // namespace agenttrace::fleet
