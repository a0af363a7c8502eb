#include "fleet_support.h"

#include <fcntl.h>

#include "fleet/nats_client.h"
#include "fleet/session_assembler.h"
#include "fleet/stream_reader.h"

namespace agenttrace::testing {

NatsServerOptions standalone(const std::string& dir, const std::string& extra_config) {
  NatsServerOptions o;
  o.dir = dir;
  o.extra_config = extra_config;
  return o;
}

trace::Event numbered_event(uint64_t id) {
  trace::Event e;
  e.set_id(id);
  e.set_mono_ns(1'000'000 * id);
  e.set_wall_ns(1'700'000'000'000'000'000 + static_cast<int64_t>(id) * 1'000'000);
  e.set_pid(4242);
  e.set_tid(4242);
  e.set_ppid(1);
  e.set_comm("agent");
  e.mutable_open()->set_syscall(trace::SYSCALL_OPENAT);
  e.mutable_open()->set_path("/etc/fleet/" + std::to_string(id));
  e.mutable_open()->set_flags(O_RDONLY);
  e.mutable_open()->set_result(3);
  return e;
}

trace::Header fleet_header(const std::string& host) {
  trace::Header h;
  h.set_format_version(trace::kFormatVersion);
  h.set_hostname(host);
  h.set_start_wall_ns(1'700'000'000'000'000'000);
  h.set_root_pid(4242);
  h.add_command("agent");
  h.set_mode("run");
  return h;
}

fleet::ExportOptions export_options(const std::string& url, const std::string& spool_dir, int64_t drain_ms) {
  fleet::ExportOptions o;
  o.url = url;
  o.spool_dir = spool_dir;
  o.drain_timeout_ms = drain_ms;
  return o;
}

uint64_t stream_messages(const std::string& url) {
  fleet::NatsClient client(fleet::load_nats_settings(url, ""), "agenttrace test", fleet::NatsClient::Mode::kNow);
  jsStreamInfo* info = nullptr;
  if (js_GetStreamInfo(&info, client.js(), "AGENTTRACE", nullptr, nullptr) != NATS_OK) return 0;
  uint64_t n = info->State.Msgs;
  jsStreamInfo_Destroy(info);
  return n;
}

fleet::FleetReport collect_all(const std::string& url, const analyzer::KnowledgeBase& kb, const std::string& config) {
  fleet::CollectOptions o;
  o.from = url;
  o.config_file = config;
  o.durable = "agenttrace-test";
  return fleet::collect(o, kb);
}

std::map<std::string, std::vector<uint64_t>> event_ids_by_host(const std::string& url) {
  std::map<std::string, std::vector<uint64_t>> ids;
  fleet::ReadOptions ro;
  ro.durable = "agenttrace-test-ids";
  fleet::StreamReader reader(fleet::load_nats_settings(url, ""), ro);
  fleet::SessionAssembler assembler(
      [&](const fleet::SessionKey& key, const fleet::StreamMessage& m) {
        trace::Record r;
        if (m.suffix.rfind("events.", 0) == 0 && r.ParseFromString(m.data)) ids[key.host].push_back(r.event().id());
      },
      false);
  for (int round = 0; round < 10000; ++round) {
    std::vector<fleet::StreamMessage> batch;
    auto f = reader.fetch(&batch, 500);
    for (auto& m : batch) assembler.add(std::move(m));
    if (f.caught_up) break;
  }
  assembler.finish();
  return ids;
}

}  // namespace agenttrace::testing
