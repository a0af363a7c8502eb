// Each step of locate_boringssl_functions on its own
// (collector/ssl_signature_steps.h), on small built executables: kMiniCode
// (tests/support/mini_boringssl.h, its layout disassembled there) or a few
// instructions assembled by hand.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "collector/ssl_signature_steps.h"
#include "common/elf_file.h"
#include "../support/mini_boringssl.h"

namespace agenttrace::collector::ssl_signature {
namespace {

using agenttrace::testing::kMiniCode;
using agenttrace::testing::kCallSslWriteCopy;
using agenttrace::testing::without_call;
using agenttrace::testing::write_executable;
using agenttrace::testing::write_mini_executable;

using Addresses = std::vector<uint64_t>;

// kMiniCode's error sites: its `mov edx, 0x400200` instructions.
const Addresses kMiniSites = {0x40103f, 0x401064, 0x40109f, 0x4010f7, 0x40111e, 0x401138,
                              0x401153, 0x401197, 0x4011be, 0x4011d8, 0x4011f3};
constexpr uint64_t kPutError = 0x401020;

// An opened executable that removes its file at the end of the test.
struct Built {
  explicit Built(const std::string& p) : path(p) {
    std::string error;
    auto f = ElfFile::open(path, &error);
    if (!f) throw std::runtime_error(error);
    elf.emplace(std::move(*f));
  }
  ~Built() { unlink(path.c_str()); }
  std::string path;
  std::optional<ElfFile> elf;
};

TEST(SslSignatureSteps, AnchorStringsAreWholeNamesEndingInTheSourcePath) {
  // At 0x400200, 0x400226, 0x400238, 0x400247, 0x400258 and 0x40026a.
  std::string rodata = std::string("../../vendor/boringssl/ssl/ssl_lib.cc\0", 38) +
                       std::string("libssl/ssl_lib.cc\0", 18) +     // not a path component
                       std::string("ssl/ssl_lib.cc\0", 15) +        // the suffix alone
                       std::string("ssl/ssl_lib.cc.o\0", 17) +      // does not end there
                       std::string("\x01" "a/ssl/ssl_lib.cc\0", 18) +  // not after a NUL
                       std::string("boringssl/ssl/ssl_lib.cc\0", 25);
  Built b(write_executable(rodata, {0xc3}));
  EXPECT_EQ(find_anchor_strings(Image(*b.elf)), (Addresses{0x400200, 0x400238, 0x40026a}));
}

TEST(SslSignatureSteps, AnchorStringsStopAtSixteen) {
  std::string rodata;
  for (int i = 0; i < 20; ++i) rodata += std::string("ssl/ssl_lib.cc\0", 15);
  Built b(write_executable(rodata, {0xc3}));
  Addresses expected;
  for (uint64_t i = 0; i < 16; ++i) expected.push_back(0x400200 + 15 * i);
  EXPECT_EQ(find_anchor_strings(Image(*b.elf)), expected);
}

TEST(SslSignatureSteps, ErrorSitesAreLoadsOfTheNameIntoRcxOrRdx) {
  Built mini(write_mini_executable(kMiniCode));
  ErrorSiteScan scan = find_error_sites(Image(*mini.elf), {0x400200});
  EXPECT_FALSE(scan.too_many);
  EXPECT_EQ(scan.sites, kMiniSites);

  const std::vector<uint8_t> code = {
      0x48, 0x8d, 0x0d, 0xf9, 0xf1, 0xff, 0xff,  // 401000 lea rcx, [rip - 0xe07]
      0x48, 0x8d, 0x15, 0xf2, 0xf1, 0xff, 0xff,  // 401007 lea rdx, [rip - 0xe0e]
      0x48, 0xc7, 0xc1, 0x00, 0x02, 0x40, 0x00,  // 40100e mov rcx, 0x400200
      0x48, 0xc7, 0xc2, 0x00, 0x02, 0x40, 0x00,  // 401015 mov rdx, 0x400200
      0xb9, 0x00, 0x02, 0x40, 0x00,              // 40101c mov ecx, 0x400200
      0xbb, 0x00, 0x02, 0x40, 0x00,              // 401021 mov ebx, 0x400200: not an argument
      0x48, 0x8d, 0x05, 0xd3, 0xf1, 0xff, 0xff,  // 401026 lea rax, [rip - 0xe2d]: neither
      0xb8, 0xba, 0x00, 0x02, 0x40,              // 40102d mov eax, 0x400200ba: a pattern
      0x00, 0x00,                                // 401032 add [rax], al       inside it
      0xc3};
  Built b(write_executable(std::string("ssl/ssl_lib.cc\0", 15), code));
  scan = find_error_sites(Image(*b.elf), {0x400200});
  EXPECT_FALSE(scan.too_many);
  EXPECT_EQ(scan.sites, (Addresses{0x401000, 0x401007, 0x40100e, 0x401015, 0x40101c, 0x40102e}));
}

TEST(SslSignatureSteps, ErrorSitesBeyondTheLimitAreTooMany) {
  const uint8_t mov_ecx[] = {0xb9, 0x00, 0x02, 0x40, 0x00};
  for (size_t n : {kMaxSites, kMaxSites + 1}) {
    SCOPED_TRACE(n);
    std::vector<uint8_t> code;
    for (size_t i = 0; i < n; ++i) code.insert(code.end(), mov_ecx, mov_ecx + sizeof(mov_ecx));
    Built b(write_executable(std::string("ssl/ssl_lib.cc\0", 15), code));
    ErrorSiteScan scan = find_error_sites(Image(*b.elf), {0x400200});
    EXPECT_EQ(scan.too_many, n > kMaxSites);
    if (n == kMaxSites) {
      ASSERT_EQ(scan.sites.size(), kMaxSites);
      EXPECT_EQ(scan.sites.front(), 0x401000u);
      EXPECT_EQ(scan.sites.back(), 0x401000u + 5 * (kMaxSites - 1));
    }
  }
}

TEST(SslSignatureSteps, EntryCandidatesDecodeFromPaddingToTheSite) {
  Built mini(write_mini_executable(kMiniCode));
  Image image(*mini.elf);
  Capstone quick(false);
  ASSERT_TRUE(quick.ok());
  EntryCandidates c = find_entry_candidates(image, quick, kMiniSites);

  // Every boundary behind a site was decoded from: the segment's start and
  // each function after int3 padding; ssl_write (0x4010e0) follows a nop.
  std::vector<uint64_t> swept;
  for (const auto& [a, sweep] : c.sweeps) swept.push_back(a);
  EXPECT_EQ(swept, (Addresses{0x401000, 0x401020, 0x401030, 0x401090, 0x401180}));
  const Sweep& caller = c.sweeps.at(0x401000);
  EXPECT_EQ(caller.end, 0x401015u);
  EXPECT_TRUE(caller.ends_in_padding);
  EXPECT_TRUE(caller.sites_hit.empty());
  const Sweep& read_impl = c.sweeps.at(0x401030);
  EXPECT_EQ(read_impl.end, 0x401085u);
  EXPECT_TRUE(read_impl.ends_in_padding);
  EXPECT_EQ(read_impl.sites_hit, (Addresses{0x40103f, 0x401064}));
  EXPECT_EQ(read_impl.splits, (Addresses{0x401060}));  // after its early ret
  // ssl_read and ssl_write decode as one run, split where ssl_write begins.
  const Sweep& read_write = c.sweeps.at(0x401090);
  EXPECT_EQ(read_write.end, 0x40117bu);
  EXPECT_TRUE(read_write.ends_in_padding);
  EXPECT_EQ(read_write.sites_hit, (Addresses{0x40109f, 0x4010f7, 0x40111e, 0x401138, 0x401153}));
  EXPECT_EQ(read_write.splits, (Addresses{0x4010e0}));
  const Sweep& copy = c.sweeps.at(0x401180);
  EXPECT_EQ(copy.end, 0x40121bu);
  EXPECT_EQ(copy.sites_hit, (Addresses{0x401197, 0x4011be, 0x4011d8, 0x4011f3}));
  EXPECT_TRUE(copy.splits.empty());

  std::map<uint64_t, Addresses> expected;
  for (uint64_t site : kMiniSites)
    expected[site] = {site < 0x401090 ? 0x401030u : site < 0x401180 ? 0x401090u : 0x401180u};
  EXPECT_EQ(c.sweeps_of, expected);
}

TEST(SslSignatureSteps, CallTargetsCountOnlyCallsThatDecode) {
  Built mini(write_mini_executable(kMiniCode));
  Image image(*mini.elf);
  Capstone quick(false);
  ASSERT_TRUE(quick.ok());
  CallTargets calls = find_call_targets(image, quick, find_entry_candidates(image, quick, kMiniSites));
  EXPECT_EQ(calls.calls_to(kPutError),
            (Addresses{0x401053, 0x401078, 0x4010b3, 0x40110b, 0x401167, 0x4011ab, 0x401207}));
  EXPECT_EQ(calls.confirmed_calls(kPutError), 7);
  EXPECT_EQ(calls.calls_to(0x401030), (Addresses{0x40100a, 0x4010c2}));
  EXPECT_EQ(calls.confirmed_calls(0x401030), 2);
  EXPECT_EQ(calls.calls_to(0x4010e0), (Addresses{0x401000}));  // a split is a candidate too
  EXPECT_EQ(calls.confirmed_calls(0x4010e0), 1);
  EXPECT_EQ(calls.confirmed_calls(0x401090), 1);
  EXPECT_EQ(calls.confirmed_calls(0x401180), 1);
  EXPECT_TRUE(calls.calls_to(0x401060).empty());  // read_impl's second block
  EXPECT_FALSE(calls.called(0x401060));
  EXPECT_FALSE(calls.called(0x401000));
  EXPECT_TRUE(calls.calls_to(0x401040).empty());  // not a candidate
  EXPECT_EQ(calls.confirmed_calls(0x401040), 0);

  // A `call` pattern inside another instruction is found, but not confirmed.
  const std::vector<uint8_t> code = {
      0xb8, 0xe8, 0x1a, 0x00, 0x00,  // 401000 mov eax, 0x1ae8 (e8 1a 00 00 00: call 0x401020)
      0x00, 0xc0,                    // 401005 add al, al
      0xc3,                          // 401007 ret
      0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc,
      0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc,
      0xba, 0x00, 0x02, 0x40, 0x00,  // 401020 mov edx, 0x400200
      0xc3,                          // 401025 ret
      0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc,
      0xe8, 0xeb, 0xff, 0xff, 0xff,  // 401030 call 0x401020
      0xc3};
  Built b(write_executable(std::string("ssl/ssl_lib.cc\0", 15), code));
  Image tiny(*b.elf);
  CallTargets tiny_calls = find_call_targets(tiny, quick, find_entry_candidates(tiny, quick, {0x401020}));
  EXPECT_EQ(tiny_calls.calls_to(0x401020), (Addresses{0x401001, 0x401030}));
  EXPECT_EQ(tiny_calls.confirmed_calls(0x401020), 1);
}

std::map<uint64_t, Function> functions_of(const std::vector<uint8_t>& code) {
  Built b(write_mini_executable(code));
  Image image(*b.elf);
  Capstone quick(false), full(true);
  EXPECT_TRUE(quick.ok() && full.ok());
  EntryCandidates candidates = find_entry_candidates(image, quick, kMiniSites);
  CallTargets calls = find_call_targets(image, quick, candidates);
  return build_functions(image, full, candidates, calls, {0x400200}, kMiniSites);
}

// "address reason line" for each of f's sites, all of them calling kPutError.
std::vector<std::string> sites_of(const Function& f) {
  std::vector<std::string> out;
  for (const auto& s : f.sites) {
    char buf[64];
    snprintf(buf, sizeof(buf), "%llx %lld %lld%s", static_cast<unsigned long long>(s.address),
             static_cast<long long>(s.reason), static_cast<long long>(s.line),
             s.parsed && s.callee == kPutError ? "" : " (not parsed or other callee)");
    out.push_back(buf);
  }
  return out;
}

TEST(SslSignatureSteps, FunctionsBeginAtCalledCandidatesAndReadTheirChecks) {
  auto functions = functions_of(without_call(kMiniCode, kCallSslWriteCopy));
  // ssl_write_copy is called by nobody, so it is no function here.
  ASSERT_EQ(functions.size(), 3u);

  const Function& read_impl = functions.at(0x401030);
  EXPECT_EQ(read_impl.end, 0x401085u);
  EXPECT_TRUE(read_impl.after_padding);
  EXPECT_TRUE(read_impl.ends_at_boundary);  // the split at 0x401060 is called by nobody
  EXPECT_EQ(read_impl.direct_calls, 2);
  EXPECT_TRUE(read_impl.consistent) << read_impl.problem;
  EXPECT_EQ(read_impl.insns.size(), 26u);
  EXPECT_EQ(sites_of(read_impl), (std::vector<std::string>{"40103f 226 837", "401064 215 870"}));

  const Function& ssl_read = functions.at(0x401090);
  EXPECT_EQ(ssl_read.end, 0x4010e0u);  // where the called ssl_write begins
  EXPECT_TRUE(ssl_read.after_padding);
  EXPECT_TRUE(ssl_read.ends_at_boundary);
  EXPECT_EQ(ssl_read.direct_calls, 1);
  EXPECT_TRUE(ssl_read.consistent) << ssl_read.problem;
  EXPECT_EQ(sites_of(ssl_read), (std::vector<std::string>{"40109f 66 931"}));

  const Function& ssl_write = functions.at(0x4010e0);
  EXPECT_EQ(ssl_write.end, 0x40117bu);
  EXPECT_FALSE(ssl_write.after_padding);  // it follows ssl_read's ret and a nop
  EXPECT_TRUE(ssl_write.ends_at_boundary);
  EXPECT_EQ(ssl_write.direct_calls, 1);
  EXPECT_TRUE(ssl_write.consistent) << ssl_write.problem;
  // The last three share one call, reached by jmp.
  EXPECT_EQ(sites_of(ssl_write), (std::vector<std::string>{"4010f7 66 953", "40111e 226 958",
                                                           "401138 215 973", "401153 111 979"}));
}

TEST(SslSignatureSteps, AnErrorReportCallingSomethingElseIsNotConsistent) {
  // read_impl's second report calls the caller at 0x401000 instead:
  // e8 83 ff ff ff at 0x401078.
  std::vector<uint8_t> code = without_call(kMiniCode, kCallSslWriteCopy);
  code[0x79] = 0x83;
  auto functions = functions_of(code);
  ASSERT_EQ(functions.size(), 3u);
  const Function& read_impl = functions.at(0x401030);
  EXPECT_FALSE(read_impl.consistent);
  EXPECT_EQ(read_impl.problem, "has an error report at 0x401064 that does not call ERR_put_error");
  EXPECT_TRUE(functions.at(0x401090).consistent);
  EXPECT_TRUE(functions.at(0x4010e0).consistent);
}

// A function at `start` that ends at int3 padding, of 4-byte instructions:
// one, then one per check (reason, line) that is its error site, then two.
Function function_with(uint64_t start, const std::vector<std::pair<int64_t, int64_t>>& checks) {
  Function f;
  f.start = start;
  f.after_padding = true;
  f.ends_at_boundary = true;
  f.direct_calls = 1;
  for (size_t i = 0; i < checks.size() + 3; ++i) {
    Insn in;
    in.address = start + 4 * i;
    in.size = 4;
    f.insns.push_back(in);
  }
  for (size_t k = 0; k < checks.size(); ++k) {
    ErrorSite s;
    s.address = start + 4 * (k + 1);
    s.reason = checks[k].first;
    s.line = checks[k].second;
    s.callee = kPutError;
    s.parsed = true;
    f.sites.push_back(s);
  }
  f.end = start + 4 * f.insns.size();
  return f;
}

TEST(SslSignatureSteps, SslWriteIsTheFunctionWithItsFourChecks) {
  std::map<uint64_t, Function> functions;
  functions[0x1000] = function_with(0x1000, {{66, 953}, {226, 958}, {215, 973}, {111, 979}});
  // Other orders, spans or reasons are not SSL_write.
  functions[0x2000] = function_with(0x2000, {{226, 953}, {66, 958}, {215, 973}, {111, 979}});
  functions[0x3000] = function_with(0x3000, {{66, 853}, {226, 958}, {215, 973}, {111, 979}});
  functions[0x4000] = function_with(0x4000, {{66, 953}, {226, 958}, {215, 973}});
  functions[0x5000] = function_with(0x5000, {{66, 953}, {226, 953}, {215, 973}, {111, 979}});
  WriteMatch m = match_ssl_write(functions);
  ASSERT_EQ(m.matches.size(), 1u);
  EXPECT_EQ(m.matches[0], &functions.at(0x1000));
  EXPECT_EQ(m.problem, "");

  // An inconsistent copy does not count; one whose end is not certain is
  // refused, saying why.
  functions[0x6000] = functions[0x1000];
  functions[0x6000].start = 0x6000;
  functions[0x6000].consistent = false;
  functions[0x7000] = function_with(0x7000, {{66, 953}, {226, 958}, {215, 973}, {111, 979}});
  functions[0x7000].ends_at_boundary = false;
  m = match_ssl_write(functions);
  ASSERT_EQ(m.matches.size(), 1u);
  EXPECT_EQ(m.matches[0], &functions.at(0x1000));
  EXPECT_EQ(m.problem,
            "the function at 0x7000 with SSL_write's checks does not end where another function begins");
}

TEST(SslSignatureSteps, SslReadIsPeeksCheckAndReadImplsCallThenStores) {
  std::map<uint64_t, Function> functions;
  functions[0x1000] = function_with(0x1000, {{226, 837}, {215, 870}});  // ssl_read_impl
  Function read = function_with(0x2000, {{66, 931}});
  read.insns[2].is_call = true;
  read.insns[2].target = 0x1000;
  Function peek = read;  // the same without the stores
  peek.start = 0x3000;
  read.insns[3].writes_heap = true;
  functions[0x2000] = read;
  functions[0x3000] = peek;
  ReadMatch m = match_ssl_read(functions);
  ASSERT_EQ(m.matches.size(), 1u);
  EXPECT_EQ(m.matches[0].read, &functions.at(0x2000));
  EXPECT_EQ(m.matches[0].read_impl, &functions.at(0x1000));
  EXPECT_EQ(m.matches[0].read_impl_lines, "837,870");
  EXPECT_EQ(m.peek_like, (std::vector<const Function*>{&functions.at(0x3000)}));
  EXPECT_TRUE(m.peek_check_seen);
  EXPECT_EQ(m.problem, "");

  // ssl_read_impl's checks must come above SSL_peek's, and not far above.
  for (int64_t peek_line : {860, 1100}) {
    SCOPED_TRACE(peek_line);
    functions[0x2000].sites[0].line = peek_line;
    m = match_ssl_read(functions);
    EXPECT_TRUE(m.matches.empty());
    EXPECT_TRUE(m.peek_check_seen);
  }

  // With no function having the check, nothing is seen.
  functions.erase(0x2000);
  functions.erase(0x3000);
  m = match_ssl_read(functions);
  EXPECT_TRUE(m.matches.empty());
  EXPECT_TRUE(m.peek_like.empty());
  EXPECT_FALSE(m.peek_check_seen);
}

}  // namespace
}  // namespace agenttrace::collector::ssl_signature
