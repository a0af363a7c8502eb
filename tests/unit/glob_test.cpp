#include "common/glob.h"

#include <gtest/gtest.h>

namespace agenttrace::analyzer {
namespace {

TEST(Glob, Literal) {
  EXPECT_TRUE(glob_match("/etc/hosts", "/etc/hosts"));
  EXPECT_FALSE(glob_match("/etc/hosts", "/etc/hosts2"));
  EXPECT_FALSE(glob_match("/etc/hosts", "/etc/host"));
}

TEST(Glob, StarStaysInOneComponent) {
  EXPECT_TRUE(glob_match("/proc/*/cgroup", "/proc/self/cgroup"));
  EXPECT_TRUE(glob_match("/proc/*/cgroup", "/proc/1234/cgroup"));
  EXPECT_FALSE(glob_match("/proc/*/cgroup", "/proc/1/task/2/cgroup"));
  EXPECT_TRUE(glob_match("LC_*", "LC_ALL"));
  EXPECT_TRUE(glob_match("*_BASE_URL", "ANTHROPIC_BASE_URL"));
  EXPECT_FALSE(glob_match("*_BASE_URL", "BASE_URL"));
}

TEST(Glob, DoubleStarCrossesComponents) {
  EXPECT_TRUE(glob_match("/usr/share/zoneinfo/**", "/usr/share/zoneinfo/Asia/Shanghai"));
  EXPECT_FALSE(glob_match("/usr/share/zoneinfo/**", "/usr/share/zoneinfo"));
  EXPECT_TRUE(glob_match("/sys/class/dmi/id/**", "/sys/class/dmi/id/product_uuid"));
}

TEST(Glob, DirsMatchZeroOrMore) {
  EXPECT_TRUE(glob_match("**/.env", "/home/u/project/.env"));
  EXPECT_TRUE(glob_match("**/.env", "/.env"));
  EXPECT_FALSE(glob_match("**/.env", "/home/u/.envrc"));
  EXPECT_TRUE(glob_match("/a/**/b", "/a/b"));
  EXPECT_TRUE(glob_match("/a/**/b", "/a/x/y/b"));
  EXPECT_FALSE(glob_match("/a/**/b", "/a/xb"));
}

TEST(Glob, QuestionAndClass) {
  EXPECT_TRUE(glob_match("/dev/tty?", "/dev/tty1"));
  EXPECT_FALSE(glob_match("/dev/tty?", "/dev/tty"));
  EXPECT_TRUE(glob_match("/etc/ssh/ssh_host_[a-z]*_key", "/etc/ssh/ssh_host_rsa_key"));
  EXPECT_FALSE(glob_match("[!a]x", "ax"));
  EXPECT_TRUE(glob_match("[!a]x", "bx"));
  EXPECT_TRUE(glob_match("a[", "a["));  // unclosed class: literal
}

TEST(Glob, PathologicalPatternStaysFast) {
  std::string text(2000, 'a');
  EXPECT_FALSE(glob_match("*a*a*a*a*a*a*a*a*a*a*a*a*b", text));
}

}  // namespace
}  // namespace agenttrace::analyzer
