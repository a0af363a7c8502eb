#include "analyzer/diff.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "analyzer/diff_report.h"
#include "common/base64.h"
#include "trace/json.h"

namespace agenttrace::analyzer {
namespace {

using trace::Json;

// ---- a simulated coding agent -------------------------------------------------

// What one run of an Anthropic-style client sends, with the noise a real one
// has: a random request id, a random session in the metadata, a fresh
// x-request-id header, and the current time (seconds and milliseconds)
// inside the system prompt.
struct Agent {
  std::string host = "api.anthropic.com";
  std::string path_prefix;  // from a base URL with a path
  std::string tz = "Asia/Shanghai";
  std::string content = "List files, then summarize the README.";
  std::string date_sep = "-";
  bool report_tz = false;           // says its time zone in the prompt, in plain words
  std::string fixed_request_id;     // a constant instead of a random x-request-id
  bool metadata_first = false;      // serializes keys in another order
  bool lowercase_headers = false;   // writes header names in lower case
  bool base64_tz = false;           // hides the zone, base64-encoded, in the metadata
  bool telemetry = false;           // sends one more request
  bool ensure_ascii = false;        // escapes non-ASCII as \uXXXX
  std::string extra_field;          // a metadata field with a constant value
  std::string extra_header;         // a header line with a constant value
  bool trailing_space = false;      // a space after the User-Agent value
  bool max_tokens_as_string = false;
  std::string big_prompt;           // appended to the system prompt
  int minute_tick_at = -1;          // runs from this one on see the clock's next minute
};

std::string random_of(std::mt19937& rng, size_t n, const std::string& alphabet) {
  std::string s;
  for (size_t i = 0; i < n; ++i) s += alphabet[rng() % alphabet.size()];
  return s;
}

const std::string kHex = "0123456789abcdef";
const std::string kAlnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

std::string uuid(std::mt19937& rng) {
  return random_of(rng, 8, kHex) + "-" + random_of(rng, 4, kHex) + "-4" + random_of(rng, 3, kHex) + "-a" +
         random_of(rng, 3, kHex) + "-" + random_of(rng, 12, kHex);
}

std::string two(int n) { return (n < 10 ? "0" : "") + std::to_string(n); }

// `run` makes each run's clock and random draws its own.
std::string messages_body(const Agent& a, int run) {
  std::mt19937 rng(1000 + run);
  std::string ts = "2026" + a.date_sep + "03" + a.date_sep + "01T14:" + (a.minute_tick_at >= 0 && run >= a.minute_tick_at ? "06:" : "05:") + two((run * 7 + 3) % 60) + "." +
                   std::to_string(100 + (run * 37) % 900) + "Z";
  std::string system = "You are Claude Code, Anthropic's official CLI for Claude.\n<env>\nWorking directory: /home/dev/app\n"
                       "Platform: linux\nToday's date: " + ts + "\n";
  if (a.report_tz) system += "Time zone: " + a.tz + "\n";
  system += "</env>" + a.big_prompt;
  Json body;
  body["model"] = "claude-sonnet-4-5";
  if (a.max_tokens_as_string) body["max_tokens"] = "1024";
  else body["max_tokens"] = 1024;
  body["id"] = "req_" + random_of(rng, 24, kAlnum);
  Json metadata;
  metadata["user_id"] = "user_3f1a9c0e7b2d4c6a8e0f1b3d5c7e9a0b2c4d6e8f0a1b3c5d7e9f0a2b4c6d8e0f_account__session_" + uuid(rng);
  if (a.base64_tz) metadata["tz_hint"] = base64_encode(a.tz);
  if (!a.extra_field.empty()) metadata[a.extra_field] = "zh-HK";
  if (a.metadata_first) body["metadata"] = metadata;
  body["system"] = Json::array({Json{{"type", "text"}, {"text", system}}});
  body["messages"] = Json::array({Json{{"role", "user"}, {"content", a.content}}});
  if (!a.metadata_first) body["metadata"] = metadata;
  body["stream"] = true;
  return body.dump(-1, ' ', a.ensure_ascii);
}

std::string headers_for(const Agent& a, int run, const std::string& body, bool chunked) {
  std::mt19937 rng(5000 + run);
  auto name = [&](std::string n) {
    if (a.lowercase_headers) std::transform(n.begin(), n.end(), n.begin(), ::tolower);
    return n;
  };
  std::string h = name("Host") + ": " + a.host + "\r\n" + name("User-Agent") + ": claude-cli/2.0.14 (external, cli)" +
                  (a.trailing_space ? " " : "") + "\r\n" + a.extra_header +
                  name("Content-Type") + ": application/json\r\nanthropic-version: 2023-06-01\r\nx-request-id: " +
                  (a.fixed_request_id.empty() ? uuid(rng) : a.fixed_request_id) + "\r\n";
  h += chunked ? name("Transfer-Encoding") + ": chunked\r\n" : name("Content-Length") + ": " + std::to_string(body.size()) + "\r\n";
  return h;
}

// The chunk sizes differ per run, as a streaming client's writes would.
std::string chunked(const std::string& body, int run) {
  std::string out;
  size_t step = 40 + static_cast<size_t>(run) * 13;
  for (size_t i = 0; i < body.size(); i += step) {
    std::string piece = body.substr(i, step);
    char size[16];
    std::snprintf(size, sizeof size, "%zx", piece.size());
    out += std::string(size) + "\r\n" + piece + "\r\n";
  }
  return out + "0\r\n\r\n";
}

std::string messages_request(const Agent& a, int run, bool use_chunked = false) {
  std::string body = messages_body(a, run);
  std::string line = "POST " + a.path_prefix + "/v1/messages?beta=true HTTP/1.1\r\n";
  return line + headers_for(a, run, body, use_chunked) + "\r\n" + (use_chunked ? chunked(body, run) : body);
}

std::string telemetry_request(int run) {
  std::string body = R"({"events":[{"name":"tengu_started","ts":)" + std::to_string(1772373907000 + run * 1111) + "}]}";
  return "POST /api/event_logging/batch HTTP/1.1\r\nHost: api.anthropic.com\r\nContent-Type: application/json\r\n"
         "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

RunCapture capture(const std::string& variable, const std::string& value, const std::vector<std::string>& streams) {
  RunCapture rc;
  rc.variant = variable + "=" + value;
  rc.varied_value = value;
  for (const std::string& s : streams) add_stream(rc, s);
  return rc;
}

// `repeats` runs of each variant, interleaved as a runner would schedule them.
std::vector<RunCapture> tz_runs(const Agent& shanghai, const Agent& hong_kong, int repeats = 3,
                                int hong_kong_repeats = -1) {
  if (hong_kong_repeats < 0) hong_kong_repeats = repeats;
  std::vector<RunCapture> runs;
  int run = 0;
  for (int i = 0; i < std::max(repeats, hong_kong_repeats); ++i) {
    if (i < repeats) {
      std::vector<std::string> s = {messages_request(shanghai, run)};
      if (shanghai.telemetry) s.push_back(telemetry_request(run));
      runs.push_back(capture("TZ", "Asia/Shanghai", s));
      ++run;
    }
    if (i < hong_kong_repeats) {
      std::vector<std::string> s = {messages_request(hong_kong, run)};
      if (hong_kong.telemetry) s.push_back(telemetry_request(run));
      runs.push_back(capture("TZ", "Asia/Hong_Kong", s));
      ++run;
    }
  }
  return runs;
}

Agent zone(const std::string& tz) {
  Agent a;
  a.tz = tz;
  return a;
}

std::string all(const std::vector<Difference>& ds) {
  std::string out;
  for (const Difference& d : ds)
    out += "[" + d.part + " " + d.location + " " + d.change + " @" + std::to_string(d.offset) + " '" + d.before + "' -> '" +
           d.after + "' " + d.reason + "]\n";
  return out;
}

const VariantComparison& only_comparison(const DiffReport& r) {
  EXPECT_EQ(r.comparisons.size(), 1u);
  return r.comparisons.at(0);
}

// ---- the edit script -----------------------------------------------------------

std::vector<uint32_t> units(const std::string& s) { return decode_units(s); }

size_t lcs_length(const std::vector<uint32_t>& a, const std::vector<uint32_t>& b) {
  std::vector<std::vector<size_t>> t(a.size() + 1, std::vector<size_t>(b.size() + 1, 0));
  for (size_t i = 1; i <= a.size(); ++i)
    for (size_t j = 1; j <= b.size(); ++j)
      t[i][j] = a[i - 1] == b[j - 1] ? t[i - 1][j - 1] + 1 : std::max(t[i - 1][j], t[i][j - 1]);
  return t[a.size()][b.size()];
}

TEST(DiffEditScript, OneInsertedCodePointIsOneBlock) {
  auto blocks = edit_blocks(units("List files, then"), units("List files,\u200B then"));
  ASSERT_EQ(blocks.size(), 1u);
  EXPECT_EQ(blocks[0].a_begin, 11u);
  EXPECT_EQ(blocks[0].a_end, 11u);
  EXPECT_EQ(blocks[0].b_begin, 11u);
  EXPECT_EQ(blocks[0].b_end, 12u);  // one code point, though three bytes
}

TEST(DiffEditScript, ShortestOnRandomTexts) {
  std::mt19937 rng(42);
  for (int iter = 0; iter < 400; ++iter) {
    std::vector<uint32_t> a, b;
    size_t n = rng() % 40, m = rng() % 40;
    uint32_t alphabet = 2 + rng() % 5;
    for (size_t i = 0; i < n; ++i) a.push_back('a' + rng() % alphabet);
    for (size_t i = 0; i < m; ++i) b.push_back('a' + rng() % alphabet);
    auto blocks = edit_blocks(a, b);
    size_t edits = 0, pa = 0, pb = 0;
    for (const EditBlock& k : blocks) {
      ASSERT_GE(k.a_begin, pa);
      ASSERT_EQ(k.a_begin - pa, k.b_begin - pb);  // equal runs pair up
      for (size_t i = 0; i < k.a_begin - pa; ++i) ASSERT_EQ(a[pa + i], b[pb + i]);
      edits += (k.a_end - k.a_begin) + (k.b_end - k.b_begin);
      pa = k.a_end;
      pb = k.b_end;
    }
    ASSERT_EQ(n - pa, m - pb);
    for (size_t i = 0; i < n - pa; ++i) ASSERT_EQ(a[pa + i], b[pb + i]);
    EXPECT_EQ(edits, n + m - 2 * lcs_length(a, b)) << iter;
  }
}

TEST(DiffEditScript, OverBudgetBecomesOneBlock) {
  std::mt19937 rng(1);
  std::vector<uint32_t> a, b;
  for (int i = 0; i < 5000; ++i) a.push_back(rng() % 50), b.push_back(rng() % 50);
  auto blocks = edit_blocks(a, b, 1000);
  size_t covered = 0;
  for (const EditBlock& k : blocks) covered += k.a_end - k.a_begin;
  EXPECT_GT(covered, 4000u);  // coarse, but whole and in order
}

TEST(DiffEditScript, InvalidUtf8BytesAreUnits) {
  auto u = decode_units(std::string("a\xff\xe2\x80\x8b", 5));
  ASSERT_EQ(u.size(), 3u);
  EXPECT_EQ(u[1], kByteUnit + 0xff);
  EXPECT_EQ(u[2], 0x200Bu);
}

// ---- runs that differ by noise only -------------------------------------------------

TEST(Diff, HonestRunsDifferOnlyByNoise) {
  DiffReport r = diff_runs(tz_runs(zone("Asia/Shanghai"), zone("Asia/Hong_Kong")));
  EXPECT_FALSE(r.input_dependent);
  const VariantComparison& c = only_comparison(r);
  EXPECT_TRUE(c.suspicious.empty()) << all(c.suspicious);
  EXPECT_TRUE(c.expected.empty()) << all(c.expected);
  EXPECT_EQ(c.requests_compared, 1u);
  EXPECT_GT(c.noise_masked, 0u);
  ASSERT_EQ(r.variants.size(), 2u);
  EXPECT_EQ(r.runs, (std::vector<size_t>{3, 3}));

  // Noise is where it is, and no more than it is: the prompt's timestamp
  // masks its seconds and milliseconds, not the rest of the prompt.
  std::map<std::string, const NoiseLocation*> by_location;
  for (const NoiseLocation& n : r.noise) by_location[n.location] = &n;
  ASSERT_TRUE(by_location.count("$.id"));
  ASSERT_TRUE(by_location.count("$.metadata.user_id"));
  ASSERT_TRUE(by_location.count("x-request-id"));
  ASSERT_TRUE(by_location.count("$.system[0].text"));
  const NoiseLocation& prompt = *by_location["$.system[0].text"];
  EXPECT_LE(prompt.code_points, 6u);  // "SS" and "mmmZ"
  EXPECT_NE(prompt.sample.find("14:05:··.····"), std::string::npos) << prompt.sample;
  EXPECT_FALSE(by_location.count("$.messages[0].content"));
  EXPECT_FALSE(by_location.count("Content-Length"));

  std::string text = diff_report_text(r, false);
  EXPECT_NE(text.find("no input-dependent difference"), std::string::npos) << text;
}

TEST(Diff, TimeZoneNameTheAgentReportsIsExpected) {
  Agent sh = zone("Asia/Shanghai"), hk = zone("Asia/Hong_Kong");
  sh.report_tz = hk.report_tz = true;
  DiffReport r = diff_runs(tz_runs(sh, hk));
  EXPECT_FALSE(r.input_dependent);
  const VariantComparison& c = only_comparison(r);
  EXPECT_TRUE(c.suspicious.empty()) << all(c.suspicious);
  ASSERT_EQ(c.expected.size(), 1u) << all(c.expected);
  EXPECT_EQ(c.expected[0].location, "$.system[0].text");
  EXPECT_EQ(c.expected[0].before, "Asia/Shanghai");
  EXPECT_EQ(c.expected[0].after, "Asia/Hong_Kong");
  EXPECT_EQ(c.expected[0].reason, "the varied value (plain)");
}

// ---- what the diff is for ----------------------------------------------------------

TEST(Diff, ZeroWidthSpaceForOneZoneOnly) {
  Agent hk = zone("Asia/Hong_Kong");
  hk.content = "List files,\u200B then summarize the README.";
  DiffReport r = diff_runs(tz_runs(zone("Asia/Shanghai"), hk));
  EXPECT_TRUE(r.input_dependent);
  const VariantComparison& c = only_comparison(r);
  ASSERT_EQ(c.suspicious.size(), 1u) << all(c.suspicious);
  const Difference& d = c.suspicious[0];
  EXPECT_EQ(d.request, 0u);
  EXPECT_EQ(d.method, "POST");
  EXPECT_EQ(d.target, "/v1/messages?beta=true");
  EXPECT_EQ(d.part, "json");
  EXPECT_EQ(d.location, "$.messages[0].content");
  EXPECT_EQ(d.change, "inserted");
  EXPECT_EQ(d.offset, 11u);
  EXPECT_EQ(d.byte_offset, 11u);
  EXPECT_EQ(d.before, "");
  EXPECT_EQ(d.after, "<U+200B>");
  EXPECT_NE(d.context_after.find("List files,<U+200B> then"), std::string::npos) << d.context_after;
  ASSERT_EQ(d.code_points.size(), 1u);
  EXPECT_EQ(d.code_points[0].code_point, 0x200Bu);
  EXPECT_TRUE(d.code_points[0].added);
  EXPECT_EQ(d.code_points[0].label, "U+200B ZERO WIDTH SPACE");
  EXPECT_EQ(d.reason, "hidden code point (invisible)");
  EXPECT_TRUE(c.expected.empty()) << all(c.expected);
}

TEST(Diff, CommaSpaceBecomesCommaForOneZoneOnly) {
  Agent hk = zone("Asia/Hong_Kong");
  hk.content = "List files,then summarize the README.";
  DiffReport r = diff_runs(tz_runs(zone("Asia/Shanghai"), hk));
  EXPECT_TRUE(r.input_dependent);
  const VariantComparison& c = only_comparison(r);
  ASSERT_EQ(c.suspicious.size(), 1u) << all(c.suspicious);
  const Difference& d = c.suspicious[0];
  EXPECT_EQ(d.location, "$.messages[0].content");
  EXPECT_EQ(d.change, "deleted");
  EXPECT_EQ(d.offset, 11u);
  EXPECT_EQ(d.before, " ");
  EXPECT_EQ(d.after, "");
  ASSERT_EQ(d.code_points.size(), 1u);
  EXPECT_EQ(d.code_points[0].label, "U+0020 SPACE");
  EXPECT_FALSE(d.code_points[0].added);
  EXPECT_EQ(d.reason, "whitespace");
}

// Shanghai and Hong Kong are both UTC+8: the time is the same, only the way
// it is written changes, right next to digits that differ in every run.
TEST(Diff, DateFormatNextToNoiseIsFound) {
  Agent hk = zone("Asia/Hong_Kong");
  hk.date_sep = "/";
  DiffReport r = diff_runs(tz_runs(zone("Asia/Shanghai"), hk));
  const VariantComparison& c = only_comparison(r);
  ASSERT_EQ(c.suspicious.size(), 1u) << all(c.suspicious);
  const Difference& d = c.suspicious[0];
  EXPECT_EQ(d.location, "$.system[0].text");
  EXPECT_EQ(d.change, "changed");
  EXPECT_EQ(d.before, "-03-");  // one difference, not two
  EXPECT_EQ(d.after, "/03/");
  EXPECT_EQ(d.reason, "punctuation");
}

// A value that is random in one variant but constant across the other's
// repeats is not noise there: repeats only mask what they saw vary.
TEST(Diff, ConstantValueWhereTheOtherVariantIsRandomIsFound) {
  Agent hk = zone("Asia/Hong_Kong");
  hk.fixed_request_id = "00000000-0000-4000-8000-000000000008";
  DiffReport r = diff_runs(tz_runs(zone("Asia/Shanghai"), hk));
  const VariantComparison& c = only_comparison(r);
  ASSERT_FALSE(c.suspicious.empty());
  for (const Difference& d : c.suspicious) {
    EXPECT_EQ(d.part, "header");
    EXPECT_EQ(d.location, "x-request-id");
  }
}

// The clock moves to the next minute between the last two runs: the minute
// is constant across one variant's repeats and varies across the other's.
// The constant side's value is one the other variant's repeats also sent,
// so the difference is the clock, not the input.
TEST(Diff, ClockTickingOverAMinuteDuringTheRunsIsNoise) {
  Agent sh = zone("Asia/Shanghai"), hk = zone("Asia/Hong_Kong");
  sh.minute_tick_at = hk.minute_tick_at = 3;  // runs: SH 0, HK 1, SH 2, HK 3
  DiffReport r = diff_runs(tz_runs(sh, hk, 2));
  const VariantComparison& c = only_comparison(r);
  EXPECT_TRUE(c.suspicious.empty()) << all(c.suspicious);
  EXPECT_FALSE(r.input_dependent);
}

TEST(Diff, BaseUrlHostInHostHeaderIsExpected) {
  Agent direct, gateway;
  gateway.host = "llm-gateway.corp.example:8443";
  gateway.path_prefix = "/anthropic";
  std::vector<RunCapture> runs;
  for (int i = 0; i < 2; ++i) {
    runs.push_back(capture("ANTHROPIC_BASE_URL", "https://api.anthropic.com", {messages_request(direct, 2 * i)}));
    runs.push_back(capture("ANTHROPIC_BASE_URL", "https://llm-gateway.corp.example:8443/anthropic/",
                           {messages_request(gateway, 2 * i + 1)}));
  }
  DiffReport r = diff_runs(runs);
  EXPECT_FALSE(r.input_dependent);
  EXPECT_EQ(r.requests, 1u);  // aligned despite the path prefix
  const VariantComparison& c = only_comparison(r);
  EXPECT_TRUE(c.suspicious.empty()) << all(c.suspicious);
  ASSERT_EQ(c.expected.size(), 2u) << all(c.expected);
  EXPECT_EQ(c.expected[0].location, "target");
  EXPECT_EQ(c.expected[0].after, "/anthropic");
  EXPECT_EQ(c.expected[1].part, "header");
  EXPECT_EQ(c.expected[1].location, "Host");
  EXPECT_EQ(c.expected[1].before, "api.anthropic.com");
  EXPECT_EQ(c.expected[1].after, "llm-gateway.corp.example:8443");
}

TEST(Diff, VariedValueInBase64IsSuspicious) {
  Agent sh = zone("Asia/Shanghai"), hk = zone("Asia/Hong_Kong");
  sh.base64_tz = hk.base64_tz = true;
  DiffReport r = diff_runs(tz_runs(sh, hk));
  const VariantComparison& c = only_comparison(r);
  ASSERT_FALSE(c.suspicious.empty());
  EXPECT_EQ(c.suspicious[0].location, "$.metadata.tz_hint");
  EXPECT_EQ(c.suspicious[0].reason, "the varied value, base64-encoded");
}

TEST(Diff, ExtraRequestForOneZone) {
  Agent hk = zone("Asia/Hong_Kong");
  hk.telemetry = true;
  DiffReport r = diff_runs(tz_runs(zone("Asia/Shanghai"), hk));
  const VariantComparison& c = only_comparison(r);
  ASSERT_EQ(c.suspicious.size(), 1u) << all(c.suspicious);
  EXPECT_EQ(c.suspicious[0].part, "request");
  EXPECT_EQ(c.suspicious[0].change, "added");
  EXPECT_EQ(c.suspicious[0].target, "/api/event_logging/batch");
  EXPECT_EQ(c.suspicious[0].request, 1u);
}

TEST(Diff, KeyOrderAndHeaderCaseAreFormattingChoices) {
  Agent hk = zone("Asia/Hong_Kong");
  hk.metadata_first = true;
  hk.lowercase_headers = true;
  DiffReport r = diff_runs(tz_runs(zone("Asia/Shanghai"), hk));
  const VariantComparison& c = only_comparison(r);
  bool json_layout = false, header_layout = false;
  for (const Difference& d : c.suspicious) {
    json_layout |= d.part == "json-layout";
    header_layout |= d.part == "header-layout";
  }
  EXPECT_TRUE(json_layout) << all(c.suspicious);
  EXPECT_TRUE(header_layout) << all(c.suspicious);
}

TEST(Diff, QuoteStyleForOneZone) {
  Agent sh = zone("Asia/Shanghai"), hk = zone("Asia/Hong_Kong");
  sh.content = "List files, then summarize \"README.md\".";
  hk.content = "List files, then summarize 'README.md'.";
  DiffReport r = diff_runs(tz_runs(sh, hk));
  const VariantComparison& c = only_comparison(r);
  ASSERT_EQ(c.suspicious.size(), 2u) << all(c.suspicious);
  EXPECT_EQ(c.suspicious[0].before, "\"");
  EXPECT_EQ(c.suspicious[0].after, "'");
  EXPECT_EQ(c.suspicious[0].offset, 27u);
  EXPECT_EQ(c.suspicious[1].offset, 37u);
  EXPECT_EQ(c.suspicious[0].code_points[0].label, "U+0022 QUOTATION MARK");
  EXPECT_EQ(c.suspicious[0].code_points[1].label, "U+0027 APOSTROPHE");
}

TEST(Diff, TrailingSpaceInAHeaderValue) {
  Agent hk = zone("Asia/Hong_Kong");
  hk.trailing_space = true;
  DiffReport r = diff_runs(tz_runs(zone("Asia/Shanghai"), hk));
  const VariantComparison& c = only_comparison(r);
  ASSERT_EQ(c.suspicious.size(), 1u) << all(c.suspicious);
  EXPECT_EQ(c.suspicious[0].part, "header-layout");
  EXPECT_EQ(c.suspicious[0].change, "inserted");
  EXPECT_EQ(c.suspicious[0].after, " ");
  // The offset is in the request's header section as sent: right after the value.
  std::string head = messages_request(zone("Asia/Shanghai"), 0);
  EXPECT_EQ(c.suspicious[0].byte_offset, head.find(" (external, cli)") + std::string(" (external, cli)").size());
}

TEST(Diff, FieldOrHeaderOnlyForOneZone) {
  Agent hk = zone("Asia/Hong_Kong");
  hk.extra_field = "locale";
  hk.extra_header = "x-client-region: apac\r\n";
  DiffReport r = diff_runs(tz_runs(zone("Asia/Shanghai"), hk));
  const VariantComparison& c = only_comparison(r);
  ASSERT_EQ(c.suspicious.size(), 2u) << all(c.suspicious);  // not repeated as layout differences
  EXPECT_EQ(c.suspicious[0].part, "header");
  EXPECT_EQ(c.suspicious[0].location, "x-client-region");
  EXPECT_EQ(c.suspicious[0].change, "added");
  EXPECT_EQ(c.suspicious[0].after, "apac");
  EXPECT_EQ(c.suspicious[1].location, "$.metadata.locale");
  EXPECT_EQ(c.suspicious[1].change, "added");
  EXPECT_EQ(c.suspicious[1].after, "zh-HK");
}

TEST(Diff, TypeChangeForOneZone) {
  Agent hk = zone("Asia/Hong_Kong");
  hk.max_tokens_as_string = true;
  DiffReport r = diff_runs(tz_runs(zone("Asia/Shanghai"), hk));
  const VariantComparison& c = only_comparison(r);
  ASSERT_EQ(c.suspicious.size(), 1u) << all(c.suspicious);
  EXPECT_EQ(c.suspicious[0].location, "$.max_tokens");
  EXPECT_EQ(c.suspicious[0].change, "type");
  EXPECT_EQ(c.suspicious[0].reason, "number became string");
}

TEST(Diff, SameTextEscapedDifferently) {
  Agent sh = zone("Asia/Shanghai"), hk = zone("Asia/Hong_Kong");
  sh.content = hk.content = "Résumé the files, then summarize the README.";
  hk.ensure_ascii = true;
  DiffReport r = diff_runs(tz_runs(sh, hk));
  const VariantComparison& c = only_comparison(r);
  ASSERT_EQ(c.suspicious.size(), 1u) << all(c.suspicious);
  const Difference& d = c.suspicious[0];
  EXPECT_EQ(d.part, "json-layout");
  EXPECT_EQ(d.location, "$.messages[0].content");
  EXPECT_EQ(d.before, "ésumé");  // from the first change in the literal to the last
  EXPECT_EQ(d.after, "\\u00e9sum\\u00e9");
  EXPECT_EQ(d.offset, 2u);  // in the literal: after the opening quote and the R
  EXPECT_EQ(d.reason, "the same text, escaped differently");
}

TEST(Diff, LargePromptWithNoiseAtBothEnds) {
  std::string big = "\n<docs>\n";
  std::mt19937 rng(3);
  for (int i = 0; i < 3000; ++i) big += "Line " + std::to_string(i) + ": " + random_of(rng, 60, kAlnum + "     ") + "\n";
  Agent sh = zone("Asia/Shanghai"), hk = zone("Asia/Hong_Kong");
  sh.big_prompt = hk.big_prompt = big;
  hk.content = "List files,\u200B then summarize the README.";
  DiffReport r = diff_runs(tz_runs(sh, hk));
  const VariantComparison& c = only_comparison(r);
  ASSERT_EQ(c.suspicious.size(), 1u) << all(c.suspicious);
  EXPECT_EQ(c.suspicious[0].location, "$.messages[0].content");
  EXPECT_LT(c.seconds, 5.0);
}

// ---- fewer repeats ------------------------------------------------------------------

TEST(Diff, VariantRunOnceBorrowsTheOtherVariantsNoise) {
  DiffReport honest = diff_runs(tz_runs(zone("Asia/Shanghai"), zone("Asia/Hong_Kong"), 3, 1));
  EXPECT_FALSE(honest.input_dependent) << all(honest.comparisons[0].suspicious);
  ASSERT_FALSE(honest.notes.empty());
  EXPECT_NE(honest.notes[0].find("TZ=Asia/Hong_Kong ran once"), std::string::npos) << honest.notes[0];

  Agent hk = zone("Asia/Hong_Kong");
  hk.content = "List files,\u200B then summarize the README.";
  DiffReport r = diff_runs(tz_runs(zone("Asia/Shanghai"), hk, 3, 1));
  const VariantComparison& c = only_comparison(r);
  ASSERT_EQ(c.suspicious.size(), 1u) << all(c.suspicious);
  EXPECT_EQ(c.suspicious[0].location, "$.messages[0].content");
}

TEST(Diff, WithoutRepeatsEveryDifferenceIsReported) {
  DiffReport r = diff_runs(tz_runs(zone("Asia/Shanghai"), zone("Asia/Hong_Kong"), 1));
  EXPECT_TRUE(r.input_dependent);
  EXPECT_TRUE(r.noise.empty());
  bool noted = false;
  for (const std::string& n : r.notes) noted |= n.find("nothing is known to be noise") != std::string::npos;
  EXPECT_TRUE(noted);
}

// ---- stream shapes ------------------------------------------------------------------

TEST(Diff, KeepAliveWithChunkedBodies) {
  auto run = [](const Agent& a, int n) {
    std::string models = "GET /v1/models HTTP/1.1\r\nHost: api.anthropic.com\r\nx-request-id: " +
                         std::to_string(900000 + n * 7919) + "\r\n\r\n";
    return capture("TZ", a.tz, {models + messages_request(a, n, true)});
  };
  Agent hk = zone("Asia/Hong_Kong");
  hk.content = "List files,\u200B then summarize the README.";
  std::vector<RunCapture> runs;
  for (int i = 0; i < 3; ++i) {
    runs.push_back(run(zone("Asia/Shanghai"), 2 * i));
    runs.push_back(run(hk, 2 * i + 1));
  }
  ASSERT_EQ(runs[0].requests.size(), 2u);
  ASSERT_TRUE(runs[0].raw_streams.empty());
  DiffReport r = diff_runs(runs);
  EXPECT_EQ(r.requests, 2u);
  const VariantComparison& c = only_comparison(r);
  EXPECT_EQ(c.requests_compared, 2u);
  ASSERT_EQ(c.suspicious.size(), 1u) << all(c.suspicious);
  EXPECT_EQ(c.suspicious[0].request, 1u);
  EXPECT_EQ(c.suspicious[0].location, "$.messages[0].content");
  EXPECT_EQ(c.suspicious[0].offset, 11u);
}

TEST(Diff, TruncatedBodiesAreComparedUpToTheCut) {
  Agent hk = zone("Asia/Hong_Kong");
  hk.content = "List files,\u200B then summarize the README.";
  Agent sh = zone("Asia/Shanghai");
  std::vector<RunCapture> runs;
  for (int i = 0; i < 3; ++i) {
    for (const Agent* a : {&sh, &hk}) {
      int n = static_cast<int>(runs.size());
      std::string s = messages_request(*a, n);
      size_t cut = s.find("\"metadata\"") + 40;  // the capture budget ends inside the metadata
      runs.push_back(capture("TZ", a->tz, {s.substr(0, cut)}));
      ASSERT_TRUE(runs.back().requests.at(0).truncated);
    }
  }
  DiffReport r = diff_runs(runs);
  const VariantComparison& c = only_comparison(r);
  ASSERT_EQ(c.suspicious.size(), 1u) << all(c.suspicious);
  const Difference& d = c.suspicious[0];
  EXPECT_EQ(d.part, "body");
  EXPECT_EQ(d.change, "inserted");
  EXPECT_EQ(d.after, "<U+200B>");
  std::string body = runs[0].requests[0].body;
  EXPECT_EQ(d.byte_offset, body.find("List files,") + 11);
  bool noted = false;
  for (const std::string& n : r.notes) noted |= n.find("cut short") != std::string::npos;
  EXPECT_TRUE(noted);
}

TEST(Diff, NonHttpStreamsAreComparedAsBytes) {
  auto run = [](const std::string& tz, int n, const std::string& fmt) {
    std::string s = "TLM1 seq=" + std::to_string(100000 + n * 4567) + " off=+0800 fmt=" + fmt + " \xff\x01\n";
    return capture("TZ", tz, {s});
  };
  std::vector<RunCapture> runs;
  for (int i = 0; i < 2; ++i) {
    runs.push_back(run("Asia/Shanghai", 2 * i, "ymd"));
    runs.push_back(run("Asia/Hong_Kong", 2 * i + 1, "dmy"));
  }
  ASSERT_EQ(runs[0].raw_streams.size(), 1u);
  ASSERT_TRUE(runs[0].requests.empty());
  DiffReport r = diff_runs(runs);
  const VariantComparison& c = only_comparison(r);
  ASSERT_EQ(c.suspicious.size(), 1u) << all(c.suspicious);
  const Difference& d = c.suspicious[0];
  EXPECT_EQ(d.part, "stream");
  EXPECT_EQ(d.location, "stream 0");
  EXPECT_EQ(d.byte_offset, std::string("TLM1 seq=100000 off=+0800 fmt=").size());
  EXPECT_EQ(d.before, "ymd");
  EXPECT_EQ(d.after, "dmy");

  // A byte that is not UTF-8 is one unit and says so.
  std::vector<RunCapture> bin;
  for (int i = 0; i < 2; ++i) {
    bin.push_back(capture("TZ", "Asia/Shanghai", {std::string("\x00\x01\xfe\x02", 4)}));
    bin.push_back(capture("TZ", "Asia/Hong_Kong", {std::string("\x00\x01\xff\x02", 4)}));
  }
  DiffReport bin_report = diff_runs(bin);
  const VariantComparison& b = only_comparison(bin_report);
  ASSERT_EQ(b.suspicious.size(), 1u) << all(b.suspicious);
  ASSERT_EQ(b.suspicious[0].code_points.size(), 2u);
  EXPECT_EQ(b.suspicious[0].code_points[0].label, "byte 0xFE (not UTF-8)");
  EXPECT_EQ(b.suspicious[0].code_points[1].label, "byte 0xFF (not UTF-8)");
  EXPECT_EQ(b.suspicious[0].byte_offset, 2u);
}

TEST(Diff, ThreeVariantsEachAgainstTheBase) {
  std::vector<RunCapture> runs = tz_runs(zone("Asia/Shanghai"), zone("Asia/Hong_Kong"));
  Agent tokyo = zone("Asia/Tokyo");
  tokyo.content = "List files , then summarize the README.";
  for (int i = 0; i < 2; ++i) runs.push_back(capture("TZ", "Asia/Tokyo", {messages_request(tokyo, 100 + i)}));
  DiffReport r = diff_runs(runs);
  ASSERT_EQ(r.comparisons.size(), 2u);
  EXPECT_TRUE(r.comparisons[0].suspicious.empty()) << all(r.comparisons[0].suspicious);
  ASSERT_EQ(r.comparisons[1].suspicious.size(), 1u) << all(r.comparisons[1].suspicious);
  EXPECT_EQ(r.comparisons[1].other, "TZ=Asia/Tokyo");
  EXPECT_TRUE(r.input_dependent);
}

TEST(Diff, EmptyAndDegenerateInputs) {
  EXPECT_FALSE(diff_runs({}).input_dependent);
  std::vector<RunCapture> one = {capture("TZ", "UTC", {"GET / HTTP/1.1\r\n\r\n"})};
  DiffReport r = diff_runs(one);
  EXPECT_TRUE(r.comparisons.empty());
  EXPECT_FALSE(r.input_dependent);
  std::vector<RunCapture> empties = {capture("TZ", "A", {}), capture("TZ", "B", {})};
  EXPECT_FALSE(diff_runs(empties).input_dependent);
}

// Mutated, cut and binary streams in any mix: never a crash, every offset
// inside what was compared.
TEST(Diff, RandomStreamsNeverCrash) {
  std::mt19937 rng(11);
  std::string base = messages_request(zone("Asia/Shanghai"), 0);
  for (int iter = 0; iter < 150; ++iter) {
    std::vector<RunCapture> runs;
    for (int r = 0; r < 4; ++r) {
      std::string s = base;
      for (int e = 0; e < 1 + static_cast<int>(rng() % 5); ++e) {
        size_t at = rng() % s.size();
        switch (rng() % 4) {
          case 0: s[at] = static_cast<char>(rng()); break;
          case 1: s.erase(at, 1 + rng() % 20); break;
          case 2: s.insert(at, "\xe2\x80\x8b"); break;
          default: s.resize(at + 1);
        }
      }
      runs.push_back(capture("TZ", r % 2 ? "Asia/Hong_Kong" : "Asia/Shanghai", {s, random_of(rng, rng() % 8, "ab\xff\n")}));
    }
    DiffReport report = diff_runs(runs);
    for (const VariantComparison& c : report.comparisons)
      for (const auto* list : {&c.suspicious, &c.expected})
        for (const Difference& d : *list) EXPECT_LE(d.byte_offset, base.size() + 64);
    EXPECT_FALSE(diff_report_text(report, true).empty());
    EXPECT_FALSE(diff_report_junit(report).empty());
    EXPECT_TRUE(Json::parse(diff_report_sarif(report))["runs"].is_array());
  }
}

// ---- reports ---------------------------------------------------------------------

DiffReport zwsp_report() {
  Agent hk = zone("Asia/Hong_Kong");
  hk.content = "List files,\u200B then summarize the README.";
  hk.host = "api.anthropic.com";
  return diff_runs(tz_runs(zone("Asia/Shanghai"), hk));
}

TEST(DiffReport, TextFitsOneScreen) {
  std::string text = diff_report_text(zwsp_report(), false);
  EXPECT_NE(text.find("TZ=Asia/Shanghai vs TZ=Asia/Hong_Kong: INPUT-DEPENDENT, 1 suspicious difference"), std::string::npos)
      << text;
  EXPECT_NE(text.find("$.messages[0].content @ code point 11 (byte 11)"), std::string::npos) << text;
  EXPECT_NE(text.find("inserted \"<U+200B>\": hidden code point (invisible)"), std::string::npos) << text;
  EXPECT_NE(text.find("+ U+200B ZERO WIDTH SPACE"), std::string::npos) << text;
  EXPECT_NE(text.find("result: INPUT-DEPENDENT"), std::string::npos) << text;
  EXPECT_LE(std::count(text.begin(), text.end(), '\n'), 30) << text;
  EXPECT_EQ(text.find("\033["), std::string::npos);
  EXPECT_NE(diff_report_text(zwsp_report(), true).find("\033[1;31m"), std::string::npos);
}

TEST(DiffReport, Json) {
  Json j = diff_report_json(zwsp_report());
  EXPECT_TRUE(j["input_dependent"].get<bool>());
  const Json& d = j["comparisons"][0]["suspicious"][0];
  EXPECT_EQ(d["location"], "$.messages[0].content");
  EXPECT_EQ(d["offset"], 11);
  EXPECT_EQ(d["code_points"][0]["code_point"], "U+200B");
  EXPECT_EQ(d["code_points"][0]["label"], "U+200B ZERO WIDTH SPACE");
  EXPECT_EQ(d["code_points"][0]["side"], "other");
  EXPECT_EQ(j["variants"][1]["variant"], "TZ=Asia/Hong_Kong");
  EXPECT_GE(j["noise"].size(), 4u);
}

TEST(DiffReport, JUnit) {
  std::string xml = diff_report_junit(zwsp_report());
  EXPECT_EQ(xml.rfind("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"agenttrace diff\" tests=\"1\" failures=\"1\" errors=\"0\"", 0), 0u)
      << xml;
  EXPECT_NE(xml.find("<testsuite name=\"agenttrace diff\" tests=\"1\" failures=\"1\""), std::string::npos) << xml;
  EXPECT_NE(xml.find("<testcase name=\"TZ=Asia/Shanghai vs TZ=Asia/Hong_Kong\" classname=\"agenttrace.diff\" time=\""),
            std::string::npos)
      << xml;
  EXPECT_NE(xml.find("<failure message=\"1 input-dependent difference: request 0 POST /v1/messages?beta=true "
                     "$.messages[0].content @ code point 11 (byte 11): inserted &quot;&lt;U+200B&gt;&quot;"),
            std::string::npos)
      << xml;
  EXPECT_NE(xml.find("type=\"input-dependent-output\""), std::string::npos);
  EXPECT_NE(xml.find("</failure>"), std::string::npos);

  std::string honest = diff_report_junit(diff_runs(tz_runs(zone("Asia/Shanghai"), zone("Asia/Hong_Kong"))), "tz");
  EXPECT_NE(honest.find("<testsuites name=\"tz\" tests=\"1\" failures=\"0\""), std::string::npos) << honest;
  EXPECT_EQ(honest.find("<failure"), std::string::npos) << honest;
}

TEST(DiffReport, ManyDifferencesAreCappedAndCounted) {
  std::string list;
  for (int i = 0; i < 30; ++i) list += "file" + std::to_string(i) + ".ts, ";
  Agent sh = zone("Asia/Shanghai"), hk = zone("Asia/Hong_Kong");
  sh.content = "Review " + list + "then stop.";
  hk.content = sh.content;
  for (size_t at = hk.content.find(", "); at != std::string::npos; at = hk.content.find(", ", at)) hk.content.erase(at + 1, 1);
  DiffOptions options;
  options.max_differences = 10;
  DiffReport r = diff_runs(tz_runs(sh, hk), options);
  const VariantComparison& c = only_comparison(r);
  EXPECT_EQ(c.suspicious.size(), 10u);
  EXPECT_EQ(c.suspicious_omitted, 20u);
  EXPECT_TRUE(r.input_dependent);
  std::string text = diff_report_text(r, false);
  EXPECT_NE(text.find("INPUT-DEPENDENT, 30 suspicious differences"), std::string::npos) << text;
  EXPECT_NE(text.find("… and 22 more"), std::string::npos) << text;
  EXPECT_LE(std::count(text.begin(), text.end(), '\n'), 60) << text;
}

TEST(DiffReport, MarkupInNamesIsEscaped) {
  std::vector<RunCapture> runs;
  for (int i = 0; i < 2; ++i) {
    runs.push_back(capture("X", "<a&b>", {"GET /a HTTP/1.1\r\nX-V: 1\r\n\r\n"}));
    runs.push_back(capture("X", std::string("\"q\x01\"<script>"), {"GET /a HTTP/1.1\r\nX-V: 2\r\n\r\n"}));
  }
  std::string xml = diff_report_junit(diff_runs(runs));
  EXPECT_EQ(xml.find("<script>"), std::string::npos) << xml;
  EXPECT_EQ(xml.find("<a&b>"), std::string::npos) << xml;
  EXPECT_NE(xml.find("X=&lt;a&amp;b&gt; vs X=&quot;q\xEF\xBF\xBD&quot;&lt;script&gt;"), std::string::npos) << xml;
  EXPECT_EQ(xml.find('\x01'), std::string::npos);
}

TEST(DiffReport, Sarif) {
  Json s = Json::parse(diff_report_sarif(zwsp_report(), "agent.sh"));
  EXPECT_EQ(s["version"], "2.1.0");
  const Json& run = s["runs"][0];
  EXPECT_EQ(run["tool"]["driver"]["rules"][0]["id"], "input-dependent-output");
  ASSERT_EQ(run["results"].size(), 1u);
  const Json& res = run["results"][0];
  EXPECT_EQ(res["ruleId"], "input-dependent-output");
  EXPECT_EQ(res["level"], "error");
  EXPECT_EQ(res["locations"][0]["physicalLocation"]["artifactLocation"]["uri"], "agent.sh");
  EXPECT_EQ(res["locations"][0]["logicalLocations"][0]["name"], "$.messages[0].content");
  EXPECT_NE(res["message"]["text"].get<std::string>().find("U+200B ZERO WIDTH SPACE"), std::string::npos);
  // The same difference has the same fingerprint in another run of the tool.
  Json again = Json::parse(diff_report_sarif(zwsp_report()));
  EXPECT_EQ(again["runs"][0]["results"][0]["partialFingerprints"], res["partialFingerprints"]);
  EXPECT_FALSE(again["runs"][0]["results"][0]["locations"][0].contains("physicalLocation"));
}

}  // namespace
}  // namespace agenttrace::analyzer
