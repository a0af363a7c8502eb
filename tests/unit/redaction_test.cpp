// Credentials redaction (collector/redactor.h, trace/redaction.h): exact
// markers, lengths kept, every kind of secret the issue names, and the value
// echo still found on a redacted story.
#include "collector/redactor.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "analyzer/knowledge_base.h"
#include "app/session.h"
#include "common/base64.h"
#include "../support/story.h"
#include "trace/redaction.h"

namespace agenttrace {
namespace {

using collector::Redactor;

Redactor make_redactor() {
  static const analyzer::KnowledgeBase kb = analyzer::KnowledgeBase::builtin();
  // As a recording makes it (app/session.h): the knowledge base's rules and
  // the analyzer's value echo.
  return std::move(*app::make_redactor(kb));
}

TEST(RedactionMarker, KeepsTheLengthInEveryForm) {
  EXPECT_EQ(trace::redaction_marker("x-api-key", "0123456789abcdef0123", 40), "[redacted:x-api-key:0123456789abcdef***]");
  EXPECT_EQ(trace::redaction_marker("x-api-key", "0123456789abcdef0123", 36), "[redacted:x-api-key:01234567*******]");
  EXPECT_EQ(trace::redaction_marker("x-api-key", "0123456789abcdef0123", 29), "[redacted:x-api-key:01234567]");
  EXPECT_EQ(trace::redaction_marker("x-api-key", "0123456789abcdef0123", 28), "[r:0123456789abcdef********]");
  EXPECT_EQ(trace::redaction_marker("x-api-key", "0123456789abcdef", 14), "[r:0123456789]");
  EXPECT_EQ(trace::redaction_marker("x-api-key", "0123456789abcdef", 13), "[r:012345678]");
  EXPECT_EQ(trace::redaction_marker("x-api-key", "0123456789abcdef", 11), "***********");
  for (size_t n = 0; n < 80; ++n) EXPECT_EQ(trace::redaction_marker("env.OPENAI_API_KEY~base64", "ffffffffffffffff", n).size(), n);
}

TEST(RedactionMarker, ParsesBack) {
  auto m = trace::parse_redaction_marker("[redacted:env.OPENAI_API_KEY~base64:00ff00ff00ff00ff***] tail");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->kind, "env.OPENAI_API_KEY");
  EXPECT_EQ(m->encoding, "base64");
  EXPECT_EQ(m->hash, "00ff00ff00ff00ff");
  EXPECT_EQ(m->length, 56u);
  EXPECT_FALSE(trace::parse_redaction_marker("[redacted:x:zz]"));
  EXPECT_FALSE(trace::parse_redaction_marker("[r:0123]"));
  auto all = trace::find_redaction_markers("a [r:0123456789] b [redacted:jwt:abcdefabcdef] c");
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].first, 2u);
  EXPECT_EQ(all[1].first, 19u);
  EXPECT_EQ(all[1].second.kind, "jwt");
}

TEST(Redactor, HttpHeadersKeepTheirSchemeAndLength) {
  Redactor r = make_redactor();
  std::string req =
      "POST /v1/messages HTTP/1.1\r\nHost: api.example.com\r\nX-Api-Key: hunter2-is-not-a-key-format\r\n"
      "Authorization: Bearer abc.def.ghi-0123456789\r\nCookie: session=s3cr3t; theme=dark\r\n"
      "Content-Type: application/json\r\n\r\n{}";
  const std::string before = req;
  EXPECT_EQ(r.redact_bytes(&req), 3u);
  EXPECT_EQ(req.size(), before.size());
  EXPECT_THAT(req, ::testing::HasSubstr("Host: api.example.com\r\n"));
  EXPECT_THAT(req, ::testing::HasSubstr("Content-Type: application/json\r\n"));
  EXPECT_THAT(req, ::testing::HasSubstr("Authorization: Bearer [r:" + r.hash_of("abc.def.ghi-0123456789") + "**]\r\n"));
  EXPECT_THAT(req, ::testing::HasSubstr("X-Api-Key: [r:" + r.hash_of("hunter2-is-not-a-key-format") + "*******]\r\n"));
  EXPECT_THAT(req, ::testing::HasSubstr("Cookie: [redacted:cookie:"));
  for (const char* secret : {"hunter2", "abc.def.ghi", "s3cr3t"}) EXPECT_EQ(req.find(secret), std::string::npos) << secret;
  EXPECT_EQ(r.counts().at("x-api-key"), 1u);
  EXPECT_EQ(r.counts().at("authorization"), 1u);
  EXPECT_EQ(r.counts().at("cookie"), 1u);
}

