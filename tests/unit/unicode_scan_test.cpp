#include "analyzer/unicode_scan.h"
#include "common/utf8.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace agenttrace::analyzer {
namespace {

using Kind = HiddenChar::Kind;

// The one finding expected in `text`, checked in full.
void expect_one(const std::string& text, uint64_t offset, uint32_t cp, Kind kind, const std::string& name,
                const std::string& imitates = "") {
  SCOPED_TRACE(text);
  ScanResult r = scan_hidden_chars(text);
  std::string found;
  for (const HiddenChar& h : r.chars) found += " " + std::to_string(h.offset) + ":" + code_point_label(h.code_point);
  ASSERT_EQ(r.chars.size(), 1u) << found;
  const HiddenChar& h = r.chars[0];
  EXPECT_EQ(h.offset, offset);
  EXPECT_EQ(h.code_point, cp);
  EXPECT_EQ(h.kind, kind);
  EXPECT_EQ(h.name, name);
  EXPECT_EQ(h.imitates, imitates);
  EXPECT_EQ(r.invalid_utf8_bytes, 0u);
  EXPECT_FALSE(r.truncated);
}

void expect_none(const std::string& text) {
  SCOPED_TRACE(text);
  ScanResult r = scan_hidden_chars(text);
  for (const HiddenChar& h : r.chars) {
    ADD_FAILURE() << "unexpected " << kind_name(h.kind) << " " << code_point_label(h.code_point) << " at "
                  << h.offset << ": " << context_around(text, h.offset);
  }
  EXPECT_EQ(r.invalid_utf8_bytes, 0u);
}

std::string utf8(uint32_t cp) {
  std::string out;
  append_utf8(out, cp);
  return out;
}

std::string tags(const std::string& ascii) {
  std::string out;
  for (char c : ascii) out += utf8(0xE0000 + static_cast<unsigned char>(c));
  return out;
}

const std::string kJsonPre = R"({"model":"claude","messages":[{"role":"user","content":")";
const std::string kJsonPost = R"("}],"max_tokens":1024})";

// ---- nothing to report ------------------------------------------------------

TEST(UnicodeScan, PlainAsciiJsonHasNoFindings) {
  expect_none(kJsonPre + "Fix the failing test in src/main.cpp, then run make -j4." + kJsonPost);
  expect_none("");
  expect_none("\t\n\r\x01\x7f control bytes are not hidden characters");
}

TEST(UnicodeScan, AccentedLatinHasNoFindings) {
  expect_none("café naïve Zürich Łódź Straße Ærøskøbing Ångström façade señor Nº 5");
  expect_none("Turkish: kapı, İstanbul, ılık; Vietnamese: Tiếng Việt có dấu; Polish: zażółć gęślą jaźń");
  expect_none("IPA ɑ ɛ ɪ ʊ; Romanian ș ț; Czech ř ů; Icelandic þ ð");
  // Same, decomposed: combining marks belong to the word.
  expect_none("cafe\u0301 nai\u0308ve");
}

TEST(UnicodeScan, OtherScriptsHaveNoFindings) {
  expect_none("Привет, мир! Это обычный текст о погоде в Москве: сегодня +5 °C, ветер 3 м/с.");
  expect_none("Καλημέρα κόσμε, η Αθήνα είναι όμορφη. Ο ΟΗΕ και η ΕΕ.");
  expect_none("你好，世界。今天天气很好，我们去公园散步吧。");
  expect_none("日本語のテキスト、カタカナとひらがな。");
  expect_none("שלום עולם, זה טקסט בעברית.");
  expect_none("مرحبا بالعالم، العدد ١٢٣ والعدد ٤٥٦.");
  expect_none("Я использую Python и Docker на Ubuntu 22.04");
  expect_none("使用Python编程很有趣 and 10μs later, 2×3, 5°C");
  // Words that are all Cyrillic even though every letter looks Latin.
  expect_none("сор рас вес");
  // A Latin brand with a Russian ending is open mixing, not a stand-in.
  expect_none("для iPhoneом");
}

