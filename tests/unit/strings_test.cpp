#include "common/strings.h"

#include <gtest/gtest.h>

#include <cerrno>

namespace agenttrace {
namespace {

TEST(Strings, ParseSize) {
  EXPECT_EQ(parse_size("4096"), 4096u);
  EXPECT_EQ(parse_size("512K"), 512u * 1024);
  EXPECT_EQ(parse_size("16M"), 16u << 20);
  EXPECT_EQ(parse_size("1G"), 1u << 30);
  EXPECT_EQ(parse_size("2MiB"), 2u << 20);
  EXPECT_FALSE(parse_size(""));
  EXPECT_FALSE(parse_size("M"));
  EXPECT_FALSE(parse_size("12Q"));
  EXPECT_FALSE(parse_size("99999999999999999999"));
  EXPECT_FALSE(parse_size("18446744073709551615G"));
}

TEST(Strings, HumanBytes) {
  EXPECT_EQ(human_bytes(100), "100 B");
  EXPECT_EQ(human_bytes(1536), "1.5 KiB");
  EXPECT_EQ(human_bytes(5u << 20), "5.0 MiB");
}

TEST(Strings, ShellQuote) {
  EXPECT_EQ(shell_quote("plain-word_1.txt"), "plain-word_1.txt");
  EXPECT_EQ(shell_quote("two words"), "'two words'");
  EXPECT_EQ(shell_quote("it's"), "'it'\\''s'");
  EXPECT_EQ(shell_quote(""), "''");
}

TEST(Strings, TimeAndErrno) {
  EXPECT_EQ(format_time_ns(0), "1970-01-01T00:00:00.000000000Z");
  EXPECT_EQ(format_time_ns(1'500'000'001), "1970-01-01T00:00:01.500000001Z");
  EXPECT_EQ(errno_name(ENOENT), "ENOENT");
  EXPECT_EQ(errno_name(EACCES), "EACCES");
  EXPECT_EQ(result_error_name(-ENOENT), "ENOENT");
  EXPECT_EQ(result_error_name(-4095), "E4095");
  // Found by the recorder fuzzer: negating INT64_MIN overflowed (UBSan).
  EXPECT_EQ(result_error_name(INT64_MIN), "-9223372036854775808");
  EXPECT_EQ(result_error_name(-5000), "-5000");
  EXPECT_EQ(printable_preview(std::string("a\nb\x01", 4), 10), "a.b.");
}

}  // namespace
}  // namespace agenttrace
