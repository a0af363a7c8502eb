// Files agenttrace creates (common/output_file.h): never through a symlink,
// never over a file it did not create, 0600, directories 0700.
#include "common/output_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "common/error.h"
#include "common/identity.h"
#include "../support/temp_dir.h"

namespace agenttrace {
namespace {

using testing::TempDir;

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

struct ReplaceGuard {
  ~ReplaceGuard() { set_replace_outputs(false); }
};

TEST(OutputFile, CreatesNew0600) {
  TempDir d;
  UniqueFd fd = create_output_file(d.file("t.atrace"));
  write_all(fd.get(), d.file("t.atrace"), "abc");
  fd.reset();
  struct stat st;
  ASSERT_EQ(stat(d.file("t.atrace").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_EQ(slurp(d.file("t.atrace")), "abc");
}

TEST(OutputFile, RefusesAnExistingFileUnlessForced) {
  TempDir d;
  { std::ofstream(d.file("old")) << "keep me"; }
  try {
    create_output_file(d.file("old"));
    FAIL() << "an existing file was replaced";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), d.file("old") + " exists; agenttrace does not replace a file it did not create "
                                                      "(remove it, choose another name, or give --force)");
    EXPECT_EQ(e.exit_code(), kExitToolError);
  }
  EXPECT_EQ(slurp(d.file("old")), "keep me");
  ReplaceGuard g;
  set_replace_outputs(true);
  UniqueFd fd = create_output_file(d.file("old"));
  write_all(fd.get(), d.file("old"), "new");
  EXPECT_EQ(slurp(d.file("old")), "new");
}

TEST(OutputFile, NeverWritesThroughASymlink) {
  TempDir d;
  { std::ofstream(d.file("victim")) << "precious"; }
  ASSERT_EQ(symlink(d.file("victim").c_str(), d.file("trap").c_str()), 0);
  EXPECT_THROW(create_output_file(d.file("trap")), Error);
  EXPECT_EQ(slurp(d.file("victim")), "precious");
  // --force replaces the link itself, never what it points to.
  ReplaceGuard g;
  set_replace_outputs(true);
  UniqueFd fd = create_output_file(d.file("trap"));
  write_all(fd.get(), d.file("trap"), "report");
  fd.reset();
  struct stat st;
  ASSERT_EQ(lstat(d.file("trap").c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_EQ(slurp(d.file("victim")), "precious");
  EXPECT_EQ(slurp(d.file("trap")), "report");
}

TEST(OutputFile, ADanglingSymlinkIsRefusedToo) {
  TempDir d;
  ASSERT_EQ(symlink(d.file("would-be-created").c_str(), d.file("trap").c_str()), 0);
  EXPECT_THROW(create_output_file(d.file("trap")), Error);
  EXPECT_NE(access(d.file("would-be-created").c_str(), F_OK), 0);
}

TEST(OutputDirectory, CreatedPrivateOrOpenedWhenReal) {
  TempDir d;
  UniqueFd dir = open_output_directory(d.file("payloads"));
  struct stat st;
  ASSERT_EQ(stat(d.file("payloads").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u);
  UniqueFd f = create_output_file_in(dir.get(), d.file("payloads"), "conn-1.out");
  EXPECT_TRUE(f.valid());
  EXPECT_THROW(create_output_file_in(dir.get(), d.file("payloads"), "conn-1.out"), Error);
  EXPECT_THROW(create_output_file_in(dir.get(), d.file("payloads"), "../escape"), Error);
  // Opened again: an existing real directory is fine.
  EXPECT_TRUE(open_output_directory(d.file("payloads")).valid());
}

TEST(OutputDirectory, RefusesASymlinkAndAWorldWritableOne) {
  TempDir d;
  ASSERT_EQ(mkdir(d.file("elsewhere").c_str(), 0700), 0);
  ASSERT_EQ(symlink(d.file("elsewhere").c_str(), d.file("link").c_str()), 0);
  try {
    open_output_directory(d.file("link"));
    FAIL() << "wrote into a symlinked directory";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "cannot write into " + d.file("link") + ": it is a symbolic link");
  }
  ASSERT_EQ(mkdir(d.file("open").c_str(), 0777), 0);
  ASSERT_EQ(chmod(d.file("open").c_str(), 0777), 0);
  EXPECT_THROW(open_output_directory(d.file("open")), Error);
  ASSERT_EQ(chmod(d.file("open").c_str(), 01777), 0);
  EXPECT_TRUE(open_output_directory(d.file("open")).valid()) << "sticky like /tmp: others cannot replace our files";
}

TEST(Identity, CommandEnvironmentDropsAgenttraceSecretsAndSetsTheUser) {
  std::vector<std::string> given = {"PATH=/usr/bin", "HOME=/root", "USER=root", "AGENTTRACE_NATS_PASSWORD=pw",
                                    "AGENTTRACE_NATS_TOKEN=t", "AGENTTRACE_THREAD_2=set", "LOGNAME=root"};
  std::vector<char*> env;
  for (auto& s : given) env.push_back(s.data());
  env.push_back(nullptr);
  CommandIdentity who;
  UserIdentity u;
  u.uid = 1234;
  u.gid = 1234;
  u.name = "alice";
  u.home = "/home/alice";
  u.shell = "/bin/zsh";
  who.user = u;
  who.source = IdentitySource::kSudo;
  EXPECT_THAT(command_environment(env.data(), who),
              ::testing::ElementsAre("PATH=/usr/bin", "AGENTTRACE_THREAD_2=set", "HOME=/home/alice", "USER=alice",
                                     "LOGNAME=alice", "SHELL=/bin/zsh"));
  // Unchanged user: the environment as it is, less agenttrace's own.
  EXPECT_THAT(command_environment(env.data(), CommandIdentity{}),
              ::testing::ElementsAre("PATH=/usr/bin", "HOME=/root", "USER=root", "AGENTTRACE_THREAD_2=set", "LOGNAME=root"));
}

}  // namespace
}  // namespace agenttrace
