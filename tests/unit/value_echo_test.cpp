#include "analyzer/value_echo.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "common/base64.h"

namespace agenttrace::analyzer {
namespace {

const std::string kTz = "Asia/Shanghai";
const std::string kPre = R"({"model":"claude-sonnet","metadata":{"user_id":"user_8f2c","session":")";
const std::string kPost = R"("},"messages":[{"role":"user","content":"hello"}],"max_tokens":1024})";

std::string describe(const EchoMatch& m) {
  std::string s = m.encoding + "@" + std::to_string(m.offset) + "+" + std::to_string(m.length);
  if (m.xor_key != 0) s += "^" + std::to_string(m.xor_key);
  return s;
}

std::string describe(const std::vector<EchoMatch>& ms) {
  std::string s;
  for (const EchoMatch& m : ms) s += (s.empty() ? "" : " ") + describe(m);
  return s;
}

EchoMatch match(const std::string& encoding, size_t offset, size_t length, int key = 0) {
  return EchoMatch{encoding, offset, length, key};
}

// Exactly these matches, in this order.
void expect_matches(const std::string& data, const std::string& value, const std::vector<EchoMatch>& expected) {
  EXPECT_EQ(describe(find_value_echo(data, value)), describe(expected)) << "value: " << value;
}

std::string hex(const std::string& bytes, bool upper = false) {
  const char* digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
  std::string out;
  for (unsigned char b : bytes) {
    out += digits[b >> 4];
    out += digits[b & 15];
  }
  return out;
}

std::string xored(const std::string& bytes, int key) {
  std::string out = bytes;
  for (char& c : out) c = static_cast<char>(c ^ key);
  return out;
}

std::string url_safe(std::string b64, bool keep_padding) {
  for (char& c : b64) {
    if (c == '+') c = '-';
    if (c == '/') c = '_';
  }
  if (!keep_padding) {
    while (!b64.empty() && b64.back() == '=') b64.pop_back();
  }
  return b64;
}

// ---- plain ----------------------------------------------------------------------------

TEST(ValueEcho, PlainAtOffsetInJson) {
  expect_matches(kPre + kTz + kPost, kTz, {match("plain", kPre.size(), kTz.size())});
}

TEST(ValueEcho, PlainEveryOccurrence) {
  std::string data = kPre + kTz + "|" + kTz + kPost;
  expect_matches(data, kTz,
                 {match("plain", kPre.size(), 13), match("plain", kPre.size() + 14, 13)});
}

TEST(ValueEcho, CaseInsensitive) {
  std::string data = kPre + "ASIA/SHANGHAI," + kTz + ",asia/shanghai" + kPost;
  expect_matches(data, kTz,
                 {match("plain-nocase", kPre.size(), 13), match("plain", kPre.size() + 14, 13),
                  match("plain-nocase", kPre.size() + 28, 13)});
}

TEST(ValueEcho, CaseFlipOfLettersIsNocaseNotXor) {
  // XOR 0x20 flips the case of letters; for an all-letter value that is
  // the simpler explanation.
  std::string data = kPre + "sHANGHAI" + kPost;
  expect_matches(data, "Shanghai", {match("plain-nocase", kPre.size(), 8)});
}

TEST(ValueEcho, BinaryValuesAndData) {
  std::string value("id\0\x01\xff", 5);
  std::string data = std::string("\x00\x00", 2) + value + std::string("\xfe", 1);
  expect_matches(data, value, {match("plain", 2, 5)});
}

// ---- base64 --------------------------------------------------------------------------

// The value after 0-5 other bytes of a blob, so at byte phases 0, 1 and 2,
// followed by 0-2 bytes so that every padding case occurs; with and without
// padding. The span is every character that carries a bit of the value.
TEST(ValueEcho, Base64AllPhases) {
  const std::string before = "{\"tz\":";
  const std::string after = "\"}xyz";
  for (size_t p = 0; p < 6; ++p) {
    for (size_t s = 0; s < 3; ++s) {
      for (bool padding : {true, false}) {
        std::string blob = base64_encode(before.substr(0, p) + kTz + after.substr(0, s));
        if (!padding) {
          while (blob.back() == '=') blob.pop_back();
        }
        SCOPED_TRACE("phase " + std::to_string(p % 3) + " prefix " + std::to_string(p) + " suffix " +
                     std::to_string(s) + " " + blob);
        size_t first = (8 * p) / 6;
        size_t end = (8 * (p + kTz.size()) + 5) / 6;
        expect_matches(kPre + blob + kPost, kTz, {match("base64", kPre.size() + first, end - first)});
      }
    }
  }
}

