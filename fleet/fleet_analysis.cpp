#include "fleet/fleet_analysis.h"

#include <algorithm>
#include <cstdio>

#include "analyzer/trace_analysis.h"
#include "common/glob.h"
#include "common/strings.h"
#include "fleet/subjects.h"
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
  if (!m.id_host.empty() && m.id_host != key.host && s.foreign_ids++ == 0) s.foreign_id_host = m.id_host;
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
      // Who published is what the server's permissions allow on the
      // subject; the header is the host's own claim.
      if (const std::string& claim = record.header().hostname(); !claim.empty()) {
        if (host_token(claim) == key.host) s.host = claim;
        else s.claimed_host = claim;
      }
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

std::optional<analyzer::Finding> FleetAnalysis::host_mismatch(const SessionKey& key, const State& s) const {
  if (s.claimed_host.empty() && s.foreign_ids == 0) return std::nullopt;
  analyzer::Finding f;
  f.rule = "host-mismatch";
  f.severity = analyzer::Severity::kHigh;
  const std::string subject = std::string(kSubjectRoot) + "." + key.host + ".*";
  std::vector<std::string> claims;
  if (!s.claimed_host.empty()) {
    claims.push_back("its header names host " + s.claimed_host);
    analyzer::Evidence e;
    e.what = "header hostname " + s.claimed_host + " on " + subject;
    f.evidence.push_back(std::move(e));
  }
  if (s.foreign_ids) {
    claims.push_back(std::to_string(s.foreign_ids) + " message" + (s.foreign_ids == 1 ? "" : "s") +
                     " carry de-duplication ids of host " + s.foreign_id_host);
    analyzer::Evidence e;
    e.what = "Nats-Msg-Id " + s.foreign_id_host + "/" + key.session + "/... on " + subject;
    f.evidence.push_back(std::move(e));
  }
  f.message = "Recording " + key.session + " was published on " + subject + " but " + join(claims, " and ") +
              ": it is reported as " + key.host + ", the host the server let publish it.";
  // The id is stable across reads: rule, subject host and what was claimed.
  uint64_t h = 1469598103934665603ull;
  for (char c : key.host + '\0' + s.claimed_host + '\0' + s.foreign_id_host) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
  char buf[16];
  snprintf(buf, sizeof(buf), "-%08llx", static_cast<unsigned long long>(h & 0xffffffffull));
  f.id = f.rule + buf;
  return f;
}

bool FleetAnalysis::selected(const SessionKey& key, const State& s) const {
  return hosts_glob_.empty() || glob_match(hosts_glob_, s.host) || glob_match(hosts_glob_, key.host);
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
    analyzer::read_code_where_it_ran(r.analysis.profile, symbols_);
    r.analysis.findings = analyzer::run_rules(r.analysis.profile, kb_);
    if (auto f = host_mismatch(key, s)) r.analysis.findings.insert(r.analysis.findings.begin(), std::move(*f));
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
    std::vector<analyzer::Finding> found = analyzer::run_rules(s.builder->profile(), kb_);
    if (auto f = host_mismatch(key, s)) found.insert(found.begin(), std::move(*f));
    for (auto& f : found) {
      // A recording still running has no closing record yet: that is not
      // a loss. Its closing record, when it comes, says whether any was.
      if (!s.has_trailer && f.rule == "events-lost") continue;
      if (s.reported.insert(f.id).second) out.push_back(NewFinding{s.host, key.session, std::move(f)});
    }
  }
  return out;
}

}  // namespace agenttrace::fleet
