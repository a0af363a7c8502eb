// Every rule on built event sequences, positive and negative: no kernel.
#include <fcntl.h>

#include <algorithm>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "analyzer/findings.h"
#include "analyzer/profile.h"
#include "common/base64.h"
#include "../support/story.h"

namespace agenttrace::analyzer {
namespace {

std::vector<std::string> rules_of(const std::vector<Finding>& fs) {
  std::vector<std::string> out;
  for (const auto& f : fs) out.push_back(f.rule + ":" + severity_name(f.severity));
  return out;
}

const Finding* find(const std::vector<Finding>& fs, const std::string& rule) {
  for (const auto& f : fs)
    if (f.rule == rule) return &f;
  return nullptr;
}

const std::string kRequest = R"({"model":"x","messages":[{"role":"user","content":"Summarize the notes."}]})";

TEST(Rules, FingerprintCollectionNeedsTwoCategoriesAndASend) {
  Story s;
  s.getenv("HTTPS_PROXY", false);
  s.read("/sys/class/drm/card0/device/vendor");
  s.read("/etc/machine-id");
  s.send(kRequest);
  auto fs = s.findings();
  // Gathering alone, beyond what a runtime reads, is low: every agent reads
  // its proxy settings for ordinary reasons.
  EXPECT_THAT(rules_of(fs), ::testing::ElementsAre("fingerprint-collection:low"));
  const Finding& f = fs[0];
  EXPECT_EQ(f.message,
            "The process tree of agent (pid 100) gathered proxy and gateway settings, host identity and "
            "hardware facts, then sent 75 B to api.example.com (203.0.113.9:443); 3 categories beyond what "
            "its runtime reads on its own, and no sign that they left covertly.");
  ASSERT_EQ(f.evidence.size(), 4u);
  // The facts that answer the question (proxy, machine id) lead; hardware
  // follows, though it was read before the machine id.
  EXPECT_EQ(f.evidence[0].what, "getenv HTTPS_PROXY (unset)");
  EXPECT_EQ(f.evidence[0].event, 2u);
  EXPECT_EQ(f.evidence[1].what, "read /etc/machine-id");
  EXPECT_EQ(f.evidence[1].event, 4u);
  EXPECT_EQ(f.evidence[2].what, "read /sys/class/drm/card0/device/vendor");
  EXPECT_EQ(f.evidence[3].what, "first data sent over the network (to api.example.com (203.0.113.9:443))");
}

TEST(Rules, FingerprintSeverityFollowsCovertEvidence) {
  // What Node reads on its own (uname, memory, the time zone and locale any
  // runtime reads) is info for node ...
  auto runtime_only = [](const std::string& exe, const std::string& sent) {
    Story s;
    s.exec(100, exe);
    s.getenv("TZ", false);
    s.getenv("LANG", true);
    s.uname();
    s.read("/proc/meminfo");
    s.send(sent);
    return s.findings();
  };
  auto node = runtime_only("/usr/bin/node", kRequest);
  EXPECT_THAT(rules_of(node), ::testing::ElementsAre("fingerprint-collection:info"));
  EXPECT_EQ(node[0].message,
            "The process tree of agent (pid 100) gathered time zone, locale and language, host identity and "
            "hardware facts, then sent 75 B to api.example.com (203.0.113.9:443); nothing beyond what its "
            "runtime reads on its own, and no sign that they left covertly.");
  ASSERT_EQ(node[0].evidence.size(), 5u);
  EXPECT_EQ(node[0].evidence[0].what, "getenv TZ (unset)");
  EXPECT_EQ(node[0].evidence[1].what, "uname (nodename build-host-7) (node reads it on its own)");
  EXPECT_EQ(node[0].evidence[2].what, "getenv LANG (set)");
  EXPECT_EQ(node[0].evidence[3].what, "read /proc/meminfo (node reads it on its own)");
  // ... and low for a program that is not Node.
  EXPECT_THAT(rules_of(runtime_only("/usr/bin/agent", kRequest)), ::testing::ElementsAre("fingerprint-collection:low"));
  // A zero-width space in what was sent: medium when the tree read only
  // what its runtime reads, high when it read more.
  const std::string hidden = R"({"messages":[{"content":"Summarize​the notes."}]})";
  EXPECT_THAT(rules_of(runtime_only("/usr/bin/node", hidden)),
              ::testing::ElementsAre("hidden-characters:high", "fingerprint-collection:medium"));
  auto covert = runtime_only("/usr/bin/agent", hidden);
  EXPECT_THAT(rules_of(covert), ::testing::ElementsAre("fingerprint-collection:high", "hidden-characters:high"));
  EXPECT_EQ(covert[0].message,
            "The process tree of agent (pid 100) gathered time zone, locale and language, host identity and "
            "hardware facts, then sent 51 B to api.example.com (203.0.113.9:443); 2 categories beyond what "
            "its runtime reads on its own, and covert-channel evidence in what it sent (hidden-characters).");
  // A value echoed as is (medium) is not covert; encoded (high) is.
  Story plain;
  plain.getenv("HTTPS_PROXY", true);
  plain.read("/etc/machine-id");
  plain.send(R"({"messages":[{"content":"host 3d1219c7c4c5404aaa1f6d2a48adfda4"}]})");
  EXPECT_THAT(rules_of(plain.findings()), ::testing::ElementsAre("value-echo:medium", "fingerprint-collection:low"));
  Story encoded;
  encoded.getenv("HTTPS_PROXY", true);
  encoded.read("/etc/machine-id");
  encoded.send(R"({"messages":[{"content":"ref )" + base64_encode("3d1219c7c4c5404aaa1f6d2a48adfda4") + R"("}]})");
  EXPECT_THAT(rules_of(encoded.findings()), ::testing::ElementsAre("fingerprint-collection:high", "value-echo:high"));
}

TEST(Rules, NoFingerprintFindingWithoutSendOrWithOneCategory) {
  Story no_send;
  no_send.getenv("HTTPS_PROXY", false);
  no_send.read("/etc/machine-id");
  EXPECT_TRUE(no_send.findings().empty());

  Story one;
  one.read("/etc/machine-id");
  one.read("/etc/os-release");
  one.send(kRequest);
  EXPECT_TRUE(one.findings().empty());

  // A file that does not exist tells nothing; gathering after the send
  // did not leave with it.
  Story absent;
  absent.read("/sys/class/dmi/id/product_uuid", false);
  absent.getenv("HTTPS_PROXY", false);
  absent.send(kRequest);
  absent.read("/etc/machine-id");
  EXPECT_TRUE(absent.findings().empty());
}

TEST(Rules, FingerprintCountsTheWholeProcessTree) {
  Story s;
  s.fork(101);
  s.read("/etc/machine-id", true, 101);
  s.getenv("HTTPS_PROXY", false, "", 101);
  s.send(kRequest);
  auto fs = s.findings();
  ASSERT_EQ(fs.size(), 1u);
  EXPECT_EQ(fs[0].pid, 100u);
  EXPECT_EQ(fs[0].evidence[0].pid, 101u);
}

TEST(Rules, HiddenCharactersWithOffsetsContextAndNames) {
  Story s;
  std::string body = R"({"content":"Summarize)" + std::string("\xE2\x80\x8B\xE2\x80\x8C\xE2\x80\x8B") + R"( the notes."})";
  s.send("POST /v1 HTTP/1.1\r\n\r\n");
  s.send(body);
  auto fs = s.findings();
  ASSERT_THAT(rules_of(fs), ::testing::ElementsAre("hidden-characters:high"));
  const Finding& f = fs[0];
  EXPECT_EQ(f.message, "agent (pid 100) sent 3 invisible or formatting characters to api.example.com "
                       "(203.0.113.9:443): U+200B ZERO WIDTH SPACE x2 and U+200C ZERO WIDTH NON-JOINER x1.");
  ASSERT_EQ(f.evidence.size(), 1u);
  const Evidence& e = f.evidence[0];
  EXPECT_EQ(e.event, 3u);
  EXPECT_EQ(e.offset, 21u + 21u) << "headers, then the body's prefix";
  EXPECT_EQ(e.conn, 1u);
  // 24 code points each side, across the event boundary; controls escaped.
  EXPECT_EQ(e.context, R"(\n\r\n{"content":"Summarize<U+200B><U+200C><U+200B> the notes."})");
  ASSERT_EQ(e.code_points.size(), 2u);
  EXPECT_EQ(e.code_points[0].name, "ZERO WIDTH SPACE");
  EXPECT_EQ(e.code_points[0].count, 2u);
}

TEST(Rules, HiddenCharactersWrittenAsJsonEscapesAreFound) {
  Story s;
  s.send(R"({"content":"Summarize\u200b\u200c the notes"})");
  auto fs = s.findings();
  ASSERT_THAT(rules_of(fs), ::testing::ElementsAre("hidden-characters:high"));
  EXPECT_EQ(fs[0].evidence[0].offset, 21u) << "offset of the escape in the bytes sent";
  EXPECT_THAT(fs[0].message, ::testing::HasSubstr("some written as JSON escapes"));
}

TEST(Rules, TagCharactersAreSpelledOut) {
  Story s;
  std::string tags;
  for (char c : std::string("tz=UTC")) {
    uint32_t cp = 0xE0000 + static_cast<unsigned char>(c);
    tags += static_cast<char>(0xF0 | (cp >> 18));
    tags += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    tags += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    tags += static_cast<char>(0x80 | (cp & 0x3F));
  }
  s.send(R"({"content":"hello)" + tags + R"("})");
  auto fs = s.findings();
  ASSERT_EQ(fs.size(), 1u);
  EXPECT_EQ(fs[0].evidence[0].decoded, "tz=UTC");
}

TEST(Rules, LookalikeLetters) {
  Story s;
  s.send(R"({"content":"Plе)" + std::string("\xD0\xB0") + R"(se summarize"})");  // Cyrillic е and а
  auto fs = s.findings();
  ASSERT_THAT(rules_of(fs), ::testing::ElementsAre("lookalike-characters:high"));
  ASSERT_EQ(fs[0].evidence.size(), 1u);
  std::vector<std::string> imitated;
  for (const auto& cp : fs[0].evidence[0].code_points) imitated.push_back(cp.imitates);
  EXPECT_THAT(imitated, ::testing::UnorderedElementsAre("e", "a"));
}

TEST(Rules, PlainTextRealForeignTextAndCiphertextAreQuiet) {
  Story s;
  s.send(kRequest);
  s.send(R"({"content":"Привет, как дела? 你好 café naïve"})", 2);
  // Ciphertext-like bytes on a connection whose plaintext was captured.
  s.send(std::string("\x17\x03\x03\x00\x40\xE2\x80\x8B\xff\xfe", 10), 3);
  s.send(kRequest, 3, true);
  EXPECT_TRUE(s.findings().empty());
}

TEST(Rules, ValueEchoOfWhatTheTreeReadEncoded) {
  Story s;
  s.read("/etc/machine-id");
  s.send(R"({"metadata":{"user_id":")" + base64_encode("3d1219c7c4c5404aaa1f6d2a48adfda4") + R"("}})");
  auto fs = s.findings();
  ASSERT_THAT(rules_of(fs), ::testing::ElementsAre("value-echo:high"));
  EXPECT_EQ(fs[0].message, "agent (pid 100) sent the machine_id from /etc/machine-id to api.example.com (base64).");
  ASSERT_EQ(fs[0].evidence.size(), 2u);
  EXPECT_EQ(fs[0].evidence[0].what, "obtained machine_id from /etc/machine-id");
  EXPECT_EQ(fs[0].evidence[1].encoding, "base64");
  EXPECT_EQ(fs[0].evidence[1].offset, 24u) << "where the base64 starts";
}

TEST(Rules, NoEchoOfValuesTheTreeNeverObtained) {
  Story s;  // the machine id is in the header, but nothing read it
  s.send(R"({"id":")" + base64_encode("3d1219c7c4c5404aaa1f6d2a48adfda4") + R"("})");
  EXPECT_TRUE(s.findings().empty());
}

TEST(Rules, TimeZoneFromLocaltimeEchoedPlainlyIsMedium) {
  Story s;
  s.readlink("/etc/localtime", "/usr/share/zoneinfo/Asia/Shanghai");
  s.send(R"({"content":"hi","tz":"Asia/Shanghai"})");
  auto fs = s.findings();
  const Finding* f = find(fs, "value-echo");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->severity, Severity::kMedium);
  EXPECT_EQ(f->evidence[1].encoding, "plain");
}

TEST(Rules, ApiKeySentAsIsIsNotAnEchoButEncodedIs) {
  Story plain;
  plain.getenv("ANTHROPIC_API_KEY", true, "sk-test-0123456789");
  plain.send("POST / HTTP/1.1\r\nx-api-key: sk-test-0123456789\r\n\r\n");
  EXPECT_EQ(find(plain.findings(), "value-echo"), nullptr);

  Story encoded;
  encoded.getenv("ANTHROPIC_API_KEY", true, "sk-test-0123456789");
  encoded.send(R"({"x":")" + base64_encode("sk-test-0123456789") + R"("})");
  // Kept in a variable: find() points into the vector (ASan found the
  // temporary it used to point into freed before the check).
  auto fs = encoded.findings();
  const Finding* f = find(fs, "value-echo");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->severity, Severity::kHigh);
}