TEST(ValueEcho, Base64InsideLongerBlob) {
  std::string payload = R"({"hostname":"build-7","tz":"Asia/Shanghai","proxy":"http://10.0.0.1:3128"})";
  std::string blob = base64_encode(payload);
  size_t p = payload.find(kTz);
  size_t first = (8 * p) / 6;
  size_t end = (8 * (p + kTz.size()) + 5) / 6;
  expect_matches(kPre + blob + kPost, kTz, {match("base64", kPre.size() + first, end - first)});
  size_t q = payload.find("build-7");
  expect_matches(kPre + blob + kPost, "build-7",
                 {match("base64", kPre.size() + (8 * q) / 6, (8 * (q + 7) + 5) / 6 - (8 * q) / 6)});
}

TEST(ValueEcho, Base64UrlSafe) {
  // This value's standard encoding "PDw/Pz8+Pj4=" has both '/' and '+'.
  std::string value = "<<\?\?\?>>>";  // escaped: "??>" is a trigraph
  std::string standard = base64_encode(value);
  ASSERT_EQ(standard, "PDw/Pz8+Pj4=");
  std::string url = url_safe(standard, false);
  std::string data = kPre + standard + "," + url + kPost;
  expect_matches(data, value,
                 {match("base64", kPre.size(), 11), match("base64url", kPre.size() + 13, 11)});
}

// ---- hex ------------------------------------------------------------------------------

TEST(ValueEcho, HexLowerUpperAndOddPhase) {
  std::string lower = hex(kTz);
  std::string upper = hex(kTz, true);
  ASSERT_EQ(lower, "417369612f5368616e67686169");
  // Inside a longer run of hex digits, starting at an odd digit.
  std::string run = "deadbeef0" + lower + "00c0ffee";
  std::string data = kPre + lower + " " + upper + " " + run + kPost;
  size_t at = kPre.size();
  expect_matches(data, kTz,
                 {match("hex", at, 26), match("hex", at + 27, 26), match("hex", at + 54 + 9, 26)});
}

TEST(ValueEcho, HexEscape) {
  std::string data = kPre + "\\x41\\x73\\x69\\x61\\x2f\\x53\\x68\\x61\\x6e\\x67\\x68\\x61\\x69" + kPost;
  expect_matches(data, kTz, {match("hex-escape", kPre.size(), 52)});
}

// ---- text escapes ------------------------------------------------------------------------

TEST(ValueEcho, UrlEncodings) {
  std::string component = "Asia%2FShanghai";
  std::string lower = "Asia%2fShanghai";
  std::string every = "%41%73%69%61%2F%53%68%61%6E%67%68%61%69";
  std::string data = "https://api.example.com/v1/q?tz=" + component + "&a=" + lower + "&b=" + every;
  size_t at = data.find(component);
  expect_matches(data, kTz,
                 {match("url", at, 15), match("url", at + 18, 15), match("url", at + 36, every.size())});
  std::string spaced = "Pacific Standard Time";
  std::string form = "tz=Pacific+Standard+Time&z=Pacific%20Standard%20Time";
  expect_matches(form, spaced, {match("url", 3, 21), match("url", 27, 25)});
}

