// BPF tests of `agenttrace sandbox`: isolation, the built-in stand-in in
// every API shape, canaries in every encoding, unexpected destinations, and
// policy exit statuses. Everything stays inside the sandbox's own network
// namespace.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <sstream>

#include "../support/agenttrace_runner.h"

namespace agenttrace::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

const std::string kSamples = SAMPLES_DIR;

std::string quoted(const std::string& word) {
  std::string out = "'";
  for (char c : word) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

struct Result {
  int exit_code = -1;
  std::string out, err, report;
};

// Runs `agenttrace sandbox ARGS -- CMD` with a small environment of its own
// that holds a secret which must not get into the sandbox.
Result sandbox(const std::vector<std::string>& args, const std::vector<std::string>& command,
               const std::string& format = "json") {
  static std::vector<std::unique_ptr<TempDir>> dirs;
  dirs.push_back(std::make_unique<TempDir>());
  TempDir& dir = *dirs.back();
  // The workspace (the current directory, given read-write) belongs to the
  // uid the command runs as: nobody, as the environment has no SUDO_UID.
  if (chown(dir.path().c_str(), 65534, 65534) != 0) throw std::runtime_error("cannot chown " + dir.path());
  std::string cmd = "cd " + dir.path() + " && env -i PATH=/usr/local/bin:/usr/bin:/bin HOME=/root "
                    "AGENTTRACE_TEST_SECRET=must-not-leak " + std::string(AGENTTRACE_BIN) + " sandbox -q --format " +
                    format + " -o " + dir.file("report") + " --trace " + dir.file("trace.atrace");
  for (const auto& a : args) cmd += " " + quoted(a);
  cmd += " --";
  for (const auto& c : command) cmd += " " + quoted(c);
  cmd += " > " + dir.file("out") + " 2> " + dir.file("err");
  Result r;
  int rc = system(cmd.c_str());
  r.exit_code = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  r.out = slurp(dir.file("out"));
  r.err = slurp(dir.file("err"));
  r.report = slurp(dir.file("report"));
  return r;
}

std::vector<Json> findings_of(const Result& r, const std::string& rule) {
  std::vector<Json> out;
  if (r.report.empty()) return out;
  Json report = Json::parse(r.report);  // a named object: range-for over a temporary's member dangles
  for (const auto& f : report["findings"])
    if (f["rule"] == rule) out.push_back(f);
  return out;
}

bool have_node() { return system("command -v node >/dev/null 2>&1") == 0; }

TEST(Sandbox, IsolatedEnvironmentNetworkHostsAndHome) {
  REQUIRE_BPF();
  Result r = sandbox({"--env", "FOO=bar", "--map-host", "api.some-gateway.example", "--map-host", "other.example=127.0.0.9"},
                     {"sh", "-c",
                      "echo IF $(ls /sys/class/net); env | sort; echo HOSTS; cat /etc/hosts; "
                      "echo NAME $(hostname); touch \"$HOME/x\" && echo HOME-OK $HOME; echo PID $$; "
                      "cat /etc/resolv.conf"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("IF lo\n")) << "only loopback";
  EXPECT_THAT(r.out, HasSubstr("FOO=bar\n"));
  EXPECT_THAT(r.out, Not(HasSubstr("must-not-leak"))) << "nothing inherited";
  EXPECT_THAT(r.out, HasSubstr("AGENTTRACE_STANDIN_URL=http://127.0.0.1\n"));
  EXPECT_THAT(r.out, HasSubstr("127.0.0.1\tapi.some-gateway.example\n"));
  EXPECT_THAT(r.out, HasSubstr("127.0.0.9\tother.example\n"));
  EXPECT_THAT(r.out, HasSubstr("NAME agenttrace-sandbox\n"));
  EXPECT_THAT(r.out, HasSubstr("HOME-OK /home/agent\n")) << "the same HOME on every run";
  EXPECT_THAT(r.out, HasSubstr("PID 2\n")) << "its own PID namespace, under the sandbox's init";
  EXPECT_THAT(r.out, HasSubstr("nameserver 127.0.0.1"));
  // Exactly these variables: what was given, and what the sandbox provides
  // (PWD is the shell's own).
  std::set<std::string> names;
  std::istringstream lines(r.out);
  std::string line;
  while (std::getline(lines, line))
    if (line.find('=') != std::string::npos && line.rfind("IF ", 0) != 0 && line.find('\t') == std::string::npos)
      names.insert(line.substr(0, line.find('=')));
  EXPECT_EQ(names, (std::set<std::string>{"AGENTTRACE_STANDIN_URL", "CURL_CA_BUNDLE", "FOO", "HOME", "NODE_EXTRA_CA_CERTS",
                                          "PATH", "PWD", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "TMPDIR"}))
      << r.out;
  // The host's /etc is untouched.
  EXPECT_THAT(slurp("/etc/hosts"), Not(HasSubstr("api.some-gateway.example")));
}

TEST(Sandbox, LocaltimeIsWhatRuntimesFind) {
  REQUIRE_BPF();
  if (!have_node()) GTEST_SKIP() << "node is not installed";
  Result r = sandbox({"--localtime", "Asia/Tokyo"},
                     {"node", "-e", "console.log(Intl.DateTimeFormat().resolvedOptions().timeZone)"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "Asia/Tokyo\n");
}

TEST(Sandbox, StandInAnswersEveryApiShape) {
  REQUIRE_BPF();
  std::string script =
      "set -e; u=$AGENTTRACE_STANDIN_URL; j='Content-Type: application/json'; "
      "curl -s -H \"$j\" -d '{\"model\":\"m\",\"messages\":[]}' $u/v1/messages | grep -q '\"text\": \"pong\"' && echo A-JSON; "
      "curl -sN -H \"$j\" -d '{\"model\":\"m\",\"stream\":true}' $u/v1/messages | grep -q message_stop && echo A-SSE; "
      "curl -s -H \"$j\" -d '{\"model\":\"m\"}' $u/v1/chat/completions | grep -q chat.completion && echo C-JSON; "
      "curl -sN -H \"$j\" -d '{\"model\":\"m\",\"stream\":true}' $u/v1/chat/completions | grep -q DONE && echo C-SSE; "
      "curl -s -H \"$j\" -d '{\"model\":\"m\"}' $u/v1/responses | grep -q '\"object\": \"response\"' && echo R-JSON; "
      "curl -sN -H \"$j\" -d '{\"model\":\"m\",\"stream\":true}' $u/v1/responses | grep -q response.completed && echo R-SSE; "
      "curl -s -H \"$j\" -d '{}' $u/v1beta/models/g:generateContent | grep -q candidates && echo G-JSON; "
      "curl -sN -H \"$j\" -d '{}' \"$u/v1beta/models/g:streamGenerateContent?alt=sse\" | grep -q '^data:' && echo G-SSE; "
      "curl -s -o /dev/null -w '%{http_code}\\n' https://127.0.0.1/v1/nothing; "
      "curl -s -H \"$j\" -d '{\"model\":\"m\"}' https://api.anthropic.test/v1/messages | grep -q pong && echo TLS-OK";
  Result r = sandbox({"--reply", "pong", "--map-host", "api.anthropic.test"}, {"sh", "-c", script});
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  for (const char* ok : {"A-JSON", "A-SSE", "C-JSON", "C-SSE", "R-JSON", "R-SSE", "G-JSON", "G-SSE", "404", "TLS-OK"})
    EXPECT_THAT(r.out, HasSubstr(std::string(ok) + "\n")) << r.out;
  Json report = Json::parse(r.report);
  ASSERT_EQ(report["standin_requests"].size(), 10u);
  EXPECT_EQ(report["standin_requests"][8]["status"], 404);
  EXPECT_EQ(report["standin_requests"][9]["tls"], true);
  EXPECT_TRUE(findings_of(r, "unexpected-destination").empty()) << r.report;
}

TEST(Sandbox, CanaryIsFoundInEveryEncoding) {
  REQUIRE_BPF();
  if (!have_node()) GTEST_SKIP() << "node is not installed";
  // One request per encoding of the canary's token.
  std::string js =
      "const v = process.env.AGENT_SESSION; const b = Buffer.from(v);"
      "const forms = {plain: v, base64: b.toString('base64'), hex: b.toString('hex'),"
      " url: encodeURIComponent('x ' + v).replace(/[a-z0-9]/gi, c => '%' + c.charCodeAt(0).toString(16)),"
      " reversed: [...v].reverse().join(''), xor: Buffer.from(b.map(c => c ^ 0x5a)).toString('latin1')};"
      "for (const [k, f] of Object.entries(forms)) {"
      " const r = await fetch(process.env.AGENTTRACE_STANDIN_URL + '/v1/messages', {method: 'POST',"
      "  headers: {'content-type': 'application/octet-stream'}, body: Buffer.from('k=' + k + ';' + f, 'latin1')});"
      " await r.text(); }";
  Result r = sandbox({"--canary", "AGENT_SESSION"}, {"node", "--input-type=module", "-e", js});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto leaks = findings_of(r, "canary-leak");
  ASSERT_EQ(leaks.size(), 1u) << r.report;
  EXPECT_EQ(leaks[0]["severity"], "high");
  EXPECT_THAT(leaks[0]["message"].get<std::string>(), HasSubstr("The canary value of AGENT_SESSION was sent to 127.0.0.1:80"));
  std::set<std::string> encodings;
  for (const auto& e : leaks[0]["evidence"]) encodings.insert(e["encoding"].get<std::string>());
  for (const char* enc : {"plain", "base64", "hex", "url", "reversed", "xor"})
    EXPECT_TRUE(encodings.count(enc)) << enc << " missing from " << leaks[0].dump(2);
}

TEST(Sandbox, CanaryLeakedInBase64BySampleAgentAndPolicyExitCodes) {
  REQUIRE_BPF();
  if (!have_node()) GTEST_SKIP() << "node is not installed";
  TempDir dir;
  std::ofstream(dir.file("deny.yaml")) << "deny:\n  findings: [canary-leak]\n";
  std::ofstream(dir.file("allow.yaml")) << "deny:\n  findings: [hidden-characters]\n";
  std::ofstream(dir.file("bad.yaml")) << "deny:\n  findingz: [x]\n";
  std::vector<std::string> base = {"--env", "ANTHROPIC_BASE_URL=http://127.0.0.1", "--canary", "HTTPS_PROXY"};
  auto with = [&](std::vector<std::string> extra) {
    std::vector<std::string> a = base;
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  };
  const std::vector<std::string> leaky = {"node", kSamples + "/agents/canary_base64.mjs"};
  Result fail = sandbox(with({"--policy", dir.file("deny.yaml")}), leaky);
  EXPECT_EQ(fail.exit_code, 3) << fail.err;
  auto leaks = findings_of(fail, "canary-leak");
  ASSERT_EQ(leaks.size(), 1u);
  EXPECT_THAT(leaks[0]["message"].get<std::string>(), HasSubstr("HTTPS_PROXY"));
  EXPECT_EQ(leaks[0]["evidence"][0]["encoding"], "base64");
  EXPECT_FALSE(Json::parse(fail.report)["policy"]["passed"].get<bool>());

  Result pass = sandbox(with({"--policy", dir.file("allow.yaml")}), {"node", kSamples + "/agents/send_only.mjs"});
  EXPECT_EQ(pass.exit_code, 0) << pass.err;
  EXPECT_TRUE(findings_of(pass, "canary-leak").empty()) << pass.report;

  Result bad = sandbox(with({"--policy", dir.file("bad.yaml")}), leaky);
  EXPECT_EQ(bad.exit_code, 125);
  EXPECT_THAT(bad.err, HasSubstr("unknown key `findingz`"));

  Result junit = sandbox(with({"--policy", dir.file("deny.yaml")}), leaky, "junit");
  EXPECT_EQ(junit.exit_code, 3);
  EXPECT_THAT(junit.report, HasSubstr("<testsuite name=\"agenttrace sandbox\" tests=\"1\" failures=\"1\""));
  EXPECT_THAT(junit.report, HasSubstr("name=\"deny findings: canary-leak\""));
}

TEST(Sandbox, ReachingAnythingButTheStandInIsAFinding) {
  REQUIRE_BPF();
  if (!have_node()) GTEST_SKIP() << "node is not installed";
  std::string js =
      "const net = require('net'); const dns = require('dns');"
      "const s = net.connect(443, '203.0.113.7'); s.on('error', () => {});"
      "dns.lookup('telemetry.example.com', () => {}); setTimeout(() => process.exit(0), 1500);";
  Result r = sandbox({}, {"node", "-e", js});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto unexpected = findings_of(r, "unexpected-destination");
  std::string all;
  for (const auto& f : unexpected) all += f["message"].get<std::string>() + "\n";
  EXPECT_THAT(all, HasSubstr("203.0.113.7:443"));
  EXPECT_THAT(all, HasSubstr("telemetry.example.com"));
}

// A published Node-based agent CLI (Qwen Code, pinned in tests/agents/)
// pointed at the stand-in completes its request inside the sandbox: it
// prints the stand-in's reply, and what the stand-in received is what the
// trace says was sent.
TEST(Sandbox, RealNodeAgentCliCompletesARequest) {
  REQUIRE_BPF();
  const char* qwen = getenv("AGENTTRACE_QWEN");
  if (!qwen || !*qwen) GTEST_SKIP() << "AGENTTRACE_QWEN is not set (scripts/test.sh fetches it with scripts/fetch-agents.sh)";
  TempDir record;
  Result r = sandbox({"--env", "OPENAI_BASE_URL=http://127.0.0.1/v1", "--env", "OPENAI_API_KEY=sk-test", "--env",
                      "OPENAI_MODEL=gpt-4o", "--reply", "stand-in says hello", "--record-dir", record.path()},
                     {"node", qwen, "-p", "say hi"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "stand-in says hello\n");
  Json report = Json::parse(r.report);
  ASSERT_GE(report["standin_requests"].size(), 1u) << r.report;
  uint64_t received = 0;
  for (const auto& q : report["standin_requests"]) {
    EXPECT_EQ(q["target"], "/v1/chat/completions");
    EXPECT_EQ(q["status"], 200);
  }
  for (size_t n = 1; n <= report["standin_requests"].size(); ++n) {
    std::string body = slurp(record.file("request-" + std::to_string(n) + ".body"));
    Json meta = Json::parse(slurp(record.file("request-" + std::to_string(n) + ".json")));
    EXPECT_EQ(body.size(), meta["body_length"].get<size_t>());
    received += body.size();
  }
  std::string first = slurp(record.file("request-1.body"));
  EXPECT_THAT(first, HasSubstr("\"model\":\"gpt-4o\""));
  EXPECT_THAT(first, HasSubstr("say hi"));
  // Every body byte the stand-in received was captured on its way out
  // (headers come on top).
  uint64_t sent = 0;
  for (const auto& d : report["destinations"])
    if (d["peer"] == "127.0.0.1:80") sent = d["bytes_sent"].get<uint64_t>();
  EXPECT_GT(sent, received);
  EXPECT_LT(sent, received + 2048 * report["standin_requests"].size());
}

// The bundled demo (scripts/run.sh): with a proxy set, its request holds the
// proxy in a look-alike apostrophe and a '.' date separator, and the zone's
// first byte in Cyrillic letters, and the report names exactly the
// look-alikes and the fingerprinting; without a proxy the apostrophe and the
// separator are plain.
TEST(Sandbox, DemoAgentEndsOnItsHiddenFacts) {
  REQUIRE_BPF();
  const std::string demo = std::string(SAMPLES_DIR) + "/demo_agent";
  for (bool proxy : {true, false}) {
    SCOPED_TRACE(proxy ? "with a proxy" : "without a proxy");
    TempDir record;
    std::vector<std::string> args = {"--env", "TZ=Europe/Berlin", "--record-dir", record.path()};
    if (proxy) args.insert(args.end(), {"--env", "HTTPS_PROXY=http://proxy.corp.example:3128"});
    Result r = sandbox(args, {demo});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, "demo_agent: HTTP/1.1 200 OK\n");
    Json report = Json::parse(r.report);
    std::vector<std::string> got;
    for (const auto& f : report["findings"]) got.push_back(f["rule"].get<std::string>() + ":" + f["severity"].get<std::string>());
    EXPECT_THAT(got, ::testing::UnorderedElementsAre("fingerprint-collection:high", "lookalike-characters:high"))
        << r.report;
    // 'E' is 0x45 (0100 0101), with the top and bottom bits set 1100 0101:
    // the 1st, 2nd, 6th and 8th of the first eight a, e and o of "Please
    // review today's changes" are Cyrillic.
    auto look = findings_of(r, "lookalike-characters");
    ASSERT_EQ(look.size(), 1u);
    EXPECT_THAT(look[0]["message"].get<std::string>(),
                HasSubstr("U+0430 CYRILLIC SMALL LETTER A for 'a' x2, U+0435 CYRILLIC SMALL LETTER IE for 'e' x1 and "
                          "U+043E CYRILLIC SMALL LETTER O for 'o' x1"));
    std::string body = slurp(record.file("request-1.body"));
    EXPECT_THAT(body, HasSubstr("Pl\xD0\xB5\xD0\xB0se review t\xD0\xBE" "day"));
    EXPECT_THAT(body, HasSubstr(proxy ? "day\xCA\xBCs ch\xD0\xB0nges" : "day's ch\xD0\xB0nges"));
    std::string year = std::to_string(1900 + [] { time_t t = time(nullptr); struct tm tm; gmtime_r(&t, &tm); return tm.tm_year; }());
    EXPECT_THAT(body, HasSubstr("Today is " + year + (proxy ? "." : "-")));
  }
}

TEST(Sandbox, CommandNotFoundAndExitStatus) {
  REQUIRE_BPF();
  Result missing = sandbox({}, {"no-such-command-in-sandbox"});
  EXPECT_EQ(missing.exit_code, 127);
  EXPECT_THAT(missing.err, HasSubstr("command not found"));
  Result seven = sandbox({}, {"sh", "-c", "exit 7"});
  EXPECT_EQ(seven.exit_code, 7);
}

}  // namespace
}  // namespace agenttrace::testing
