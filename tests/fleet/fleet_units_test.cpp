// The fleet export's parts without a server: names on the wire, settings,
// nkeys, the spool and outbox, and putting recordings back in order.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "../support/temp_dir.h"
#include "common/error.h"
#include "fleet/collect.h"
#include "fleet/entry.h"
#include "fleet/nats_settings.h"
#include "fleet/nkey.h"
#include "fleet/outbox.h"
#include "fleet/session_assembler.h"
#include "fleet/spool.h"
#include "fleet/subjects.h"

namespace agenttrace::fleet {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::TempDir;

// `n` entries with sequence numbers from `first`, each `payload` bytes.
std::string entries(uint64_t first, size_t n, size_t payload = 100, std::string_view suffix = "events.open") {
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    size_t at = out.size();
    out.resize(at + entry_size(suffix.size(), payload));
    uint8_t* p = put_entry(reinterpret_cast<uint8_t*>(out.data() + at), first + i, suffix, payload);
    std::fill(p, p + payload, static_cast<uint8_t>('a' + (first + i) % 26));
  }
  return out;
}

uint64_t seq_of(std::string_view entry) {
  EntryView v;
  size_t n = 0;
  EXPECT_EQ(read_entry(entry, false, &v, &n), EntryStatus::kOk);
  return v.seq;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(Subjects, HostNamesBecomeOneSafeToken) {
  EXPECT_EQ(host_token("Build-Host.example.com"), "build-host_example_com");
  EXPECT_EQ(host_token("a b*c>d"), "a_b_c_d");
  EXPECT_EQ(host_token(""), "unknown");
  EXPECT_EQ(subject_for("alpha", "events.open"), "agenttrace.alpha.events.open");
  auto parts = parse_subject("agenttrace.alpha.events.open");
  ASSERT_TRUE(parts);
  EXPECT_EQ(parts->host, "alpha");
  EXPECT_EQ(parts->suffix, "events.open");
  EXPECT_FALSE(parse_subject("other.alpha.header"));
  EXPECT_FALSE(parse_subject("agenttrace.alpha"));
}

TEST(Subjects, MessageIdsCarryHostSessionAndSequence) {
  std::string session = make_session_id("3f2a9c1b-0d4e-4a6b-9f00-123456789abc", 1732395432123456789, 4242);
  EXPECT_EQ(session, "3f2a9c1b0d4e-1732395432123456789-4242");
  EXPECT_EQ(message_id("build_host-7", session, 77), "build_host-7/3f2a9c1b0d4e-1732395432123456789-4242/77");
  std::string h, s;
  uint64_t seq = 0;
  ASSERT_TRUE(parse_message_id(message_id("build_host-7", session, 77), &h, &s, &seq));
  EXPECT_EQ(h, "build_host-7");
  EXPECT_EQ(s, session);
  EXPECT_EQ(seq, 77u);
  // Two hosts with the same session id (a copied boot id, a forged one)
  // still have different ids: JetStream drops neither as the other's copy.
  EXPECT_NE(message_id("alpha", session, 1), message_id("beta", session, 1));
  // The older form without a host still reads, with no host.
  ASSERT_TRUE(parse_message_id("sess-1/5", &h, &s, &seq));
  EXPECT_EQ(h, "");
  EXPECT_EQ(s, "sess-1");
  EXPECT_EQ(seq, 5u);
  EXPECT_FALSE(parse_message_id("no-slash", &h, &s, &seq));
  EXPECT_FALSE(parse_message_id("x/12a", &h, &s, &seq));
  EXPECT_FALSE(parse_message_id("/sess/1", &h, &s, &seq));
  EXPECT_FALSE(parse_message_id("h//1", &h, &s, &seq));
  EXPECT_FALSE(parse_message_id("h/s/x/1", &h, &s, &seq));
}

TEST(NatsSettings, PasswordOrTokenOverPlainNatsNeedsTlsFalseSaidExplicitly) {
  TempDir dir;
  std::ofstream(dir.file("pw.yaml")) << "user: alice\npassword: s3cret\n";
  std::ofstream(dir.file("token.yaml")) << "token: t0ken\n";
  std::ofstream(dir.file("plain.yaml")) << "user: alice\npassword: s3cret\ntls: false\n";
  std::ofstream(dir.file("both.yaml")) << "token: t0ken\nuser: alice\npassword: s3cret\ntls: false\n";
  EXPECT_EQ(error_of([&] { load_nats_settings("nats://central:4222", dir.file("pw.yaml")); }),
            "refusing to send the NATS password over nats://central:4222 without TLS: use tls://, a ca file, or say "
            "tls: false (AGENTTRACE_NATS_TLS=false) to send it in plain text anyway");
  EXPECT_EQ(error_of([&] { load_nats_settings("nats://central", dir.file("token.yaml")); }),
            "refusing to send the NATS token over nats://central:4222 without TLS: use tls://, a ca file, or say "
            "tls: false (AGENTTRACE_NATS_TLS=false) to send it in plain text anyway");
  setenv("AGENTTRACE_NATS_USER", "alice", 1);
  setenv("AGENTTRACE_NATS_PASSWORD", "s3cret", 1);
  EXPECT_THAT(error_of([&] { load_nats_settings("nats://central:4222", ""); }), HasSubstr("refusing to send"));
  setenv("AGENTTRACE_NATS_TLS", "false", 1);
  NatsSettings env = load_nats_settings("nats://central:4222", "");
  EXPECT_FALSE(env.tls);
  EXPECT_EQ(env.user, "alice");
  unsetenv("AGENTTRACE_NATS_TLS");
  unsetenv("AGENTTRACE_NATS_USER");
  unsetenv("AGENTTRACE_NATS_PASSWORD");
  // Said explicitly, or over TLS: accepted.
  NatsSettings plain = load_nats_settings("nats://central:4222", dir.file("plain.yaml"));
  EXPECT_FALSE(plain.tls);
  EXPECT_EQ(plain.password, "s3cret");
  NatsSettings tls = load_nats_settings("tls://central:4222", dir.file("token.yaml"));
  EXPECT_TRUE(tls.tls);
  EXPECT_EQ(tls.token, "t0ken");
  // tls: false does not turn a tls:// URL into plain text.
  EXPECT_TRUE(load_nats_settings("tls://central:4222", dir.file("plain.yaml")).tls);
  EXPECT_EQ(error_of([&] { load_nats_settings("nats://central:4222", dir.file("both.yaml")); }),
            "give one kind of NATS credentials: a creds file, a user and password, a token, or an nkey seed");
  // An nkey only signs the server's nonce: no TLS needed.
  std::ofstream(dir.file("host.nk")) << "SUA\n";
  std::ofstream(dir.file("nkey.yaml")) << "nkey: " << dir.file("host.nk") << "\n";
  EXPECT_EQ(load_nats_settings("nats://central:4222", dir.file("nkey.yaml")).nkey_seed_file, dir.file("host.nk"));
}

TEST(NatsSettings, UrlsAreCheckedAndCredentialsKeptOffTheCommandLine) {
  NatsSettings s = load_nats_settings("nats://127.0.0.1:4222, nats://[::1]:4223,tls://central", "");
  EXPECT_THAT(s.servers, ElementsAre("nats://127.0.0.1:4222", "nats://[::1]:4223", "tls://central:4222"));
  EXPECT_TRUE(s.tls);
  EXPECT_THAT(error_of([] { load_nats_settings("http://central:4222", ""); }), HasSubstr("scheme must be nats://"));
  EXPECT_THAT(error_of([] { load_nats_settings("nats://central:port", ""); }), HasSubstr("'port' is not a port number"));
  EXPECT_THAT(error_of([] { load_nats_settings("nats://central:70000", ""); }), HasSubstr("not a port number"));
  EXPECT_THAT(error_of([] { load_nats_settings("nats://alice:secret@central:4222", ""); }),
              HasSubstr("holds credentials"));
  EXPECT_THAT(error_of([] { load_nats_settings("nats://", ""); }), HasSubstr("names no host"));
}

TEST(NatsSettings, ConfigFileInYamlOrKeyValueWinsOverTheEnvironment) {
  TempDir dir;
  std::ofstream(dir.file("ca.pem")) << "x";
  std::ofstream(dir.file("a.yaml")) << "user: alice\npassword: s3cret\nca: " << dir.file("ca.pem")
                                    << "\nstream: FLEET\nreplicas: 3\nmax_age: 7d\nmax_bytes: 10G\n";
  std::ofstream(dir.file("b.conf")) << "# key=value\nuser = bob\npassword=pw\ntls=false\n";
  setenv("AGENTTRACE_NATS_USER", "env-user", 1);
  setenv("AGENTTRACE_NATS_PASSWORD", "env-pw", 1);
  setenv("AGENTTRACE_NATS_TLS", "false", 1);
  NatsSettings a = load_nats_settings("nats://h:1", dir.file("a.yaml"));
  EXPECT_EQ(a.user, "alice");
  EXPECT_EQ(a.password, "s3cret");
  EXPECT_TRUE(a.tls);  // a CA file means TLS
  EXPECT_EQ(a.stream, "FLEET");
  EXPECT_EQ(a.stream_replicas, 3);
  EXPECT_EQ(a.stream_max_age_ns, 7ll * 86400 * 1000000000);
  EXPECT_EQ(a.stream_max_bytes, 10ll << 30);
  NatsSettings b = load_nats_settings("nats://h:1", dir.file("b.conf"));
  EXPECT_EQ(b.user, "bob");
  NatsSettings e = load_nats_settings("nats://h:1", "");
  EXPECT_EQ(e.user, "env-user");
  unsetenv("AGENTTRACE_NATS_USER");
  unsetenv("AGENTTRACE_NATS_PASSWORD");
  unsetenv("AGENTTRACE_NATS_TLS");
}

TEST(NatsSettings, MissingFilesAndContradictionsAreOneSentence) {
  TempDir dir;
  std::ofstream(dir.file("c.yaml")) << "creds: /nonexistent/host.creds\n";
  EXPECT_EQ(error_of([&] { load_nats_settings("nats://h:1", dir.file("c.yaml")); }),
            "cannot read the NATS credentials file /nonexistent/host.creds: No such file or directory");
  EXPECT_THAT(error_of([&] { load_nats_settings("nats://h:1", dir.file("none.yaml")); }),
              HasSubstr("cannot read the export configuration"));
  std::ofstream(dir.file("d.yaml")) << "user: alice\n";
  EXPECT_EQ(error_of([&] { load_nats_settings("nats://h:1", dir.file("d.yaml")); }),
            "the NATS user alice was given without a password");
  std::ofstream(dir.file("e.yaml")) << "colour: blue\n";
  EXPECT_THAT(error_of([&] { load_nats_settings("nats://h:1", dir.file("e.yaml")); }), HasSubstr("unknown setting 'colour'"));
  setenv("AGENTTRACE_NATS_CREDS", "/nonexistent/env.creds", 1);
  EXPECT_EQ(error_of([&] { load_nats_settings("nats://h:1", ""); }),
            "cannot read the NATS credentials file /nonexistent/env.creds: No such file or directory");
  unsetenv("AGENTTRACE_NATS_CREDS");
}

TEST(Nkey, PublicKeyFollowsFromTheSeed) {
  std::array<uint8_t, 32> raw{};
  for (size_t i = 0; i < raw.size(); ++i) raw[i] = static_cast<uint8_t>(i * 7 + 1);
  std::string seed = nkey_user_seed(raw);
  EXPECT_EQ(seed.size(), 58u);
  EXPECT_EQ(seed.substr(0, 2), "SU");
  std::string pub = nkey_public_from_seed(seed);
  EXPECT_EQ(pub.size(), 56u);
  EXPECT_EQ(pub[0], 'U');
  std::string damaged = seed;
  damaged[10] = damaged[10] == 'A' ? 'B' : 'A';
  EXPECT_THAT(error_of([&] { nkey_public_from_seed(damaged); }), HasSubstr("checksum"));
  EXPECT_THAT(error_of([&] { nkey_public_from_seed("SUshort"); }), HasSubstr("not well formed"));
}

TEST(Spool, KeepsEntriesInOrderAcrossSegmentsAndDeletesWhatWasDelivered) {
  TempDir dir;
  std::string path = dir.file("spool/session");
  {
    Spool spool(path, 1u << 20);  // segments of 128 KiB
    ASSERT_EQ(spool.append(entries(1, 3000)), 3000u);  // ~350 KiB: three segments and a bit
    EXPECT_EQ(spool.unread(), 3000u);
    std::string_view e;
    for (uint64_t i = 1; i <= 1500; ++i) {
      ASSERT_TRUE(spool.read(&e));
      ASSERT_EQ(seq_of(e), i);
    }
    spool.release(1000);
    spool.rewind();  // 1001..1500 come again
    ASSERT_TRUE(spool.read(&e));
    EXPECT_EQ(seq_of(e), 1001u);
    for (uint64_t i = 1002; i <= 3000; ++i) {
      ASSERT_TRUE(spool.read(&e));
      ASSERT_EQ(seq_of(e), i);
    }
    EXPECT_FALSE(spool.read(&e));
    EXPECT_EQ(spool.unreleased(), 2000u);
    spool.release(2000);
    EXPECT_EQ(spool.unreleased(), 0u);
    EXPECT_EQ(spool.bytes(), 0u);
  }
  EXPECT_FALSE(std::filesystem::exists(path));  // nothing left: the directory goes
}

TEST(Spool, NeverPassesItsBoundAndKeepsWhatIsUndelivered) {
  TempDir dir;
  std::string path = dir.file("spool/session");
  {
    Spool spool(path, 1u << 20);
    size_t taken = spool.append(entries(1, 20000));  // ~2.3 MiB offered
    EXPECT_LT(taken, 20000u);
    EXPECT_GT(taken, 8000u);
    EXPECT_LE(spool.bytes(), 1u << 20);
    EXPECT_EQ(spool.append(entries(30000, 1)), 0u);
  }
  EXPECT_TRUE(std::filesystem::exists(path));  // undelivered entries stay on disk
  EXPECT_EQ(std::filesystem::status(path).permissions() & std::filesystem::perms::all, std::filesystem::perms::owner_all);
}

TEST(Outbox, SpillsToDiskInOrderAndRewindsWhatWasNotAcknowledged) {
  TempDir dir;
  Outbox box(dir.file("spool/s"), 64u << 20);
  box.push(entries(1, 10));
  std::string_view e;
  std::vector<uint64_t> got;
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(box.next(&e));
    got.push_back(seq_of(e));
  }
  box.release(2);          // 1, 2 delivered
  box.rewind();            // 3, 4 were in flight when the connection went
  box.spill();             // the outage: memory to disk
  EXPECT_EQ(box.spooled(), 8u);
  box.push(entries(11, 5));  // newer, in memory behind the disk
  while (box.next(&e)) got.push_back(seq_of(e));
  EXPECT_THAT(got, ElementsAre(1, 2, 3, 4, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
  box.release(13);
  EXPECT_EQ(box.pending(), 0u);
  EXPECT_EQ(box.dropped(), 0u);
}

TEST(Outbox, CountsWhatAFullSpoolCannotHold) {
  TempDir dir;
  Outbox box(dir.file("spool/s"), 1u << 20);
  box.push(entries(1, 20000));
  box.spill();
  EXPECT_GT(box.dropped(), 0u);
  EXPECT_EQ(box.spooled() + box.dropped(), 20000u);
  EXPECT_EQ(box.pending(), box.spooled());
}

StreamMessage msg(const std::string& host, const std::string& session, uint64_t seq) {
  StreamMessage m;
  m.host = host;
  m.session = session;
  m.seq = seq;
  m.suffix = "events.open";
  return m;
}

TEST(SessionAssembler, OrdersEachRecordingDropsCopiesAndCountsGaps) {
  std::vector<std::string> out;
  SessionAssembler a([&](const SessionKey& k, const StreamMessage& m) { out.push_back(k.host + ":" + std::to_string(m.seq)); },
                     false);
  for (uint64_t s : {1, 2, 4, 3, 3, 2, 6}) a.add(msg("alpha", "s1", s));
  a.add(msg("beta", "s2", 1));
  EXPECT_THAT(out, ElementsAre("alpha:1", "alpha:2", "alpha:3", "alpha:4", "beta:1"));
  a.finish();  // 5 never came: 6 is delivered and the gap counted
  EXPECT_THAT(out, ElementsAre("alpha:1", "alpha:2", "alpha:3", "alpha:4", "beta:1", "alpha:6"));
  const auto& c = a.counts().at(SessionKey{"alpha", "s1"});
  EXPECT_EQ(c.delivered, 5u);
  EXPECT_EQ(c.duplicates, 2u);
  EXPECT_EQ(c.missing, 1u);
}

TEST(SessionAssembler, AReadFromATimeStartsEachRecordingWhereItIsFound) {
  std::vector<uint64_t> out;
  SessionAssembler a([&](const SessionKey&, const StreamMessage& m) { out.push_back(m.seq); }, true);
  for (uint64_t s : {40, 41, 43, 42}) a.add(msg("alpha", "s1", s));
  EXPECT_THAT(out, ElementsAre(40, 41, 42, 43));
  EXPECT_EQ(a.counts().at(SessionKey{"alpha", "s1"}).first_seq, 40u);
}

TEST(Collect, SinceTakesATimeOrADurationBack) {
  const int64_t now = 1'800'000'000'000'000'000;
  EXPECT_EQ(parse_since("2h", now), now - 2ll * 3600 * 1000000000);
  EXPECT_EQ(parse_since("2026-11-23T21:07:12Z", now), 1795468032ll * 1000000000);
  EXPECT_EQ(parse_since("2026-11-23T21:07:12.5Z", now), 1795468032ll * 1000000000 + 500000000);
  EXPECT_THAT(error_of([&] { parse_since("yesterday", now); }), HasSubstr("expected a time"));
  EXPECT_THAT(error_of([&] { parse_since("2026-11-23T21:07:12+02:00", now); }), HasSubstr("UTC"));
}

}  // namespace
}  // namespace agenttrace::fleet
