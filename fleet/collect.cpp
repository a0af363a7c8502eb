#include "fleet/collect.h"

#include <unistd.h>

#include <chrono>
#include <ctime>
#include <optional>
#include <thread>

#include <spdlog/spdlog.h>

#include "common/error.h"
#include "common/strings.h"
#include "fleet/nats_settings.h"
#include "fleet/session_assembler.h"
#include "fleet/stream_reader.h"
#include "fleet/subjects.h"

namespace agenttrace::fleet {

namespace {

// A glob that names one host exactly can be filtered by the server.
bool is_literal(const std::string& glob) { return glob.find_first_of("*?[") == std::string::npos; }

}  // namespace

int64_t parse_since(const std::string& text, int64_t now_ns) {
  if (auto ago = parse_duration_ns(text)) return now_ns - *ago;
  struct tm tm {};
  const char* rest = strptime(text.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (!rest) rest = strptime(text.c_str(), "%Y-%m-%d %H:%M:%S", &tm);
  if (!rest) {
    rest = strptime(text.c_str(), "%Y-%m-%d", &tm);
    if (rest && *rest) rest = nullptr;
  }
  if (!rest) throw Error("--since " + text + ": expected a time such as 2026-11-23T21:07:12Z or a duration such as 2h");
  int64_t frac_ns = 0;
  if (*rest == '.') {
    int64_t scale = 100000000;
    for (++rest; *rest >= '0' && *rest <= '9'; ++rest, scale /= 10) frac_ns += (*rest - '0') * scale;
  }
  if (*rest == 'Z') ++rest;
  if (*rest) throw Error("--since " + text + ": give the time in UTC (ending in Z) or as a duration such as 2h");
  return static_cast<int64_t>(timegm(&tm)) * 1000000000 + frac_ns;
}

FleetReport collect(const CollectOptions& o, const analyzer::KnowledgeBase& kb, const NewFindingHandler& on_new_finding,
                    const std::function<bool()>& stop) {
  NatsSettings settings = load_nats_settings(o.from, o.config_file);
  ReadOptions ro;
  ro.durable = o.durable.empty() ? "agenttrace-collect-" + std::to_string(getpid()) : o.durable;
  if (ro.durable.find_first_of(". *>") != std::string::npos)
    throw Error("--durable " + ro.durable + ": a consumer name has no dots, spaces or wildcards");
  if (!o.hosts_glob.empty() && is_literal(o.hosts_glob))
    ro.filter_subject = std::string(kSubjectRoot) + "." + host_token(o.hosts_glob) + ".>";
  ro.since_ns = o.since_ns;
  FleetReport report;
  report.source = settings.url + " (stream " + settings.stream + ")";
  std::optional<StreamReader> reader_slot;
  for (bool said = false;;) {
    try {
      reader_slot.emplace(settings, ro);
      break;
    } catch (const NoStreamError& e) {
      // Following from before the first host exported: wait for the stream.
      if (!o.follow) throw;
      if (!said) spdlog::warn("{}; waiting for it", e.what());
      said = true;
      if (stop && stop()) return report;
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
  }
  StreamReader& reader = *reader_slot;

  FleetAnalysis analysis(kb, settings.url, o.hosts_glob);
  analysis.set_symbols(analyzer::SymbolizerOptions{o.binary_dirs});
  SessionAssembler assembler([&](const SessionKey& key, const StreamMessage& m) { analysis.on_message(key, m); },
                             o.since_ns != 0);
  using Clock = std::chrono::steady_clock;
  std::vector<StreamMessage> batch;
  std::optional<Clock::time_point> trouble_since;
  for (;;) {
    if (o.follow && stop && stop()) break;
    batch.clear();
    StreamReader::Fetched f = reader.fetch(&batch, o.fetch_wait_ms);
    for (auto& m : batch) assembler.add(std::move(m));
    if (!f.trouble.empty()) {
      // Reconnecting: the consumer is durable, reading resumes where it was.
      if (!trouble_since) trouble_since = Clock::now();
      if (!o.follow && Clock::now() - *trouble_since > std::chrono::milliseconds(o.trouble_limit_ms))
        throw Error("lost the NATS server at " + settings.url + " while reading: " + f.trouble);
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      continue;
    }
    trouble_since.reset();
    if (o.follow) {
      assembler.release_stale(std::chrono::milliseconds(o.gap_patience_ms));
      if (on_new_finding && (f.caught_up || batch.empty()))
        for (const auto& nf : analysis.new_findings()) on_new_finding(nf);
    } else if (f.caught_up) {
      break;
    }
  }
  assembler.finish();
  report.sessions = analysis.results(assembler.counts());
  return report;
}

}  // namespace agenttrace::fleet