TEST(Redactor, KeyFormatsAnywhere) {
  Redactor r = make_redactor();
  const std::string ant = "sk-ant-api03-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789";
  const std::string oai = "sk-proj-0123456789abcdefghijABCDEFGHIJ";
  const std::string goo = "AIzaSyA-0123456789abcdefghijklmnopqrstu";
  const std::string gh = "ghp_0123456789abcdefghijABCDEFGHIJklmnop";
  const std::string aws = "AKIAIOSFODNN7EXAMPLE";
  const std::string jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U";
  std::string body = "{\"note\":\"" + ant + "\",\"o\":\"" + oai + "\"} GET /v1beta/models?key=" + goo + "&alt=sse " + gh +
                     " " + aws + " " + jwt + " task-0123456789abcdefghijABCDEFGHIJ";
  size_t len = body.size();
  r.redact_bytes(&body);
  EXPECT_EQ(body.size(), len);
  for (const auto& s : {ant, oai, goo, gh, aws, jwt}) EXPECT_EQ(body.find(s), std::string::npos) << s;
  EXPECT_THAT(body, ::testing::HasSubstr("[redacted:anthropic-key:"));
  EXPECT_THAT(body, ::testing::HasSubstr("[redacted:openai-key:"));
  EXPECT_THAT(body, ::testing::HasSubstr("key=[redacted:key:"));
  EXPECT_THAT(body, ::testing::HasSubstr("[redacted:github-token:"));
  EXPECT_THAT(body, ::testing::HasSubstr(" [r:" + r.hash_of(aws) + "] ")) << "20 bytes: the short form";
  EXPECT_THAT(body, ::testing::HasSubstr("[redacted:jwt:"));
  EXPECT_THAT(body, ::testing::HasSubstr("&alt=sse "));
  // "sk-" inside a word is not a key.
  EXPECT_THAT(body, ::testing::HasSubstr("task-0123456789abcdefghijABCDEFGHIJ"));
}