TEST(UnicodeScan, ScriptJoinersAreNotReported) {
  // Persian needs ZWNJ between joining letters (RFC 5892 A.1).
  expect_none("می\u200Cخواهم به خانه بروم");
  // Devanagari ZWJ after a virama shapes a half form (RFC 5892 A.2).
  expect_none("क्\u200Dष क्\u200Cष");
  // Between Latin letters the same joiners are hidden characters.
  expect_one("ab\u200Ccd", 2, 0x200C, Kind::kInvisible, "ZERO WIDTH NON-JOINER");
  expect_one("ab\u200Dcd", 2, 0x200D, Kind::kInvisible, "ZERO WIDTH JOINER");
}

// ---- invisible and format code points -------------------------------------------

TEST(UnicodeScan, ZeroWidthAndFormatCharacters) {
  struct Case {
    uint32_t cp;
    const char* name;
  } cases[] = {
      {0x200B, "ZERO WIDTH SPACE"},
      {0x200C, "ZERO WIDTH NON-JOINER"},
      {0x200D, "ZERO WIDTH JOINER"},
      {0x2060, "WORD JOINER"},
      {0x2061, "FUNCTION APPLICATION"},
      {0x2062, "INVISIBLE TIMES"},
      {0x2063, "INVISIBLE SEPARATOR"},
      {0x2064, "INVISIBLE PLUS"},
      {0xFEFF, "ZERO WIDTH NO-BREAK SPACE"},
      {0x00AD, "SOFT HYPHEN"},
      {0x180E, "MONGOLIAN VOWEL SEPARATOR"},
      {0x3164, "HANGUL FILLER"},
      {0x115F, "HANGUL CHOSEONG FILLER"},
      {0x1160, "HANGUL JUNGSEONG FILLER"},
      {0xFFA0, "HALFWIDTH HANGUL FILLER"},
      {0x034F, "COMBINING GRAPHEME JOINER"},
      {0xFFF9, "INTERLINEAR ANNOTATION ANCHOR"},
      {0x1D173, "MUSICAL SYMBOL BEGIN BEAM"},
      {0x2065, "<unassigned-2065>"},
  };
  for (const Case& c : cases) {
    std::string pre = kJsonPre + "Asia";
    expect_one(pre + utf8(c.cp) + "/Shanghai" + kJsonPost, pre.size(), c.cp, Kind::kInvisible, c.name);
  }
}

TEST(UnicodeScan, OrdinarySpacesAreNotReported) {
  // No-break and typographic spaces are visible as spaces.
  expect_none("10\u00A0km, a\u2003b, 全\u3000角, thin\u2009space");
}

TEST(UnicodeScan, BidiControls) {
  struct Case {
    uint32_t cp;
    const char* name;
  } cases[] = {
      {0x061C, "ARABIC LETTER MARK"},
      {0x200E, "LEFT-TO-RIGHT MARK"},
      {0x200F, "RIGHT-TO-LEFT MARK"},
      {0x202A, "LEFT-TO-RIGHT EMBEDDING"},
      {0x202B, "RIGHT-TO-LEFT EMBEDDING"},
      {0x202C, "POP DIRECTIONAL FORMATTING"},
      {0x202D, "LEFT-TO-RIGHT OVERRIDE"},
      {0x202E, "RIGHT-TO-LEFT OVERRIDE"},
      {0x2066, "LEFT-TO-RIGHT ISOLATE"},
      {0x2067, "RIGHT-TO-LEFT ISOLATE"},
      {0x2068, "FIRST STRONG ISOLATE"},
      {0x2069, "POP DIRECTIONAL ISOLATE"},
  };
  for (const Case& c : cases) {
    std::string pre = "if (access_level != \"user";
    expect_one(pre + utf8(c.cp) + "\") {", pre.size(), c.cp, Kind::kBidi, c.name);
  }
}

