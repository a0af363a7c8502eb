// Bad input to the fleet commands: one clear sentence on stderr and exit
// status 125, before anything is traced or read. No root needed: the checks
// come before the BPF programs load.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <fstream>
#include <iterator>

#include "../support/temp_dir.h"
#include "fleet_support.h"

namespace agenttrace::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

struct Outcome {
  int status = -1;
  std::string err;
};

Outcome run(const std::string& args, const std::string& env = "") {
  TempDir dir;
  std::string cmd = env + " " + std::string(AGENTTRACE_BIN) + " " + args + " >/dev/null 2>" + dir.file("err");
  int rc = system(cmd.c_str());
  std::ifstream in(dir.file("err"));
  return Outcome{WIFEXITED(rc) ? WEXITSTATUS(rc) : -1, std::string(std::istreambuf_iterator<char>(in), {})};
}

// Exit 125 and exactly one line, which must be `sentence`.
void expect_one_sentence(const Outcome& o, const std::string& sentence) {
  EXPECT_EQ(o.status, 125) << o.err;
  EXPECT_EQ(o.err, "agenttrace: " + sentence + "\n");
}

TEST(FleetCommandLine, CollectFromAnUnreachableServer) {
  const int port = free_loopback_port();
  const std::string url = "nats://127.0.0.1:" + std::to_string(port);
  Outcome o = run("collect --from " + url);
  EXPECT_EQ(o.status, 125);
  EXPECT_THAT(o.err, StartsWith("agenttrace: cannot connect to the NATS server at " + url + ": "));
  EXPECT_EQ(std::count(o.err.begin(), o.err.end(), '\n'), 1) << o.err;
  Outcome a = run("analyze " + url);
  EXPECT_EQ(a.status, 125);
  EXPECT_THAT(a.err, StartsWith("agenttrace: cannot connect to the NATS server at " + url + ": "));
}

TEST(FleetCommandLine, BadUrls) {
  expect_one_sentence(run("collect --from http://central:4222"), "--from http://central:4222: expected nats://HOST:PORT");
  expect_one_sentence(run("collect --from nats://central:port"),
                      "'nats://central:port' is not a NATS URL: 'port' is not a port number");
  expect_one_sentence(run("analyze nats://central:99999"),
                      "'nats://central:99999' is not a NATS URL: '99999' is not a port number");
  expect_one_sentence(run("--export nats://alice:pw@central:4222 -- true"),
                      "the NATS URL nats://... holds credentials; give them in --export-config or the "
                      "AGENTTRACE_NATS_* variables instead, where other users cannot read them");
  expect_one_sentence(run("--export central:4222 -- true"),
                      "'central:4222' is not a NATS URL (expected nats://HOST:PORT or tls://HOST:PORT)");
}

TEST(FleetCommandLine, MissingCredentialsFile) {
  TempDir dir;
  std::ofstream(dir.file("export.yaml")) << "creds: " << dir.file("missing.creds") << "\n";
  expect_one_sentence(run("--export nats://127.0.0.1:4222 --export-config " + dir.file("export.yaml") + " -- true"),
                      "cannot read the NATS credentials file " + dir.file("missing.creds") +
                          ": No such file or directory");
  expect_one_sentence(run("sandbox --export nats://127.0.0.1:4222 -- true", "AGENTTRACE_NATS_CREDS=" + dir.file("gone.creds")),
                      "cannot read the NATS credentials file " + dir.file("gone.creds") +
                          ": No such file or directory");
  expect_one_sentence(run("collect --from nats://127.0.0.1:4222 --nats-config " + dir.file("none.yaml")),
                      "cannot read the export configuration " + dir.file("none.yaml") + ": No such file or directory");
  expect_one_sentence(run("--export-config " + dir.file("export.yaml") + " -- true"),
                      "--export-config and --spool only mean something with --export nats://HOST:PORT");
}

TEST(FleetCommandLine, AServerWithoutTheStream) {
  REQUIRE_NATS_SERVER();
  TempDir dir;
  NatsServer server(standalone(dir.path()));
  expect_one_sentence(run("collect --from " + server.url()),
                      "the NATS server at " + server.url() +
                          " has no stream AGENTTRACE (nothing was exported there yet, or the stream has another name)");
}

}  // namespace
}  // namespace agenttrace::testing