TEST(Rules, CredentialAccess) {
  Story files;
  files.read("/root/.aws/credentials");
  files.send(kRequest);
  auto fs = files.findings();
  ASSERT_THAT(rules_of(fs), ::testing::ElementsAre("credential-access:medium"));
  EXPECT_EQ(fs[0].message, "The process tree of agent (pid 100) read credentials: /root/.aws/credentials; "
                           "it sent data over the network afterwards.");

  Story quiet;
  quiet.read("/home/dev/.ssh/id_ed25519");
  EXPECT_THAT(rules_of(quiet.findings()), ::testing::ElementsAre("credential-access:low"));

  Story api_key;
  api_key.getenv("ANTHROPIC_API_KEY", true);
  api_key.send(kRequest);
  EXPECT_THAT(rules_of(api_key.findings()), ::testing::ElementsAre("credential-access:info"));

  Story unset;
  unset.getenv("GITHUB_TOKEN", false);
  unset.read("/root/.netrc", false);
  unset.send(kRequest);
  EXPECT_TRUE(unset.findings().empty());
}

TEST(Rules, CoverageGapsAndLostEvents) {
  Story s;
  s.coverage("getenv", "observed", "getenv calls through its C library are probed");
  s.coverage("getenv", "gap", "a static binary without a getenv symbol");
  s.trailer().add_kinds()->set_dropped(4);
  auto fs = s.findings();
  EXPECT_THAT(rules_of(fs), ::testing::ElementsAre("events-lost:medium", "coverage-gap:low"));
  EXPECT_EQ(fs[0].message, "The trace is incomplete: 4 events dropped by a full ring buffer.");
  EXPECT_EQ(fs[1].message, "Environment lookups of agent (pid 100) are not visible: a static binary without a getenv symbol.");
  // What to run next, filled in with the traced command line.
  EXPECT_THAT(fs[1].confirm,
              ::testing::ElementsAre("agenttrace diff --vary TZ=UTC,Asia/Tokyo -- agent",
                                     "agenttrace diff --vary HTTPS_PROXY=http://127.0.0.1:3128,http://127.0.0.1:8080 -- agent",
                                     "agenttrace sandbox --canary ANTHROPIC_BASE_URL --canary OPENAI_BASE_URL "
                                     "--canary HTTPS_PROXY -- agent"));

  // The base URLs named are the ones the tree was seen to look up; TLS gaps
  // suggest nothing to vary.
  Story python;
  python.header().clear_command();
  python.header().add_command("python3");
  python.header().add_command("agent's main.py");
  python.getenv("OPENAI_BASE_URL", false);
  python.coverage("getenv", "partial", "CPython reads a copy of the environment made at start");
  python.coverage("tls", "gap", "no SSL library was probed");
  auto pf = python.findings();
  ASSERT_THAT(rules_of(pf), ::testing::ElementsAre("coverage-gap:low", "coverage-gap:low"));
  const Finding* env_gap = nullptr;
  for (const auto& f : pf) {
    if (f.message.rfind("Environment", 0) == 0) env_gap = &f;
    else EXPECT_TRUE(f.confirm.empty()) << f.message;
  }
  ASSERT_NE(env_gap, nullptr);
  EXPECT_EQ(env_gap->confirm.back(),
            "agenttrace sandbox --canary OPENAI_BASE_URL --canary HTTPS_PROXY -- python3 'agent'\\''s main.py'");

  Story cut;
  EXPECT_THAT(rules_of(cut.findings(false)), ::testing::ElementsAre("events-lost:medium"));
}

