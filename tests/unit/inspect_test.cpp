#include "analyzer/inspect.h"

#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <unistd.h>

#include "analyzer/value_echo.h"
#include "common/base64.h"
#include "common/error.h"

namespace agenttrace::analyzer {
namespace {

// samples/triage/ in the source tree, found from this file's own path.
std::string triage_dir() {
  std::string here = __FILE__;
  return here.substr(0, here.rfind("/tests/unit/")) + "/samples/triage";
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string xored(std::string s, int key) {
  for (char& c : s) c = static_cast<char>(c ^ key);
  return s;
}

std::string hex(const std::string& bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (unsigned char b : bytes) {
    out += digits[b >> 4];
    out += digits[b & 15];
  }
  return out;
}

std::string random_bytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string out(n, '\0');
  for (char& c : out) c = static_cast<char>(rng() & 0xFF);
  return out;
}

// An executable-looking buffer: an ELF header, then random bytes.
std::string fake_elf(size_t n, uint32_t seed) { return "\x7f" "ELF" + random_bytes(n, seed); }

std::string describe(const InspectReport& r) {
  std::string s;
  for (const auto& t : r.tables) s += "table@" + std::to_string(t.offset) + "[" + t.encoding + "] ";
  for (const auto& h : r.hidden) s += "hidden@" + std::to_string(h.ch.offset) + " ";
  for (const auto& c : r.choices) s += "choice@" + std::to_string(c.offset) + "[" + c.reason + "] ";
  return s;
}

const std::vector<std::string> kHosts = {"api.anthropic.com", "statsig.anthropic.com", "o1137031.ingest.sentry.io",
                                          "collector.agent-metrics.io", "edge.fp-sync.net"};

std::string joined(const std::vector<std::string>& items, const std::string& sep) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) out += (i ? sep : "") + items[i];
  return out;
}

// ---- rules ------------------------------------------------------------------------------

TEST(InspectRules, BuiltinHasEveryCategoryAndPatternKind) {
  const InspectRules& rules = InspectRules::builtin();
  std::vector<std::string> ids;
  for (const auto& c : rules.categories) ids.push_back(c.id);
  for (const char* id : {"timezone", "proxy", "api_endpoint", "host_identity", "hardware", "virtualization",
                         "network_config"}) {
    EXPECT_NE(std::find(ids.begin(), ids.end(), id), ids.end()) << id;
  }
  bool wildcard = false, whole = false;
  for (const auto& p : rules.patterns) {
    wildcard = wildcard || (p.wildcard && p.pattern == "*_BASE_URL" && p.literal == "_BASE_URL");
    whole = whole || (p.whole_string && p.literal == "TZ");
  }
  EXPECT_TRUE(wildcard);
  EXPECT_TRUE(whole);
  EXPECT_TRUE(rules.keywords.count("machine-id"));
  EXPECT_TRUE(rules.keywords.count("resolvedoptions"));  // a pattern literal, lower-cased
  EXPECT_TRUE(rules.tlds.count("com"));
}

