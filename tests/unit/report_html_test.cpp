// The HTML report: one self-contained document whose embedded JSON is the
// JSON report, that fetches nothing, and that no string from a trace can
// break out of. What the page's script draws is checked by tests/html/render.sh
// in a real browser.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <regex>
#include <string>

#include "analyzer/report.h"

namespace agenttrace::analyzer {
namespace {

constexpr int64_t kStart = 1'795'000'000'000'000'000;  // 2026-11-18
constexpr int64_t kMs = 1'000'000;

// What an agent could put in its output to attack a report of it.
const std::string kHostile = "</script><script>alert(1)</script><img src=x onerror=alert(2)> <!--<script> \xE2\x80\xA8|\xE2\x80\xA9";

CodePoint cp(uint32_t code_point, const std::string& name, uint64_t count, const std::string& imitates = "") {
  CodePoint c;
  c.code_point = code_point;
  c.name = name;
  c.count = count;
  c.imitates = imitates;
  return c;
}

Evidence fact_evidence(uint64_t event, int64_t ms, const std::string& category, const std::string& what) {
  Evidence e;
  e.event = event;
  e.wall_ns = kStart + ms * kMs;
  e.pid = 100;
  e.comm = "agent";
  e.category = category;
  e.what = what;
  return e;
}

Evidence payload_evidence(uint64_t event, const std::string& what, const std::string& context) {
  Evidence e;
  e.event = event;
  e.wall_ns = kStart + 900 * kMs;
  e.pid = 101;
  e.comm = "curl";
  e.what = what;
  e.conn = 3;
  e.peer = "203.0.113.7:443";
  e.host = "api.example.com";
  e.tls = true;
  e.offset = 120;
  e.length = 12;
  e.context = context;
  return e;
}

Analysis sample() {
  Analysis a;
  a.source = "hostile.atrace";
  Profile& p = a.profile;
  p.header.set_hostname("build-01");
  p.header.set_kernel_release("6.1.0-test");
  p.header.set_mode("run");
  p.header.add_command("agent");
  p.header.add_command("--prompt");
  p.header.add_command(kHostile);
  p.header.set_capture_bytes(1 << 20);
  p.has_trailer = true;
  p.events = 40;
  p.start_wall_ns = kStart;
  p.end_wall_ns = kStart + 2500 * kMs;
  p.kind_counts = {{"exec", 2}, {"getenv", 20}, {"open", 10}, {"send", 2}};

  ProcessInfo root;
  root.pid = 100;
  root.ppid = 1;
  root.comm = "agent";
  root.exe = "/usr/bin/agent";
  root.argv = {"agent", "--prompt", kHostile};
  root.first_event = 1;
  root.start_wall_ns = kStart;
  root.exit_code = 0;
  root.children = {101};
  root.root = 100;
  ProcessInfo child;
  child.pid = 101;
  child.ppid = 100;
  child.comm = "curl";
  child.exe = "/usr/bin/curl";
  child.argv = {"curl", "-d", "@-", "https://api.example.com/v1"};
  child.first_event = 8;
  child.start_wall_ns = kStart + 800 * kMs;
  child.exit_signal = 9;
  child.root = 100;
  trace::Coverage gap;
  gap.set_signal("getenv");
  gap.set_state("gap");
  gap.set_detail("a static binary: its getenv calls cannot be probed");
  gap.set_object("/usr/bin/curl");
  child.coverage.push_back(gap);
  p.processes = {{100, root}, {101, child}};
  p.roots = {100};

  Fact tz;
  tz.category = "timezone";
  tz.kind = FactKind::kEnv;
  tz.item = "TZ";
  tz.succeeded = true;
  tz.detail = "set";
  tz.first_event = 3;
  tz.first_wall_ns = kStart + 100 * kMs;
  tz.first_pid = 100;
  tz.first_comm = "agent";
  tz.count = 2;
  tz.pids = {100};
  Fact mid = tz;
  mid.category = "host_identity";
  mid.kind = FactKind::kFile;
  mid.access = FileAccess::kRead;
  mid.item = "/etc/machine-id\xE2\x80\x8B" + kHostile;  // a zero-width space in a path
  mid.detail = "read";
  mid.first_event = 5;
  p.facts["timezone"]["TZ"] = tz;
  p.facts["host_identity"][mid.item] = mid;

  ObtainedValue v;
  v.kind = "timezone";
  v.name = "TZ";
  v.value = "Europe/Secret";  // never in a report
  v.event = 3;
  v.pid = 100;
  v.root = 100;
  p.values.push_back(v);

  Destination d;
  d.key = "api.example.com (203.0.113.7:443)";
  d.peer = "203.0.113.7:443";
  d.host = "api.example.com";
  d.connections = 1;
  d.tls_plaintext = 2048;
  d.first_event = 9;
  p.destinations[d.key] = d;
  p.dns_names = {"api.example.com"};
  p.dns_answers["api.example.com"] = {"203.0.113.7"};

  auto point = [&](uint64_t event, int64_t ms, uint32_t pid, const std::string& lane, const std::string& label) {
    p.timeline.push_back({event, kStart + ms * kMs, pid, lane, label});
  };
  point(1, 0, 100, "process", "exec /usr/bin/agent");
  point(3, 100, 100, "timezone", "getenv TZ");
  point(5, 200, 100, "host_identity", "read /etc/machine-id");
  point(8, 800, 101, "process", "exec /usr/bin/curl");
  point(9, 850, 101, "dns", "resolve api.example.com");
  point(12, 900, 101, "network", "send (TLS) 2.0 KiB to " + kHostile);

  Finding hidden;
  hidden.rule = "hidden-characters";
  hidden.id = "hidden-characters-00000001";
  hidden.severity = Severity::kHigh;
  hidden.message = "curl (pid 101) sent 6 invisible characters: " + kHostile;
  hidden.pid = 100;
  hidden.comm = "agent";
  Evidence e = payload_evidence(12, "6 hidden characters at byte 120 of connection 3",
                                "Hello<U+E0074><U+E007A><U+E003D><U+E0055><U+E0054><U+E0043>" + kHostile);
  e.code_points = {cp(0xE0074, "TAG LATIN SMALL LETTER T", 1), cp(0xE007A, "TAG LATIN SMALL LETTER Z", 1),
                   cp(0xE003D, "TAG EQUALS SIGN", 1), cp(0xE0055, "TAG LATIN CAPITAL LETTER U", 1),
                   cp(0xE0054, "TAG LATIN CAPITAL LETTER T", 1), cp(0xE0043, "TAG LATIN CAPITAL LETTER C", 1)};
  e.decoded = "tz=UTC</script>";
  hidden.evidence = {e};

  Finding look;
  look.rule = "lookalike-characters";
  look.id = "lookalike-characters-00000002";
  look.severity = Severity::kMedium;
  look.message = "curl (pid 101) sent 1 look-alike character";
  look.pid = 100;
  look.comm = "agent";
  Evidence l = payload_evidence(12, "1 look-alike character at byte 140 of connection 3", "Pl\xD0\xB5" "ase");
  l.code_points = {cp(0x0435, "CYRILLIC SMALL LETTER IE", 1, "e")};
  look.evidence = {l};

  Finding echo;
  echo.rule = "value-echo";
  echo.id = "value-echo-00000003";
  echo.severity = Severity::kMedium;
  echo.message = "curl (pid 101) sent the timezone from TZ (base64).";
  echo.pid = 100;
  echo.comm = "agent";
  Evidence obtained = fact_evidence(3, 100, "", "obtained timezone from TZ");
  Evidence sent = payload_evidence(12, "timezone from TZ sent encoded as base64", "eyJ0eiI6IkV1cm9wZS9TZWNyZXQifQ==");
  sent.encoding = "base64";
  echo.evidence = {obtained, sent};

  Finding fp;
  fp.rule = "fingerprint-collection";
  fp.id = "fingerprint-collection-00000004";
  fp.severity = Severity::kLow;
  fp.message = "The process tree of agent (pid 100) gathered time zone and host identity facts, then sent 2.0 KiB.";
  fp.pid = 100;
  fp.comm = "agent";
  Evidence unplotted = fact_evidence(7, 300, "host_identity", "uname (nodename build-01)");
  Evidence untied = fact_evidence(0, 0, "", "the process tree started before the recording");
  untied.wall_ns = 0;
  fp.evidence = {fact_evidence(3, 100, "timezone", "getenv TZ (set), 2 times"),
                 fact_evidence(5, 200, "host_identity", "read " + mid.item), unplotted, untied};

  a.findings = {hidden, look, echo, fp};
  return a;
}

size_t count(const std::string& haystack, std::string_view needle) {
  size_t n = 0;
  for (size_t at = haystack.find(needle); at != std::string::npos; at = haystack.find(needle, at + needle.size())) n++;
  return n;
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(tolower(static_cast<unsigned char>(c)));
  return s;
}

constexpr std::string_view kIslandOpen = "<script type=\"application/json\" id=\"report-data\">";

// The embedded JSON text, and the document without it.
std::pair<std::string, std::string> split_island(const std::string& html) {
  size_t open = html.find(kIslandOpen);
  if (open == std::string::npos) return {};
  size_t begin = open + kIslandOpen.size();
  size_t end = html.find("</script>", begin);
  if (end == std::string::npos) return {};
  return {html.substr(begin, end - begin), html.substr(0, begin) + html.substr(end)};
}

class ReportHtml : public ::testing::Test {
 protected:
  void SetUp() override {
    analysis_ = sample();
    html_ = report_html(analysis_, kb_);
    std::tie(island_, page_) = split_island(html_);
    ASSERT_FALSE(island_.empty()) << "no JSON island";
    // A look at the page in a browser: AGENTTRACE_HTML_SAMPLE=/tmp/x.html.
    if (const char* out = getenv("AGENTTRACE_HTML_SAMPLE")) std::ofstream(out) << html_;
  }

