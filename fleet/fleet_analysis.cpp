#include "fleet/fleet_analysis.h"

#include <algorithm>

#include "analyzer/glob.h"
#include "trace/format.h"

namespace agenttrace::fleet {

FleetAnalysis::FleetAnalysis(const analyzer::KnowledgeBase& kb, std::string source, std::string hosts_glob)
    : kb_(kb), source_(std::move(source)), hosts_glob_(std::move(hosts_glob)) {}

void FleetAnalysis::on_message(const SessionKey& key, const StreamMessage& m) {
  State& s = sessions_[key];
  if (!s.builder) {
    s.builder = std::make_unique<analyzer::ProfileBuilder>(kb_);
    s.host = key.host;
  }
  if (m.suffix == "findings") {
    trace::Json j = trace::Json::parse(m.data, nullptr, false);
    if (j.is_discarded()) ++s.undecodable;
    else s.published.push_back(std::move(j));
    return;
  }
  trace::Record record;
  if (!record.ParseFromString(m.data)) {
    ++s.undecodable;
    return;
  }
  switch (record.record_case()) {
    case trace::Record::kHeader:
      s.builder->on_header(record.header());
      s.has_header = true;
      if (!record.header().hostname().empty()) s.host = record.header().hostname();
      break;
    case trace::Record::kEvent:
      s.builder->on_event(record.event());
      break;
    case trace::Record::kTrailer:
      s.builder->on_trailer(record.trailer());
      s.has_trailer = true;
      break;
    case trace::Record::RECORD_NOT_SET:
      ++s.undecodable;
      return;
  }
  s.changed = true;
}

bool FleetAnalysis::selected(const SessionKey& key, const State& s) const {
  return hosts_glob_.empty() || analyzer::glob_match(hosts_glob_, s.host) || analyzer::glob_match(hosts_glob_, key.host);
}

std::vector<SessionAnalysis> FleetAnalysis::results(const std::map<SessionKey, SessionCounts>& counts) {
  std::vector<SessionAnalysis> out;
  for (auto& [key, s] : sessions_) {
    if (!selected(key, s)) continue;
    SessionAnalysis r;
    r.host = s.host;
    r.host_token = key.host;
    r.session = key.session;
    r.analysis.profile = s.builder->profile();
    analyzer::symbolize_stacks(r.analysis.profile, symbols_);
    r.analysis.findings = analyzer::run_rules(r.analysis.profile, kb_);
    r.analysis.source = source_ + "/" + key.host + "/" + key.session;
    r.analysis.truncated = !s.has_trailer;
    if (auto it = counts.find(key); it != counts.end()) r.counts = it->second;
    r.has_header = s.has_header;
    r.undecodable = s.undecodable;
    r.published_findings = s.published;
    out.push_back(std::move(r));
  }
  std::stable_sort(out.begin(), out.end(), [](const SessionAnalysis& a, const SessionAnalysis& b) {
    return std::tie(a.host, a.analysis.profile.start_wall_ns, a.session) <
           std::tie(b.host, b.analysis.profile.start_wall_ns, b.session);
  });
  return out;
}

std::vector<FleetAnalysis::NewFinding> FleetAnalysis::new_findings() {
  std::vector<NewFinding> out;
  for (auto& [key, s] : sessions_) {
    if (!s.changed || !selected(key, s)) continue;
    s.changed = false;
    for (auto& f : analyzer::run_rules(s.builder->profile(), kb_)) {
      // A recording still running has no closing record yet: that is not
      // a loss. Its closing record, when it comes, says whether any was.
      if (!s.has_trailer && f.rule == "events-lost") continue;
      if (s.reported.insert(f.id).second) out.push_back(NewFinding{s.host, key.session, std::move(f)});
    }
  }
  return out;
}

}  // namespace agenttrace::fleet