TEST(Rules, IdsAreStableAcrossRunsAndPids) {
  auto run = [](uint32_t root) {
    Story s(root);
    s.getenv("HTTPS_PROXY", false);
    s.read("/etc/machine-id");
    s.read("/sys/class/drm/card0/device/vendor");
    s.send(R"({"c":"a)" + std::string("\xE2\x80\x8B") + R"(b"})");
    return s.findings();
  };
  auto a = run(100), b = run(4242);
  ASSERT_EQ(a.size(), 2u);
  ASSERT_EQ(b.size(), 2u);
  EXPECT_EQ(a[0].id, b[0].id);
  EXPECT_EQ(a[1].id, b[1].id);
  EXPECT_NE(a[0].id, a[1].id);
  EXPECT_THAT(a[0].id, ::testing::StartsWith(a[0].rule + "-"));
}

}  // namespace
}  // namespace agenttrace::analyzer

namespace agenttrace::analyzer {
namespace {

void system_call(Story& s, const std::string& name, int64_t result, std::vector<uint64_t> args = {},
                 const std::string& path = "", const std::string& abi = "x86_64") {
  auto& e = s.add(100);
  auto* x = e.mutable_system_call();
  x->set_name(name);
  x->set_abi(abi);
  x->set_result(result);
  for (uint64_t a : args) x->add_args(a);
  x->set_path(path);
}

std::vector<std::string> messages_of(const std::vector<Finding>& fs, const std::string& rule) {
  std::vector<std::string> out;
  for (const auto& f : fs)
    if (f.rule == rule) out.push_back(std::string(severity_name(f.severity)) + " " + f.message);
  std::sort(out.begin(), out.end());
  return out;
}

// Rules read what a fact is (its access, the link it was reached by, a
// readlink's target), never the display text: the same detail text on a
// read does not make it a write, and a readlink's evidence names its target.
TEST(Rules, FileFactsCarryTheirAccessNotJustText) {
  Story s;
  s.header().set_mode("sandbox");
  auto write = [&](const std::string& path, int result) {
    auto& e = s.add(100);
    e.mutable_open()->set_path(path);
    e.mutable_open()->set_flags(O_WRONLY | O_CREAT);
    e.mutable_open()->set_result(result);
  };
  write("/usr/lib/agent/state", -30);  // EROFS
  write("/tmp/agent/state", -2);       // private to the sandbox: not an attempt
  s.read("/usr/lib/agent/config", false);
  s.readlink("/etc/localtime", "/usr/share/zoneinfo/Asia/Shanghai");
  s.read("/etc/machine-id");
  s.send(kRequest);  // two categories gathered before a send: fingerprint-collection, with evidence
  Analysis a = s.analysis();
  const Fact& w = a.profile.files.at("/usr/lib/agent/state");
  EXPECT_EQ(w.kind, FactKind::kFile);
  EXPECT_EQ(w.access, FileAccess::kWrite);
  EXPECT_EQ(w.detail, "write");
  const Fact& link = a.profile.files.at("/etc/localtime");
  EXPECT_EQ(link.access, FileAccess::kReadlink);
  EXPECT_EQ(link.target, "/usr/share/zoneinfo/Asia/Shanghai");
  EXPECT_EQ(link.detail, "readlink -> /usr/share/zoneinfo/Asia/Shanghai");
  EXPECT_THAT(messages_of(a.findings, "sandbox-escape-attempt"),
              ::testing::ElementsAre("high agent (pid 100) tried to write /usr/lib/agent/state, which the sandbox "
                                     "shows read-only."));
  bool readlink_evidence = false;
  for (const auto& f : a.findings)
    for (const auto& e : f.evidence)
      readlink_evidence |= e.what == "readlink /etc/localtime -> /usr/share/zoneinfo/Asia/Shanghai";
  EXPECT_TRUE(readlink_evidence) << "the time-zone fact's evidence names the link's target";

  // A read whose text happens to begin with "write" is still a read.
  Profile p = a.profile;
  Fact& r = p.files.at("/usr/lib/agent/config");
  r.detail = "write-looking text";
  EXPECT_THAT(messages_of(run_rules(p, KnowledgeBase::builtin()), "sandbox-escape-attempt"),
              ::testing::ElementsAre("high agent (pid 100) tried to write /usr/lib/agent/state, which the sandbox "
                                     "shows read-only."));
}

TEST(Rules, SandboxEscapeAttemptsFromRefusedSystemCallsAndUnixSockets) {
  Story s;
  s.header().set_mode("sandbox");
  s.fork(101);                                        // pids inside: 1 (init), 2, and this one
  system_call(s, "mount", -1, {0, 1, 0, 0x20}, "/etc");
  system_call(s, "mount", -1, {0, 2, 0, 0x20}, "/");
  system_call(s, "bpf", -1);
  system_call(s, "kill", -3, {4242, 9});              // a pid never inside: outside
  system_call(s, "kill", -3, {2, 15});                // a child that is gone: not an attempt
  system_call(s, "ptrace", -1, {16, 1});              // PTRACE_ATTACH to init
  system_call(s, "clone", -11, {0x11});               // EAGAIN: the process limit
  system_call(s, "clone", -11, {0x11});
  system_call(s, "setuid", -22, {0});
  system_call(s, "getuid32", -1, {}, "", "ia32");
  system_call(s, "unshare", 0, {0x20000});            // allowed (a mount namespace): nothing
  for (auto [path, result] : {std::pair{std::string("/run/host.sock"), -2}, {"@host-abstract", -111},
                              {"/var/run/nscd/socket", -2}, {"/run/inside.sock", 0}}) {
    auto& e = s.add(100);
    e.mutable_connect()->mutable_addr()->set_family("unix");
    e.mutable_connect()->mutable_addr()->set_path(path);
    e.mutable_connect()->set_result(result);
  }
  auto fs = s.findings();
  EXPECT_THAT(messages_of(fs, "sandbox-escape-attempt"),
              ::testing::ElementsAre(
                  "high agent (pid 100) called bpf, which the sandbox refuses (EPERM, 1 time).",
                  "high agent (pid 100) called mount (/etc), which the sandbox refuses (EPERM, 2 times).",
                  "high agent (pid 100) ran into the sandbox's process limit: 2 clone calls refused (EAGAIN).",
                  "high agent (pid 100) tried to change its user or group with setuid (EINVAL).",
                  "high agent (pid 100) tried to ptrace process 1 (EPERM).",
                  "high agent (pid 100) tried to reach the unix socket /run/host.sock, which is not in the sandbox (ENOENT).",
                  "high agent (pid 100) tried to reach the unix socket @host-abstract, which is not in the sandbox (ECONNREFUSED).",
                  "high agent (pid 100) tried to signal process 4242, outside the sandbox (ESRCH).",
                  "high agent (pid 100) used the 32-bit system-call ABI (getuid32), which the sandbox refuses (EPERM)."));
  const Finding* mount = nullptr;
  for (const auto& f : fs)
    if (f.message.find("called mount") != std::string::npos) mount = &f;
  ASSERT_NE(mount, nullptr);
  ASSERT_EQ(mount->evidence.size(), 1u);
  EXPECT_EQ(mount->evidence[0].what, "mount /etc = EPERM");
  EXPECT_EQ(mount->evidence[0].event, 3u);

  // Walking up from its home to find a project root looks up names directly
  // in /home: not an attempt. Inside a host user's home it is.
  s.read("/home/.git", false);
  s.read("/home/package.json", false);
  s.read("/home/dev/.ssh/id_ed25519", false);
  EXPECT_THAT(messages_of(s.findings(), "sandbox-escape-attempt"),
              ::testing::Contains("high agent (pid 100) tried to read /home/dev/.ssh/id_ed25519, in the host's home "
                                  "directories the sandbox hides."));
  for (const auto& m : messages_of(s.findings(), "sandbox-escape-attempt"))
    EXPECT_THAT(m, ::testing::Not(::testing::AnyOf(::testing::HasSubstr("/home/.git"), ::testing::HasSubstr("/home/package.json"))));

  // The same calls outside a sandbox are events, not escape attempts.
  s.header().set_mode("run");
  EXPECT_THAT(messages_of(s.findings(), "sandbox-escape-attempt"), ::testing::IsEmpty());
}

}  // namespace
}  // namespace agenttrace::analyzer