  KnowledgeBase kb_ = KnowledgeBase::builtin();
  Analysis analysis_;
  std::string html_, island_, page_;
};

TEST_F(ReportHtml, IsOneDocument) {
  std::string l = lower(html_);
  EXPECT_EQ(l.rfind("<!doctype html>", 0), 0u);
  EXPECT_EQ(count(l, "<!doctype"), 1u);
  EXPECT_EQ(count(l, "<html"), 1u);
  EXPECT_EQ(count(l, "<head>"), 1u);
  EXPECT_EQ(count(l, "<body"), 1u);
  EXPECT_EQ(count(l, "</body>"), 1u);
  EXPECT_EQ(count(l, "</html>"), 1u);
  EXPECT_EQ(l.substr(l.find_last_not_of("\n") - 6, 7), "</html>");
  EXPECT_EQ(count(l, "<meta charset=\"utf-8\">"), 1u);
  // The island and the page's own script: no string from the trace ends one early.
  EXPECT_EQ(count(l, "<script"), 2u);
  EXPECT_EQ(count(l, "</script"), 2u);
  EXPECT_EQ(count(html_, kIslandOpen), 1u);
  // Without JavaScript: a note, and the raw JSON in an open <details>.
  EXPECT_NE(html_.find("<noscript>"), std::string::npos);
  EXPECT_NE(html_.find("<details class=\"raw\" id=\"raw\" open>"), std::string::npos);
}

TEST_F(ReportHtml, FetchesNothing) {
  std::string l = lower(html_);
  // No remote resource of any kind, in markup, CSS or script.
  std::regex remote_attr(R"re((src|href|action|formaction|poster|srcset|data|xlink:href)\s*=\s*["']?\s*(https?:|ftp:)?//)re");
  EXPECT_FALSE(std::regex_search(l, remote_attr));
  EXPECT_EQ(l.find("@import"), std::string::npos);
  EXPECT_EQ(l.find("url("), std::string::npos);
  for (const char* tag : {"<link rel=\"stylesheet\"", "<img", "<iframe", "<object", "<embed", "<audio", "<video", "<base"})
    EXPECT_EQ(l.find(tag), std::string::npos) << tag;
  for (const char* api : {"fetch(", "xmlhttprequest", "websocket", "eventsource", "sendbeacon", "import(", "new worker",
                          "serviceworker", "window.open", "location.href ="})
    EXPECT_EQ(lower(page_).find(api), std::string::npos) << api;
  // The only URL in the page itself is the SVG namespace name, which is never fetched.
  std::string rest = page_;
  for (size_t at; (at = rest.find("http://www.w3.org/2000/svg")) != std::string::npos;) rest.erase(at, 26);
  EXPECT_EQ(rest.find("http://"), std::string::npos);
  EXPECT_EQ(rest.find("https://"), std::string::npos);
  // And the browser is told so.
  EXPECT_NE(html_.find("Content-Security-Policy\" content=\"default-src 'none';"), std::string::npos);
}

TEST_F(ReportHtml, EmbedsTheJsonReport) {
  trace::Json expected = trace::Json::parse(
      report_json(analysis_, kb_).dump(-1, ' ', false, trace::Json::error_handler_t::replace));
  trace::Json embedded = trace::Json::parse(island_);
  EXPECT_EQ(embedded, expected);
  EXPECT_EQ(embedded["findings"].size(), 4u);
  EXPECT_EQ(embedded["findings"][0]["evidence"][0]["decoded"], "tz=UTC</script>");
  // Obtained values stay out of reports, in every format.
  EXPECT_EQ(html_.find("Europe/Secret"), std::string::npos);
}

TEST_F(ReportHtml, TraceStringsCannotBreakOut) {
  // Nothing in the island opens or closes markup: '<' is escaped except in
  // the <U+XXXX> labels of hidden code points, which stay readable.
  std::regex bare_lt(R"(<(?!U\+[0-9A-F]{4,6}>))");
  EXPECT_FALSE(std::regex_search(island_, bare_lt));
  EXPECT_NE(island_.find("<U+E0074>"), std::string::npos);
  EXPECT_NE(island_.find("\\u003c/script>"), std::string::npos);
  EXPECT_EQ(island_.find("<!--"), std::string::npos);
  // U+2028 and U+2029, and every other invisible code point, as \u escapes.
  EXPECT_EQ(html_.find("\xE2\x80\xA8"), std::string::npos);
  EXPECT_EQ(html_.find("\xE2\x80\xA9"), std::string::npos);
  EXPECT_EQ(html_.find("\xE2\x80\x8B"), std::string::npos);  // ZERO WIDTH SPACE in a path
  EXPECT_NE(island_.find("\\u2028"), std::string::npos);
  EXPECT_NE(island_.find("\\u200b"), std::string::npos);
  // Look-alikes are visible letters and stay as they are.
  EXPECT_NE(island_.find("Pl\xD0\xB5" "ase"), std::string::npos);
  // The hostile strings reach the page only as data.
  EXPECT_EQ(lower(html_).find("<img"), std::string::npos);
  EXPECT_EQ(count(lower(html_), "<script>"), 1u);  // the page's own
  EXPECT_EQ(count(page_, "<!--"), 1u);             // the template's own comment
  // The title is text: escaped, with hidden code points as labels.
  size_t t0 = html_.find("<title>"), t1 = html_.find("</title>");
  ASSERT_NE(t0, std::string::npos);
  ASSERT_NE(t1, std::string::npos);
  std::string title = html_.substr(t0 + 7, t1 - t0 - 7);
  EXPECT_EQ(title.find('<'), std::string::npos) << title;
  EXPECT_NE(title.find("agenttrace: agent --prompt"), std::string::npos) << title;
  EXPECT_NE(title.find("&lt;/script&gt;"), std::string::npos) << title;
  EXPECT_NE(title.find("&lt;U+2028&gt;"), std::string::npos) << title;
}

TEST_F(ReportHtml, ScriptBuildsNodesNotMarkup) {
  // The page puts report strings on the page with textContent only.
  for (const char* sink : {"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function",
                           "srcdoc", "createContextualFragment", "DOMParser"})
    EXPECT_EQ(page_.find(sink), std::string::npos) << sink;
}

TEST(ReportHtmlEdges, EmptyAnalysisAndInvalidUtf8) {
  auto kb = KnowledgeBase::builtin();
  Analysis empty;
  empty.truncated = true;
  std::string html = report_html(empty, kb);
  auto [island, page] = split_island(html);
  ASSERT_FALSE(island.empty());
  EXPECT_EQ(trace::Json::parse(island), trace::Json::parse(report_json(empty, kb).dump()));
  EXPECT_NE(html.find("<title>agenttrace: report</title>"), std::string::npos);

  Analysis bad;
  bad.profile.header.add_command("agent\xFF\xFE");
  Finding f;
  f.rule = "hidden-characters";
  f.id = "x";
  f.message = "bytes \xC3\x28 and \xF3\xA0\x81";  // ill-formed UTF-8
  bad.findings = {f};
  html = report_html(bad, kb);
  std::tie(island, page) = split_island(html);
  trace::Json j = trace::Json::parse(island);
  EXPECT_EQ(j["findings"][0]["message"],
            trace::Json::parse(report_json(bad, kb).dump(-1, ' ', false, trace::Json::error_handler_t::replace))
                ["findings"][0]["message"]);
  EXPECT_NE(html.find("<title>agenttrace: "), std::string::npos);
}

}  // namespace
}  // namespace agenttrace::analyzer