TEST(UnicodeScan, TrojanSourceLine) {
  std::string text = "/*\u202E } \u2066if (isAdmin)\u2069 \u2066 begin admins only */";
  ScanResult r = scan_hidden_chars(text);
  ASSERT_EQ(r.chars.size(), 4u);
  EXPECT_EQ(r.chars[0].offset, 2u);
  EXPECT_EQ(r.chars[0].code_point, 0x202Eu);
  EXPECT_EQ(r.chars[1].offset, 2u + 3 + 3);
  for (const HiddenChar& h : r.chars) EXPECT_EQ(h.kind, Kind::kBidi);
  for (size_t i = 1; i < r.chars.size(); ++i) EXPECT_LT(r.chars[i - 1].offset, r.chars[i].offset);
}

// ---- tag characters -------------------------------------------------------------

TEST(UnicodeScan, TagRunIsReportedAndDecodes) {
  std::string pre = kJsonPre + "Say hi.";
  std::string text = pre + tags("hidden") + kJsonPost;
  ScanResult r = scan_hidden_chars(text);
  ASSERT_EQ(r.chars.size(), 6u);
  const char* names[] = {"TAG LATIN SMALL LETTER H", "TAG LATIN SMALL LETTER I", "TAG LATIN SMALL LETTER D",
                         "TAG LATIN SMALL LETTER D", "TAG LATIN SMALL LETTER E", "TAG LATIN SMALL LETTER N"};
  for (size_t i = 0; i < 6; ++i) {
    EXPECT_EQ(r.chars[i].offset, pre.size() + 4 * i);
    EXPECT_EQ(r.chars[i].kind, Kind::kTag);
    EXPECT_EQ(r.chars[i].code_point, 0xE0000u + static_cast<unsigned char>("hidden"[i]));
    EXPECT_EQ(r.chars[i].name, names[i]);
  }
  // From any code point of the run, even from the middle of one.
  EXPECT_EQ(decode_tag_run(text, pre.size()), "hidden");
  EXPECT_EQ(decode_tag_run(text, pre.size() + 12), "hidden");
  EXPECT_EQ(decode_tag_run(text, pre.size() + 23), "hidden");
  // Not on a tag.
  EXPECT_EQ(decode_tag_run(text, pre.size() - 1), "");
  EXPECT_EQ(decode_tag_run(text, pre.size() + 24), "");
  EXPECT_EQ(decode_tag_run(text, text.size()), "");
  EXPECT_EQ(decode_tag_run(text, 1u << 30), "");
}

TEST(UnicodeScan, TagRunWithSpacesPunctuationAndControls) {
  std::string msg = "TZ=Asia/Shanghai; proxy=http://10.0.0.1:3128 ~{}";
  std::string text = "ok" + utf8(0xE0001) + tags(msg) + utf8(0xE007F) + "done";
  ScanResult r = scan_hidden_chars(text);
  EXPECT_EQ(r.chars.size(), msg.size() + 2);
  EXPECT_EQ(r.chars.front().name, "LANGUAGE TAG");
  EXPECT_EQ(r.chars.back().name, "CANCEL TAG");
  // LANGUAGE TAG and CANCEL TAG carry no character.
  EXPECT_EQ(decode_tag_run(text, 2), msg);
}

TEST(UnicodeScan, FlagTagSequencesAreNotReported) {
  std::string england = "\U0001F3F4" + tags("gbeng") + utf8(0xE007F);
  std::string scotland = "\U0001F3F4" + tags("gbsct") + utf8(0xE007F);
  expect_none("Go " + england + " and " + scotland + "!");
  // The same tags after anything else, or a made-up region, are reported.
  EXPECT_EQ(scan_hidden_chars("x" + tags("gbeng") + utf8(0xE007F)).chars.size(), 6u);
  EXPECT_EQ(scan_hidden_chars("\U0001F600" + tags("gbeng") + utf8(0xE007F)).chars.size(), 6u);
  EXPECT_EQ(scan_hidden_chars("\U0001F3F4" + tags("secret") + utf8(0xE007F)).chars.size(), 7u);
}

