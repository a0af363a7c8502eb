// Interface enumeration traced for real: Node's os.networkInterfaces()
// (netlink dumps through getifaddrs) and a C program's SIOCGIFHWADDR ioctl
// give exact host_query events, and `analyze` files each request as a
// network_interfaces fact with the stack of who asked.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "../support/agenttrace_runner.h"

namespace agenttrace::testing {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::StartsWith;

const std::string kSamples = SAMPLES_DIR;

Json analyze(const RunResult& r, const TempDir& dir) {
  CliResult a = run_cli({"analyze", "--format", "json", "-o", dir.file("r.json"), r.trace_path}, dir);
  EXPECT_EQ(a.exit_code, 0) << a.err;
  return Json::parse(slurp(dir.file("r.json")));
}


TEST(HostQuery, NodeNetworkInterfacesDumpsLinksAndAddresses) {
  REQUIRE_BPF();
  if (system("command -v node >/dev/null 2>&1") != 0) GTEST_SKIP() << "node is not installed";
  TempDir d;
  RunSpec spec;
  spec.command = {"node", "-e", "require('os').networkInterfaces()"};
  spec.env = base_env();
  RunResult r = run_agenttrace(spec, d);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  expect_no_losses(r);
  auto queries = of_kind(r.events, "host_query");
  EXPECT_THAT(briefs(queries),
              ElementsAre("host_query sendto RTM_GETLINK dump", "host_query sendto RTM_GETADDR dump"));
  for (const auto& q : queries) {
    EXPECT_EQ(q["protocol"], "route");
    EXPECT_EQ(q["flags"], 0x301);  // NLM_F_REQUEST | NLM_F_DUMP
    EXPECT_EQ(q["family"], "unspec");
    EXPECT_EQ(q["result"], 20);
    EXPECT_TRUE(q.contains("stack")) << q.dump();
  }
  // The request bytes are still recorded, as sends on a netlink socket.
  int netlink_sends = 0;
  for (const auto& s : of_kind(r.events, "send")) netlink_sends += s.value("peer", "") == "netlink:route";
  EXPECT_EQ(netlink_sends, 2);

  Json report = analyze(r, d);
  Json link = fact(report, "RTM_GETLINK");
  ASSERT_FALSE(link.is_null()) << report["facts"].dump();
  EXPECT_EQ(link["category"], "network_interfaces");
  EXPECT_EQ(link["detail"], "netlink dump");
  ASSERT_TRUE(link.contains("stack")) << link.dump();
  // The syscall in the C library's sendto, inside getifaddrs, which Node's
  // binding for os.networkInterfaces() called.
  auto names = symbols(link["stack"]);
  ASSERT_FALSE(names.empty());
  EXPECT_EQ(names[0], "sendto") << link["stack"].dump();
  EXPECT_THAT(names, Contains("getifaddrs")) << link["stack"].dump();
  EXPECT_THAT(names, Contains(StartsWith("node::os::GetInterfaceAddresses("))) << link["stack"].dump();
  EXPECT_EQ(fact(report, "RTM_GETADDR")["category"], "network_interfaces");
}

TEST(HostQuery, CProgramReadsTheLoopbackMacByIoctl) {
  REQUIRE_BPF();
  TempDir d;
  RunSpec spec;
  spec.command = {kSamples + "/if_hwaddr"};
  RunResult r = run_agenttrace(spec, d);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  expect_no_losses(r);
  EXPECT_EQ(r.out, "lo 00:00:00:00:00:00\n");
  EXPECT_THAT(briefs(of_kind(r.events, "host_query")),
              ElementsAre("host_query ioctl SIOCGIFNAME lo index 1", "host_query ioctl SIOCGIFHWADDR lo"));

  Json report = analyze(r, d);
  Json mac = fact(report, "SIOCGIFHWADDR");
  ASSERT_FALSE(mac.is_null()) << report["facts"].dump();
  EXPECT_EQ(mac["category"], "network_interfaces");
  EXPECT_EQ(mac["detail"], "ioctl lo");
  ASSERT_TRUE(mac.contains("stack")) << mac.dump();
  // The syscall in the C library's ioctl(), then the sample's own callers.
  EXPECT_EQ(mac["stack"][0]["instruction"], "syscall");
  auto names = symbols(mac["stack"]);
  ASSERT_GE(names.size(), 3u) << mac.dump();
  EXPECT_EQ(names[1], "read_mac");
  EXPECT_EQ(names[2], "main");
  Json name = fact(report, "SIOCGIFNAME");
  ASSERT_TRUE(name.contains("stack")) << name.dump();
  EXPECT_EQ(symbols(name["stack"])[1], "interface_name");
}

}  // namespace
}  // namespace agenttrace::testing
