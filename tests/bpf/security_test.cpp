// The trust model, end to end with the real binary as root: the command runs
// as the user who typed sudo; files agenttrace writes are theirs, 0600, and
// never written through a planted symlink; credentials reach no artifact
// (trace, JSON stream, reports, payload dump, fleet stream) unless
// --keep-secrets, and the value echo of a secret is still found.
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "../support/agenttrace_runner.h"
#include "../support/nats_server.h"
#include "common/base64.h"

namespace agenttrace::testing {
namespace {

using ::testing::HasSubstr;

const std::string kSamples = SAMPLES_DIR;
const std::string kBin = AGENTTRACE_BIN;

int sh(const std::string& cmd) { return system(cmd.c_str()); }

// A user (with a group of its own and a supplementary group) that may run
// agenttrace through sudo; removed with everything it had.
struct TestUser {
  std::string name, group, home;
  uid_t uid = 0;
  gid_t gid = 0, extra_gid = 0;
  TestUser() {
    std::string tag = std::to_string(getpid() % 100000);
    name = "agtest" + tag;
    group = "agtestx" + tag;
    home = "/tmp/" + name + "-home";
    sh("userdel -r " + name + " >/dev/null 2>&1; groupdel " + group + " >/dev/null 2>&1");
    if (sh("groupadd " + group) != 0 ||
        sh("useradd --create-home --home-dir " + home + " --shell /bin/sh --groups " + group + " " + name) != 0)
      throw std::runtime_error("useradd failed");
    std::ofstream(sudoers()) << name << " ALL=(root) NOPASSWD: ALL\n";
    chmod(sudoers().c_str(), 0440);
    struct passwd* pw = getpwnam(name.c_str());
    struct group* gr = getgrnam(group.c_str());
    if (!pw || !gr) throw std::runtime_error("the test user is not there");
    uid = pw->pw_uid;
    gid = pw->pw_gid;
    extra_gid = gr->gr_gid;
  }
  ~TestUser() {
    unlink(sudoers().c_str());
    sh("userdel -r " + name + " >/dev/null 2>&1");
    sh("groupdel " + group + " >/dev/null 2>&1");
  }
  std::string sudoers() const { return "/etc/sudoers.d/" + name; }
  // `sudo -n AGENTTRACE ARGS` typed by this user in `cwd`.
  std::string sudo(const std::string& args, const std::string& cwd) const {
    return "cd " + cwd + " && runuser -u " + name + " -- sudo -n " + kBin + " " + args;
  }
};

std::string run_out(const std::string& cmd, int* status) {
  std::string full = cmd + " 2>&1";
  FILE* p = popen(full.c_str(), "r");
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  *status = pclose(p);
  return out;
}

Json header_of(const std::string& trace, const TempDir& dir) {
  CliResult d = run_cli({"dump", trace}, dir);
  return Json::parse(d.out.substr(0, d.out.find('\n')));
}

TEST(Security, UnderSudoTheCommandRunsAsTheUserAndTheTraceIsTheirs) {
  REQUIRE_BPF();
  if (system("command -v sudo >/dev/null && command -v runuser >/dev/null") != 0) GTEST_SKIP() << "sudo is not installed";
  TestUser u;
  TempDir dir;
  chmod(dir.path().c_str(), 0755);  // the user starts sudo from here
  int status = 0;
  std::string out = run_out(u.sudo("-q -o " + dir.file("t.atrace") +
                                       " -- sh -c 'id -u; id -g; id -G; echo $HOME; echo $USER $LOGNAME'",
                                   dir.path()),
                            &status);
  ASSERT_EQ(status, 0) << out;
  EXPECT_EQ(out, std::to_string(u.uid) + "\n" + std::to_string(u.gid) + "\n" + std::to_string(u.gid) + " " +
                     std::to_string(u.extra_gid) + "\n" + u.home + "\n" + u.name + " " + u.name + "\n");
  struct stat st;
  ASSERT_EQ(stat(dir.file("t.atrace").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, u.uid);
  EXPECT_EQ(st.st_gid, u.gid);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  Json h = header_of(dir.file("t.atrace"), dir);
  EXPECT_EQ(h["command_uid"], u.uid);
  EXPECT_EQ(h["command_user"], u.name);
  EXPECT_EQ(h["command_user_source"], "sudo");
  // The user reads it without root.
  out = run_out("runuser -u " + u.name + " -- " + kBin + " analyze --format json " + dir.file("t.atrace") + " >/dev/null",
                &status);
  EXPECT_EQ(status, 0) << out;

  // --as-root keeps root, and says so; the file is still the user's.
  out = run_out(u.sudo("-q --as-root -o " + dir.file("root.atrace") + " -- id -u", dir.path()), &status);
  ASSERT_EQ(status, 0) << out;
  EXPECT_EQ(out, "0\n");
  ASSERT_EQ(stat(dir.file("root.atrace").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, u.uid);
  EXPECT_EQ(header_of(dir.file("root.atrace"), dir)["command_user_source"], "--as-root");
}

TEST(Security, AgenttraceSecretsDoNotReachTheCommand) {
  REQUIRE_BPF();
  TempDir dir;
  RunSpec spec;
  spec.command = {"sh", "-c", "env | grep '^AGENTTRACE_' | sort"};
  spec.env = base_env();
  spec.env.push_back("AGENTTRACE_NATS_PASSWORD=hunter2");
  spec.env.push_back("AGENTTRACE_NATS_TOKEN=t0k3n");
  spec.env.push_back("AGENTTRACE_OTHER=kept");
  RunResult r = run_agenttrace(spec, dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "AGENTTRACE_OTHER=kept\n");
}

TEST(Security, APlantedSymlinkAtTheOutputIsRefusedAndItsTargetUntouched) {
  REQUIRE_BPF();
  TempDir dir;
  std::ofstream(dir.file("victim")) << "precious\n";
  ASSERT_EQ(symlink(dir.file("victim").c_str(), dir.file("trap.atrace").c_str()), 0);
  CliResult r = run_cli({"-q", "-o", dir.file("trap.atrace"), "--", "touch", dir.file("ran")}, dir);
  EXPECT_EQ(r.exit_code, 125);
  EXPECT_EQ(r.err, "agenttrace: " + dir.file("trap.atrace") +
                       " exists; agenttrace does not replace a file it did not create (remove it, choose another "
                       "name, or give --force)\n");
  EXPECT_EQ(slurp(dir.file("victim")), "precious\n");
  EXPECT_NE(access(dir.file("ran").c_str(), F_OK), 0) << "the command must not start";

  // The same for a report.
  std::ofstream(dir.file("other")) << "also precious\n";
  ASSERT_EQ(symlink(dir.file("other").c_str(), dir.file("report.json").c_str()), 0);
  CliResult t = run_cli({"-q", "-o", dir.file("ok.atrace"), "--", "true"}, dir);
  ASSERT_EQ(t.exit_code, 0) << t.err;
  CliResult a = run_cli({"analyze", "--format", "json", "-o", dir.file("report.json"), dir.file("ok.atrace")}, dir);
  EXPECT_EQ(a.exit_code, 125);
  EXPECT_EQ(slurp(dir.file("other")), "also precious\n");
  // --force replaces the link, never its target.
  a = run_cli({"analyze", "--force", "--format", "json", "-o", dir.file("report.json"), dir.file("ok.atrace")}, dir);
  EXPECT_EQ(a.exit_code, 0) << a.err;
  EXPECT_EQ(slurp(dir.file("other")), "also precious\n");
  EXPECT_THAT(slurp(dir.file("report.json")), HasSubstr("\"findings\""));
}

const std::string kKey = "sk-ant-api03-TESTKEY0123456789abcdefghijklmnop";
const std::vector<std::string> kSecrets = {kKey, "sk-bearer-0123456789abcdefghijklmn", "json-body-secret-0123456789",
                                           base64_encode(kKey)};

// Every file below `path` (or the file), read whole.
std::vector<std::pair<std::string, std::string>> files_under(const std::string& path) {
  std::vector<std::pair<std::string, std::string>> out;
  if (std::filesystem::is_regular_file(path)) return {{path, slurp(path)}};
  for (const auto& e : std::filesystem::recursive_directory_iterator(path))
    if (e.is_regular_file()) out.emplace_back(e.path().string(), slurp(e.path().string()));
  return out;
}

// Which secrets (as is, or base64-encoded as a JSON stream carries bytes)
// occur in `text`.
std::vector<std::string> leaked(const std::string& text) {
  std::vector<std::string> found;
  for (const auto& s : kSecrets)
    if (text.find(s) != std::string::npos || text.find(base64_encode(s)) != std::string::npos) found.push_back(s);
  return found;
}

TEST(Security, CredentialsReachNoArtifactUnlessKept) {
  REQUIRE_BPF();
  if (system("command -v node >/dev/null 2>&1") != 0) GTEST_SKIP() << "node is not installed";
  TempDir dir;
  TempDir nats_dir;
  std::unique_ptr<NatsServer> nats;
  if (!nats_server_binary().empty()) {
    NatsServerOptions o;
    o.dir = nats_dir.path();
    nats = std::make_unique<NatsServer>(o);
  }
  RunSpec spec;
  spec.command = {"node", kSamples + "/security/secret_client.mjs"};
  spec.env = base_env();
  spec.env.push_back("ANTHROPIC_API_KEY=" + kKey);
  if (nats) spec.agenttrace_args = {"--export", nats->url(), "--spool", dir.file("spool")};
  RunResult r = run_agenttrace(spec, dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_THAT(r.out, HasSubstr("status 200 ok "));
  // The bytes were captured (redacted in place, lengths kept).
  std::string sent;
  for (const auto& e : of_kind(r.events, "send")) sent += *base64_decode(e.value("data", std::string()));
  EXPECT_THAT(sent, HasSubstr("x-api-key: [redacted:env.ANTHROPIC_API_KEY:"));
  EXPECT_THAT(sent, HasSubstr("authorization: Bearer [redacted:"));
  EXPECT_THAT(sent, HasSubstr("\"api_key\":\"[redacted:"));
  EXPECT_THAT(sent, HasSubstr("\"note\":\"[redacted:env.ANTHROPIC_API_KEY~base64:"));
  EXPECT_EQ(r.header["redaction"], "on");
  EXPECT_GE(r.trailer["redacted"]["env.ANTHROPIC_API_KEY"].get<int>(), 2);
  EXPECT_THAT(r.err, HasSubstr("secrets: "));
  EXPECT_THAT(r.err, HasSubstr(" redacted ("));

  // Every artifact: the trace file itself, the JSON stream, reports in
  // every format, the payload dump, the fleet stream's store.
  std::map<std::string, std::string> artifacts;
  artifacts["trace"] = slurp(r.trace_path);
  artifacts["--json"] = slurp(dir.file("events.json"));
  artifacts["stderr"] = r.err;
  for (const char* f : {"json", "text", "html", "sarif"}) {
    CliResult a = run_cli({"analyze", "--format", f, "-o", dir.file(std::string("report.") + f), r.trace_path}, dir);
    ASSERT_EQ(a.exit_code, 0) << a.err;
    artifacts[f] = slurp(dir.file(std::string("report.") + f));
  }
  CliResult d = run_cli({"dump", r.trace_path}, dir);
  artifacts["dump --json"] = d.out;
  ASSERT_EQ(run_cli({"dump", "--payloads", dir.file("payloads"), r.trace_path}, dir).exit_code, 0);
  for (const auto& [p, text] : files_under(dir.file("payloads"))) artifacts[p] = text;
  if (nats)
    for (const auto& [p, text] : files_under(nats_dir.path())) artifacts[p] = text;
  for (const auto& [what, text] : artifacts) EXPECT_THAT(leaked(text), ::testing::IsEmpty()) << what;

  // The value echo of the key, base64 in the body, is still found.
  Json report = Json::parse(artifacts["json"]);
  bool echo = false;
  for (const auto& f : report["findings"])
    if (f["rule"] == "value-echo" && f["severity"] == "high") {
      echo = true;
      EXPECT_THAT(f["message"].get<std::string>(), HasSubstr("ANTHROPIC_API_KEY (redacted, hash "));
    }
  EXPECT_TRUE(echo) << artifacts["text"];

  // With --keep-secrets the trace holds what was sent.
  TempDir kept;
  spec.agenttrace_args = {"--keep-secrets"};
  RunResult k = run_agenttrace(spec, kept);
  ASSERT_EQ(k.exit_code, 0) << k.err;
  EXPECT_EQ(k.header["redaction"], "off");
  EXPECT_THAT(leaked(slurp(k.trace_path)), ::testing::UnorderedElementsAreArray(kSecrets));
}


// A sandbox run: the key given with --env reaches the command (it has to),
// but neither the header, the trace, the report nor --record-dir keep it.
TEST(Security, SandboxRedactsWhatItWasGivenAndWhatTheStandInReceived) {
  REQUIRE_BPF();
  if (system("command -v curl >/dev/null 2>&1") != 0) GTEST_SKIP() << "curl is not installed";
  TempDir dir;
  ASSERT_EQ(chown(dir.path().c_str(), 65534, 65534), 0);  // the workspace of the command's uid
  const std::string key = "sandbox-given-secret-0123456789abcdefghijklmnopqr";
  std::ofstream(dir.file("client.sh"))
      << "curl -s -H \"authorization: Bearer $OPENAI_API_KEY\" -H 'content-type: application/json' "
         "-d '{\"model\":\"m\",\"messages\":[],\"note\":\"'\"$OPENAI_API_KEY\"'\"}' "
         "\"$AGENTTRACE_STANDIN_URL/v1/chat/completions\"\n";
  std::string cmd = "cd " + dir.path() + " && env -i PATH=/usr/local/bin:/usr/bin:/bin HOME=/root " + kBin +
                    " sandbox -q --format json -o " + dir.file("report.json") + " --trace " + dir.file("t.atrace") +
                    " --record-dir " + dir.file("records") + " --env OPENAI_API_KEY=" + key + " -- sh client.sh > " +
                    dir.file("out") + " 2> " + dir.file("err");
  ASSERT_EQ(system(cmd.c_str()), 0) << slurp(dir.file("err"));
  EXPECT_THAT(slurp(dir.file("out")), HasSubstr("chat.completion")) << "the request reached the stand-in with its key";
  std::map<std::string, std::string> artifacts = {{"trace", slurp(dir.file("t.atrace"))},
                                                  {"report", slurp(dir.file("report.json"))},
                                                  {"stderr", slurp(dir.file("err"))}};
  for (const auto& [p, text] : files_under(dir.file("records"))) artifacts[p] = text;
  ASSERT_GE(artifacts.size(), 5u) << "request-1.body and request-1.json";
  for (const auto& [what, text] : artifacts) {
    EXPECT_EQ(text.find(key), std::string::npos) << what;
    EXPECT_EQ(text.find(base64_encode(key)), std::string::npos) << what;
  }
  EXPECT_THAT(slurp(dir.file("records") + "/request-1.body"), HasSubstr("\"note\":\"[redacted:env.OPENAI_API_KEY:"));
  Json h = header_of(dir.file("t.atrace"), dir);
  bool env_option = false;
  for (const auto& o : h["options"])
    if (o.get<std::string>().rfind("OPENAI_API_KEY=", 0) == 0) {
      env_option = true;
      EXPECT_EQ(o.get<std::string>().size(), std::string("OPENAI_API_KEY=").size() + key.size());
    }
  EXPECT_TRUE(env_option) << h.dump();
}

}  // namespace
}  // namespace agenttrace::testing