// ---- variation selectors and emoji -------------------------------------------------

TEST(UnicodeScan, VariationSelectors) {
  expect_one("ab" + utf8(0xFE00) + "c", 2, 0xFE00, Kind::kVariationSelector, "VARIATION SELECTOR-1");
  expect_one("ab" + utf8(0xFE0F) + "c", 2, 0xFE0F, Kind::kVariationSelector, "VARIATION SELECTOR-16");
  expect_one("ab" + utf8(0xFE0E) + "c", 2, 0xFE0E, Kind::kVariationSelector, "VARIATION SELECTOR-15");
  expect_one("ab" + utf8(0xE0100) + "c", 2, 0xE0100, Kind::kVariationSelector, "VARIATION SELECTOR-17");
  expect_one("ab" + utf8(0xE01EF) + "c", 2, 0xE01EF, Kind::kVariationSelector, "VARIATION SELECTOR-256");
  expect_one("ᠠ" + utf8(0x180B), 3, 0x180B, Kind::kVariationSelector, "MONGOLIAN FREE VARIATION SELECTOR ONE");
  // An ideographic variation sequence is reported too: variation selectors
  // after any base are the "emoji smuggling" channel.
  expect_one("葛" + utf8(0xE0100), 3, 0xE0100, Kind::kVariationSelector, "VARIATION SELECTOR-17");
}

TEST(UnicodeScan, EmojiSequencesAreNotReported) {
  expect_none("I \u2764\uFE0F you");                                       // ❤️ emoji presentation
  expect_none("\u263A\uFE0E text smiley");                                  // ☺︎ text presentation
  expect_none("family \U0001F468\u200D\U0001F469\u200D\U0001F467\u200D\U0001F466 here");  // ZWJ sequence
  expect_none("\U0001F3F3\uFE0F\u200D\U0001F308 pride");                    // VS16 then ZWJ
  expect_none("\U0001F469\U0001F3FD\u200D\U0001F4BB coder");                // skin tone then ZWJ
  expect_none("\U0001F469\u200D\u2764\uFE0F\u200D\U0001F48B\u200D\U0001F468");  // kiss
  expect_none("press 1\uFE0F\u20E3 or #\uFE0F\u20E3");                      // keycaps
  expect_none("\U0001F44D\U0001F3FD thumbs, \U0001F1E8\U0001F1F3 flag");
  // A ZWJ sequence newer than ICU's emoji data is still well-formed.
  expect_none("\U0001F426\u200D\U0001F525 phoenix");
}

TEST(UnicodeScan, JoinersAndSelectorsOutsideEmojiAreReported) {
  // VS16 after ordinary text.
  expect_one("ok\uFE0F", 2, 0xFE0F, Kind::kVariationSelector, "VARIATION SELECTOR-16");
  // A second VS16 after an emoji.
  std::string smile = "\U0001F600\uFE0F";
  expect_one(smile + "\uFE0F", smile.size(), 0xFE0F, Kind::kVariationSelector, "VARIATION SELECTOR-16");
  // A digit with VS16 but no keycap.
  expect_one("1\uFE0F", 1, 0xFE0F, Kind::kVariationSelector, "VARIATION SELECTOR-16");
  // ZWJ after an emoji but before text, and at the ends of the buffer.
  expect_one("\U0001F600\u200Dx", 4, 0x200D, Kind::kInvisible, "ZERO WIDTH JOINER");
  expect_one("\u200D\U0001F600", 0, 0x200D, Kind::kInvisible, "ZERO WIDTH JOINER");
  expect_one("\U0001F600\u200D", 4, 0x200D, Kind::kInvisible, "ZERO WIDTH JOINER");
  // Bytes smuggled as selectors after an emoji: every selector is reported.
  std::string text = "\U0001F600";
  for (uint32_t cp : {0xE0100u, 0xE0153u, 0xFE01u, 0xE01EFu}) text += utf8(cp);
  ScanResult r = scan_hidden_chars(text);
  ASSERT_EQ(r.chars.size(), 4u);
  EXPECT_EQ(r.chars[0].offset, 4u);
  EXPECT_EQ(r.chars[1].offset, 8u);
  EXPECT_EQ(r.chars[2].offset, 12u);
  EXPECT_EQ(r.chars[3].offset, 15u);
  for (const HiddenChar& h : r.chars) EXPECT_EQ(h.kind, Kind::kVariationSelector);
}

