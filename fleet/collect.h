// `agenttrace collect`: reads what the fleet exported, puts each recording
// back together and analyses it. One pass reads everything the stream holds
// now and ends; following keeps reading, and reports each new finding as
// it appears.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "analyzer/knowledge_base.h"
#include "fleet/fleet_analysis.h"
#include "fleet/fleet_report.h"

namespace agenttrace::fleet {

struct CollectOptions {
  std::string from;         // nats://HOST:PORT[,...]
  std::string config_file;  // credentials, TLS, stream (as for --export-config)
  std::string hosts_glob;   // only these hosts (name or subject token); empty: all
  int64_t since_ns = 0;     // only what was stored from then on
  bool follow = false;
  std::string durable;      // the consumer's name; empty: agenttrace-collect-<pid>
  // How long a read waits for more before it asks whether the stream has
  // anything left; and, following, how long a recording waits for a missing
  // message before it is analysed without it.
  int fetch_wait_ms = 250;
  int gap_patience_ms = 5000;
  // One-pass: how long the server may stay unreachable in the middle of a read.
  int trouble_limit_ms = 30000;
  // Where the hosts' binaries are, to name stack frames (--binaries); this
  // machine's own files are looked at too.
  std::vector<std::string> binary_dirs;
};

using NewFindingHandler = std::function<void(const FleetAnalysis::NewFinding&)>;

// Throws agenttrace::Error with one sentence (unreachable server, no stream,
// bad URL). `stop` is asked between reads when following.
FleetReport collect(const CollectOptions& options, const analyzer::KnowledgeBase& kb,
                    const NewFindingHandler& on_new_finding = {}, const std::function<bool()>& stop = {});

// "2026-11-23T21:07:12Z" (UTC, optional fraction) or a duration back from
// now ("2h", "30m", "7d") -> nanoseconds since the epoch. Throws
// agenttrace::Error.
int64_t parse_since(const std::string& text, int64_t now_ns);

}  // namespace agenttrace::fleet
