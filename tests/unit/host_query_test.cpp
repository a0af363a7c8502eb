// Questions about the host's network interfaces (host_query events: netlink
// requests, interface ioctls): how they read, the profile facts they become
// with the stack of who asked, what a runtime asks on its own, and that
// `diff` does not take a netlink socket for a request to compare.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "analyzer/diff.h"
#include "analyzer/findings.h"
#include "analyzer/profile.h"
#include "trace/json.h"
#include "trace/text.h"
#include "../support/story.h"

namespace agenttrace::analyzer {
namespace {

using ::testing::ElementsAre;

constexpr uint32_t kGetLink = 18, kGetAddr = 22;

std::vector<std::string> rules_of(const std::vector<Finding>& fs) {
  std::vector<std::string> out;
  for (const auto& f : fs) out.push_back(f.rule + ":" + severity_name(f.severity));
  return out;
}

TEST(HostQuery, ReadsAsTheRequestAsked) {
  Story s;
  s.netlink("RTM_GETLINK", kGetLink, 3);
  s.ioctl("SIOCGIFHWADDR", 0x8927, "eth0");
  // (events: exec, host_query, send, host_query)
  trace::Event link = s.events()[1], send = s.events()[2], mac = s.events()[3];
  EXPECT_EQ(trace::event_summary(link), "netlink RTM_GETLINK dump");
  link.mutable_host_query()->set_family("packet");
  EXPECT_EQ(trace::event_summary(link), "netlink RTM_GETLINK dump packet");
  EXPECT_EQ(trace::event_summary(mac), "ioctl SIOCGIFHWADDR eth0 = 0");
  mac.mutable_host_query()->set_result(-19);
  EXPECT_EQ(trace::event_summary(mac), "ioctl SIOCGIFHWADDR eth0 = ENODEV");
  // The netlink send itself names its socket's family.
  EXPECT_EQ(trace::event_summary(send).substr(0, 31), "send 20 bytes to netlink:route ");
  trace::Json j = trace::event_json(link);
  EXPECT_EQ(j["kind"], "host_query");
  EXPECT_EQ(j["request"], "RTM_GETLINK");
  EXPECT_EQ(j["syscall"], "sendto");
  EXPECT_EQ(j["protocol"], "route");
  EXPECT_EQ(j["dump"], true);
  EXPECT_EQ(j["flags"], 0x301);
  EXPECT_EQ(j["family"], "packet");
  trace::Json k = trace::event_json(mac);
  EXPECT_EQ(k["interface"], "eth0");
  EXPECT_EQ(k["number"], 0x8927);
  EXPECT_FALSE(k.contains("protocol"));
}

// os.networkInterfaces(): an RTM_GETLINK dump, then RTM_GETADDR; an
// interface ioctl per interface. Each request is a fact of the
// network_interfaces category, with the first event that carries a stack.
TEST(HostQuery, InterfaceRequestsAreFactsWithTheirStack) {
  Story s;
  s.netlink("RTM_GETLINK", kGetLink, 3).mutable_stack()->add_frames()->set_address(0x401000);
  s.netlink("RTM_GETADDR", kGetAddr, 3);
  s.ioctl("SIOCGIFHWADDR", 0x8927, "lo");
  trace::Event& second = s.ioctl("SIOCGIFHWADDR", 0x8927, "eth0");
  second.mutable_stack()->add_frames()->set_address(0x402000);
  s.ioctl("SIOCGIFHWADDR", 0x8927, "wlan9").mutable_host_query()->set_result(-19);
  Profile p = s.analysis().profile;
  ASSERT_TRUE(p.facts.count("network_interfaces"));
  const auto& facts = p.facts.at("network_interfaces");
  std::vector<std::string> items;
  for (const auto& [item, f] : facts) items.push_back(item + " " + fact_kind_name(f.kind) + " (" + f.detail + ") x" + std::to_string(f.count));
  EXPECT_THAT(items, ElementsAre("RTM_GETADDR call (netlink dump) x1", "RTM_GETLINK call (netlink dump) x1",
                                 "SIOCGIFHWADDR call (ioctl lo) x3"));
  const Fact& link = facts.at("RTM_GETLINK");
  EXPECT_TRUE(link.succeeded);
  EXPECT_EQ(link.first_event, 2u);  // after the exec
  EXPECT_EQ(link.stack_event, 2u);
  EXPECT_EQ(link.category, "network_interfaces");
  const Fact& mac = facts.at("SIOCGIFHWADDR");
  EXPECT_EQ(mac.first_event, 6u);
  EXPECT_EQ(mac.stack_event, 7u);  // the first of its events with a stack
  EXPECT_TRUE(mac.succeeded);
  // The netlink socket's bytes are no destination, no stream, no send.
  EXPECT_TRUE(p.destinations.empty());
  EXPECT_TRUE(p.streams.empty());
  EXPECT_TRUE(p.first_send.empty());
}

// getaddrinfo(3) with AI_ADDRCONFIG sends an RTM_GETADDR dump on its own:
// a program that resolves a name and sends has gathered nothing beyond its
// C library; one that also dumps the links (MAC addresses) has.
TEST(HostQuery, NameResolutionsAddressDumpIsTheCLibrarysOwn) {
  auto run = [](bool links) {
    Story s;
    s.exec(100, "/usr/bin/curl");
    s.read("/etc/resolv.conf");
    s.netlink("RTM_GETADDR", kGetAddr, 3);
    if (links) s.netlink("RTM_GETLINK", kGetLink, 3);
    s.send("POST / HTTP/1.1\r\nHost: api.example.com\r\nContent-Length: 0\r\n\r\n", 1);
    return s.findings();
  };
  auto plain = run(false);
  EXPECT_THAT(rules_of(plain), ElementsAre("fingerprint-collection:info"));
  ASSERT_GE(plain.size(), 1u);
  std::vector<std::string> what;
  for (const auto& e : plain[0].evidence) what.push_back(e.what);
  EXPECT_THAT(what, ElementsAre("RTM_GETADDR (netlink dump) (c-library reads it on its own)",
                                "read /etc/resolv.conf (c-library reads it on its own)",
                                "first data sent over the network (to api.example.com (203.0.113.9:443))"));
  auto links = run(true);
  EXPECT_THAT(rules_of(links), ElementsAre("fingerprint-collection:low"));
  EXPECT_EQ(links[0].evidence[0].what, "RTM_GETLINK (netlink dump)");
}

// What `diff` compares: the HTTP request, not the netlink requests before
// it (named netlink, or, in a trace recorded before the family was named,
// a write on a socket with no IP peer).
TEST(HostQuery, DiffComparesNoNetlinkStreams) {
  auto capture = [](bool legacy, char seq, const std::string& variant) {
    Story s;
    s.netlink("RTM_GETLINK", kGetLink, 2);
    s.netlink("RTM_GETADDR", kGetAddr, 2);
    // the sequence number differs from run to run
    std::string bytes = s.events().back().send().data();
    bytes[8] = seq;
    s.events().back().mutable_send()->set_data(bytes);
    if (legacy) s.events().back().mutable_send()->mutable_peer()->clear_family();
    s.send("POST /v1/messages HTTP/1.1\r\nHost: api.example.com\r\nContent-Length: 2\r\n\r\n{}", 1);
    return capture_of(s.analysis().profile, variant, variant);
  };
  RunCapture run = capture(false, 1, "TZ=a");
  ASSERT_EQ(run.requests.size(), 1u);
  EXPECT_EQ(run.requests[0].target, "/v1/messages");
  EXPECT_TRUE(run.raw_streams.empty());
  RunCapture legacy = capture(true, 2, "TZ=a");
  EXPECT_EQ(legacy.requests.size(), 1u);
  EXPECT_TRUE(legacy.raw_streams.empty());

  DiffReport report = diff_runs({run, capture(false, 3, "TZ=a"), capture(false, 4, "TZ=b"), capture(true, 5, "TZ=b")});
  EXPECT_EQ(report.requests, 1u);
  EXPECT_FALSE(report.input_dependent);
}

}  // namespace
}  // namespace agenttrace::analyzer