// ---- look-alikes --------------------------------------------------------------------

TEST(UnicodeScan, CyrillicLetterInLatinWord) {
  std::string pre = kJsonPre + "open https://p";
  expect_one(pre + "\u0430ypal.com/login" + kJsonPost, pre.size(), 0x0430, Kind::kLookalike,
             "CYRILLIC SMALL LETTER A", "a");
  expect_one("g\u03BFogle", 1, 0x03BF, Kind::kLookalike, "GREEK SMALL LETTER OMICRON", "o");
  // Case follows the imitating letter: "l", "I", "1" and "|" share a skeleton.
  expect_one("\u0406nfo", 0, 0x0406, Kind::kLookalike, "CYRILLIC CAPITAL LETTER BYELORUSSIAN-UKRAINIAN I", "I");
  expect_one("\u13A0ata", 0, 0x13A0, Kind::kLookalike, "CHEROKEE LETTER A", "D");
  expect_one("abc\U0001D41A", 3, 0x1D41A, Kind::kLookalike, "MATHEMATICAL BOLD SMALL A", "a");
  expect_one("ｐassword", 0, 0xFF50, Kind::kLookalike, "FULLWIDTH LATIN SMALL LETTER P", "p");
}

TEST(UnicodeScan, SeveralStandInsInOneWord) {
  // "раураl" style: Cyrillic р, а, у among Latin letters.
  std::string text = "x=\u0440\u0430y\u0440al";
  ScanResult r = scan_hidden_chars(text);
  ASSERT_EQ(r.chars.size(), 3u);
  EXPECT_EQ(r.chars[0].offset, 2u);
  EXPECT_EQ(r.chars[0].imitates, "p");
  EXPECT_EQ(r.chars[1].offset, 4u);
  EXPECT_EQ(r.chars[1].imitates, "a");
  EXPECT_EQ(r.chars[2].offset, 7u);
  EXPECT_EQ(r.chars[2].imitates, "p");
  EXPECT_EQ(r.chars[2].name, "CYRILLIC SMALL LETTER ER");
}

TEST(UnicodeScan, DigitStandInsInNumbers) {
  expect_one("port 12\uFF134", 7, 0xFF13, Kind::kLookalike, "FULLWIDTH DIGIT THREE", "3");
  expect_one("pid 9\u06619", 5, 0x0661, Kind::kLookalike, "ARABIC-INDIC DIGIT ONE", "1");
  // U+0660 is confusable with a full stop, so "10٠5" reads as "10.5".
  expect_one("v10\u06605", 3, 0x0660, Kind::kLookalike, "ARABIC-INDIC DIGIT ZERO", ".");
  // A digit that looks like no ASCII stands in for its value.
  expect_one("12\u0967", 2, 0x0967, Kind::kLookalike, "DEVANAGARI DIGIT ONE", "1");
  expect_one("\U0001D7CE7", 0, 0x1D7CE, Kind::kLookalike, "MATHEMATICAL BOLD DIGIT ZERO", "0");
  // Numbers written entirely in another digit system are not stand-ins.
  expect_none("\u0661\u0662\u0663 \u0967\u0968 \uFF11\uFF12");
}

