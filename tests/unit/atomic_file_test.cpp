// Files replaced whole (common/atomic_file.h).
#include "common/atomic_file.h"

#include <sys/stat.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/error.h"
#include "../support/temp_dir.h"

namespace agenttrace {
namespace {

using testing::TempDir;

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

mode_t mode_of(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::lstat(path.c_str(), &st), 0) << path;
  return st.st_mode;
}

size_t entries(const std::string& dir) {
  size_t n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir)) ++n;
  return n;
}

TEST(AtomicFile, WritesExactlyTheModeWhateverTheUmask) {
  TempDir dir;
  mode_t old = ::umask(077);
  write_file_atomic(dir.file("a"), std::string("x\0y", 3), 0644);
  ::umask(000);
  write_file_atomic(dir.file("b"), "", 0600);
  ::umask(old);
  EXPECT_EQ(slurp(dir.file("a")), std::string("x\0y", 3));
  EXPECT_EQ(mode_of(dir.file("a")), S_IFREG | 0644);
  EXPECT_EQ(slurp(dir.file("b")), "");
  EXPECT_EQ(mode_of(dir.file("b")), S_IFREG | 0600);
  EXPECT_EQ(entries(dir.path()), 2u);  // no temporary file left
}

TEST(AtomicFile, ReplacesAFileAndALinkItselfNeverItsTarget) {
  TempDir dir;
  write_file_atomic(dir.file("f"), "old", 0600);
  write_file_atomic(dir.file("f"), "new", 0600);
  EXPECT_EQ(slurp(dir.file("f")), "new");
  ASSERT_EQ(::symlink(dir.file("f").c_str(), dir.file("link").c_str()), 0);
  write_file_atomic(dir.file("link"), "through?", 0600);
  EXPECT_EQ(slurp(dir.file("f")), "new");
  EXPECT_EQ(mode_of(dir.file("link")), S_IFREG | 0600);
  EXPECT_EQ(slurp(dir.file("link")), "through?");
  EXPECT_EQ(entries(dir.path()), 2u);
}

TEST(AtomicFile, AMissingDirectoryIsAnErrorNamingTheFile) {
  TempDir dir;
  try {
    write_file_atomic(dir.file("no/f"), "x", 0600);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), ::testing::StartsWith("cannot create " + dir.file("no/f") + ".tmp."));
    EXPECT_THAT(e.what(), ::testing::EndsWith(": No such file or directory."));
  }
  EXPECT_EQ(entries(dir.path()), 0u);
}

}  // namespace
}  // namespace agenttrace
