// ELF inspection, uprobe placement checks and getenv-visibility decisions,
// on real files: the system C library and the static samples.
#include <gtest/gtest.h>
#include <link.h>

#include "collector/elf_file.h"
#include "collector/env_probes.h"
#include "collector/uprobe_guard.h"

namespace agenttrace::collector {
namespace {

std::string own_libc() {
  std::string path;
  dl_iterate_phdr(
      [](struct dl_phdr_info* info, size_t, void* data) {
        std::string name = info->dlpi_name ? info->dlpi_name : "";
        if (name.find("/libc.so") != std::string::npos) {
          *static_cast<std::string*>(data) = name;
          return 1;
        }
        return 0;
      },
      &path);
  return path;
}

ElfFile open_or_die(const std::string& path) {
  std::string error;
  auto f = ElfFile::open(path, &error);
  if (!f) throw std::runtime_error(error);
  return std::move(*f);
}

TEST(Elf, FindsGetenvInTheCLibrary) {
  auto libc = open_or_die(own_libc());
  auto sym = libc.find_symbol("getenv");
  ASSERT_TRUE(sym);
  EXPECT_TRUE(sym->is_function);
  EXPECT_GT(sym->file_offset, 0u);
  EXPECT_TRUE(libc.is_shared_object());
  EXPECT_EQ(check_uprobe_target(libc, sym->address), "");
}

TEST(Elf, RefusesAnAddressInsideAFunction) {
  auto libc = open_or_die(own_libc());
  auto sym = libc.find_symbol("getenv");
  ASSERT_TRUE(sym);
  std::string why = check_uprobe_target(libc, sym->address + 1);
  EXPECT_NE(why.find("is inside"), std::string::npos) << why;
  EXPECT_NE(why.find("not at its start"), std::string::npos) << why;
}

TEST(Elf, RefusesDataAddresses) {
  auto libc = open_or_die(own_libc());
  auto sym = libc.find_symbol("environ");  // a variable
  ASSERT_TRUE(sym);
  EXPECT_NE(check_uprobe_target(libc, sym->address), "");
}

TEST(Elf, DecodesInstructions) {
  // endbr64; push rbp; mov rbp, rsp
  std::vector<uint8_t> code = {0xf3, 0x0f, 0x1e, 0xfa, 0x55, 0x48, 0x89, 0xe5};
  auto insns = decode_x86_64(code, 0x1000, 3);
  ASSERT_EQ(insns.size(), 3u);
  EXPECT_EQ(insns[0].text, "endbr64");
  EXPECT_EQ(insns[1].text, "push rbp");
  EXPECT_EQ(insns[2].text, "mov rbp, rsp");
  EXPECT_EQ(insns[2].address, 0x1005u);
}

TEST(Elf, ClassifiesExecutables) {
  auto dynamic = open_or_die(SAMPLES_DIR "/fingerprint");
  EXPECT_EQ(classify_executable(dynamic).kind, ExecutableKind::kDynamicGlibc);
  auto static_sym = open_or_die(SAMPLES_DIR "/static_getenv");
  EXPECT_EQ(classify_executable(static_sym).kind, ExecutableKind::kStaticWithGetenv);
  auto stripped = open_or_die(SAMPLES_DIR "/static_getenv_stripped");
  EXPECT_EQ(classify_executable(stripped).kind, ExecutableKind::kStaticWithoutGetenv);
  std::string error;
  EXPECT_FALSE(ElfFile::open("/etc/hostname", &error));
  EXPECT_NE(error.find("not an ELF file"), std::string::npos);
}

trace::Event exec_event(uint32_t pid, const std::string& exe) {
  trace::Event e;
  e.set_pid(pid);
  e.set_tid(pid);
  e.set_comm("x");
  e.mutable_exec()->set_path(exe);
  e.mutable_exec()->set_exe(exe);
  return e;
}

TEST(EnvProbes, CoverageForEachKindOfExecutable) {
  std::vector<std::string> attached;
  EnvProbes env([&](const std::string& path, uint64_t, std::optional<uint64_t>) {
    attached.push_back(path);
    return std::string();
  });
  auto libs = env.attach_system_libraries();
  ASSERT_FALSE(libs.empty());
  EXPECT_EQ(attached, libs);

  std::vector<trace::Event> extra;
  // pid 0 has no /proc entry: paths are taken as they are.
  env.observe(exec_event(0, SAMPLES_DIR "/fingerprint"), &extra);
  ASSERT_EQ(extra.size(), 1u);
  EXPECT_EQ(extra[0].coverage().state(), "observed");
  EXPECT_EQ(extra[0].coverage().signal(), "getenv");

  extra.clear();
  env.observe(exec_event(0, SAMPLES_DIR "/static_getenv"), &extra);
  ASSERT_EQ(extra.size(), 1u);
  EXPECT_EQ(extra[0].coverage().state(), "late");
  EXPECT_EQ(attached.back(), SAMPLES_DIR "/static_getenv");

  // A second run of the same binary finds its probes already in place.
  extra.clear();
  env.observe(exec_event(0, SAMPLES_DIR "/static_getenv"), &extra);
  EXPECT_EQ(extra[0].coverage().state(), "observed");

  extra.clear();
  env.observe(exec_event(0, SAMPLES_DIR "/static_getenv_stripped"), &extra);
  ASSERT_EQ(extra.size(), 1u);
  EXPECT_EQ(extra[0].coverage().state(), "gap");
  EXPECT_NE(extra[0].coverage().detail().find("without a getenv symbol"), std::string::npos);
}

TEST(EnvProbes, AttachFailureIsAGap) {
  EnvProbes env([](const std::string&, uint64_t, std::optional<uint64_t>) {
    return std::string("cannot attach: Operation not permitted");
  });
  std::vector<trace::Event> extra;
  env.observe(exec_event(0, SAMPLES_DIR "/static_getenv"), &extra);
  ASSERT_EQ(extra.size(), 1u);
  EXPECT_EQ(extra[0].coverage().state(), "gap");
  EXPECT_NE(extra[0].coverage().detail().find("Operation not permitted"), std::string::npos);
}

}  // namespace
}  // namespace agenttrace::collector
