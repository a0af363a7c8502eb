#include "collector/dns_wire.h"

#include <gtest/gtest.h>

namespace agenttrace::collector {
namespace {

std::string bytes(std::initializer_list<int> b) {
  std::string s;
  for (int c : b) s += static_cast<char>(c);
  return s;
}

// A query for api.example.com A, id 0x1234, RD set.
std::string query() {
  return bytes({0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 3, 'a', 'p', 'i', 7, 'e', 'x', 'a',
                'm', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0, 0, 1, 0, 1});
}

TEST(DnsWire, ParsesAQuery) {
  std::string error;
  auto m = parse_dns(query(), false, &error);
  ASSERT_TRUE(m) << error;
  EXPECT_EQ(m->id, 0x1234);
  EXPECT_FALSE(m->response);
  ASSERT_EQ(m->questions.size(), 1u);
  EXPECT_EQ(m->questions[0].name, "api.example.com");
  EXPECT_EQ(dns_type_name(m->questions[0].type), "A");
}

TEST(DnsWire, ResponseWithCompressedNamesAndCname) {
  // Question api.example.com A; answers: api.example.com CNAME edge.example.com
  // (the target's "example.com" is a pointer to offset 16), then
  // edge.example.com A 10.1.2.3 (owner name a pointer to the CNAME's data).
  std::string r = bytes({0x12, 0x34, 0x81, 0x80, 0, 1, 0, 2, 0, 0, 0, 0});
  r += query().substr(12);  // question at offset 12; "example" label at 16
  r += bytes({0xC0, 12, 0, 5, 0, 1, 0, 0, 0, 60, 0, 7, 4, 'e', 'd', 'g', 'e', 0xC0, 16});
  size_t cname_data = r.size() - 7;
  r += bytes({0xC0, static_cast<int>(cname_data), 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 10, 1, 2, 3});
  std::string error;
  auto m = parse_dns(r, false, &error);
  ASSERT_TRUE(m) << error;
  EXPECT_TRUE(m->response);
  ASSERT_EQ(m->answers.size(), 2u);
  EXPECT_EQ(m->answers[0].name, "api.example.com");
  EXPECT_EQ(dns_type_name(m->answers[0].type), "CNAME");
  EXPECT_EQ(m->answers[0].value, "edge.example.com");
  EXPECT_EQ(m->answers[1].name, "edge.example.com");
  EXPECT_EQ(m->answers[1].value, "10.1.2.3");
  EXPECT_EQ(m->answers[1].ttl, 60u);
}

TEST(DnsWire, AaaaAndTcpFraming) {
  std::string r = bytes({0, 9, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0, 1, 'x', 0, 0, 28, 0, 1,
                         0xC0, 12, 0, 28, 0, 1, 0, 0, 0, 5, 0, 16});
  for (int i = 0; i < 15; ++i) r += '\0';
  r += '\1';
  std::string tcp = bytes({0, static_cast<int>(r.size())}) + r;
  std::string error;
  auto m = parse_dns(tcp, true, &error);
  ASSERT_TRUE(m) << error;
  EXPECT_EQ(m->questions[0].name, "x");
  EXPECT_EQ(m->answers[0].value, "::1");
}

TEST(DnsWire, MalformedPacketsAreErrorsNotCrashes) {
  std::string error;
  EXPECT_FALSE(parse_dns("", false, &error));
  EXPECT_EQ(error, "shorter than a DNS header");
  EXPECT_FALSE(parse_dns(query().substr(0, 20), false, &error));
  EXPECT_NE(error.find("past the end"), std::string::npos);
  // A pointer to itself.
  std::string loop = bytes({0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xC0, 12, 0, 1, 0, 1});
  EXPECT_FALSE(parse_dns(loop, false, &error));
  EXPECT_NE(error.find("loops or points forward"), std::string::npos);
  // A forward pointer.
  std::string fwd = bytes({0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xC0, 20, 0, 1, 0, 1});
  EXPECT_FALSE(parse_dns(fwd, false, &error));
  // Reserved label type 0x40.
  std::string reserved = bytes({0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0x40, 0, 1, 0, 1});
  EXPECT_FALSE(parse_dns(reserved, false, &error));
  EXPECT_NE(error.find("reserved"), std::string::npos);
  // Too many records claimed.
  std::string many = bytes({0, 1, 0, 0, 0xFF, 0xFF, 0, 0, 0, 0, 0, 0});
  EXPECT_FALSE(parse_dns(many, false, &error));
  // Answer data running past the end.
  std::string r = bytes({0, 1, 0x81, 0x80, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 1, 0, 50, 1});
  EXPECT_FALSE(parse_dns(r, false, &error));
  EXPECT_NE(error.find("answer data runs past the end"), std::string::npos);
  // TCP length prefix longer than the data.
  EXPECT_FALSE(parse_dns(bytes({0, 200, 1, 2}), true, &error));
}

TEST(DnsWire, EveryTruncationOfAValidMessageIsHandled) {
  std::string q = query();
  std::string error;
  for (size_t n = 0; n < q.size(); ++n) EXPECT_FALSE(parse_dns(q.substr(0, n), false, &error)) << n;
  EXPECT_TRUE(parse_dns(q, false, &error));
}

TEST(DnsWire, TypeNames) {
  EXPECT_EQ(dns_type_name(65), "HTTPS");
  EXPECT_EQ(dns_type_name(28), "AAAA");
  EXPECT_EQ(dns_type_name(999), "TYPE999");
}

}  // namespace
}  // namespace agenttrace::collector
