#include "collector/paths.h"

#include <gtest/gtest.h>

namespace agenttrace::collector {
namespace {

TEST(Paths, ComponentsInnermostFirst) {
  EXPECT_EQ(path_from_components(std::string("c\0b\0a\0", 6)), "/a/b/c");
  EXPECT_EQ(path_from_components(""), "/");
  EXPECT_EQ(path_from_components(std::string("tmp\0", 4)), "/tmp");
}

TEST(Paths, Normalize) {
  EXPECT_EQ(normalize_path("/"), "/");
  EXPECT_EQ(normalize_path("//etc///hosts"), "/etc/hosts");
  EXPECT_EQ(normalize_path("/etc/./hosts/"), "/etc/hosts");
  EXPECT_EQ(normalize_path("/a/b/../c"), "/a/c");
  EXPECT_EQ(normalize_path("/../../etc"), "/etc");
  EXPECT_EQ(normalize_path("/a/.."), "/");
}

TEST(Paths, Resolve) {
  EXPECT_EQ(resolve_path("/usr/share", "zoneinfo/UTC"), "/usr/share/zoneinfo/UTC");
  EXPECT_EQ(resolve_path("/etc", "../etc/./os-release"), "/etc/os-release");
  EXPECT_EQ(resolve_path("/tmp", "/etc/hosts"), "/etc/hosts");
  EXPECT_EQ(resolve_path("/", "."), "/");
}

}  // namespace
}  // namespace agenttrace::collector