TEST(InspectRules, ErrorsNameTheLine) {
  auto message = [](const std::string& yaml) {
    try {
      InspectRules::parse(yaml, "x.yaml");
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_EQ(message("version: 1\nsources:\n  - id: a\n    paths: [x]\n"),
            "x.yaml: line 4: unknown key `paths` (expected id, title, text, strings)");
  EXPECT_EQ(message("sources:\n  - id: a\n    text: [\"a*b\"]\n"),
            "x.yaml: line 2: pattern `a*b` may only have one `*`, at its start, before other characters");
  EXPECT_EQ(message("sources: 3\n"), "x.yaml: `sources` must be a list");
  EXPECT_EQ(message("version: 2\nsources: []\n"), "x.yaml: inspect rules version must be 1");
}

// ---- encoded tables -----------------------------------------------------------------------

TEST(InspectTables, XorThenBase64HostListInAStringLiteral) {
  std::string blob = base64_encode(xored(joined(kHosts, ","), 0x5a));
  std::string js = "var a=1;var R=\"" + blob + "\";function f(){return R}\n";
  InspectReport r = inspect_buffer(js);
  ASSERT_EQ(r.tables.size(), 1u) << describe(r);
  const EncodedTable& t = r.tables[0];
  EXPECT_EQ(t.offset, js.find(blob));
  EXPECT_EQ(t.length, blob.size());
  EXPECT_EQ(t.encoding, "base64 -> xor 0x5a");
  EXPECT_EQ(t.xor_key, 0x5a);
  EXPECT_TRUE(t.in_string);
  EXPECT_EQ(t.separator, "comma");
  EXPECT_EQ(t.kind, "hosts");
  EXPECT_EQ(t.items, kHosts);
  EXPECT_EQ(t.item_count, 5u);
  EXPECT_EQ(t.recognized, 5u);
  EXPECT_TRUE(is_suspicious(r));
}

TEST(InspectTables, EveryXorKeyIsFoundAndOnlyThatKey) {
  std::string list = joined(kHosts, "\n");
  for (int key = 0; key < 256; ++key) {
    std::string js = "x='" + base64_encode(xored(list, key)) + "';";
    InspectReport r = inspect_buffer(js);
    ASSERT_EQ(r.tables.size(), 1u) << "key " << key << ": " << describe(r);
    EXPECT_EQ(r.tables[0].xor_key, key);
    EXPECT_EQ(r.tables[0].items, kHosts) << "key " << key;
  }
}

TEST(InspectTables, HexOfXoredTimeZonesRawInABinary) {
  std::vector<std::string> zones = {"Asia/Shanghai", "Asia/Urumqi", "Asia/Hong_Kong", "Asia/Macau"};
  std::string blob = hex(xored(joined(zones, std::string(1, '\0')), 0x13));
  std::string bin = fake_elf(5000, 1) + std::string(1, '\0') + blob + std::string(1, '\0') + random_bytes(5000, 2);
  InspectReport r = inspect_buffer(bin);
  EXPECT_EQ(r.file_kind, "elf");
  ASSERT_EQ(r.tables.size(), 1u) << describe(r);
  EXPECT_EQ(r.tables[0].offset, 5005u);
  EXPECT_EQ(r.tables[0].encoding, "hex -> xor 0x13");
  EXPECT_EQ(r.tables[0].separator, "nul");
  EXPECT_EQ(r.tables[0].kind, "time-zones");
  EXPECT_EQ(r.tables[0].items, zones);
  EXPECT_FALSE(r.tables[0].in_string);
}

TEST(InspectTables, JsonArrayEscapesAndNesting) {
  std::string facts = R"(["resolvedOptions","timeZone","HTTPS_PROXY","ANTHROPIC_BASE_URL","machine-id"])";
  std::string escaped;
  for (unsigned char b : xored(joined(kHosts, "|"), 0x21)) {
    char buf[8];
    snprintf(buf, sizeof buf, "\\x%02x", b);
    escaped += buf;
  }
  std::string nested = base64_encode(hex(xored(joined(kHosts, ","), 0x77)));
  std::string py = "F = '" + base64_encode(facts) + "'\nH = b\"" + escaped + "\"\nN = \"" + nested + "\"\n";
  InspectReport r = inspect_buffer(py);
  ASSERT_EQ(r.tables.size(), 3u) << describe(r);
  EXPECT_EQ(r.tables[0].encoding, "base64");
  EXPECT_EQ(r.tables[0].xor_key, 0);
  EXPECT_EQ(r.tables[0].separator, "json-array");
  EXPECT_EQ(r.tables[0].kind, "mixed");
  EXPECT_EQ(r.tables[1].encoding, "hex-escape -> xor 0x21");
  EXPECT_EQ(r.tables[1].separator, "pipe");
  EXPECT_EQ(r.tables[1].offset, py.find("\\x"));
  EXPECT_EQ(r.tables[2].encoding, "base64 -> hex -> xor 0x77");
  EXPECT_EQ(r.tables[2].items, kHosts);
}

TEST(InspectTables, ListThresholds) {
  auto tables = [](const std::string& plain, int key = 0x42) {
    return inspect_buffer("s=\"" + base64_encode(xored(plain, key)) + "\"").tables;
  };
  EXPECT_TRUE(tables("a.example.com,b.example.com").empty()) << "two hosts are not several";
  EXPECT_EQ(tables("a.example.com,b.example.com,c.example.org").size(), 1u);
  EXPECT_EQ(tables("timeZone,hostname").size(), 1u) << "two fingerprint keywords are enough";
  EXPECT_TRUE(tables("tZ,tZ").empty()) << "one keyword twice is not two";
  EXPECT_EQ(tables("a.example.com,b.example.com,c.example.org,zz9,q").size(), 1u) << "60% recognised";
  EXPECT_TRUE(tables("a.example.com,b.example.com,zz9,q,w").empty()) << "40% recognised";
  EXPECT_TRUE(tables("ERR_BAD_THING,ERR_OTHER_THING,E_NOT_FOUND").empty()) << "constants alone";
  auto env = tables("HTTPS_PROXY,ERR_OTHER_THING,E_NOT_FOUND");
  ASSERT_EQ(env.size(), 1u);
  EXPECT_EQ(env[0].kind, "env-names");
  EXPECT_TRUE(tables("Japan,Egypt,Cuba,Israel").empty()) << "bare zone ids are country names";
  auto tz = tables("Asia/Tokyo,Africa/Cairo,America/Havana");
  ASSERT_EQ(tz.size(), 1u);
  EXPECT_EQ(tz[0].kind, "time-zones");
  auto sfx = tables(".cn|.ru|.corp.example.com|*.internal.example.net", 0);
  ASSERT_EQ(sfx.size(), 1u);
  EXPECT_EQ(sfx[0].kind, "domain-suffixes");
  EXPECT_TRUE(tables("apple,banana,cherry,grape,melon").empty());
  EXPECT_TRUE(tables("console.log,module.exports,a.length").empty()) << "code is not a host list";
}

TEST(InspectTables, OrdinaryEncodedDataIsQuiet) {
  std::string js;
  js += "var ICON=\"data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==\";\n";
  js += "var SRI=\"sha512-IWX9BELoGHAUtMonkeSaNaZwXzRk+oDw6Mk+HBFXd3KHYIBNBsIGRupMZPcgNoDbJpLu6gAJjIoIVPZtt1aJ1g==\";\n";
  js += "var H=\"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\";\n";
  js += "var C=\"" + base64_encode(R"({"timeout":30000,"retries":3,"userAgent":"fetch-helper/1.3.0"})") + "\";\n";
  js += "var T=\"" + base64_encode("The quick brown fox jumps over the lazy dog, again and again.") + "\";\n";
  js += "var K=\"" + base64_encode(random_bytes(4096, 7)) + "\";\n";
  js += "var X=\"" + hex(random_bytes(512, 8)) + "\";\n";
  js += "var PLAIN=[\"registry.npmjs.org\",\"registry.yarnpkg.com\",\"npm.pkg.github.com\"];\n";
  for (int i = 0; i < 2000; ++i) js += "'" + base64_encode(random_bytes(12 + i % 40, 100 + i)) + "',";
  InspectReport r = inspect_buffer(js);
  EXPECT_TRUE(r.tables.empty()) << describe(r);
  EXPECT_GT(r.blobs_examined, 2000u);
}

TEST(InspectTables, RandomBinaryIsQuiet) {
  InspectReport r = inspect_buffer(fake_elf(4 << 20, 11));
  EXPECT_TRUE(r.tables.empty()) << describe(r);
  EXPECT_EQ(r.hidden_total, 0u) << describe(r);
  EXPECT_TRUE(r.choices.empty());
  EXPECT_FALSE(is_suspicious(r));
}

TEST(InspectTables, OverlongRunIsSkippedAndTheScanGoesOn) {
  std::string asset = base64_encode(random_bytes(kMaxBlobChars, 3));  // 4/3 MiB of characters
  std::string blob = base64_encode(xored(joined(kHosts, ","), 0x5a));
  std::string js = "var A=\"" + asset + "\";var R=\"" + blob + "\";";
  InspectReport r = inspect_buffer(js);
  EXPECT_EQ(r.blobs_too_long, 1u);
  ASSERT_EQ(r.tables.size(), 1u);
  EXPECT_EQ(r.tables[0].offset, js.find(blob));
}

// ---- hidden characters and look-alike choices ------------------------------------------------

TEST(InspectUnicode, HiddenCharactersInText) {
  std::string js = "\xEF\xBB\xBF" "const greeting = \"hello\xE2\x80\x8Bworld\"; // p\xD0\xB0ypal\n";
  InspectReport r = inspect_buffer(js);
  ASSERT_EQ(r.hidden.size(), 2u) << describe(r);  // the BOM at offset 0 is where it belongs
  EXPECT_EQ(r.hidden[0].ch.offset, js.find("\xE2\x80\x8B"));
  EXPECT_EQ(r.hidden[0].ch.code_point, 0x200Bu);
  EXPECT_EQ(r.hidden[0].ch.name, "ZERO WIDTH SPACE");
  EXPECT_NE(r.hidden[0].context.find("hello<U+200B>world"), std::string::npos) << r.hidden[0].context;
  EXPECT_EQ(r.hidden[1].ch.code_point, 0x430u);
  EXPECT_EQ(r.hidden[1].ch.kind, HiddenChar::Kind::kLookalike);
  EXPECT_EQ(r.hidden[1].ch.imitates, "a");
  EXPECT_EQ(r.hidden_total, 2u);
  EXPECT_TRUE(is_suspicious(r));

  InspectReport bom_inside = inspect_buffer("let a = 1;\n\xEF\xBB\xBF" "let b = 2;\n");
  EXPECT_EQ(bom_inside.hidden_total, 1u);
}

TEST(InspectUnicode, MachineCodeIsNotTextButAnEmbeddedScriptIs) {
  std::string noise = fake_elf(200000, 5);
  // Invisible code points dropped into random bytes: machine code, not text.
  for (size_t at = 1000; at < 190000; at += 7919) noise.replace(at, 3, "\xE2\x80\x8B");
  EXPECT_EQ(inspect_buffer(noise).hidden_total, 0u);
  std::string script = "function tag(s){return s+\"\xE2\x80\x8C\"+marker}";
  std::string bin = noise + std::string(1, '\0') + script + std::string(1, '\0') + random_bytes(1000, 6);
  InspectReport r = inspect_buffer(bin);
  ASSERT_EQ(r.hidden_total, 1u) << describe(r);
  EXPECT_EQ(r.hidden[0].ch.offset, noise.size() + 1 + script.find("\xE2\x80\x8C"));
}

TEST(InspectUnicode, ChoicesBetweenLookAlikes) {
  struct Case {
    std::string code;
    std::string reason;  // empty: no choice
  };
  std::vector<Case> cases = {
      {"c=b?\"a\":\"\\u0430\";", "look-alike of 'a'"},
      {"c=b?'\\u0435':'e';", "look-alike of 'e'"},
      {"c=b?'o':'\xD0\xBE';", "look-alike of 'o'"},  // raw Cyrillic o
      {"o+=(c>>j&1)?\"\\u200c\":\"\\u200b\";", "invisible pair"},
      {"o+=(c>>j&1)?\"\\u{200C}\":\"\\u{200B}\";", "invisible pair"},
      {"out += '\\u200b' if bit else '\\u200c'\n", "invisible pair"},
      {"var Z=[\"\\u200b\",\"\\u200c\"][bit];", "invisible pair"},
      {"var M={a:\"\\u0430\",e:\"\\u0435\",o:\"\\u043e\"};", "look-alike of 'a'"},
      {"M = {'a': '\\u0430', 'c': '\\u0441'}\n", "look-alike of 'a'"},
      {"var a=\"\\u200d\",b=\"\\u200c\";", ""},
      {"c=b?\"a\":\"b\";", ""},
      {"c=b?\"\\u0430\":\"\\u0431\";", ""},
      {"VARIANTS = {\"text\": \"\\uFE0E\", \"emoji\": \"\\uFE0F\"}\n", ""},
      {"    (0xAB87, 'M', '\xE1\x8E\xB7'),\n", ""},
      {"    0x0069: (0x0131,), # 'i': '\xC4\xB1'\n", ""},
      {"Q = ['\\u2018', '\\u2019']\n", ""},
  };
  for (const Case& c : cases) {
    InspectReport r = inspect_buffer(c.code);
    if (c.reason.empty()) {
      EXPECT_TRUE(r.choices.empty()) << c.code << ": " << describe(r);
      continue;
    }
    ASSERT_EQ(r.choices.size(), 1u) << c.code << ": " << describe(r);
    EXPECT_EQ(r.choices[0].reason, c.reason) << c.code;
    EXPECT_TRUE(is_suspicious(r));
  }
  InspectReport r = inspect_buffer("o+=(c>>j&1)?\"\\u200c\":\"\\u200b\";");
  ASSERT_EQ(r.choices.size(), 1u);
  EXPECT_EQ(r.choices[0].offset, 12u);
  EXPECT_EQ(r.choices[0].first, 0x200Cu);
  EXPECT_EQ(r.choices[0].second, 0x200Bu);
  EXPECT_NE(r.choices[0].snippet.find("?\"\\u200c\":\"\\u200b\""), std::string::npos) << r.choices[0].snippet;
}

// ---- fingerprint sources ------------------------------------------------------------------------

TEST(InspectReferences, PatternsAndTheirFunctions) {
  std::string js =
      "var boot=process.env.TZ;\n"
      "function alpha(a){return Intl.DateTimeFormat().resolvedOptions().timeZone}\n"
      "var beta=function(){return process.env.HTTPS_PROXY};\n"
      "const gamma=async(x)=>{return os.hostname()};\n"
      "class K{delta(a,b){if(a){return os.networkInterfaces()}}}\n"
      "exports.eps=function(){return fs.readFileSync(\"/etc/machine-id\")+env.ANTHROPIC_BASE_URL};\n"
      "var unames=1,TZ=2,x=\"TZ\";\n";
  std::string py =
      "def zeta():\n    return os.uname()\n"
      "async def eta():\n    return socket.gethostname()\n"
      "theta = lambda: os.environ['TZ']\n";
  InspectReport r = inspect_buffer(js + py);
  const InspectRules& rules = InspectRules::builtin();
  std::vector<std::string> got;
  for (const auto& ref : r.references) {
    got.push_back(rules.categories[ref.category].id + ":" + ref.match + "@" + ref.function);
  }
  std::vector<std::string> want = {
      "timezone:process.env.TZ@unknown",
      "timezone:Intl.DateTimeFormat@alpha",
      "timezone:resolvedOptions().timeZone@alpha",
      "proxy:HTTPS_PROXY@beta",
      "host_identity:os.hostname@gamma",
      "network_config:networkInterfaces@delta",
      "host_identity:machine-id@eps",
      "api_endpoint:ANTHROPIC_BASE_URL@eps",
      "timezone:TZ@eps",  // "TZ" in quotes; the bare TZ and "unames" are not references
      "host_identity:os.uname@zeta",
      "host_identity:gethostname@eta",
      "timezone:TZ@theta",
  };
  EXPECT_EQ(got, want);
  EXPECT_EQ(r.references_total, want.size());
  EXPECT_EQ(r.references[1].offset, js.find("Intl.DateTimeFormat"));
  EXPECT_FALSE(is_suspicious(r)) << "references alone are not suspicious";
}

TEST(InspectReferences, CStringsInABinary) {
  std::string bin = fake_elf(3000, 9) + std::string("\0TZ\0uname\0/sys/class/dmi/id/product_uuid\0", 41) +
                    random_bytes(3000, 10);
  InspectReport r = inspect_buffer(bin);
  std::vector<std::string> got;
  for (const auto& ref : r.references) got.push_back(ref.match + "@" + ref.function);
  EXPECT_EQ(got, (std::vector<std::string>{"TZ@unknown", "uname@unknown", "/sys/class/dmi@unknown",
                                           "product_uuid@unknown"}));
}

// ---- streaming -----------------------------------------------------------------------------

// The same findings whatever the size of the pieces the input comes in.
TEST(InspectStreaming, PiecesDoNotChangeTheResult) {
  std::string bundle = read_file(triage_dir() + "/agent-bundle.js");
  ASSERT_FALSE(bundle.empty());
  std::string data = fake_elf(300000, 21) + std::string(1, '\0') + bundle + std::string(1, '\0') +
                     random_bytes(200000, 22) + std::string(1, '\0') + read_file(triage_dir() + "/clean-bundle.js") +
                     std::string(1, '\0') + "x=\"hello\xE2\x80\x8Bworld and some more text\";" + std::string(1, '\0') +
                     random_bytes(90001, 23);
  std::string whole = inspect_json(inspect_buffer(data)).dump();
  InspectReport once = inspect_buffer(data);
  EXPECT_EQ(once.tables.size(), 3u) << describe(once);
  EXPECT_EQ(once.choices.size(), 1u);
  EXPECT_EQ(once.hidden_total, 1u);
  for (size_t piece : {size_t{1}, size_t{13}, size_t{4095}, size_t{65537}, size_t{300007}}) {
    Inspector in;
    for (size_t off = 0; off < data.size(); off += piece) in.feed(std::string_view(data).substr(off, piece));
    EXPECT_EQ(inspect_json(in.finish()).dump(), whole) << "pieces of " << piece;
  }
}

TEST(InspectStreaming, ThroughputOnAMixedFile) {
  std::string chunk = fake_elf(1 << 20, 31) + read_file(triage_dir() + "/clean-bundle.js");
  std::string data;
  for (int i = 0; i < 16; ++i) data += chunk;
  auto t0 = std::chrono::steady_clock::now();
  InspectReport r = inspect_buffer(data);
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_FALSE(is_suspicious(r)) << describe(r);
  // About 0.2 s in a release build; generous for sanitizer builds.
  EXPECT_LT(s, 20.0);
  printf("inspect: %.1f MiB in %.2f s\n", static_cast<double>(data.size()) / (1 << 20), s);
}

// ---- the samples and the file interface ------------------------------------------------------------

TEST(InspectSamples, AgentBundleHidesHostsAsXorThenBase64) {
  std::string path = triage_dir() + "/agent-bundle.js";
  InspectReport r = inspect_file(path);
  EXPECT_EQ(r.path, path);
  EXPECT_EQ(r.file_kind, "text");
  ASSERT_EQ(r.tables.size(), 3u) << describe(r);
  const EncodedTable& hosts = r.tables[0];
  EXPECT_EQ(hosts.encoding, "base64 -> xor 0x5a");
  EXPECT_EQ(hosts.items, kHosts);
  EXPECT_EQ(r.tables[1].encoding, "hex -> xor 0x13");
  EXPECT_EQ(r.tables[1].kind, "time-zones");
  EXPECT_EQ(r.tables[2].encoding, "base64");
  ASSERT_EQ(r.choices.size(), 1u);
  EXPECT_EQ(r.choices[0].reason, "invisible pair");

  // value_echo, which searches for a known value under every encoding,
  // independently finds the first host XORed with 0x5a inside that blob.
  std::string data = read_file(path);
  bool echoed = false;
  for (const EchoMatch& m : find_value_echo(data, kHosts[0])) {
    echoed = echoed || (m.encoding == "xor+base64" && m.xor_key == 0x5a && m.offset >= hosts.offset &&
                        m.offset + m.length <= hosts.offset + hosts.length);
  }
  EXPECT_TRUE(echoed);
}

TEST(InspectSamples, CleanFilesAreQuietButListTheirSources) {
  for (const char* name : {"clean-bundle.js", "clean.py"}) {
    InspectReport r = inspect_file(triage_dir() + "/" + name);
    EXPECT_FALSE(is_suspicious(r)) << name << ": " << describe(r);
    EXPECT_GT(r.references_total, 0u) << name;
  }
}

// samples/triage/make-spellings.py: the covert date stamp in three
// spellings; inspect finds the same three things in each.
TEST(InspectSamples, CovertStampInEverySpelling) {
  struct Spelling {
    const char* file;
    const char* chooser;  // the function
    std::vector<std::string> conditions;
    std::vector<std::string> switch_conditions;
  };
  const Spelling spellings[] = {
      {"covert-stamp.raw.js", "apostrophe", {"asia", "gateway"}, {"asia"}},
      {"covert-stamp.escaped.js", "apostrophe", {"asia", "gateway"}, {"asia"}},
      {"covert-stamp.min.js", "q", {"a", "g"}, {"a"}},
  };
  const std::vector<std::string> hosts = {"api.anthropic.com", "statsig.anthropic.com", "collector.agent-metrics.io",
                                          "edge.fp-sync.net"};
  for (const Spelling& sp : spellings) {
    SCOPED_TRACE(sp.file);
    const std::string text = read_file(triage_dir() + "/" + sp.file);
    InspectReport r = inspect_file(triage_dir() + "/" + sp.file);
    ASSERT_EQ(r.tables.size(), 1u) << describe(r);
    EXPECT_EQ(r.tables[0].items, hosts);
    EXPECT_EQ(r.tables[0].encoding, "base64 -> xor 0x5a");
    ASSERT_EQ(r.choices.size(), 2u) << describe(r);
    const LookalikeChoice& q = r.choices[0];
    EXPECT_EQ(q.shape, "returns");
    EXPECT_EQ(q.reason, "look-alike of \"'\"");
    EXPECT_EQ(q.function, sp.chooser);
    ASSERT_EQ(q.candidates.size(), 4u);
    const char32_t want[] = {0x27, 0x2019, 0x2BC, 0x2B9};
    for (size_t i = 0; i < 4; ++i) EXPECT_EQ(q.candidates[i].text, std::u32string(1, want[i])) << i;
    EXPECT_EQ(q.conditions, sp.conditions);
    // The first candidate is the literal after the first `return`.
    EXPECT_EQ(q.offset, text.find('"', text.find("return", text.find(sp.chooser + std::string("(")))));
    const LookalikeChoice& sw = r.choices[1];
    EXPECT_EQ(sw.shape, "replace");
    EXPECT_EQ(sw.reason, "separator switch");
    EXPECT_EQ(sw.first, static_cast<uint32_t>('-'));
    EXPECT_EQ(sw.second, static_cast<uint32_t>('/'));
    EXPECT_EQ(sw.conditions, sp.switch_conditions);
    EXPECT_EQ(r.hidden_in_strings, 0u);
    EXPECT_TRUE(is_suspicious(r));
    std::string shown = inspect_text(r);
    EXPECT_NE(shown.find("verdict: suspicious: 1 encoded table, 2 look-alike choices (exit 3)"), std::string::npos) << shown;
  }
}

// The clean markdown bundle: an entity table with raw invisible characters,
// Cyrillic and Greek regex ranges, a typographer; nothing is suspicious.
TEST(InspectSamples, CleanMarkdownInEverySpelling) {
  for (const char* file : {"clean-markdown.raw.js", "clean-markdown.escaped.js", "clean-markdown.min.js"}) {
    SCOPED_TRACE(file);
    InspectReport r = inspect_file(triage_dir() + "/" + file);
    EXPECT_TRUE(r.tables.empty()) << describe(r);
    EXPECT_TRUE(r.choices.empty()) << describe(r);
    EXPECT_EQ(r.hidden_in_strings, 0u) << describe(r);
    EXPECT_FALSE(is_suspicious(r));
    ASSERT_FALSE(r.data.empty());
    EXPECT_EQ(r.data[0].kind, "named table");
    EXPECT_EQ(r.data[0].entries, 20u);
    const bool escaped = std::string(file).find("escaped") != std::string::npos;
    // Raw: seven invisible entity values (the table's) and two Cyrillic
    // capitals in regex classes; escaped, none are characters at all.
    EXPECT_EQ(r.hidden_total, escaped ? 0u : 9u);
    EXPECT_EQ(r.hidden_in_regex, escaped ? 0u : 2u);
    for (const auto& h : r.hidden) EXPECT_TRUE(h.where == "table" || h.where == "regex") << h.where << " @" << h.ch.offset;
    EXPECT_NE(inspect_text(r).find("(exit 0)"), std::string::npos);
  }
}

// The committed spellings are what the generator writes.
TEST(InspectSamples, SpellingsAreWhatTheGeneratorWrites) {
  char dir[] = "/tmp/at-spellings-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  std::string cmd = "python3 " + triage_dir() + "/make-spellings.py " + dir;
  ASSERT_EQ(system(cmd.c_str()), 0) << cmd;
  for (const char* f : {"covert-stamp.raw.js", "covert-stamp.escaped.js", "covert-stamp.min.js", "clean-markdown.raw.js",
                        "clean-markdown.escaped.js", "clean-markdown.min.js"}) {
    EXPECT_EQ(read_file(std::string(dir) + "/" + f), read_file(triage_dir() + "/" + f)) << f;
    unlink((std::string(dir) + "/" + f).c_str());
  }
  rmdir(dir);
}

// Each shape and spelling of a choice, and the data that is not one.
TEST(InspectUnicode, ChooserShapesAndSpellings) {
  struct Case {
    std::string code;
    std::string reason;  // empty: no choice
    std::string shape;
    std::vector<std::string> conditions;
  };
  const std::vector<Case> cases = {
      {"x=c?\"'\":\"\\u02BC\";", "look-alike of \"'\"", "ternary", {"c"}},
      {"x=p?\"'\":q?\"\\u02BC\":\"\\u02B9\";", "look-alike of \"'\"", "ternary", {"p", "q"}},
      {"function f(a){if(a)return\"\\u0430\";return\"a\"}", "look-alike of 'a'", "returns", {"a"}},
      {"if(b)s=\"\\u200b\";else s=\"\\u200c\";", "invisible pair", "assignments", {"b"}},
      {"var Z={0:\"\\u200b\",1:\"\\u200c\"}[b];", "invisible pair", "object", {}},
      {"o+=String.fromCharCode(b?0x200c:0x200b);", "invisible pair", "ternary", {"b"}},
      {"o+=b?String.fromCodePoint(0x430):\"a\";", "look-alike of 'a'", "ternary", {"b"}},
      {"out += \"\\N{ZERO WIDTH SPACE}\" if bit else \"\\N{ZERO WIDTH NON-JOINER}\"\n", "invisible pair", "ternary", {}},
      {"def f(asia):\n    if asia:\n        return '\\u2019'\n    return \"\\u02bc\"\n", "look-alike of \"'\"", "returns",
       {"asia"}},
      {"d=f?d.replace(/-/g,\"/\"):d;", "separator switch", "replace", {"f"}},
      {"if (asia) date = date.replaceAll(\"-\", \".\");", "separator switch", "replace", {"asia"}},
      {"s = s.replace(\"-\", \"/\") if asia else s\n", "separator switch", "replace", {"asia"}},
      // Not choices: typography, data, unconditional and ASCII.
      {"s=q?\"'\":\"\\u2019\";", "", "", {}},
      {"d=d.replace(/-/g,\"/\");", "", "", {}},
      {"p=w?p.replace(/\\//g,\"\\\\\"):p;", "", "", {}},
      {"const E={zwj:\"\\u200d\",zwnj:\"\\u200c\",InvisibleComma:\"\\u2063\"};", "", "", {}},
      {"x=[\"\\u200b\",\"\\u200c\",\"\\u200d\",\"\\u2060\",\"\\u2061\"];", "", "", {}},
      {"x=c?\"l\":\"1\";", "", "", {}},
      {"// return c ? 'a' : '\\u0430'\n", "", "", {}},
      {"var r=/[\"'\\u2019]/g;", "", "", {}},
      // Gemini CLI 0.61's scrollbar: half blocks that UTS #39 calls alike.
      {R"JS(        let char = "\u2588";
        const hasLeft = 2 * i >= thumbStartHalf && 2 * i < thumbEndHalf;
        const hasRight = 2 * i + 1 >= thumbStartHalf && 2 * i + 1 < thumbEndHalf;
        if (hasLeft && !hasRight) {
          char = "\u258C";
        } else if (!hasLeft && hasRight) {
          char = "\u2590";
        }
)JS",
       "", "", {}},
      {"b=t?\"\\u2514\":\"\\u2518\";", "", "", {}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.code);
    InspectReport r = inspect_buffer(c.code);
    if (c.reason.empty()) {
      EXPECT_TRUE(r.choices.empty()) << describe(r);
      EXPECT_FALSE(is_suspicious(r));
      continue;
    }
    ASSERT_EQ(r.choices.size(), 1u) << describe(r);
    EXPECT_EQ(r.choices[0].reason, c.reason);
    EXPECT_EQ(r.choices[0].shape, c.shape);
    EXPECT_EQ(r.choices[0].conditions, c.conditions);
    EXPECT_TRUE(is_suspicious(r));
  }
}

// Hidden characters where they stand: a regex class is data, a string is not.
TEST(InspectUnicode, HiddenCharactersInRegexesAreData) {
  std::string js = "const W=/[A-Za-z\xD0\x90-\xD0\xAF]+/g, R=new RegExp(\"[a-z\xD0\xB0]\");\nconst s=\"hello\xE2\x80\x8Bworld\";\n";
  InspectReport r = inspect_buffer(js);
  EXPECT_EQ(r.hidden_total, 3u) << describe(r);
  EXPECT_EQ(r.hidden_in_regex, 2u);
  EXPECT_EQ(r.hidden_in_strings, 1u);
  ASSERT_EQ(r.hidden.size(), 3u);
  EXPECT_EQ(r.hidden[0].where, "regex");
  EXPECT_EQ(r.hidden[1].where, "regex");
  EXPECT_EQ(r.hidden[2].where, "string");
  EXPECT_TRUE(is_suspicious(r));
  InspectReport regex_only = inspect_buffer(js.substr(0, js.find('\n') + 1));
  EXPECT_EQ(regex_only.hidden_total, 2u);
  EXPECT_FALSE(is_suspicious(regex_only));
}

TEST(InspectFile, UnreadableFileIsOneSentence) {
  try {
    inspect_file("/nonexistent/bundle.js");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "cannot read /nonexistent/bundle.js: No such file or directory");
    EXPECT_EQ(e.exit_code(), 125);
  }
  try {
    inspect_file("/");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "cannot read /: Is a directory");
  }
}

