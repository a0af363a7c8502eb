// Each scanner of `agenttrace inspect` (analyzer/inspect/scanner.h) driven
// on its own, without the engine: the input given to it whole or in two
// pieces, and exactly what it records.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "analyzer/inspect.h"
#include "analyzer/inspect/scanner.h"
#include "common/base64.h"

namespace agenttrace::analyzer::inspect {
namespace {

// Gives `data` to `scanner` as the engine would: [0, cut) then [cut, size),
// the whole input held (so past the first piece's end there is lookahead),
// then finish().
InspectReport run(Scanner& scanner, std::string_view data, bool text = true, size_t cut = 0) {
  Input in;
  in.set_text(text);
  in.append(data);
  InspectReport out;
  if (cut > 0) scanner.feed(in, 0, cut, out);
  if (data.size() > cut) scanner.feed(in, cut, data.size(), out);
  scanner.finish(in, out);
  return out;
}

std::string xored(std::string s, int key) {
  for (char& c : s) c = static_cast<char>(c ^ key);
  return s;
}

const InspectRules& rules() { return InspectRules::builtin(); }

TEST(InspectScanners, RegistryHasOneOfEach) {
  EXPECT_EQ(make_scanners(rules()).size(), 5u);
}

TEST(InspectSourceReferences, MatchesWithTheirFunctions) {
  const std::string js =
      "function collectTimezone() { return Intl.DateTimeFormat().resolvedOptions().timeZone; }\n"
      "const proxy = () => process.env.HTTPS_PROXY || env.ANTHROPIC_BASE_URL;\n"
      "x = 'TZ'; y = TZ;\n";
  for (size_t cut : {size_t{0}, js.find("resolved"), js.find("HTTPS") + 2}) {
    auto scanner = make_source_references_scanner(rules());
    InspectReport r = run(*scanner, js, true, cut);
    ASSERT_EQ(r.references.size(), 5u) << "cut " << cut;
    EXPECT_EQ(r.references_total, 5u);
    std::vector<std::string> seen;
    for (const auto& ref : r.references) {
      seen.push_back(std::to_string(ref.offset) + " " + rules().patterns[ref.pattern].pattern + " " + ref.match +
                     " " + rules().categories[ref.category].id + " " + ref.function);
    }
    std::vector<std::string> expected = {
        std::to_string(js.find("Intl")) + " Intl.DateTimeFormat Intl.DateTimeFormat timezone collectTimezone",
        std::to_string(js.find("resolved")) +
            " resolvedOptions().timeZone resolvedOptions().timeZone timezone collectTimezone",
        std::to_string(js.find("HTTPS")) + " HTTPS_PROXY HTTPS_PROXY proxy proxy",
        std::to_string(js.find("ANTHROPIC")) + " *_BASE_URL ANTHROPIC_BASE_URL api_endpoint proxy",
        std::to_string(js.find("'TZ'") + 1) + " TZ TZ timezone proxy",
    };
    EXPECT_EQ(seen, expected) << "cut " << cut;
    EXPECT_TRUE(r.tables.empty() && r.hidden.empty() && r.choices.empty());
  }
}

TEST(InspectEncodedRuns, Base64AndHexRunsBecomeTables) {
  const std::string hosts = "api.example.com,metrics.example.net,fp.example.io";
  const std::string b64 = base64_encode(xored(hosts, 0x5a));
  std::string hex;
  for (unsigned char c : std::string("Asia/Shanghai\nAsia/Urumqi\nEurope/Moscow")) {
    hex += "0123456789abcdef"[c >> 4];
    hex += "0123456789abcdef"[c & 15];
  }
  const std::string data = "var a=\"" + b64 + "\";\n" + hex + " tail";
  for (size_t cut : {size_t{0}, data.find(b64) + 5, data.find(hex) + 7}) {
    auto scanner = make_encoded_runs_scanner(rules());
    InspectReport r = run(*scanner, data, true, cut);
    ASSERT_EQ(r.tables.size(), 2u) << "cut " << cut;
    const EncodedTable& t = r.tables[0];
    EXPECT_EQ(t.offset, data.find(b64));
    EXPECT_EQ(t.length, b64.size());
    EXPECT_EQ(t.encoding, "base64 -> xor 0x5a");
    EXPECT_EQ(t.xor_key, 0x5a);
    EXPECT_TRUE(t.in_string);
    EXPECT_EQ(t.separator, "comma");
    EXPECT_EQ(t.kind, "hosts");
    EXPECT_EQ(t.items, (std::vector<std::string>{"api.example.com", "metrics.example.net", "fp.example.io"}));
    EXPECT_EQ(t.recognized, 3u);
    const EncodedTable& h = r.tables[1];
    EXPECT_EQ(h.offset, data.find(hex));
    EXPECT_EQ(h.length, hex.size());
    EXPECT_EQ(h.encoding, "hex");
    EXPECT_EQ(h.xor_key, 0);
    EXPECT_FALSE(h.in_string);
    EXPECT_EQ(h.separator, "newline");
    EXPECT_EQ(h.kind, "time-zones");
    EXPECT_EQ(h.items, (std::vector<std::string>{"Asia/Shanghai", "Asia/Urumqi", "Europe/Moscow"}));
    // The hex run is a base64 run too (so is "tail", too short to count).
    EXPECT_EQ(r.blobs_examined, 3u);
    EXPECT_EQ(r.blobs_too_long, 0u);
  }
}

TEST(InspectEncodedRuns, AnOpenRunIsKept) {
  auto scanner = make_encoded_runs_scanner(rules());
  const std::string data = "x = QUJDREVGR0hJSktMTU5PUFFS";
  Input in;
  in.append(data);
  InspectReport out;
  scanner->feed(in, 0, data.size(), out);
  // "x" is a run that has ended; the one from offset 4 is still open.
  EXPECT_EQ(scanner->keep_from(data.size()), 4u);
  scanner->finish(in, out);
  EXPECT_EQ(scanner->keep_from(data.size()), data.size());
  // The base64 run, "ABCDEFGHIJKLMNOPQR": not a list. The hex runs in it
  // ("D", "E", "FF") are too short to count.
  EXPECT_EQ(out.blobs_examined, 1u);
  EXPECT_TRUE(out.tables.empty());
}

TEST(InspectEscapeRuns, HexEscapesBecomeATable) {
  const std::string list = "HTTPS_PROXY,HTTP_PROXY,NO_PROXY,ALL_PROXY";
  std::string esc;
  for (unsigned char c : list) {
    esc += "\\x";
    esc += "0123456789abcdef"[c >> 4];
    esc += "0123456789ABCDEF"[c & 15];
  }
  const std::string data = "s = b'" + esc + "'\nt = '\\x41\\x42'\n";
  for (size_t cut : {size_t{0}, data.find(esc) + 2, data.find(esc) + 4 * 7}) {
    auto scanner = make_escape_runs_scanner(rules());
    InspectReport r = run(*scanner, data, true, cut);
    ASSERT_EQ(r.tables.size(), 1u) << "cut " << cut;
    const EncodedTable& t = r.tables[0];
    EXPECT_EQ(t.offset, data.find(esc));
    EXPECT_EQ(t.length, esc.size());
    EXPECT_EQ(t.encoding, "hex-escape");
    EXPECT_TRUE(t.in_string);
    EXPECT_EQ(t.kind, "env-names");
    EXPECT_EQ(t.items, (std::vector<std::string>{"HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY", "ALL_PROXY"}));
    EXPECT_EQ(t.recognized, 4u);
    EXPECT_EQ(r.blobs_examined, 1u);  // two escapes are not a run worth decoding
  }
}

TEST(InspectHiddenChars, TextFileAndBinaryFile) {
  const std::string zwsp = "\xE2\x80\x8B";
  const std::string text = "\xEF\xBB\xBF" "hello" + zwsp + "world\n";
  {
    auto scanner = make_hidden_chars_scanner(rules());
    InspectReport r = run(*scanner, text, true, 6);
    ASSERT_EQ(r.hidden.size(), 1u);  // the BOM at offset 0 is where it belongs
    EXPECT_EQ(r.hidden_total, 1u);
    EXPECT_EQ(r.hidden[0].ch.offset, 8u);
    EXPECT_EQ(r.hidden[0].ch.code_point, 0x200Bu);
    EXPECT_EQ(r.hidden[0].context, "<U+FEFF>hello<U+200B>world\\n");
  }
  // Not a text file: only inside a quoted string of readable text (which a
  // NUL, the end of a C string, begins).
  const std::string binary("\x01\x02\x03\0", 4);
  const std::string quoted = binary + "var s = \"some words" + zwsp + "here and there\";\n";
  const std::string bare = binary + "var s = some words" + zwsp + "here and there;\n";
  {
    auto scanner = make_hidden_chars_scanner(rules());
    InspectReport r = run(*scanner, quoted, false);
    ASSERT_EQ(r.hidden.size(), 1u);
    EXPECT_EQ(r.hidden[0].ch.offset, quoted.find(zwsp));
  }
  {
    auto scanner = make_hidden_chars_scanner(rules());
    InspectReport r = run(*scanner, bare, false);
    EXPECT_EQ(r.hidden_total, 0u);
    scanner = make_hidden_chars_scanner(rules());
    EXPECT_EQ(run(*scanner, bare, true).hidden_total, 1u);
  }
}

TEST(InspectLookalikeChoices, PairsAndTables) {
  // Choices closer than kMaxChoiceGap to each other are one table; the
  // line of dashes keeps these two apart. Literals in comments do not count.
  const std::string js =
      "o+=(c>>j&1)?\"\\u200c\":\"\\u200b\";\n"
      "// ------------------------------------------------------------\n"
      "var M={a:\"\\u0430\",e:\"\\u0435\"};\n"
      "// x?'a':'\\u0430'\n";
  for (size_t cut : {size_t{0}, js.find(":\""), js.find("e:")}) {
    auto scanner = make_lookalike_choices_scanner(rules());
    InspectReport r = run(*scanner, js, true, cut);
    ASSERT_EQ(r.choices.size(), 2u) << "cut " << cut;
    const LookalikeChoice& a = r.choices[0];
    EXPECT_EQ(a.offset, js.find("\"\\u200c"));
    EXPECT_EQ(a.second_offset, js.find("\"\\u200b"));
    EXPECT_EQ(a.first, 0x200Cu);
    EXPECT_EQ(a.second, 0x200Bu);
    EXPECT_EQ(a.reason, "invisible pair");
    // A table of two entries is one finding, from the first key to the last value.
    const LookalikeChoice& b = r.choices[1];
    EXPECT_EQ(b.offset, js.find("a:"));
    EXPECT_EQ(b.second_offset, js.find("\"\\u0435"));
    EXPECT_EQ(b.first, static_cast<uint32_t>('a'));
    EXPECT_EQ(b.second, 0x430u);
    EXPECT_EQ(b.reason, "look-alike of 'a'");
  }
}

}  // namespace
}  // namespace agenttrace::analyzer::inspect