TEST(UnicodeScan, WordBoundariesAreRespected) {
  // Hidden characters and punctuation split words: the Cyrillic word after
  // the ZWSP is judged on its own.
  std::string text = "abc\u200B\u0441\u043E\u0440 abc-\u0441\u043E\u0440";
  ScanResult r = scan_hidden_chars(text);
  ASSERT_EQ(r.chars.size(), 1u);
  EXPECT_EQ(r.chars[0].code_point, 0x200Bu);
  // A stand-in right after a hidden character inside a Latin word.
  std::string pre = "pass\u200Bw";
  ScanResult r2 = scan_hidden_chars(pre + "\u043Erd");
  ASSERT_EQ(r2.chars.size(), 2u);
  EXPECT_EQ(r2.chars[1].offset, pre.size());
  EXPECT_EQ(r2.chars[1].imitates, "o");
}

// ---- invalid input ----------------------------------------------------------------------

TEST(UnicodeScan, InvalidUtf8IsCountedAndSkipped) {
  std::string text = std::string("a\xFF" "b\xC0\xAF" "c\xED\xA0\x80" "d\xF4\x90\x80\x80" "e\x80" "f");
  ScanResult r = scan_hidden_chars(text);
  EXPECT_TRUE(r.chars.empty());
  EXPECT_EQ(r.invalid_utf8_bytes, 1u + 2 + 3 + 4 + 1);
  // Findings after invalid bytes keep their exact offsets.
  std::string pre = std::string("\xFF\xFE" "ab\xE2\x82");
  ScanResult r2 = scan_hidden_chars(pre + "\u200B" + "x");
  ASSERT_EQ(r2.chars.size(), 1u);
  EXPECT_EQ(r2.chars[0].offset, pre.size());
  EXPECT_EQ(r2.invalid_utf8_bytes, 4u);
}

TEST(UnicodeScan, TruncatedSequenceAtEnd) {
  for (std::string tail : {std::string("\xE2\x80"), std::string("\xF3\xA0\x80"), std::string("\xC3"),
                           std::string("\xF0\x9F\x98")}) {
    ScanResult r = scan_hidden_chars("abc\u200B" + tail);
    ASSERT_EQ(r.chars.size(), 1u);
    EXPECT_EQ(r.chars[0].offset, 3u);
    EXPECT_EQ(r.invalid_utf8_bytes, tail.size());
    EXPECT_EQ(decode_tag_run(tail, 0), "");
    EXPECT_FALSE(context_around(tail, 1).empty());
  }
}

TEST(UnicodeScan, MaxFindingsTruncates) {
  std::string text;
  for (int i = 0; i < 100; ++i) text += "a\u200B";
  ScanResult r = scan_hidden_chars(text, 10);
  EXPECT_EQ(r.chars.size(), 10u);
  EXPECT_TRUE(r.truncated);
  EXPECT_EQ(r.chars[9].offset, 9u * 4 + 1);
  ScanResult all = scan_hidden_chars(text);
  EXPECT_EQ(all.chars.size(), 100u);
  EXPECT_FALSE(all.truncated);
  ScanResult none = scan_hidden_chars(text, 0);
  EXPECT_TRUE(none.chars.empty());
  EXPECT_TRUE(none.truncated);
  ScanResult tag_run = scan_hidden_chars(tags("a long hidden message"), 5);
  EXPECT_EQ(tag_run.chars.size(), 5u);
  EXPECT_TRUE(tag_run.truncated);
}