TEST(ValueEcho, JsonEscapes) {
  std::string php = R"(Asia\/Shanghai)";
  std::string all = R"(\u0041\u0073\u0069\u0061\u002f\u0053\u0068\u0061\u006e\u0067\u0068\u0061\u0069)";
  std::string data = kPre + php + "," + all + kPost;
  expect_matches(data, kTz,
                 {match("json-escape", kPre.size(), 14), match("json-escape", kPre.size() + 15, all.size())});
  // ensure_ascii: non-ASCII as \uXXXX, in either case of hex digit.
  std::string zurich = "Z\xC3\xBCrich";
  std::string data2 = R"({"city":"Z\u00fcrich","again":"Z\u00FCrich"})";
  expect_matches(data2, zurich, {match("json-escape", 9, 11), match("json-escape", 31, 11)});
  // Quotes inside a value.
  std::string quoted = R"(say "hi" now)";
  expect_matches(R"({"x":"say \"hi\" now"})", quoted, {match("json-escape", 6, 14)});
}

TEST(ValueEcho, Utf16) {
  std::string le, be;
  for (char c : kTz) {
    le += c;
    le += '\0';
    be += '\0';
    be += c;
  }
  std::string data = "HDR" + le + "||" + be;
  expect_matches(data, kTz, {match("utf16le", 3, 26), match("utf16be", 31, 26)});
}

TEST(ValueEcho, Reversed) {
  std::string data = kPre + "iahgnahS/aisA" + kPost;
  expect_matches(data, kTz, {match("reversed", kPre.size(), 13)});
  // Code point order for a non-ASCII value.
  expect_matches("x hcir\xC3\xBCZ y", "Z\xC3\xBCrich", {match("reversed", 2, 7)});
}

// ---- XOR ----------------------------------------------------------------------------------

TEST(ValueEcho, XorRaw) {
  for (int key : {0x01, 0x20, 0x42, 0x5A, 0x7F, 0x80, 0xAA, 0xFF}) {
    SCOPED_TRACE(key);
    std::string data = std::string("\x00\x10\x7f\x80 binary header ", 20) + xored(kTz, key) + "\x01\x02 tail";
    expect_matches(data, kTz, {match("xor", 20, 13, key)});
  }
}

TEST(ValueEcho, XorInsideHexAndBase64) {
  for (int key : {0x01, 0x20, 0x5A, 0xFF}) {
    SCOPED_TRACE(key);
    std::string x = xored(kTz, key);
    std::string h = hex(x);
    expect_matches(kPre + h + kPost, kTz, {match("xor+hex", kPre.size(), 26, key)});
    expect_matches(kPre + hex(x, true) + kPost, kTz, {match("xor+hex", kPre.size(), 26, key)});
    // At byte phase 1 inside a base64 blob.
    std::string blob = base64_encode("{" + x + "}");
    expect_matches(kPre + blob + kPost, kTz, {match("xor+base64", kPre.size() + 1, 18, key)});
  }
}

// ---- what must not match --------------------------------------------------------------------

TEST(ValueEcho, UnrelatedDataHasNoMatches) {
  std::string data = kPre + R"(Asia/Singapore, Europe/Shanghai-ish, Shang hai, A s i a)" + kPost;
  EXPECT_TRUE(find_value_echo(data, kTz).empty()) << describe(find_value_echo(data, kTz));
  // Random binary: no encoding of the value by chance.
  std::mt19937 rng(7);
  std::string noise(100 * 1024, '\0');
  for (char& c : noise) c = static_cast<char>(rng() & 0xFF);
  EXPECT_TRUE(find_value_echo(noise, kTz).empty()) << describe(find_value_echo(noise, kTz));
  // Random base64 and hex text: decoded at every phase, still nothing.
  const char* alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string b64(100 * 1024, 'A');
  for (char& c : b64) c = alphabet[rng() % 64];
  EXPECT_TRUE(find_value_echo(b64, kTz).empty()) << describe(find_value_echo(b64, kTz));
}

TEST(ValueEcho, ShortValuesAreNotSearched) {
  std::string data = kPre + "UTC UTC" + kPost;
  EXPECT_TRUE(find_value_echo(data, "UTC").empty());
  EXPECT_TRUE(find_value_echo(data, "").empty());
  EXPECT_TRUE(find_value_echo(data, "", 0).empty());
  // Unless the caller lowers the bar.
  EXPECT_EQ(describe(find_value_echo(data, "UTC", 3)),
            describe({match("plain", kPre.size(), 3), match("plain", kPre.size() + 4, 3)}));
  // A value longer than the data.
  EXPECT_TRUE(find_value_echo("Asia", kTz).empty());
  EXPECT_TRUE(find_value_echo("", kTz).empty());
}

