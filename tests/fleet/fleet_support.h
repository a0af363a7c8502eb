// What the fleet tests share: a server to skip without, records to export,
// and reading back what the stream holds.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "../support/nats_server.h"
#include "analyzer/knowledge_base.h"
#include "fleet/collect.h"
#include "fleet/export_sink.h"
#include "fleet/nats_settings.h"
#include "trace/format.h"

#define REQUIRE_NATS_SERVER()                                                                              \
  do {                                                                                                     \
    if (::agenttrace::testing::nats_server_binary().empty())                                               \
      GTEST_SKIP() << "nats-server is not installed (scripts/install-deps.sh installs it)";               \
  } while (0)

namespace agenttrace::testing {

// One server with JetStream, storing under `dir`.
NatsServerOptions standalone(const std::string& dir, const std::string& extra_config = "");

// An open of /etc/fleet/<id>, event number `id`, as a recording makes them.
trace::Event numbered_event(uint64_t id);
trace::Header fleet_header(const std::string& host);

fleet::ExportOptions export_options(const std::string& url, const std::string& spool_dir, int64_t drain_ms = 20000);

// Messages the stream holds now.
uint64_t stream_messages(const std::string& url);

// Everything in the stream, analysed.
fleet::FleetReport collect_all(const std::string& url, const analyzer::KnowledgeBase& kb, const std::string& config = "");

// Each recording's event ids in the order the collector hands them on.
std::map<std::string, std::vector<uint64_t>> event_ids_by_host(const std::string& url);

}  // namespace agenttrace::testing