// Random bytes and random mixes of interesting code points: no crash, every
// finding sits on a code point that decodes to what it says, in order.
TEST(UnicodeScan, RandomInputIsSafe) {
  std::mt19937 rng(12345);
  const uint32_t pieces[] = {'a', 'Z', '7', ' ', '"', 0xE9, 0x430, 0x3BF, 0x200B, 0x200D, 0xFE0F, 0x1F600, 0xE0041,
                             0xE007F, 0x1F3F4, 0x0661, 0xFF13, 0x094D, 0x0628, 0x200C, 0x20E3, 0x202E, 0x1D41A};
  for (int round = 0; round < 200; ++round) {
    std::string text;
    size_t len = rng() % 300;
    for (size_t i = 0; i < len; ++i) {
      if (round % 2 == 0) {
        text += static_cast<char>(rng() & 0xFF);
      } else {
        text += utf8(pieces[rng() % std::size(pieces)]);
      }
    }
    ScanResult r = scan_hidden_chars(text);
    for (size_t i = 0; i < r.chars.size(); ++i) {
      const HiddenChar& h = r.chars[i];
      ASSERT_LT(h.offset, text.size());
      std::string enc = utf8(h.code_point);
      EXPECT_EQ(text.compare(h.offset, enc.size(), enc), 0);
      if (i > 0) {
        EXPECT_LT(r.chars[i - 1].offset, h.offset);
      }
      std::string ctx = context_around(text, h.offset, 5);
      EXPECT_EQ(scan_hidden_chars(ctx).invalid_utf8_bytes, 0u);
      decode_tag_run(text, h.offset);
    }
    if (round % 2 == 1) {
      EXPECT_EQ(r.invalid_utf8_bytes, 0u);
    }
    for (size_t off = 0; off < text.size(); off += 7) {
      EXPECT_EQ(scan_hidden_chars(context_around(text, off, 3)).invalid_utf8_bytes, 0u);
    }
  }
}

// ---- evidence helpers ----------------------------------------------------------------------

TEST(UnicodeScan, ContextAround) {
  std::string text = "0123456789Asia\u200B/Shanghai0123456789";
  EXPECT_EQ(context_around(text, 14, 4), "Asia<U+200B>/Sha");
  // From the middle of the code point.
  EXPECT_EQ(context_around(text, 15, 4), "Asia<U+200B>/Sha");
  EXPECT_EQ(context_around(text, 0, 3), "0123");
  EXPECT_EQ(context_around(text, text.size() - 1, 2), "789");
  EXPECT_EQ(context_around(text, text.size(), 2), "89");
  EXPECT_EQ(context_around(text, 1u << 30, 2), "89");
  EXPECT_EQ(context_around("", 0, 5), "");
  // Radius counts code points, not bytes; visible non-ASCII stays as it is.
  EXPECT_EQ(context_around("абв\u202Eгде", 6, 2), "бв<U+202E>гд");
  // Controls are escaped and invalid bytes shown as \xNN: one line of UTF-8.
  EXPECT_EQ(context_around(std::string("a\n\tb\r\x01\x7f\xFF\u0085\u2028z"), 0, 20),
            "a\\n\\tb\\r\\x01\\x7F\\xFF<U+0085><U+2028>z");
  // Emoji joiners are shown even where the scan does not report them.
  EXPECT_EQ(context_around("\U0001F468\u200D\U0001F469", 4, 1), "\U0001F468<U+200D>\U0001F469");
}

TEST(UnicodeScan, CodePointLabel) {
  EXPECT_EQ(code_point_label(0x200B), "U+200B ZERO WIDTH SPACE");
  EXPECT_EQ(code_point_label(0x430), "U+0430 CYRILLIC SMALL LETTER A");
  EXPECT_EQ(code_point_label(0xE0061), "U+E0061 TAG LATIN SMALL LETTER A");
  EXPECT_EQ(code_point_label(0x2065), "U+2065 <unassigned-2065>");
  EXPECT_EQ(code_point_label(0x41), "U+0041 LATIN CAPITAL LETTER A");
  EXPECT_EQ(code_point_label(0x110000), "U+110000");
}