TEST(ValueEcho, XorNeedsLongAndVariedValues) {
  // "1234" XOR 4 is "5670": short values are not searched under XOR.
  EXPECT_TRUE(find_value_echo("order 5670 shipped", "1234").empty());
  // Nor are values with fewer than three distinct bytes ("aaaaaaa" XOR 0x41
  // is seven spaces).
  EXPECT_TRUE(find_value_echo("x       y", "aaaaaaa").empty());
  EXPECT_TRUE(find_value_echo("x ! ! ! y", "abababa").empty());
  // Six varied bytes are enough.
  expect_matches("x" + xored("host42", 0x33) + "y", "host42", {match("xor", 1, 6, 0x33)});
}

// ---- several at once -------------------------------------------------------------------------------

TEST(ValueEcho, ManyEncodingsInOnePayload) {
  std::string b64 = base64_encode(kTz);
  std::string data = kPre + kTz + "|" + b64 + "|" + hex(kTz) + "|" + xored(kTz, 0x17) + kPost;
  size_t at = kPre.size();
  expect_matches(data, kTz,
                 {match("plain", at, 13), match("base64", at + 14, 18), match("hex", at + 14 + 21, 26),
                  match("xor", at + 14 + 21 + 27, 13, 0x17)});
}

TEST(ValueEcho, MachineId) {
  std::string id = "4f1c0d9e8b7a41d2a3c5e6f708192a3b";
  std::string data = R"({"device":")" + std::string("4F1C0D9E8B7A41D2A3C5E6F708192A3B") + R"(","h":")" +
                     base64_encode(id) + R"("})";
  expect_matches(data, id, {match("plain-nocase", 11, 32), match("base64", 50, 43)});
}

// ---- speed --------------------------------------------------------------------------------

std::string json_payload(size_t size) {
  std::string body = R"({"model":"claude-sonnet","max_tokens":4096,"messages":[)";
  for (int i = 0; body.size() < size - 300; ++i) {
    body += R"({"role":"user","content":"Refactor src/module_)" + std::to_string(i) +
            R"(.cpp; keep tests green; ETA 20 min, id=)" + hex(std::to_string(i * 7919)) + R"("},)";
  }
  body += R"({"role":"user","content":"tz )" + base64_encode("x" + kTz) + " " + hex(xored(kTz, 0x5A)) + R"("}]})";
  return body;
}

template <typename F>
double micros_per_call(F f, int iterations) {
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < iterations; ++i) f();
  std::chrono::duration<double, std::micro> took = std::chrono::steady_clock::now() - start;
  return took.count() / iterations;
}

TEST(ValueEcho, Benchmark) {
  std::string json = json_payload(100 * 1024);
  std::mt19937 rng(3);
  std::string binary(100 * 1024, '\0');
  for (char& c : binary) c = static_cast<char>(rng() & 0xFF);
  std::string b64 = base64_encode(binary).substr(0, 100 * 1024);
  EXPECT_EQ(find_value_echo(json, kTz).size(), 2u) << describe(find_value_echo(json, kTz));
  size_t sink = 0;
  double json_us = micros_per_call([&] { sink += find_value_echo(json, kTz).size(); }, 50);
  double bin_us = micros_per_call([&] { sink += find_value_echo(binary, kTz).size(); }, 50);
  double b64_us = micros_per_call([&] { sink += find_value_echo(b64, kTz).size(); }, 50);
  std::printf("[ bench    ] find_value_echo(\"%s\"): %zu B JSON %.0f us; %zu B binary %.0f us; %zu B base64 %.0f us\n",
              kTz.c_str(), json.size(), json_us, binary.size(), bin_us, b64.size(), b64_us);
  EXPECT_GT(sink, 0u);
}

}  // namespace
}  // namespace agenttrace::analyzer
