// The fleet report from recordings fed in as the stream would hand them on
// (no server): every format names each finding's host, and the per-recording
// reports are those `analyze` writes.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "analyzer/knowledge_base.h"
#include "fleet/fleet_analysis.h"
#include "fleet/fleet_report.h"
#include "fleet/session_assembler.h"
#include "trace/reader.h"

namespace agenttrace::fleet {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// Feeds a trace file's records, as exported messages, into `analysis`.
void feed(FleetAnalysis& analysis, SessionAssembler& assembler, const std::string& fixture, const std::string& host) {
  trace::TraceReader reader(std::string(TESTS_DATA_DIR) + "/" + fixture + ".atrace");
  uint64_t seq = 0;
  auto add = [&](const std::string& suffix, const trace::Record& r) {
    StreamMessage m;
    m.host = host;
    m.session = fixture;
    m.seq = ++seq;
    m.suffix = suffix;
    m.data = r.SerializeAsString();
    assembler.add(std::move(m));
  };
  trace::Record r;
  *r.mutable_header() = reader.header();
  r.mutable_header()->set_hostname(host);
  add("header", r);
  trace::Event e;
  while (reader.next(&e) == trace::TraceReader::Status::kRecord) {
    *r.mutable_event() = e;
    add("events." + std::string(trace::event_kind(e)), r);
  }
  *r.mutable_trailer() = reader.trailer();
  add("trailer", r);
}

FleetReport two_hosts(const analyzer::KnowledgeBase& kb) {
  FleetAnalysis analysis(kb, "nats://central:4222", "");
  SessionAssembler assembler([&](const SessionKey& k, const StreamMessage& m) { analysis.on_message(k, m); }, false);
  feed(analysis, assembler, "zero_width", "alpha");
  feed(analysis, assembler, "base64_field", "beta");
  assembler.finish();
  FleetReport report;
  report.source = "nats://central:4222 (stream AGENTTRACE)";
  report.sessions = analysis.results(assembler.counts());
  return report;
}

TEST(FleetReport, EveryFormatNamesEachFindingsHost) {
  analyzer::KnowledgeBase kb = analyzer::KnowledgeBase::builtin();
  FleetReport report = two_hosts(kb);
  ASSERT_EQ(report.sessions.size(), 2u);
  EXPECT_EQ(report.sessions[0].host, "alpha");
  EXPECT_EQ(report.sessions[1].host, "beta");

  std::string text = fleet_report_text(report, kb, false);
  EXPECT_THAT(text, HasSubstr("2 hosts, 2 recordings"));
  EXPECT_THAT(text, HasSubstr("HIGH alpha hidden-characters "));
  EXPECT_THAT(text, HasSubstr("HIGH beta value-echo "));
  EXPECT_THAT(text, HasSubstr("== alpha, recording zero_width"));

  trace::Json j = fleet_report_json(report, kb);
  EXPECT_EQ(j["schema"], "agenttrace-fleet-report/1");
  ASSERT_EQ(j["hosts"].size(), 2u);
  EXPECT_EQ(j["hosts"][0]["host"], "alpha");
  EXPECT_TRUE(j["hosts"][0]["rules"].contains("hidden-characters"));
  EXPECT_TRUE(j["hosts"][1]["rules"].contains("value-echo"));
  size_t findings = 0;
  for (const auto& s : report.sessions) findings += s.analysis.findings.size();
  ASSERT_EQ(j["findings"].size(), findings);
  for (const auto& f : j["findings"]) EXPECT_TRUE(f["host"] == "alpha" || f["host"] == "beta");
  // Each recording's report is exactly what `analyze` writes for it.
  EXPECT_EQ(j["recordings"][0]["report"], analyzer::report_json(report.sessions[0].analysis, kb));
  EXPECT_EQ(j["recordings"][0]["complete"], true);

  trace::Json sarif = trace::Json::parse(fleet_report_sarif(report));
  ASSERT_EQ(sarif["runs"].size(), 1u);
  ASSERT_EQ(sarif["runs"][0]["results"].size(), findings);
  for (const auto& r : sarif["runs"][0]["results"]) {
    std::string host = r["properties"]["host"];
    EXPECT_THAT(r["message"]["text"].get<std::string>(), ::testing::StartsWith(host + ": "));
  }
  EXPECT_EQ(sarif["runs"][0]["invocations"].size(), 2u);

  std::string html = fleet_report_html(report, kb);
  EXPECT_THAT(html, HasSubstr("<td>alpha</td>"));
  EXPECT_EQ(std::count(html.begin(), html.end(), '\n') > 10, true);
  EXPECT_EQ(std::count(html.begin(), html.end(), '<') - std::count(html.begin(), html.end(), '>'), 0);
  // Each recording's page is inlined, escaped, and fetches nothing.
  EXPECT_EQ(std::string::npos, html.find("srcdoc=\"<"));
  EXPECT_THAT(html, HasSubstr("srcdoc=\"&lt;!doctype html&gt;"));
  EXPECT_THAT(html, Not(HasSubstr("src=\"http")));
  EXPECT_THAT(html, Not(HasSubstr("href=\"http")));
}

TEST(FleetReport, AHostsGlobSelectsByNameOrToken) {
  analyzer::KnowledgeBase kb = analyzer::KnowledgeBase::builtin();
  FleetAnalysis analysis(kb, "nats://central:4222", "al*");
  SessionAssembler assembler([&](const SessionKey& k, const StreamMessage& m) { analysis.on_message(k, m); }, false);
  feed(analysis, assembler, "zero_width", "alpha");
  feed(analysis, assembler, "base64_field", "beta");
  assembler.finish();
  auto results = analysis.results(assembler.counts());
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].host, "alpha");
}

