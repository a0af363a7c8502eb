// The short summary printed at the end of a recording: processes, events per
// kind, files read, environment variables looked up, time-zone facts, gaps
// and drops. Built from the event stream, so a trace file gives the same.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "analyzer/knowledge_base.h"
#include "trace/sink.h"

namespace agenttrace::analyzer {

class SummaryBuilder : public trace::EventSink {
 public:
  explicit SummaryBuilder(const KnowledgeBase& kb) : kb_(kb) {}

  void on_header(const trace::Header& h) override;
  void on_event(const trace::Event& e) override;
  void on_trailer(const trace::Trailer& t) override;

  // The summary text; `trace_path` is named at the end when not empty.
  std::string render(const std::string& trace_path) const;

  // Accessors for tests and reports.
  size_t process_count() const { return processes_.size(); }
  const std::map<std::string, uint64_t>& kind_counts() const { return kinds_; }
  const std::vector<std::string>& files_read() const { return files_read_; }
  // name -> found at least once
  const std::map<std::string, bool>& env_names() const { return env_; }
  const std::vector<std::string>& timezone_facts() const { return tz_facts_; }
  uint64_t dropped() const;

  struct Destination {
    uint64_t connections = 0;
    uint64_t bytes_sent = 0;   // on the wire (TLS: ciphertext)
    uint64_t tls_plaintext = 0;
    uint64_t not_captured = 0;
  };
  // "api.example.com (1.2.3.4:443)" or "1.2.3.4:443" -> totals
  const std::map<std::string, Destination>& destinations() const { return destinations_; }
  const std::vector<std::string>& dns_names() const { return dns_names_; }

 private:
  void add_tz_fact(const std::string& fact);

  const KnowledgeBase& kb_;
  trace::Header header_;
  trace::Trailer trailer_;
  bool has_trailer_ = false;
  uint64_t last_mono_ns_ = 0;
  std::set<uint32_t> processes_;
  std::map<std::string, uint64_t> kinds_;
  std::vector<std::string> files_read_;
  std::set<std::string> files_seen_;
  uint64_t libraries_read_ = 0;
  std::map<std::string, bool> env_;
  std::vector<std::string> tz_facts_;
  std::set<std::string> tz_seen_;
  std::vector<std::string> gaps_;
  std::set<std::string> gaps_seen_;
  std::map<std::string, Destination> destinations_;
  std::map<uint32_t, std::string> conn_destination_;
  std::vector<std::string> dns_names_;
  std::set<std::string> dns_seen_;
};

}  // namespace agenttrace::analyzer
