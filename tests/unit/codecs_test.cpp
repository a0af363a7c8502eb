// The codecs in common/ that the analyzer's scanners share: hex digits,
// base64 (strict and bare digit runs) and UTF-8 code points; and Result.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/base64.h"
#include "common/hex.h"
#include "common/result.h"
#include "common/utf8.h"

namespace agenttrace {
namespace {

TEST(Hex, DigitValues) {
  EXPECT_EQ(hex_digit_value('0'), 0);
  EXPECT_EQ(hex_digit_value('9'), 9);
  EXPECT_EQ(hex_digit_value('a'), 10);
  EXPECT_EQ(hex_digit_value('F'), 15);
  EXPECT_EQ(hex_digit_value('g'), -1);
  EXPECT_EQ(hex_digit_value('x'), -1);
  EXPECT_EQ(hex_digit_value(0xC0), -1);
  int digits = 0;
  for (int c = 0; c < 256; ++c) digits += hex_digit_value(static_cast<unsigned char>(c)) >= 0;
  EXPECT_EQ(digits, 22);
}

TEST(Hex, DecodePairs) {
  std::string out = "left over";
  EXPECT_TRUE(hex_decode_pairs("48656c6C6f", out));
  EXPECT_EQ(out, "Hello");
  EXPECT_TRUE(hex_decode_pairs("00ff7", out));  // the unpaired last digit is left out
  EXPECT_EQ(out, std::string("\x00\xff", 2));
  EXPECT_TRUE(hex_decode_pairs("", out));
  EXPECT_EQ(out, "");
  EXPECT_FALSE(hex_decode_pairs("4142zz43", out));
  EXPECT_EQ(out, "AB");
  EXPECT_FALSE(hex_decode_pairs("41g", out));
  EXPECT_EQ(out, "A");
}

TEST(Hex, AppendByte) {
  std::string out = "0x";
  append_hex_byte(out, 0x5a);
  append_hex_byte(out, 0x0f, true);
  append_hex_byte(out, 0xab, true);
  EXPECT_EQ(out, "0x5a0FAB");
}

TEST(Base64, DigitsOfEitherAlphabet) {
  EXPECT_TRUE(is_base64_digit('A'));
  EXPECT_TRUE(is_base64_digit('z'));
  EXPECT_TRUE(is_base64_digit('7'));
  EXPECT_TRUE(is_base64_digit('+'));
  EXPECT_TRUE(is_base64_digit('/'));
  EXPECT_TRUE(is_base64_digit('-'));
  EXPECT_TRUE(is_base64_digit('_'));
  EXPECT_FALSE(is_base64_digit('='));
  EXPECT_FALSE(is_base64_digit('.'));
  int digits = 0;
  for (int c = 0; c < 256; ++c) digits += is_base64_digit(static_cast<unsigned char>(c));
  EXPECT_EQ(digits, 66);
}

TEST(Base64, DecodeDigitsOfAnyCount) {
  std::string out = "left over";
  EXPECT_TRUE(base64_decode_digits("SGVsbG8", out));  // "Hello" without its padding
  EXPECT_EQ(out, "Hello");
  EXPECT_TRUE(base64_decode_digits("SGVsbG8h", out));
  EXPECT_EQ(out, "Hello!");
  EXPECT_TRUE(base64_decode_digits("SGVsbG8hS", out));  // a lone last digit gives nothing
  EXPECT_EQ(out, "Hello!");
  EXPECT_TRUE(base64_decode_digits("-_-_", out));  // URL-safe
  EXPECT_EQ(out, "\xfb\xff\xbf");
  EXPECT_TRUE(base64_decode_digits("+/+/", out));
  EXPECT_EQ(out, "\xfb\xff\xbf");
  EXPECT_FALSE(base64_decode_digits("SGVs=bG8", out));
  EXPECT_EQ(out, "Hel");
  EXPECT_TRUE(base64_decode_digits("", out));
  EXPECT_EQ(out, "");
}

TEST(Base64, StrictDecodeIsUnchanged) {
  EXPECT_EQ(base64_decode("SGVsbG8="), "Hello");
  EXPECT_EQ(base64_decode("SGVsbG8"), "Hello");
  EXPECT_EQ(base64_decode(base64_encode(std::string("\x00\x01\xfe\xff", 4))), std::string("\x00\x01\xfe\xff", 4));
  EXPECT_EQ(base64_decode(""), "");
  EXPECT_FALSE(base64_decode("SGVsbG8hS"));  // 4n+1 digits cannot be base64
  EXPECT_FALSE(base64_decode("SGVs bG8="));
  EXPECT_FALSE(base64_decode("SG=sbG8="));
}

TEST(Utf8, CodePoints) {
  EXPECT_EQ(utf8_code_points("a\xC3\xA9\xE2\x80\x8B\xF0\x9F\x98\x80"),
            (std::vector<uint32_t>{'a', 0xE9, 0x200B, 0x1F600}));
  EXPECT_EQ(utf8_code_points(""), std::vector<uint32_t>{});
  EXPECT_FALSE(utf8_code_points("a\xC3"));              // truncated
  EXPECT_FALSE(utf8_code_points("\xC0\xAF"));           // overlong
  EXPECT_FALSE(utf8_code_points("\xED\xA0\x80"));       // a surrogate
  EXPECT_FALSE(utf8_code_points("\xF4\x90\x80\x80"));   // above U+10FFFF
  EXPECT_FALSE(utf8_code_points("ok\x80"));             // a lone continuation byte
}

Result<int> parse_small(int n) {
  if (n > 9) return fail("more than one digit");
  return n;
}

TEST(Result, HoldsTheValueOrOneSentence) {
  Result<int> good = parse_small(7);
  ASSERT_TRUE(good.ok());
  EXPECT_EQ(*good, 7);
  Result<int> bad = parse_small(12);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error(), "more than one digit");
  Result<void> done;
  EXPECT_TRUE(done.ok());
  Result<void> refused = bad.failure();
  EXPECT_FALSE(refused.ok());
  EXPECT_EQ(refused.error(), "more than one digit");
}

}  // namespace
}  // namespace agenttrace
