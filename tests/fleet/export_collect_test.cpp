// The fleet export against a real nats-server with JetStream on loopback:
// recordings go through the stream and come back with the findings their
// trace files give; a server stopped in the middle and restarted, or a
// cluster node killed, loses nothing and doubles nothing.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <chrono>
#include <mutex>
#include <fstream>
#include <functional>
#include <thread>
#include <tuple>

#include "../support/temp_dir.h"
#include "analyzer/findings.h"
#include "analyzer/profile.h"
#include "common/error.h"
#include "fleet/nats_client.h"
#include "fleet/nkey.h"
#include "fleet/subjects.h"
#include "fleet_support.h"
#include "trace/reader.h"

namespace agenttrace::testing {
namespace {

using ::testing::HasSubstr;

// What a finding says, with its evidence's events: equal means the same finding.
using FindingKey = std::tuple<std::string, std::string, int, std::string, std::vector<uint64_t>>;

std::vector<FindingKey> keys(const std::vector<analyzer::Finding>& findings) {
  std::vector<FindingKey> out;
  for (const auto& f : findings) {
    std::vector<uint64_t> events;
    for (const auto& e : f.evidence) events.push_back(e.event);
    out.emplace_back(f.id, f.rule, static_cast<int>(f.severity), f.message, events);
  }
  return out;
}

struct FileRecording {
  trace::Header header;
  std::vector<trace::Event> events;
  trace::Trailer trailer;
  std::vector<analyzer::Finding> findings;
};

FileRecording read_fixture(const std::string& path, const analyzer::KnowledgeBase& kb) {
  FileRecording r;
  trace::TraceReader reader(path);
  r.header = reader.header();
  analyzer::ProfileBuilder builder(kb);
  builder.on_header(r.header);
  trace::Event e;
  while (reader.next(&e) == trace::TraceReader::Status::kRecord) {
    builder.on_event(e);
    r.events.push_back(e);
  }
  r.trailer = reader.trailer();
  builder.on_trailer(r.trailer);
  r.findings = analyzer::run_rules(builder.profile(), kb);
  return r;
}

// Plays a recording into an export sink as a live session would.
fleet::ExportTotals replay(fleet::ExportSink& sink, const FileRecording& r) {
  sink.on_header(r.header);
  for (const auto& e : r.events) sink.on_event(e);
  trace::Trailer t = r.trailer;
  sink.complete_trailer(&t);
  sink.on_trailer(t);
  return sink.close();
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

const fleet::SessionAnalysis* by_token(const fleet::FleetReport& r, const std::string& token) {
  for (const auto& s : r.sessions)
    if (s.host_token == token) return &s;
  return nullptr;
}

TEST(FleetRoundTrip, RecordedTracesGiveTheSameFindingsThroughTheStreamAsFromTheirFiles) {
  REQUIRE_NATS_SERVER();
  TempDir dir;
  NatsServer server(standalone(dir.path()));
  analyzer::KnowledgeBase kb = analyzer::KnowledgeBase::builtin();
  const std::vector<std::string> fixtures = {"zero_width", "base64_field", "hidden"};
  std::map<std::string, FileRecording> files;
  for (const auto& name : fixtures) {
    files[name] = read_fixture(std::string(TESTS_DATA_DIR) + "/" + name + ".atrace", kb);
    files[name].header.set_hostname("host-" + name);  // as a session exporting under --host-name does
    ASSERT_FALSE(files[name].findings.empty()) << name;
    fleet::ExportSink sink(fleet::load_nats_settings(server.url(), ""), export_options(server.url(), dir.file("spool")),
                           "host-" + name, "session-" + name);
    fleet::ExportTotals t = replay(sink, files[name]);
    const uint64_t messages = files[name].events.size() + 2;
    EXPECT_EQ(t.enqueued, messages) << name;
    EXPECT_EQ(t.published, messages) << name;
    EXPECT_EQ(t.dropped, 0u);
    EXPECT_EQ(t.pending, 0u);
  }

  fleet::FleetReport report = collect_all(server.url(), kb);
  ASSERT_EQ(report.sessions.size(), fixtures.size());
  for (const auto& name : fixtures) {
    const fleet::SessionAnalysis* s = by_token(report, "host-" + fleet::host_token(name));
    ASSERT_NE(s, nullptr) << name;
    EXPECT_EQ(s->session, "session-" + name);
    EXPECT_TRUE(s->has_header);
    EXPECT_FALSE(s->analysis.truncated);
    EXPECT_EQ(s->counts.delivered, files[name].events.size() + 2);
    EXPECT_EQ(s->counts.missing, 0u);
    EXPECT_EQ(s->counts.duplicates, 0u);
    EXPECT_EQ(s->analysis.profile.events, files[name].events.size());
    EXPECT_EQ(keys(s->analysis.findings), keys(files[name].findings)) << name;
  }
  EXPECT_EQ(stream_messages(server.url()), files["zero_width"].events.size() + files["base64_field"].events.size() +
                                               files["hidden"].events.size() + 6);
}

// Sends events `from`..`to`, a little at a time, as a recording would.
void emit(fleet::ExportSink& sink, uint64_t from, uint64_t to) {
  for (uint64_t i = from; i <= to; ++i) {
    sink.on_event(numbered_event(i));
    if (i % 50 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

// Ends a recording of `events` events as a session does: the closing record
// gets the export's counts, then goes out, then the rest is delivered.
fleet::ExportTotals end_recording(fleet::ExportSink& sink, uint64_t events, trace::Trailer* trailer) {
  trailer->set_events(events);
  sink.complete_trailer(trailer);
  sink.on_trailer(*trailer);
  return sink.close();
}

// Waits (bounded) until the exporter says something.
template <typename Pred>
bool wait_for(Pred pred, int timeout_ms = 10000) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

void expect_in_order(const std::vector<uint64_t>& ids, uint64_t n) {
  ASSERT_EQ(ids.size(), n);
  for (uint64_t i = 0; i < n; ++i) ASSERT_EQ(ids[i], i + 1) << "at " << i;
}

TEST(FleetOutage, ServerStoppedInTheMiddleAndRestartedLosesNothingAndDoublesNothing) {
  REQUIRE_NATS_SERVER();
  TempDir dir;
  NatsServer server(standalone(dir.path()));
  fleet::ExportSink sink(fleet::load_nats_settings(server.url(), ""), export_options(server.url(), dir.file("spool")),
                         "outage-host", "outage-session");
  sink.on_header(fleet_header("outage-host"));
  emit(sink, 1, 1000);
  server.stop();  // in the middle of the run
  emit(sink, 1001, 2000);
  ASSERT_TRUE(wait_for([&] { return sink.exporter().totals().spooled >= 1000; }))
      << "records did not go to the spool while the server was away: " << sink.exporter().totals().spooled;
  EXPECT_TRUE(std::filesystem::exists(dir.file("spool/outage-session")));
  server.start();
  emit(sink, 2001, 3000);
  trace::Trailer trailer;
  fleet::ExportTotals t = end_recording(sink, 3000, &trailer);

  EXPECT_EQ(t.enqueued, 3002u);
  EXPECT_EQ(t.published, 3002u);
  EXPECT_GE(t.spooled, 1000u);
  EXPECT_EQ(t.dropped, 0u);
  EXPECT_EQ(t.pending, 0u);
  // The closing record says the same of the events and header.
  EXPECT_TRUE(trailer.exported());
  EXPECT_EQ(trailer.export_published(), 3001u);
  EXPECT_EQ(trailer.export_dropped(), 0u);
  EXPECT_EQ(trailer.export_pending(), 0u);
  EXPECT_FALSE(std::filesystem::exists(dir.file("spool/outage-session")));  // delivered: the spool is gone

  EXPECT_EQ(stream_messages(server.url()), 3002u);  // nothing doubled in the stream
  auto ids = event_ids_by_host(server.url());
  expect_in_order(ids["outage-host"], 3000);
  analyzer::KnowledgeBase kb = analyzer::KnowledgeBase::builtin();
  fleet::FleetReport report = collect_all(server.url(), kb);
  ASSERT_EQ(report.sessions.size(), 1u);
  EXPECT_EQ(report.sessions[0].counts.delivered, 3002u);
  EXPECT_EQ(report.sessions[0].counts.missing, 0u);
  EXPECT_EQ(report.sessions[0].counts.duplicates, 0u);
  EXPECT_EQ(report.sessions[0].analysis.profile.events, 3000u);
}

TEST(FleetOutage, WhatTheServerNeverTookStaysInTheSpoolAndIsCounted) {
  REQUIRE_NATS_SERVER();
  TempDir dir;
  const int port = free_loopback_port();  // nothing listens there
  const std::string url = "nats://127.0.0.1:" + std::to_string(port);
  fleet::ExportTotals t;
  {
    fleet::ExportSink sink(fleet::load_nats_settings(url, ""), export_options(url, dir.file("spool"), 500),
                           "lonely", "lonely-session");
    sink.on_header(fleet_header("lonely"));
    emit(sink, 1, 200);
    t = sink.close();
    EXPECT_EQ(fleet::export_summary(sink, t).find("none lost"), std::string::npos);
    EXPECT_THAT(fleet::export_summary(sink, t), HasSubstr("201 not delivered yet, kept in " + dir.file("spool/lonely-session")));
  }
  EXPECT_EQ(t.published, 0u);
  EXPECT_EQ(t.pending, 201u);
  EXPECT_EQ(t.dropped, 0u);
  EXPECT_EQ(t.spooled, 201u);
  EXPECT_TRUE(std::filesystem::exists(dir.file("spool/lonely-session")));
}

TEST(FleetCluster, OneOfThreeNodesKilledInTheMiddleLosesNothing) {
  REQUIRE_NATS_SERVER();
  TempDir dir;
  std::array<int, 3> cluster_ports{free_loopback_port(), free_loopback_port(), free_loopback_port()};
  std::vector<std::unique_ptr<NatsServer>> nodes;
  for (int i = 0; i < 3; ++i) {
    std::vector<int> routes;
    for (int j = 0; j < 3; ++j)
      if (j != i) routes.push_back(cluster_ports[j]);
    NatsServerOptions o;
    o.name = "n" + std::to_string(i + 1);
    o.dir = dir.path();
    o.cluster = "agenttrace-test";
    o.cluster_port = cluster_ports[i];
    o.routes = routes;
    o.wait_ready = false;  // a node is ready once the others are there
    nodes.push_back(std::make_unique<NatsServer>(o));
  }
  for (auto& n : nodes) ASSERT_TRUE(n->wait_ready(30000)) << n->log();
  const std::string all = nodes[0]->url() + "," + nodes[1]->url() + "," + nodes[2]->url();
  const std::string survivors = nodes[1]->url() + "," + nodes[2]->url();
  std::ofstream(dir.file("export.yaml")) << "replicas: 3\n";

  fleet::ExportSink sink(fleet::load_nats_settings(all, dir.file("export.yaml")),
                         export_options(all, dir.file("spool"), 60000), "cluster-host", "cluster-session");
  sink.on_header(fleet_header("cluster-host"));
  emit(sink, 1, 1500);
  ASSERT_TRUE(wait_for([&] { return sink.exporter().totals().published >= 500; }, 30000));
  nodes[0]->kill();  // the node the exporter is connected to, mid-stream
  emit(sink, 1501, 3000);
  trace::Trailer trailer;
  fleet::ExportTotals t = end_recording(sink, 3000, &trailer);
  EXPECT_EQ(t.published, 3002u) << t.problem;
  EXPECT_EQ(t.dropped, 0u);
  EXPECT_EQ(t.pending, 0u);
  EXPECT_THAT(t.stream_note, HasSubstr("3 replicas"));

  EXPECT_EQ(stream_messages(survivors), 3002u);
  auto ids = event_ids_by_host(survivors);
  expect_in_order(ids["cluster-host"], 3000);
}

// Exports a fixture as `host`; returns the number of messages.
uint64_t export_fixture(const std::string& url, const std::string& spool, const std::string& fixture,
                        const std::string& host, const analyzer::KnowledgeBase& kb) {
  FileRecording r = read_fixture(std::string(TESTS_DATA_DIR) + "/" + fixture + ".atrace", kb);
  r.header.set_hostname(host);
  fleet::ExportSink sink(fleet::load_nats_settings(url, ""), export_options(url, spool), host, host + "-session");
  fleet::ExportTotals t = replay(sink, r);
  EXPECT_EQ(t.published, t.enqueued);
  return t.published;
}

TEST(FleetCollect, HostsAndSinceSelectWhatIsRead) {
  REQUIRE_NATS_SERVER();
  TempDir dir;
  NatsServer server(standalone(dir.path()));
  analyzer::KnowledgeBase kb = analyzer::KnowledgeBase::builtin();
  export_fixture(server.url(), dir.file("spool"), "zero_width", "alpha-1", kb);
  export_fixture(server.url(), dir.file("spool"), "hidden", "alpha-2", kb);
  // The exports are acknowledged when they return; a margin of a second on
  // each side of `between` keeps a loaded machine's scheduling out of it.
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  const int64_t between = std::chrono::duration_cast<std::chrono::nanoseconds>(
                              std::chrono::system_clock::now().time_since_epoch()).count();
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  export_fixture(server.url(), dir.file("spool"), "base64_field", "beta-1", kb);

  auto hosts_of = [&](const std::string& glob, int64_t since) {
    fleet::CollectOptions o;
    o.from = server.url();
    o.hosts_glob = glob;
    o.since_ns = since;
    std::vector<std::string> hosts;
    for (const auto& s : fleet::collect(o, kb).sessions) hosts.push_back(s.host);
    return hosts;
  };
  EXPECT_THAT(hosts_of("", 0), ::testing::ElementsAre("alpha-1", "alpha-2", "beta-1"));
  EXPECT_THAT(hosts_of("alpha-*", 0), ::testing::ElementsAre("alpha-1", "alpha-2"));
  EXPECT_THAT(hosts_of("beta-1", 0), ::testing::ElementsAre("beta-1"));  // filtered by the server
  EXPECT_THAT(hosts_of("", between), ::testing::ElementsAre("beta-1"));
}

TEST(FleetCollect, FollowingReportsEachNewFindingOnceAsItArrives) {
  REQUIRE_NATS_SERVER();
  TempDir dir;
  NatsServer server(standalone(dir.path()));
  analyzer::KnowledgeBase kb = analyzer::KnowledgeBase::builtin();
  std::mutex mu;
  std::vector<std::string> seen;
  std::atomic<bool> stop{false};
  fleet::FleetReport report;
  std::string failure;
  std::thread central([&] {
    fleet::CollectOptions o;
    o.from = server.url();
    o.follow = true;
    o.fetch_wait_ms = 100;
    try {
      report = fleet::collect(
          o, kb,
          [&](const fleet::FleetAnalysis::NewFinding& f) {
            std::lock_guard<std::mutex> lock(mu);
            seen.push_back(f.host + " " + f.finding.rule);
          },
          [&] { return stop.load(); });
    } catch (const Error& e) {
      failure = e.what();
    }
  });
  // Following starts before the first host made the stream: it waits for it.
  export_fixture(server.url(), dir.file("spool"), "zero_width", "alpha", kb);
  export_fixture(server.url(), dir.file("spool"), "base64_field", "beta", kb);
  auto count = [&](const std::string& what) {
    std::lock_guard<std::mutex> lock(mu);
    return std::count(seen.begin(), seen.end(), what);
  };
  EXPECT_TRUE(wait_for([&] { return count("alpha hidden-characters") == 1 && count("beta value-echo") == 2; }));
  stop = true;
  central.join();
  EXPECT_EQ(failure, "");
  EXPECT_EQ(count("alpha hidden-characters"), 1);  // once, though rules ran again as messages came
  EXPECT_EQ(count("alpha events-lost"), 0);        // a recording still arriving is not a loss
  EXPECT_EQ(report.sessions.size(), 2u);
}

TEST(FleetAuth, UserAndPasswordFromTheEnvironment) {
  REQUIRE_NATS_SERVER();
  TempDir dir;
  NatsServer server(standalone(dir.path(), "authorization { users = [ {user: alice, password: \"s3cret\"} ] }"));
  analyzer::KnowledgeBase kb = analyzer::KnowledgeBase::builtin();
  setenv("AGENTTRACE_NATS_USER", "alice", 1);
  setenv("AGENTTRACE_NATS_PASSWORD", "s3cret", 1);
  // Loopback, no TLS: the password crosses in plain text only when said so.
  EXPECT_THAT(error_of([&] { fleet::load_nats_settings(server.url(), ""); }), HasSubstr("refusing to send the NATS password"));
  setenv("AGENTTRACE_NATS_TLS", "false", 1);
  {
    fleet::ExportSink sink(fleet::load_nats_settings(server.url(), ""), export_options(server.url(), dir.file("spool")),
                           "auth-host", "auth-session");
    sink.on_header(fleet_header("auth-host"));
    emit(sink, 1, 10);
    EXPECT_EQ(sink.close().published, 11u);
  }
  EXPECT_EQ(collect_all(server.url(), kb).sessions.size(), 1u);
  setenv("AGENTTRACE_NATS_PASSWORD", "wrong", 1);
  try {
    collect_all(server.url(), kb);
    ADD_FAILURE() << "a wrong password was accepted";
  } catch (const Error& e) {
    EXPECT_THAT(std::string(e.what()), HasSubstr("cannot connect to the NATS server at " + server.url()));
    EXPECT_THAT(std::string(e.what()), HasSubstr("uthorization"));
  }
  unsetenv("AGENTTRACE_NATS_USER");
  unsetenv("AGENTTRACE_NATS_PASSWORD");
  unsetenv("AGENTTRACE_NATS_TLS");
}

TEST(FleetAuth, TokenFromTheConfigFile) {
  REQUIRE_NATS_SERVER();
  TempDir dir;
  NatsServer server(standalone(dir.path(), "authorization { token: \"t0ken-xyz\" }"));
  std::ofstream(dir.file("refused.yaml")) << "token: t0ken-xyz\n";
  EXPECT_EQ(error_of([&] { fleet::load_nats_settings(server.url(), dir.file("refused.yaml")); }),
            "refusing to send the NATS token over " + server.url() +
                " without TLS: use tls://, a ca file, or say tls: false (AGENTTRACE_NATS_TLS=false) to send it in "
                "plain text anyway");
  std::ofstream(dir.file("export.yaml")) << "token: t0ken-xyz\ntls: false\n";
  {
    fleet::ExportSink sink(fleet::load_nats_settings(server.url(), dir.file("export.yaml")),
                           export_options(server.url(), dir.file("spool")), "token-host", "token-session");
    sink.on_header(fleet_header("token-host"));
    emit(sink, 1, 10);
    EXPECT_EQ(sink.close().published, 11u);
  }
  analyzer::KnowledgeBase kb = analyzer::KnowledgeBase::builtin();
  EXPECT_EQ(collect_all(server.url(), kb, dir.file("export.yaml")).sessions.size(), 1u);
  std::ofstream(dir.file("wrong.yaml")) << "token: wrong\ntls: false\n";
  EXPECT_THAT(error_of([&] { collect_all(server.url(), kb, dir.file("wrong.yaml")); }),
              HasSubstr("cannot connect to the NATS server at " + server.url()));
}

// Two hosts whose recordings have the same session id (a cloned machine's
// boot id, or one host copying another's on purpose): with the host in the
// de-duplication id, JetStream keeps both; neither suppresses the other.
TEST(FleetIdentity, TwoHostsWithOneSessionIdBothArriveWhole) {
  REQUIRE_NATS_SERVER();
  TempDir dir;
  NatsServer server(standalone(dir.path()));
  for (const std::string host : {"alpha", "beta"}) {
    fleet::ExportSink sink(fleet::load_nats_settings(server.url(), ""), export_options(server.url(), dir.file(host)),
                           host, "same-session");
    sink.on_header(fleet_header(host));
    emit(sink, 1, 20);
    fleet::ExportTotals t = sink.close();
    EXPECT_EQ(t.published, 21u) << host;
    EXPECT_EQ(t.duplicates, 0u) << host;
  }
  EXPECT_EQ(stream_messages(server.url()), 42u);
  analyzer::KnowledgeBase kb = analyzer::KnowledgeBase::builtin();
  fleet::FleetReport report = collect_all(server.url(), kb);
  ASSERT_EQ(report.sessions.size(), 2u);
  for (const auto& s : report.sessions) {
    EXPECT_EQ(s.session, "same-session");
    EXPECT_EQ(s.counts.delivered, 21u) << s.host;
    EXPECT_EQ(s.counts.missing, 0u) << s.host;
    EXPECT_EQ(s.analysis.profile.events, 20u) << s.host;
    for (const auto& f : s.analysis.findings) EXPECT_NE(f.rule, "host-mismatch") << s.host;
  }
  EXPECT_EQ(report.sessions[0].host, "alpha");
  EXPECT_EQ(report.sessions[1].host, "beta");
}

// A host publishing on its own subjects with another host's name in the
// header and in the message ids is reported under its subject, with a finding.
TEST(FleetIdentity, AForgedHeaderAndIdsAreReportedUnderTheSubjectsHost) {
  REQUIRE_NATS_SERVER();
  TempDir dir;
  NatsServer server(standalone(dir.path()));
  {
    // The stream exists once an honest host exported.
    fleet::ExportSink sink(fleet::load_nats_settings(server.url(), ""), export_options(server.url(), dir.file("spool")),
                           "alpha", "alpha-session");
    sink.on_header(fleet_header("alpha"));
    emit(sink, 1, 5);
    EXPECT_EQ(sink.close().published, 6u);
  }
  fleet::NatsClient client(fleet::load_nats_settings(server.url(), ""), "mallory", fleet::NatsClient::Mode::kNow);
  auto publish = [&](const std::string& suffix, const trace::Record& r, uint64_t seq) {
    std::string data = r.SerializeAsString();
    jsPubOptions po;
    jsPubOptions_Init(&po);
    std::string id = fleet::message_id("alpha", "forged-session", seq);
    po.MsgId = id.c_str();
    jsPubAck* ack = nullptr;
    ASSERT_EQ(js_Publish(&ack, client.js(), ("agenttrace.mallory." + suffix).c_str(), data.data(),
                         static_cast<int>(data.size()), &po, nullptr),
              NATS_OK);
    jsPubAck_Destroy(ack);
  };
  trace::Record h, e, t;
  *h.mutable_header() = fleet_header("alpha");
  *e.mutable_event() = numbered_event(1);
  t.mutable_trailer();
  publish("header", h, 1);
  publish("events.open", e, 2);
  publish("trailer", t, 3);

  analyzer::KnowledgeBase kb = analyzer::KnowledgeBase::builtin();
  fleet::FleetReport report = collect_all(server.url(), kb);
  ASSERT_EQ(report.sessions.size(), 2u);
  const fleet::SessionAnalysis& honest = report.sessions[0];
  const fleet::SessionAnalysis& forged = report.sessions[1];
  EXPECT_EQ(honest.host, "alpha");
  EXPECT_EQ(honest.session, "alpha-session");
  for (const auto& f : honest.analysis.findings) EXPECT_NE(f.rule, "host-mismatch");
  EXPECT_EQ(forged.host, "mallory");
  EXPECT_EQ(forged.session, "forged-session");
  EXPECT_EQ(forged.counts.delivered, 3u);
  ASSERT_FALSE(forged.analysis.findings.empty());
  const analyzer::Finding& f = forged.analysis.findings[0];
  EXPECT_EQ(f.rule, "host-mismatch");
  EXPECT_EQ(f.message,
            "Recording forged-session was published on agenttrace.mallory.* but its header names host alpha and 3 "
            "messages carry de-duplication ids of host alpha: it is reported as mallory, the host the server let "
            "publish it.");
  std::string text = fleet::fleet_report_text(report, kb, false);
  EXPECT_THAT(text, HasSubstr("\n  alpha: 1 recording, 5 events\n"));
  EXPECT_THAT(text, HasSubstr("\n  mallory: 1 recording, 1 events\n"));
  EXPECT_THAT(text, HasSubstr("\n  HIGH mallory host-mismatch  Recording forged-session"));
}

TEST(FleetAuth, NkeySeedFromTheConfigFile) {
  REQUIRE_NATS_SERVER();
  TempDir dir;
  std::array<uint8_t, 32> raw{};
  for (size_t i = 0; i < raw.size(); ++i) raw[i] = static_cast<uint8_t>(0xa5 ^ (i * 13));
  std::string seed = fleet::nkey_user_seed(raw);
  // The server checks the signature against the public key derived here:
  // a wrong derivation cannot connect.
  std::string pub = fleet::nkey_public_from_seed(seed);
  std::ofstream(dir.file("host.nk")) << seed << "\n";
  std::ofstream(dir.file("export.yaml")) << "nkey: " << dir.file("host.nk") << "\n";
  NatsServer server(standalone(dir.path(), "authorization { users = [ {nkey: " + pub + "} ] }"));
  {
    fleet::ExportSink sink(fleet::load_nats_settings(server.url(), dir.file("export.yaml")),
                           export_options(server.url(), dir.file("spool")), "nkey-host", "nkey-session");
    sink.on_header(fleet_header("nkey-host"));
    emit(sink, 1, 10);
    fleet::ExportTotals t = sink.close();
    EXPECT_EQ(t.published, 11u) << t.problem;
  }
  analyzer::KnowledgeBase kb = analyzer::KnowledgeBase::builtin();
  EXPECT_EQ(collect_all(server.url(), kb, dir.file("export.yaml")).sessions.size(), 1u);
}

// A CA and a server certificate for 127.0.0.1, made with openssl for the test.
bool make_certificates(const TempDir& dir) {
  std::ofstream(dir.file("san.cnf")) << "subjectAltName=IP:127.0.0.1\n";
  std::string d = dir.path();
  std::string cmd = "cd " + d + " && openssl req -x509 -newkey rsa:2048 -nodes -keyout ca-key.pem -out ca.pem -days 1 "
                    "-subj /CN=agenttrace-test-ca && openssl req -newkey rsa:2048 -nodes -keyout server-key.pem "
                    "-out server.csr -subj /CN=127.0.0.1 && openssl x509 -req -in server.csr -CA ca.pem -CAkey ca-key.pem "
                    "-CAcreateserial -out server.pem -days 1 -extfile san.cnf";
  return system((cmd + " >/dev/null 2>&1").c_str()) == 0;
}

TEST(FleetAuth, TlsWithTheCaFromTheConfigFile) {
  REQUIRE_NATS_SERVER();
  if (system("command -v openssl >/dev/null 2>&1") != 0) GTEST_SKIP() << "openssl is not installed";
  TempDir dir;
  ASSERT_TRUE(make_certificates(dir));
  NatsServer server(standalone(dir.path(), "tls { cert_file: \"" + dir.file("server.pem") + "\", key_file: \"" +
                                               dir.file("server-key.pem") + "\" }"));
  std::ofstream(dir.file("export.yaml")) << "ca: " << dir.file("ca.pem") << "\n";
  {
    fleet::ExportSink sink(fleet::load_nats_settings(server.url(), dir.file("export.yaml")),
                           export_options(server.url(), dir.file("spool")), "tls-host", "tls-session");
    sink.on_header(fleet_header("tls-host"));
    emit(sink, 1, 10);
    fleet::ExportTotals t = sink.close();
    EXPECT_EQ(t.published, 11u) << t.problem;
  }
  analyzer::KnowledgeBase kb = analyzer::KnowledgeBase::builtin();
  EXPECT_EQ(collect_all(server.url(), kb, dir.file("export.yaml")).sessions.size(), 1u);
  // Without the CA the server's certificate is not trusted.
  try {
    collect_all("tls://127.0.0.1:" + std::to_string(server.port()), kb);
    ADD_FAILURE() << "an untrusted certificate was accepted";
  } catch (const Error& e) {
    EXPECT_THAT(std::string(e.what()), HasSubstr("cannot connect to the NATS server at tls://127.0.0.1:"));
  }
}

}  // namespace
}  // namespace agenttrace::testing
