// Finding BoringSSL's SSL_write and SSL_read by signature in a Bun
// single-file executable, and refusing everything else.
//
// The Bun executable is large and downloaded, not built, so it is found
// through the environment:
//   AGENTTRACE_BUN=$(scripts/fetch-bun.sh /tmp/bun) build/tests/unit_tests
// The exact addresses asserted below are Bun 1.4.5's, and were confirmed by
// uprobes at those file offsets seeing a fetch()'s request plaintext at
// SSL_write's entry and the response in SSL_read's buffer at its return.
#include <elf.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "common/elf_file.h"
#include "collector/bun_env_signature.h"
#include "collector/library_probes.h"
#include "collector/ssl_signature.h"
#include "collector/ssl_signature_steps.h"
#include "../support/mini_boringssl.h"

namespace agenttrace::collector {
namespace {

using namespace agenttrace::testing;

// Bun 1.4.5 linux-x64 (npm @oven/bun-linux-x64@1.4.5, package/bin/bun).
constexpr uint64_t kBunSize = 107394952;
constexpr uint64_t kSslWrite = 0x2607c30, kSslWriteOffset = 0x23ffc30;
constexpr uint64_t kSslRead = 0x2586500, kSslReadOffset = 0x237e500;

std::string bun_path() {
  const char* p = getenv("AGENTTRACE_BUN");
  return p && *p && access(p, R_OK) == 0 ? p : "";
}

#define REQUIRE_BUN(path)                                                                \
  std::string path = bun_path();                                                       \
  if (path.empty()) {                                                                  \
    GTEST_SKIP() << "AGENTTRACE_BUN does not name a readable Bun executable; set it with " \
                    "AGENTTRACE_BUN=$(scripts/fetch-bun.sh DIR) to run this test";        \
  }

ElfFile open_or_die(const std::string& path) {
  std::string error;
  auto f = ElfFile::open(path, &error);
  if (!f) throw std::runtime_error(error);
  return std::move(*f);
}

// Writes the first `size` bytes of `from` to a new file `to`.
void copy_prefix(const std::string& from, const std::string& to, uint64_t size) {
  int in = open(from.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(in, 0) << from;
  int out = open(to.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  ASSERT_GE(out, 0) << to;
  loff_t in_off = 0;
  while (static_cast<uint64_t>(in_off) < size) {
    ssize_t n = copy_file_range(in, &in_off, out, nullptr, size - in_off, 0);
    ASSERT_GT(n, 0) << "copying " << from;
  }
  close(in);
  close(out);
}

TEST(SslSignature, FindsSslWriteAndSslReadInBun) {
  REQUIRE_BUN(path);
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  ASSERT_EQ(static_cast<uint64_t>(st.st_size), kBunSize)
      << path << " is not Bun 1.4.5's linux-x64 executable, whose addresses this test knows; "
      << "use scripts/fetch-bun.sh";
  auto elf = open_or_die(path);
  // The reason for the whole exercise: none of the usual ways work.
  EXPECT_FALSE(elf.find_symbol("SSL_write"));
  EXPECT_FALSE(elf.find_symbol("SSL_read"));
  EXPECT_FALSE(elf.has_section(".eh_frame"));

  auto t0 = std::chrono::steady_clock::now();
  std::string why = "unset";
  auto found = locate_boringssl_functions(elf, &why);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_LT(seconds, 10.0) << "must stay a matter of seconds on a 107 MB executable";
  EXPECT_EQ(why, "");
  ASSERT_EQ(found.size(), 2u) << why;

  EXPECT_EQ(found[0].name, "SSL_write");
  EXPECT_EQ(found[0].address, kSslWrite);
  EXPECT_EQ(found[0].file_offset, kSslWriteOffset);
  EXPECT_NE(found[0].evidence.find("lines 953,958,973,979"), std::string::npos) << found[0].evidence;
  EXPECT_NE(found[0].evidence.find("5 direct calls"), std::string::npos) << found[0].evidence;

  EXPECT_EQ(found[1].name, "SSL_read");
  EXPECT_EQ(found[1].address, kSslRead);
  EXPECT_EQ(found[1].file_offset, kSslReadOffset);
  EXPECT_NE(found[1].evidence.find("ssl_read_impl at 0x2586600"), std::string::npos)
      << found[1].evidence;

  for (const auto& f : found) {
    EXPECT_EQ(check_signature_target(elf, f.address), "") << f.name;
    EXPECT_EQ(elf.file_offset_of(f.address), f.file_offset) << f.name;
    // One byte in is the middle of an instruction.
    EXPECT_NE(check_signature_target(elf, f.address + 1), "") << f.name;
  }
  // `pop rbp` in SSL_write's epilogue: aligned, an instruction, not an entry.
  EXPECT_NE(check_signature_target(elf, 0x2607ca0).find("follows neither"), std::string::npos);
}

TEST(SslSignature, TruncatedBunNeitherCrashesNorInventsAddresses) {
  REQUIRE_BUN(path);
  std::string copy = ::testing::TempDir() + "/truncated-bun";
  const uint64_t cuts[] = {64,                     // the ELF header alone
                           4096,                   // program headers, no strings
                           30u << 20,              // strings and part of the code
                           kSslWriteOffset + 0x80,  // SSL_read whole, SSL_write cut
                           kBunSize - (4u << 20)};  // no section headers
  for (uint64_t cut : cuts) {
    SCOPED_TRACE("cut at " + std::to_string(cut));
    ASSERT_NO_FATAL_FAILURE(copy_prefix(path, copy, cut));
    std::string error;
    auto elf = ElfFile::open(copy, &error);
    if (!elf) continue;  // refusing it is fine too
    std::string why;
    auto found = locate_boringssl_functions(*elf, &why);
    if (found.size() < 2) {
      EXPECT_NE(why, "");
    }
    for (const auto& f : found) {
      EXPECT_TRUE((f.name == "SSL_write" && f.address == kSslWrite) ||
                  (f.name == "SSL_read" && f.address == kSslRead))
          << f.name << " at " << f.address;
    }
    if (cut == kSslWriteOffset + 0x80) {
      // The intact function is still certain; the cut one is not.
      ASSERT_EQ(found.size(), 1u) << why;
      EXPECT_EQ(found[0].name, "SSL_read");
      EXPECT_NE(why.find("SSL_write was not located"), std::string::npos) << why;
    }
  }
  unlink(copy.c_str());
}

TEST(SslSignature, FindsEntriesWithoutPaddingAndTheShortErrorCall) {
  std::string path = write_mini_executable(without_call(kMiniCode, kCallSslWriteCopy));
  auto elf = open_or_die(path);
  std::string why = "unset";
  auto found = locate_boringssl_functions(elf, &why);
  EXPECT_EQ(why, "");
  ASSERT_EQ(found.size(), 2u) << why;
  EXPECT_EQ(found[0].name, "SSL_write");
  EXPECT_EQ(found[0].address, kMiniSslWrite);
  EXPECT_EQ(found[0].file_offset, 0x10e0u);
  EXPECT_NE(found[0].evidence.find("directly follows the previous function's last jmp or ret"),
            std::string::npos)
      << found[0].evidence;
  EXPECT_EQ(found[1].name, "SSL_read");
  EXPECT_EQ(found[1].address, kMiniSslRead);
  EXPECT_NE(found[1].evidence.find("ssl_read_impl at 0x401030"), std::string::npos)
      << found[1].evidence;
  EXPECT_EQ(check_signature_target(elf, kMiniSslWrite), "");
  // An instruction start inside SSL_write that follows no ret or jmp.
  EXPECT_NE(check_signature_target(elf, kMiniSslWrite + 0x10).find("follows neither"),
            std::string::npos);
  unlink(path.c_str());
}

TEST(SslSignature, TwoCandidatesForOneFunctionAreRefused) {
  // ssl_write_copy is called too: two functions have SSL_write's checks.
  std::string path = write_mini_executable(kMiniCode);
  auto elf = open_or_die(path);
  std::string why;
  auto found = locate_boringssl_functions(elf, &why);
  ASSERT_EQ(found.size(), 1u) << why;
  EXPECT_EQ(found[0].name, "SSL_read");
  EXPECT_NE(why.find("2 functions have SSL_write's error checks, so none is certain"),
            std::string::npos)
      << why;
  unlink(path.c_str());
}

TEST(SslSignature, AnEntryNobodyCallsIsNotCertain) {
  std::string path =
      write_mini_executable(without_call(without_call(kMiniCode, kCallSslWrite), kCallSslWriteCopy));
  auto elf = open_or_die(path);
  std::string why;
  auto found = locate_boringssl_functions(elf, &why);
  // Without a call, nothing says SSL_write's code is a function of its own:
  // its checks count as the end of SSL_read's, which then matches nothing.
  EXPECT_TRUE(found.empty());
  EXPECT_NE(why.find("no function has exactly SSL_write's ssl_lib.cc error checks"),
            std::string::npos)
      << why;
  unlink(path.c_str());
}

TEST(SslSignature, OrdinaryExecutablesHaveNoMatch) {
  for (const char* path : {"/usr/bin/curl", "/bin/ls", SAMPLES_DIR "/static_getenv_stripped"}) {
    if (access(path, R_OK) != 0) continue;
    SCOPED_TRACE(path);
    auto elf = open_or_die(path);
    std::string why;
    EXPECT_TRUE(locate_boringssl_functions(elf, &why).empty());
    EXPECT_NE(why.find("contains no BoringSSL source name ending in ssl/ssl_lib.cc"),
              std::string::npos)
        << why;
  }
}

TEST(SslSignature, TruncatedOrdinaryExecutableDoesNotCrash) {
  std::string copy = ::testing::TempDir() + "/truncated-ls";
  struct stat st;
  ASSERT_EQ(stat("/bin/ls", &st), 0);
  for (uint64_t cut : {uint64_t{64}, uint64_t{1000}, static_cast<uint64_t>(st.st_size / 2)}) {
    ASSERT_NO_FATAL_FAILURE(copy_prefix("/bin/ls", copy, cut));
    std::string error;
    auto elf = ElfFile::open(copy, &error);
    if (!elf) continue;
    std::string why;
    EXPECT_TRUE(locate_boringssl_functions(*elf, &why).empty());
    EXPECT_NE(why, "");
  }
  unlink(copy.c_str());
}

TEST(SslSignature, RefusesAddressesThatAreNotFunctionEntries) {
  auto ls = open_or_die("/bin/ls");
  auto segs = ls.load_segments();
  uint64_t data = 0, code = 0;
  for (const auto& s : segs) {
    if (!s.executable && s.filesz > 0 && !data) data = s.vaddr + s.filesz / 2;
    if (s.executable && !code) code = s.vaddr + s.filesz / 2 + 1;  // odd: not aligned
  }
  ASSERT_NE(data, 0u);
  ASSERT_NE(code, 0u);
  EXPECT_NE(check_signature_target(ls, data).find("not in an executable segment"), std::string::npos);
  EXPECT_NE(check_signature_target(ls, code).find("not 16-byte aligned"), std::string::npos);
  EXPECT_NE(check_signature_target(ls, 0x10).find("not in an executable segment"), std::string::npos);
}

// Bun__getEnvValue, what process.env's getters call (bun_env_signature.h).
// The address was confirmed by a tracefs uprobe at that file offset seeing
// `process.env.HOME` read with name "HOME" and a true result, and TZ (its
// getter exists unset) with a false one.
constexpr uint64_t kBunGetEnvValue = 0x25653a0, kBunGetEnvValueOffset = 0x235d3a0;

TEST(BunEnvSignature, FindsBunGetEnvValueInBun) {
  REQUIRE_BUN(path);
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  ASSERT_EQ(static_cast<uint64_t>(st.st_size), kBunSize) << "use scripts/fetch-bun.sh";
  auto elf = open_or_die(path);
  EXPECT_FALSE(elf.find_symbol("Bun__getEnvValue"));

  auto t0 = std::chrono::steady_clock::now();
  std::string why = "unset";
  auto found = locate_bun_env_function(elf, &why);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_LT(seconds, 10.0);
  EXPECT_EQ(why, "");
  ASSERT_EQ(found.size(), 1u) << why;
  EXPECT_EQ(found[0].name, "Bun__getEnvValue");
  EXPECT_EQ(found[0].address, kBunGetEnvValue);
  EXPECT_EQ(found[0].file_offset, kBunGetEnvValueOffset);
  EXPECT_EQ(elf.file_offset_of(found[0].address), found[0].file_offset);
  // The getters of process.env variables, TZ, NODE_TLS_REJECT_UNAUTHORIZED
  // and BUN_CONFIG_VERBOSE_FETCH: four callers.
  EXPECT_NE(found[0].evidence.find("4 of which call 0x25653a0"), std::string::npos) << found[0].evidence;

  // A function entry that decodes: push rbp; mov rbp, rsp.
  EXPECT_EQ(check_signature_target(elf, found[0].address), "");
  EXPECT_NE(check_signature_target(elf, found[0].address + 1), "");
  ssl_signature::Image image(elf);
  ssl_signature::Capstone cs(false);
  ASSERT_TRUE(cs.ok());
  auto w = ssl_signature::read_code(image, *image.executable_segment_of(found[0].address), found[0].address,
                                    found[0].address + 16);
  const cs_insn* in = cs.decode(w, found[0].address);
  ASSERT_NE(in, nullptr);
  EXPECT_STREQ(in->mnemonic, "push");
  EXPECT_STREQ(in->op_str, "rbp");
  in = cs.decode(w, found[0].address + 1);
  ASSERT_NE(in, nullptr);
  EXPECT_STREQ(in->mnemonic, "mov");
  EXPECT_STREQ(in->op_str, "rbp, rsp");
}

// One release of each Bun line (scripts/fetch-bun.sh DIR all), known by its
// exact size: where Bun__getEnvValue is in each. 1.3 passes a copy of the
// name on to ZigString.toSlice instead of reading it itself; the others read
// it in place. Each address was confirmed by the process.env reads a
// compiled sample makes being seen there (Tracing.BunCompiledSampleReadsAreSeen).
struct BunRelease {
  const char* version;
  uint64_t size, address, file_offset;
  const char* reads;
  uint64_t getter = 0, getter_offset = 0;  // a getter that bypasses it (1.3's, of the proxy variables)
};
constexpr BunRelease kBunReleases[] = {
    {"1.1.45", 98596104, 0x3024c30, 0x2d39c30, "it reads a ZigString from its second argument"},
    {"1.2.23", 104489248, 0x3b63310, 0x3863310, "it reads a ZigString from its second argument"},
    {"1.3.14", 92752752, 0x36c2e40, 0x3262e40,
     "it copies the ZigString of its second argument and passes the copy to 0x27a6f90, which reads it",
     0x3ce1bf0, 0x3881bf0},
    {"1.4.5", kBunSize, kBunGetEnvValue, kBunGetEnvValueOffset, "it reads a ZigString from its second argument"},
};

TEST(BunEnvSignature, FindsBunGetEnvValueInEveryReleaseLine) {
  const char* list = getenv("AGENTTRACE_BUNS");
  if (!list || !*list)
    GTEST_SKIP() << "AGENTTRACE_BUNS is not set; set it with "
                    "AGENTTRACE_BUNS=$(scripts/fetch-bun.sh DIR all | paste -sd:) to run this test";
  std::set<std::string> seen;
  std::istringstream paths(list);
  for (std::string path; std::getline(paths, path, ':');) {
    SCOPED_TRACE(path);
    struct stat st;
    ASSERT_EQ(stat(path.c_str(), &st), 0);
    const BunRelease* release = nullptr;
    for (const auto& r : kBunReleases)
      if (r.size == static_cast<uint64_t>(st.st_size)) release = &r;
    ASSERT_NE(release, nullptr) << "not a Bun release scripts/fetch-bun.sh fetches";
    seen.insert(release->version);
    auto elf = open_or_die(path);
    EXPECT_EQ(classify_executable(elf).runtime, "bun");
    EXPECT_FALSE(elf.find_symbol("Bun__getEnvValue"));
    std::string why = "unset", unseen = "unset";
    auto found = locate_bun_env_function(elf, &why, &unseen);
    EXPECT_EQ(why, "");
    EXPECT_EQ(unseen, "");
    ASSERT_EQ(found.size(), release->getter ? 2u : 1u) << release->version << ": " << why;
    EXPECT_EQ(found[0].name, "Bun__getEnvValue");
    if (release->getter) {
      EXPECT_EQ(found[1].name, "process.env getter");
      EXPECT_EQ(found[1].address, release->getter);
      EXPECT_EQ(found[1].file_offset, release->getter_offset);
      EXPECT_EQ(check_signature_target(elf, found[1].address), "");
      EXPECT_NE(found[1].evidence.find("reads its PropertyName as a WTF StringImpl"), std::string::npos)
          << found[1].evidence;
    }
    EXPECT_EQ(found[0].address, release->address) << release->version;
    EXPECT_EQ(found[0].file_offset, release->file_offset) << release->version;
    EXPECT_EQ(elf.file_offset_of(found[0].address), found[0].file_offset);
    EXPECT_NE(found[0].evidence.find("4 of which call " + ssl_signature::hex(release->address)), std::string::npos)
        << found[0].evidence;
    EXPECT_NE(found[0].evidence.find(release->reads), std::string::npos) << found[0].evidence;
  }
  EXPECT_EQ(seen, (std::set<std::string>{"1.1.45", "1.2.23", "1.3.14", "1.4.5"}));
}

TEST(BunEnvSignature, OrdinaryExecutablesHaveNoMatch) {
  auto ls = open_or_die("/bin/ls");
  std::string why;
  EXPECT_TRUE(locate_bun_env_function(ls, &why).empty());
  EXPECT_NE(why.find("does not hold Bun's process.env names"), std::string::npos) << why;
}

}  // namespace
}  // namespace agenttrace::collector