TEST(InspectReport, JsonShapeAndText) {
  InspectReport r = inspect_file(triage_dir() + "/agent-bundle.js");
  trace::Json j = inspect_json(r);
  EXPECT_EQ(j["suspicious"], true);
  EXPECT_EQ(j["exit_status"], 3);
  EXPECT_EQ(j["file_kind"], "text");
  EXPECT_EQ(j["encoded_tables"][0]["key"], "0x5a");
  EXPECT_EQ(j["encoded_tables"][0]["encoding"], "base64 -> xor 0x5a");
  EXPECT_EQ(j["encoded_tables"][2]["key"], "none");
  EXPECT_EQ(j["encoded_tables"][0]["items"][0], "api.anthropic.com");
  EXPECT_EQ(j["hidden_characters"]["total"], 0);
  EXPECT_EQ(j["lookalike_choices"][0]["characters"][0]["name"], "ZERO WIDTH NON-JOINER");
  EXPECT_EQ(j["fingerprint_sources"]["references"][0]["function"], "collectTimezone");
  EXPECT_TRUE(j["blobs"].contains("examined"));
  std::string text = inspect_text(r);
  EXPECT_NE(text.find("base64 -> xor 0x5a, key 0x5a, 5 hosts"), std::string::npos) << text;
  EXPECT_NE(text.find("verdict: suspicious"), std::string::npos) << text;
  EXPECT_LT(std::count(text.begin(), text.end(), '\n'), 30) << "one screen";
}

}  // namespace
}  // namespace agenttrace::analyzer
