// What `--export` and its companions ask of a recording session.
#pragma once

#include <cstdint>
#include <string>

namespace agenttrace::fleet {

struct ExportOptions {
  std::string url;               // --export nats://HOST:PORT[,...]; empty: no export
  std::string config_file;       // --export-config: credentials, TLS, stream
  std::string spool_dir;         // --spool; empty: default_spool_dir()
  uint64_t spool_max = 256ull << 20;  // --spool-max
  int64_t drain_timeout_ms = 10000;   // --drain-timeout: how long the end waits for the server
  bool enabled() const { return !url.empty(); }
};

// /var/spool/agenttrace for root, else $XDG_STATE_HOME/agenttrace/spool
// (~/.local/state/agenttrace/spool).
std::string default_spool_dir();

}  // namespace agenttrace::fleet