// A host is who the subject says published (the server's permissions tie a
// subject to one host), not what the recording claims.
std::vector<SessionAnalysis> assemble(const std::vector<StreamMessage>& messages, const analyzer::KnowledgeBase& kb) {
  FleetAnalysis analysis(kb, "nats://central:4222", "");
  SessionAssembler assembler([&](const SessionKey& k, const StreamMessage& m) { analysis.on_message(k, m); }, false);
  for (const auto& m : messages) assembler.add(m);
  assembler.finish();
  return analysis.results(assembler.counts());
}

StreamMessage message(const std::string& host, const std::string& id_host, uint64_t seq, const trace::Record& r,
                      const std::string& suffix) {
  StreamMessage m;
  m.host = host;
  m.id_host = id_host;
  m.session = "s1";
  m.seq = seq;
  m.suffix = suffix;
  m.data = r.SerializeAsString();
  return m;
}

std::vector<StreamMessage> recording(const std::string& subject_host, const std::string& claimed,
                                     const std::string& id_host) {
  trace::Record h, t;
  h.mutable_header()->set_hostname(claimed);
  h.mutable_header()->set_start_wall_ns(1'700'000'000'000'000'000);
  t.mutable_trailer();
  return {message(subject_host, id_host, 1, h, "header"), message(subject_host, id_host, 2, t, "trailer")};
}

TEST(FleetIdentity, TheHeadersSpellingOfTheSubjectsHostIsKept) {
  analyzer::KnowledgeBase kb = analyzer::KnowledgeBase::builtin();
  auto sessions = assemble(recording("build_host-7", "Build.Host-7", "build_host-7"), kb);
  ASSERT_EQ(sessions.size(), 1u);
  EXPECT_EQ(sessions[0].host, "Build.Host-7");
  for (const auto& f : sessions[0].analysis.findings) EXPECT_NE(f.rule, "host-mismatch");
}

TEST(FleetIdentity, AHeaderClaimingAnotherHostIsNamedByItsSubjectAndFound) {
  analyzer::KnowledgeBase kb = analyzer::KnowledgeBase::builtin();
  auto sessions = assemble(recording("mallory", "alpha", "mallory"), kb);
  ASSERT_EQ(sessions.size(), 1u);
  EXPECT_EQ(sessions[0].host, "mallory");
  ASSERT_FALSE(sessions[0].analysis.findings.empty());
  const analyzer::Finding& f = sessions[0].analysis.findings[0];
  EXPECT_EQ(f.rule, "host-mismatch");
  EXPECT_EQ(f.severity, analyzer::Severity::kHigh);
  EXPECT_EQ(f.message,
            "Recording s1 was published on agenttrace.mallory.* but its header names host alpha: it is reported as "
            "mallory, the host the server let publish it.");
  ASSERT_EQ(f.evidence.size(), 1u);
  EXPECT_EQ(f.evidence[0].what, "header hostname alpha on agenttrace.mallory.*");
  std::string text = fleet_report_text(FleetReport{"nats://central:4222", std::move(sessions)}, kb, false);
  EXPECT_THAT(text, HasSubstr("\n  HIGH mallory host-mismatch  Recording s1 was published on agenttrace.mallory.*"));
  EXPECT_THAT(text, Not(HasSubstr("  alpha:")));
}

TEST(FleetIdentity, DeduplicationIdsOfAnotherHostAreFound) {
  analyzer::KnowledgeBase kb = analyzer::KnowledgeBase::builtin();
  auto sessions = assemble(recording("mallory", "mallory", "alpha"), kb);
  ASSERT_EQ(sessions.size(), 1u);
  EXPECT_EQ(sessions[0].host, "mallory");
  ASSERT_FALSE(sessions[0].analysis.findings.empty());
  const analyzer::Finding& f = sessions[0].analysis.findings[0];
  EXPECT_EQ(f.rule, "host-mismatch");
  EXPECT_EQ(f.message,
            "Recording s1 was published on agenttrace.mallory.* but 2 messages carry de-duplication ids of host alpha: "
            "it is reported as mallory, the host the server let publish it.");
  ASSERT_EQ(f.evidence.size(), 1u);
  EXPECT_EQ(f.evidence[0].what, "Nats-Msg-Id alpha/s1/... on agenttrace.mallory.*");
}

}  // namespace
}  // namespace agenttrace::fleet