TEST(Redactor, JsonKeysAndForms) {
  Redactor r = make_redactor();
  std::string body = R"({"api_key": "plainvalue123", "model":"m","password":"p\"w"})" "\nclient_secret=abcd1234abcd1234wxyz&grant=x";
  r.redact_bytes(&body);
  EXPECT_THAT(body, ::testing::HasSubstr(R"("api_key": "[r:)"));
  EXPECT_THAT(body, ::testing::HasSubstr(R"("model":"m")"));
  EXPECT_EQ(body.find("plainvalue123"), std::string::npos);
  EXPECT_EQ(body.find("p\\\"w"), std::string::npos);
  EXPECT_THAT(body, ::testing::HasSubstr("\nclient_secret=[r:"));
  EXPECT_THAT(body, ::testing::HasSubstr("&grant=x"));
}

TEST(Redactor, SecretsOfTheEnvironmentPlainAndEncoded) {
  Redactor r = make_redactor();
  const std::string key = "not-a-known-format-but-a-secret-of-42-bytes";
  r.add_environment({"MY_SERVICE_API_KEY=" + key, "TZ=Asia/Shanghai", "HOME=/home/u"});
  std::string body = "a=" + key + " b=" + base64_encode(key) + " tz=Asia/Shanghai";
  r.redact_bytes(&body);
  EXPECT_EQ(body.find(key), std::string::npos);
  EXPECT_EQ(body.find(base64_encode(key)), std::string::npos);
  EXPECT_THAT(body, ::testing::HasSubstr("a=[redacted:env.MY_SERVICE_API_KEY:"));
  EXPECT_THAT(body, ::testing::HasSubstr("b=[redacted:env.MY_SERVICE_API_KEY~base64:"));
  // Shorter secrets get the short form, which keeps the encoding.
  Redactor r2 = make_redactor();
  const std::string shorter = "short-secret-01234";
  r2.add_environment({"MY_SERVICE_API_KEY=" + shorter});
  std::string b2 = shorter + " " + base64_encode(shorter);
  r2.redact_bytes(&b2);
  EXPECT_EQ(b2, "[r:" + r2.hash_of(shorter).substr(0, 14) + "] [r~base64:" + r2.hash_of(shorter).substr(0, 13) + "]");
  EXPECT_EQ(r2.secret_kinds().at(r2.hash_of(shorter)), "env.MY_SERVICE_API_KEY");
  EXPECT_THAT(body, ::testing::HasSubstr("tz=Asia/Shanghai")) << "not a secret";
  // Both markers carry one hash: one secret.
  auto ms = trace::find_redaction_markers(body);
  ASSERT_EQ(ms.size(), 2u);
  EXPECT_EQ(ms[0].second.hash, r.hash_of(key).substr(0, 8)) << "the long form with half the hash";
  EXPECT_EQ(ms[1].second.hash, r.hash_of(key)) << "base64 is longer: the whole hash fits";
}

TEST(Redactor, HeaderArgvAndGetenv) {
  Redactor r = make_redactor();
  trace::Header h;
  for (const char* a : {"agenttrace", "sandbox", "--env", "OPENAI_API_KEY=sk-live-0123", "--env=TZ=UTC", "--", "agent",
                        "--api-key", "abcdefgh12345", "--token=zyxwvut98765"})
    h.add_options(a);
  for (const char* a : {"env", "GITHUB_TOKEN=plain-token-value", "agent", "--model", "m"}) h.add_command(a);
  r.redact_header(&h);
  EXPECT_TRUE(h.redaction());
  EXPECT_EQ(h.options(3).substr(0, 15), "OPENAI_API_KEY=");
  EXPECT_EQ(h.options(3).size(), std::string("OPENAI_API_KEY=sk-live-0123").size());
  EXPECT_EQ(h.options(3).find("sk-live"), std::string::npos);
  EXPECT_EQ(h.options(4), "--env=TZ=UTC");
  EXPECT_EQ(h.options(8), "[r:" + r.hash_of("abcdefgh12345").substr(0, 9) + "]");
  EXPECT_EQ(h.options(9).substr(0, 8), "--token=");
  EXPECT_EQ(h.options(9).find("zyxw"), std::string::npos);
  EXPECT_EQ(h.command(1).find("plain-token-value"), std::string::npos);
  EXPECT_EQ(h.command(3), "--model");
  EXPECT_EQ(h.command(4), "m");

  trace::Event e;
  e.mutable_getenv()->set_name("ANTHROPIC_API_KEY");
  e.mutable_getenv()->set_value("whatever-value-it-has");
  r.redact_event(&e);
  EXPECT_EQ(e.getenv().value(), "[r:" + r.hash_of("whatever-value-it-has") + "*]");
  e.mutable_getenv()->set_value("a-value-long-enough-for-the-long-form-0123");
  r.redact_event(&e);
  EXPECT_EQ(e.getenv().value().rfind("[redacted:env.ANTHROPIC_API_KEY:", 0), 0u) << e.getenv().value();
  e.mutable_getenv()->set_name("LANG");
  e.mutable_getenv()->set_value("en_US.UTF-8");
  r.redact_event(&e);
  EXPECT_EQ(e.getenv().value(), "en_US.UTF-8");
}

// The collector redacts before the analyzer sees anything; the value echo
// of a secret is still found, by its marker, and names it by kind and hash.
TEST(Redactor, ValueEchoOfASecretSurvivesRedaction) {
  const std::string key = "sk-test-0123456789abcdefghij";
  analyzer::Story s;
  s.getenv("ANTHROPIC_API_KEY", true, key);
  s.send("POST / HTTP/1.1\r\nx-api-key: " + key + "\r\n\r\n{\"x\":\"" + base64_encode(key) + "\"}");
  Redactor r = make_redactor();
  r.redact_header(&s.header());
  for (auto& e : s.events()) r.redact_event(&e);
  for (const auto& e : s.events()) {
    if (e.has_send()) {
      EXPECT_EQ(e.send().data().find(key), std::string::npos);
      EXPECT_EQ(e.send().data().find(base64_encode(key)), std::string::npos);
    }
    if (e.has_getenv()) {
      EXPECT_EQ(e.getenv().value().find(key), std::string::npos);
    }
  }
  auto fs = s.findings();
  const analyzer::Finding* f = nullptr;
  for (const auto& x : fs)
    if (x.rule == "value-echo") f = &x;
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->severity, analyzer::Severity::kHigh);
  ASSERT_EQ(f->evidence.size(), 2u) << "the plain copy in its header is where it belongs; the base64 one is the echo";
  EXPECT_EQ(f->evidence[1].encoding, "base64");
  EXPECT_EQ(f->message.find(key), std::string::npos);
}

// Without --show-values the analyzer never had the value; the encoded
// copy of the command's own secret is still an echo.
TEST(Redactor, EncodedCopyOfAnEnvironmentSecretWithoutValues) {
  const std::string key = "service-secret-0123456789";
  analyzer::Story s;
  s.getenv("PAYMENTS_API_KEY", true);
  s.send("{\"blob\":\"" + base64_encode(key) + "\"}");
  Redactor r = make_redactor();
  r.add_environment({"PAYMENTS_API_KEY=" + key});
  for (auto& e : s.events()) r.redact_event(&e);
  for (const auto& [hash, kind] : r.secret_kinds()) (*s.trailer().mutable_redacted_secrets())[hash] = kind;
  auto fs = s.findings();
  const analyzer::Finding* f = nullptr;
  for (const auto& x : fs)
    if (x.rule == "value-echo") f = &x;
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->severity, analyzer::Severity::kHigh);
  EXPECT_EQ(f->message, "agent (pid 100) sent the value of PAYMENTS_API_KEY (redacted, hash " + r.hash_of(key) +
                            ") to api.example.com (base64).");
}

}  // namespace
}  // namespace agenttrace
