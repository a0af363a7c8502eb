// The fleet's recordings rebuilt from the stream: per host and session, the
// same ProfileBuilder a trace file goes through, fed the same records in the
// same order, and the same rules, so a recording analysed centrally gives
// the findings its trace file gives.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "analyzer/findings.h"
#include "analyzer/knowledge_base.h"
#include "analyzer/profile.h"
#include "analyzer/report.h"
#include "analyzer/symbolizer.h"
#include "fleet/session_assembler.h"
#include "trace/json.h"

namespace agenttrace::fleet {

struct SessionAnalysis {
  // The subject's token: the name the server let it publish under. The
  // header's spelling of it ("Build.Host-7" for build_host-7) when the two
  // agree; a header that claims another host is a host-mismatch finding.
  std::string host;
  std::string host_token;
  std::string session;
  analyzer::Analysis analysis;
  SessionCounts counts;
  bool has_header = false;
  uint64_t undecodable = 0;                      // messages that were not a record
  std::vector<trace::Json> published_findings;  // what the host itself reported (…findings)
};

class FleetAnalysis {
 public:
  // `source`: the URL, for each analysis' source ("nats://…/HOST/SESSION").
  // `hosts_glob`: only hosts whose name or token matches (empty: all).
  FleetAnalysis(const analyzer::KnowledgeBase& kb, std::string source, std::string hosts_glob);
  // How stack frames are named (binaries from the hosts, --binaries).
  void set_symbols(analyzer::SymbolizerOptions symbols) { symbols_ = std::move(symbols); }

  // A session's messages, in order (SessionAssembler's output).
  void on_message(const SessionKey& key, const StreamMessage& message);

  // Every selected session, analysed, by host then start time.
  std::vector<SessionAnalysis> results(const std::map<SessionKey, SessionCounts>& counts);

  // --follow: findings not reported before, of the sessions that received
  // messages since the last call.
  struct NewFinding {
    std::string host;
    std::string session;
    analyzer::Finding finding;
  };
  std::vector<NewFinding> new_findings();

 private:
  analyzer::SymbolizerOptions symbols_;
  struct State {
    std::unique_ptr<analyzer::ProfileBuilder> builder;
    std::string host;
    std::string claimed_host;     // the header's host name when it is not the subject's
    uint64_t foreign_ids = 0;     // messages whose de-duplication id names another host
    std::string foreign_id_host;  // the first such host
    bool has_header = false;
    bool has_trailer = false;
    bool changed = false;
    uint64_t undecodable = 0;
    std::vector<trace::Json> published;
    std::set<std::string> reported;
  };
  bool selected(const SessionKey& key, const State& s) const;
  // The host-mismatch finding of a session, when its messages claim a host
  // other than the subject they were published on.
  std::optional<analyzer::Finding> host_mismatch(const SessionKey& key, const State& s) const;

  const analyzer::KnowledgeBase& kb_;
  std::string source_;
  std::string hosts_glob_;
  std::map<SessionKey, State> sessions_;
};

}  // namespace agenttrace::fleet
