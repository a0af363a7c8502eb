// ELF inspection, uprobe placement checks and getenv-visibility decisions,
// on real files: the system C library and the static samples.
#include <gtest/gtest.h>
#include <link.h>

#include <algorithm>

#include "common/elf_file.h"
#include "collector/library_probes.h"
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

TEST(Elf, ListsTheSymbolVersionsItDefines) {
  auto libc = open_or_die(own_libc());
  auto versions = libc.version_definitions();
  EXPECT_NE(std::find(versions.begin(), versions.end(), "GLIBC_2.2.5"), versions.end());
  for (const auto& v : versions) EXPECT_NE(v, "libc.so.6") << "the base entry is the file's own name";
  EXPECT_TRUE(open_or_die("/bin/ls").version_definitions().empty());
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

// Records which programs went where instead of attaching them.
struct FakeAttach {
  std::vector<std::string> calls;  // "prog [ret] path"
  std::string fail_with;
  LibraryProbes::AttachFn fn() {
    return [this](const std::string& prog, bool ret, const ElfFile& file, uint64_t) {
      calls.push_back(prog + (ret ? " ret " : " ") + file.path());
      return fail_with;
    };
  }
  bool placed(const std::string& prog, const std::string& path) const {
    return std::find(calls.begin(), calls.end(), prog + " " + path) != calls.end();
  }
};

TEST(LibraryProbes, CLibraryGetsEnvironmentAndResolverProbes) {
  FakeAttach fake;
  LibraryProbes probes(fake.fn());
  ASSERT_EQ(probes.attach_library(own_libc(), LibraryGroup::kCLibrary), "");
  for (const char* prog : {"handle_getenv", "handle_secure_getenv", "handle_getaddrinfo",
                           "handle_gethostbyname", "handle_gethostbyname2",
                           "handle_gethostbyname_r", "handle_gethostbyname2_r"})
    EXPECT_TRUE(fake.placed(prog, own_libc())) << prog;
  EXPECT_TRUE(fake.placed("handle_getenv_return ret", own_libc()));
  EXPECT_TRUE(fake.placed("handle_dns_return ret", own_libc()));
  EXPECT_EQ(fake.calls.size(), 14u);
  std::string missing = probes.attach_library(SAMPLES_DIR "/fingerprint", LibraryGroup::kSsl);
  EXPECT_NE(missing.find("has no SSL_write symbol"), std::string::npos);
}

TEST(LibraryProbes, CoverageForEachKindOfExecutable) {
  FakeAttach fake;
  LibraryProbes env(fake.fn());
  auto libs = env.attach_system_libraries();
  ASSERT_FALSE(libs.empty());
  EXPECT_TRUE(fake.placed("handle_getenv", libs[0]));

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
  EXPECT_TRUE(fake.placed("handle_getenv", SAMPLES_DIR "/static_getenv"));

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

// Each runtime is told by its contents and its environment coverage says
// what its reads of a start-up copy hide. The interpreters of this machine
// (Debian 12: python3.11, perl, node, java from scripts/install-deps.sh).
TEST(LibraryProbes, CoverageForEachRuntime) {
  struct Want {
    const char* exe;
    const char* runtime;
    const char* state;
    const char* detail_starts;
  };
  const Want wants[] = {
      {"/usr/bin/python3.11", "cpython", "partial", "CPython: os.environ and os.getenv read a copy"},
      {"/usr/bin/perl", "perl", "partial", "Perl: %ENV is a copy"},
      {"/usr/bin/node", "node", "observed", "Node.js: process.env reads call getenv (uv_os_getenv)"},
      {"/usr/lib/jvm/java-17-openjdk-amd64/bin/java", "java", "partial", "Java: System.getenv() reads a copy"},
      {"/bin/true", "", "observed", "getenv calls through its C library are probed"},
  };
  FakeAttach fake;
  LibraryProbes env(fake.fn());
  env.attach_system_libraries();
  for (const Want& w : wants) {
    SCOPED_TRACE(w.exe);
    ASSERT_EQ(access(w.exe, R_OK), 0) << w.exe << " is missing: scripts/install-deps.sh installs it";
    std::string error;
    auto elf = ElfFile::open(w.exe, &error);
    ASSERT_TRUE(elf) << error;
    EXPECT_EQ(classify_executable(*elf).runtime, w.runtime);
    std::vector<trace::Event> extra;
    env.observe(exec_event(0, w.exe), &extra);
    const trace::Coverage* getenv_coverage = nullptr;
    for (const trace::Event& e : extra) {
      if (e.has_coverage() && e.coverage().signal() == "getenv") {
        EXPECT_EQ(getenv_coverage, nullptr) << "one getenv coverage event per executable";
        getenv_coverage = &e.coverage();
      }
    }
    ASSERT_NE(getenv_coverage, nullptr);
    EXPECT_EQ(getenv_coverage->state(), w.state);
    EXPECT_EQ(getenv_coverage->detail().rfind(w.detail_starts, 0), 0u) << getenv_coverage->detail();
  }
  const char* bun = getenv("AGENTTRACE_BUN");
  if (bun && *bun) {
    std::string error;
    auto elf = ElfFile::open(bun, &error);
    ASSERT_TRUE(elf) << error;
    EXPECT_EQ(classify_executable(*elf).runtime, "bun");
    // Bun__getEnvValue is located and probed: the reads of variables set at
    // start are seen, those of unset names are not, so "partial" when the
    // probe was there from the start and "late" when placed at its exec.
    auto coverage_of = [&](LibraryProbes& probes) {
      std::vector<trace::Event> extra;
      probes.observe(exec_event(0, bun), &extra);
      trace::Coverage c;
      for (const trace::Event& e : extra)
        if (e.has_coverage() && e.coverage().signal() == "getenv") c = e.coverage();
      return c;
    };
    const std::string how = "Bun: process.env reads are probed at Bun__getEnvValue (located by signature)";
    trace::Coverage late = coverage_of(env);
    EXPECT_EQ(late.state(), "late");
    EXPECT_EQ(late.detail().rfind(how, 0), 0u) << late.detail();
    EXPECT_TRUE(fake.placed("handle_bun_getenv", bun));
    EXPECT_TRUE(fake.placed("handle_bun_getenv_return ret", bun));

    FakeAttach prepared_fake;
    LibraryProbes prepared(prepared_fake.fn());
    prepared.prepare_executable(bun);
    EXPECT_TRUE(prepared_fake.placed("handle_bun_getenv", bun));
    trace::Coverage partial = coverage_of(prepared);
    EXPECT_EQ(partial.state(), "partial");
    EXPECT_EQ(partial.detail().rfind(how, 0), 0u) << partial.detail();
    EXPECT_NE(partial.detail().find("names that were not set"), std::string::npos) << partial.detail();

    FakeAttach failing;
    failing.fail_with = "cannot attach: Operation not permitted";
    LibraryProbes refused(failing.fn());
    trace::Coverage gap = coverage_of(refused);
    EXPECT_EQ(gap.state(), "gap");
    EXPECT_NE(gap.detail().find("Operation not permitted"), std::string::npos) << gap.detail();
  }
}

// A Bun executable in which Bun__getEnvValue is not found: its coverage is a
// gap saying why (and so is the coverage-gap finding made of it). A program
// with a .bun section and none of Bun's code stands in for a Bun build the
// signature does not know.
TEST(LibraryProbes, BunWhoseGetterIsNotFoundIsAGap) {
  char dir[] = "/tmp/agenttrace-bun-gap-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  const std::string fake_bun = std::string(dir) + "/bun";
  ASSERT_EQ(system(("objcopy --add-section .bun=/dev/null /bin/true " + fake_bun).c_str()), 0);
  std::string error;
  auto elf = ElfFile::open(fake_bun, &error);
  ASSERT_TRUE(elf) << error;
  EXPECT_EQ(classify_executable(*elf).runtime, "bun");
  FakeAttach fake;
  LibraryProbes env(fake.fn());
  std::vector<trace::Event> extra;
  env.observe(exec_event(0, fake_bun), &extra);
  unlink(fake_bun.c_str());
  rmdir(dir);
  trace::Coverage c;
  for (const trace::Event& e : extra)
    if (e.has_coverage() && e.coverage().signal() == "getenv") c = e.coverage();
  EXPECT_EQ(c.state(), "gap");
  EXPECT_EQ(c.detail(),
            "Bun: process.env and Bun.env are served from a copy of the environment made at start, and their "
            "getter could not be located: the executable does not hold Bun's process.env names "
            "(NODE_TLS_REJECT_UNAUTHORIZED, BUN_CONFIG_VERBOSE_FETCH) once each as whole strings, so its "
            "process.env getter cannot be found");
  EXPECT_FALSE(fake.placed("handle_bun_getenv", fake_bun));
}

// Bun 1.3's proxy-variable getter, which bypasses Bun__getEnvValue, gets a
// probe of its own, and the coverage says so.
TEST(LibraryProbes, BunProxyGetterIsProbedToo) {
  const char* list = getenv("AGENTTRACE_BUNS");
  std::string bun;
  for (std::string_view rest = list ? list : ""; !rest.empty();) {
    auto colon = rest.find(':');
    std::string path(rest.substr(0, colon));
    if (path.find("/1.3.") != std::string::npos) bun = path;
    rest = colon == std::string_view::npos ? "" : rest.substr(colon + 1);
  }
  if (bun.empty()) GTEST_SKIP() << "AGENTTRACE_BUNS names no Bun 1.3 (scripts/fetch-bun.sh DIR all fetches one)";
  FakeAttach fake;
  LibraryProbes env(fake.fn());
  env.prepare_executable(bun);
  EXPECT_TRUE(fake.placed("handle_bun_getenv", bun));
  EXPECT_TRUE(fake.placed("handle_bun_env_getter", bun));
  EXPECT_TRUE(fake.placed("handle_bun_env_getter_return ret", bun));
  std::vector<trace::Event> extra;
  env.observe(exec_event(0, bun), &extra);
  trace::Coverage c;
  for (const trace::Event& e : extra)
    if (e.has_coverage() && e.coverage().signal() == "getenv") c = e.coverage();
  EXPECT_EQ(c.state(), "partial");
  EXPECT_NE(c.detail().find("1 process.env getter that looks variables up without calling it (Bun 1.3's, of "
                            "HTTP_PROXY, HTTPS_PROXY and NO_PROXY) is probed too"),
            std::string::npos)
      << c.detail();
}

TEST(LibraryProbes, AttachFailureIsAGap) {
  FakeAttach fake;
  fake.fail_with = "cannot attach: Operation not permitted";
  LibraryProbes env(fake.fn());
  std::vector<trace::Event> extra;
  env.observe(exec_event(0, SAMPLES_DIR "/static_getenv"), &extra);
  ASSERT_EQ(extra.size(), 1u);
  EXPECT_EQ(extra[0].coverage().state(), "gap");
  EXPECT_NE(extra[0].coverage().detail().find("Operation not permitted"), std::string::npos);
}

}  // namespace
}  // namespace agenttrace::collector
