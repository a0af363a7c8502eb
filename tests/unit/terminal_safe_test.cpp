// Output that cannot be forged: a value from a trace (a file name, argv, a
// host name, a payload) with terminal control sequences is printed escaped
// in every text form, and the JSON forms escape what a terminal would obey.
#include <gtest/gtest.h>

#include "analyzer/diff_report.h"
#include "analyzer/inspect.h"
#include "analyzer/knowledge_base.h"
#include "analyzer/report.h"
#include "common/strings.h"
#include "fleet/fleet_report.h"
#include "../support/story.h"
#include "trace/json.h"
#include "trace/text.h"

namespace agenttrace {
namespace {

// ESC [2K (erase the line), CR, an OSC title ended by BEL, the C1 CSI
// U+009B in UTF-8, a newline and DEL: everything a name could use to erase
// or forge a line of a report.
const std::string kEvil = "a\x1b[2K\rb\x1b]0;pwned\x07" "c\xc2\x9b" "1A\nd\x7f" "e";
const std::string kEscaped = "a\\x1b[2K\\rb\\x1b]0;pwned\\x07c\\u009b1A\\nd\\x7fe";

TEST(TerminalSafe, EscapesC0C1AndDel) {
  EXPECT_EQ(terminal_safe(kEvil), kEscaped);
  EXPECT_EQ(terminal_safe("tab\there"), "tab\\there");
  EXPECT_EQ(terminal_safe(std::string("nul\0x", 5)), "nul\\x00x");
  EXPECT_EQ(terminal_safe("\x1f\x20\x7e"), "\\x1f ~");
}

TEST(TerminalSafe, KeepsPrintableUnicodeAndBackslashes) {
  // U+00A0 is the first code point past C1; é, U+200B and 😀 are text.
  EXPECT_EQ(terminal_safe("caf\xc3\xa9 \xc2\xa0 \xe2\x80\x8b \xf0\x9f\x98\x80"),
            "caf\xc3\xa9 \xc2\xa0 \xe2\x80\x8b \xf0\x9f\x98\x80");
  EXPECT_EQ(terminal_safe("C:\\temp\\x1b"), "C:\\temp\\x1b");
  EXPECT_EQ(terminal_safe(""), "");
}

TEST(TerminalSafe, InvalidUtf8BytesAreHex) {
  // A lone 0x9b is CSI to an 8-bit terminal; an overlong and a cut sequence.
  EXPECT_EQ(terminal_safe("x\x9by"), "x\\x9by");
  EXPECT_EQ(terminal_safe("\xc0\xaf"), "\\xc0\\xaf");
  EXPECT_EQ(terminal_safe("end\xe2\x80"), "end\\xe2\\x80");
}

TEST(TerminalSafe, IsIdempotent) {
  EXPECT_EQ(terminal_safe(terminal_safe(kEvil)), kEscaped);
}

TEST(TerminalSafe, EventLinesOfVerbose) {
  trace::Event e;
  e.set_pid(42);
  e.set_tid(42);
  e.set_comm("c\x1b[2K");
  e.mutable_open()->set_path("/tmp/" + kEvil);
  e.mutable_open()->set_flags(0);
  e.mutable_open()->set_result(3);
  EXPECT_EQ(trace::event_text_line(e, 0),
            "+0.000000s     42/42     c\\x1b[2K        open /tmp/" + kEscaped + " O_RDONLY = 3");

  trace::Event x;
  x.mutable_exec()->set_path("/bin/cat");
  x.mutable_exec()->add_argv("cat");
  x.mutable_exec()->add_argv(kEvil);
  EXPECT_EQ(trace::event_summary(x), "exec /bin/cat [cat '" + kEscaped + "']");

  trace::Event d;
  d.mutable_dns()->set_name("evil\x1b]0;x\x07.example");
  d.mutable_dns()->add_answers("203.0.113.9\n+0.1s forged line");
  EXPECT_EQ(trace::event_summary(d), "dns unknown evil\\x1b]0;x\\x07.example -> 203.0.113.9\\n+0.1s forged line");
}

TEST(TerminalSafe, JsonEscapesWhatATerminalObeys) {
  trace::Json j;
  j["path"] = kEvil;
  EXPECT_EQ(trace::json_line(j), "{\"path\":\"a\\u001b[2K\\rb\\u001b]0;pwned\\u0007c\\u009b1A\\nd\\u007fe\"}");
  EXPECT_EQ(trace::Json::parse(trace::json_line(j))["path"], kEvil);
  EXPECT_EQ(trace::json_text(j, 2), "{\n  \"path\": \"a\\u001b[2K\\rb\\u001b]0;pwned\\u0007c\\u009b1A\\nd\\u007fe\"\n}");
  // Other non-ASCII text stays as it is.
  j["path"] = "caf\xc3\xa9";
  EXPECT_EQ(trace::json_line(j), "{\"path\":\"caf\xc3\xa9\"}");
}

TEST(TerminalSafe, EndReportAndAnalyzeText) {
  analyzer::Story s;
  s.header().clear_command();
  s.header().add_command("cat");
  s.header().add_command(kEvil);
  s.read("/usr/share/zoneinfo/" + kEvil);
  analyzer::Analysis a = s.analysis();
  analyzer::Finding f;
  f.rule = "test-rule";
  f.severity = analyzer::Severity::kHigh;
  f.message = "read " + kEvil;
  analyzer::Evidence ev;
  ev.event = 2;
  ev.pid = 100;
  ev.comm = "x\x1b[1A";
  ev.what = "open " + kEvil;
  ev.context = "ctx\x1b[2J";
  f.evidence.push_back(ev);
  a.findings = {f};
  analyzer::KnowledgeBase kb = analyzer::KnowledgeBase::builtin();
  std::string text = analyzer::report_text(a, kb, false);
  EXPECT_EQ(text,
            "agenttrace findings for cat '" + kEscaped + "'\n"
            "  covert channel evidence: none found\n"
            "  HIGH test-rule  read " + kEscaped + "\n"
            "      #2 x\\x1b[1A(100) open " + kEscaped + "\n"
            "        \"ctx\\x1b[2J\"\n"
            "profile\n"
            "  1 process, 2 events\n"
            "  time zone: /usr/share/zoneinfo/" + kEscaped + "\n");
}

TEST(TerminalSafe, DiffText) {
  analyzer::DiffReport r;
  r.variants = {"TZ=UTC", "TZ=\x1b[2KAsia"};
  r.runs = {1, 1};
  r.requests = 1;
  analyzer::VariantComparison c;
  c.base = r.variants[0];
  c.other = r.variants[1];
  c.requests_compared = 1;
  analyzer::Difference d;
  d.method = "POST";
  d.target = "/v1\x1b[1A";
  d.part = "header";
  d.location = "x-\nforged";
  d.change = "added";
  d.after = "v\xc2\x9b";
  d.reason = "sent by other only";
  c.suspicious.push_back(d);
  r.comparisons.push_back(c);
  r.input_dependent = true;
  r.notes = {"note\rforged"};
  EXPECT_EQ(analyzer::diff_report_text(r, false),
            "agenttrace diff: TZ=UTC (1 run), TZ=\\x1b[2KAsia (1 run); 1 request aligned\n"
            "TZ=UTC vs TZ=\\x1b[2KAsia: INPUT-DEPENDENT, 1 suspicious difference (1 request compared, 0 differences "
            "masked as noise)\n"
            "  1. request 0 POST /v1\\x1b[1A header x-\\nforged\n"
            "     added \"v\\u009b\": sent by other only\n"
            "note: note\\rforged\n"
            "result: INPUT-DEPENDENT: what is sent depends on the input beyond the value itself\n");
}

TEST(TerminalSafe, InspectText) {
  analyzer::InspectReport r = analyzer::inspect_buffer("plain text\n");
  r.path = "/tmp/" + kEvil;
  std::string text = analyzer::inspect_text(r);
  EXPECT_EQ(text.substr(0, text.find('\n') + 1), "agenttrace inspect: /tmp/" + kEscaped + " (11 B, text)\n");
  EXPECT_EQ(text.find('\x1b'), std::string::npos);
}

TEST(TerminalSafe, FleetTextAndHtml) {
  analyzer::KnowledgeBase kb = analyzer::KnowledgeBase::builtin();
  fleet::FleetReport report;
  report.source = "nats://127.0.0.1:4222";
  fleet::SessionAnalysis sa;
  sa.host = "host\x1b[2K\rforged";
  sa.session = "s\n1";
  sa.has_header = true;
  analyzer::Story story;
  sa.analysis = story.analysis();
  analyzer::Finding f;
  f.rule = "test-rule";
  f.severity = analyzer::Severity::kHigh;
  f.message = "read " + kEvil;
  sa.analysis.findings = {f};
  report.sessions.push_back(std::move(sa));
  std::string text = fleet::fleet_report_text(report, kb, false);
  EXPECT_NE(text.find("  HIGH host\\x1b[2K\\rforged test-rule  read " + kEscaped + " (session s\\n1)\n"), std::string::npos)
      << text;
  EXPECT_NE(text.find("\n  host\\x1b[2K\\rforged: 1 recording, "), std::string::npos) << text;
  EXPECT_NE(text.find("== host\\x1b[2K\\rforged, recording s\\n1 ("), std::string::npos) << text;
  EXPECT_EQ(text.find('\x1b'), std::string::npos);
  EXPECT_EQ(text.find('\r'), std::string::npos);
  std::string html = fleet::render_fleet_report(report, kb, "html", false);
  EXPECT_NE(html.find("<tr><td>host\\x1b[2K\\rforged</td>"), std::string::npos);
  EXPECT_EQ(html.find('\x1b'), std::string::npos);
}

}  // namespace
}  // namespace agenttrace