TEST(UnicodeScan, KindNames) {
  EXPECT_STREQ(kind_name(Kind::kInvisible), "invisible");
  EXPECT_STREQ(kind_name(Kind::kBidi), "bidi");
  EXPECT_STREQ(kind_name(Kind::kTag), "tag");
  EXPECT_STREQ(kind_name(Kind::kVariationSelector), "variation-selector");
  EXPECT_STREQ(kind_name(Kind::kLookalike), "lookalike");
}

// ---- speed and threads -------------------------------------------------------------------------

std::string ascii_json_body(size_t size) {
  std::string body = R"({"model":"claude-sonnet","max_tokens":4096,"messages":[)";
  for (int i = 0; body.size() < size - 200; ++i) {
    body += R"({"role":"user","content":"Please refactor src/module_)" + std::to_string(i) +
            R"(.cpp so that the parser handles escaped quotes \"like this\" and tabs\t."},)";
  }
  body += R"({"role":"assistant","content":"ok"}]})";
  return body;
}

// Russian, Chinese, accented Latin, emoji and ASCII; with `hidden`, also a
// look-alike and a zero-width space in every eighth piece.
std::string mixed_body(size_t size, bool hidden = true) {
  std::string body = "{\"messages\":[";
  const std::string parts[] = {
      "Привет, как дела? ", "你好，世界。", "café naïve Zürich ", "I \u2764\uFE0F emoji \U0001F468\u200D\U0001F469 ",
      "plain ascii text with numbers 12345 ", "Καλημέρα κόσμε ", "p\u0430ypal ", "Asia\u200B/Shanghai ",
  };
  size_t pieces = hidden ? std::size(parts) : std::size(parts) - 2;
  for (size_t i = 0; body.size() < size - 100; ++i) body += parts[i % pieces];
  body += "\"]}";
  return body;
}

template <typename F>
double micros_per_call(F f, int iterations) {
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < iterations; ++i) f();
  std::chrono::duration<double, std::micro> took = std::chrono::steady_clock::now() - start;
  return took.count() / iterations;
}

TEST(UnicodeScan, Benchmark) {
  std::string ascii = ascii_json_body(100 * 1024);
  std::string mixed = mixed_body(100 * 1024);
  std::string clean = mixed_body(100 * 1024, false);
  ScanResult warm = scan_hidden_chars(mixed);  // fills the per-code-point cache
  EXPECT_TRUE(scan_hidden_chars(ascii).chars.empty());
  EXPECT_TRUE(scan_hidden_chars(clean).chars.empty());
  EXPECT_GT(warm.chars.size(), 100u);
  size_t sink = 1;
  double ascii_us = micros_per_call([&] { sink += scan_hidden_chars(ascii).chars.size(); }, 200);
  double clean_us = micros_per_call([&] { sink += scan_hidden_chars(clean).chars.size(); }, 50);
  double mixed_us = micros_per_call([&] { sink += scan_hidden_chars(mixed).chars.size(); }, 50);
  std::printf("[ bench    ] scan_hidden_chars: %zu B ASCII JSON %.1f us; %zu B mixed, no findings %.1f us; "
              "%zu B mixed, %zu findings %.1f us\n",
              ascii.size(), ascii_us, clean.size(), clean_us, mixed.size(), warm.chars.size(), mixed_us);
  EXPECT_GT(sink, 0u);
}

TEST(UnicodeScan, ConcurrentScansAgree) {
  std::string mixed = mixed_body(20 * 1024) + "\U0001D7CE7 \u13A0ata \uFF50assword";
  std::vector<size_t> counts(4);
  std::vector<std::thread> threads;
  for (size_t t = 0; t < counts.size(); ++t) {
    threads.emplace_back([&, t] { counts[t] = scan_hidden_chars(mixed).chars.size(); });
  }
  for (auto& th : threads) th.join();
  size_t expected = scan_hidden_chars(mixed).chars.size();
  for (size_t c : counts) EXPECT_EQ(c, expected);
}

}  // namespace
}  // namespace agenttrace::analyzer
