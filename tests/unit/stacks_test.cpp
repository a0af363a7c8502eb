// Call-site attribution without a kernel: memory maps and perf maps parsed,
// frames named from ELF symbol tables (and by build id elsewhere), calling
// instructions disassembled, syscall frames read from call-frame info.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "../support/temp_dir.h"
#include "app/session.h"
#include "analyzer/knowledge_base.h"
#include "analyzer/profile.h"
#include "analyzer/symbolizer.h"
#include "collector/proc.h"
#include "collector/session.h"
#include "collector/stack_resolver.h"
#include "collector/syscall_frames.h"
#include "common/disassembly.h"
#include "common/elf_file.h"

namespace agenttrace {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::StartsWith;

const std::string kWhoAsked = std::string(SAMPLES_DIR) + "/who_asked";

TEST(ProcMaps, ParsesEveryKindOfLine) {
  auto maps = collector::parse_maps(
      "55d2bc504000-55d2bc505000 r--p 00000000 08:01 1312 /tmp/getenv_loop\n"
      "55d2bc505000-55d2bc506000 r-xp 00001000 08:01 1312 /tmp/getenv_loop\n"
      "7f2c00000000-7f2c00021000 rw-p 00000000 00:00 0 \n"
      "7ffd5e1f0000-7ffd5e211000 rw-p 00000000 00:00 0                          [stack]\n"
      "7f65f3e00000-7f65f3e28000 r-xp 00028000 103:02 4456 /usr/lib/libc.so.6 (deleted)\n"
      "not a mapping line\n");
  ASSERT_EQ(maps.size(), 5u);
  EXPECT_EQ(maps[1].start, 0x55d2bc505000u);
  EXPECT_EQ(maps[1].end, 0x55d2bc506000u);
  EXPECT_EQ(maps[1].offset, 0x1000u);
  EXPECT_TRUE(maps[1].executable);
  EXPECT_FALSE(maps[0].executable);
  EXPECT_EQ(maps[1].dev, (8ull << 32) | 1);
  EXPECT_EQ(maps[1].inode, 1312u);
  EXPECT_EQ(maps[1].path, "/tmp/getenv_loop");
  EXPECT_EQ(maps[2].path, "");
  EXPECT_EQ(maps[3].path, "[stack]");
  EXPECT_EQ(maps[4].dev, (0x103ull << 32) | 2);
  EXPECT_EQ(maps[4].path, "/usr/lib/libc.so.6");
}

TEST(ProcTree, DescendantsOfRootsOnly) {
  std::map<pid_t, collector::ProcStat> all;
  auto add = [&](pid_t pid, pid_t ppid) { all[pid] = collector::ProcStat{pid, ppid, "x", 0, 1}; };
  add(1, 0);
  add(10, 1);
  add(11, 10);
  add(12, 11);
  add(20, 1);
  add(21, 20);
  EXPECT_EQ(collector::descendants(all, {10}), (std::vector<pid_t>{10, 11, 12}));
  EXPECT_EQ(collector::descendants(all, {20, 11}), (std::vector<pid_t>{20, 11, 21, 12}));
  EXPECT_EQ(collector::descendants(all, {99}), (std::vector<pid_t>{99}));
}

TEST(ProcInfo, ThisProcess) {
  auto info = collector::read_proc_info(getpid());
  ASSERT_TRUE(info);
  EXPECT_EQ(info->stat.pid, getpid());
  EXPECT_EQ(info->stat.ppid, getppid());
  EXPECT_EQ(info->exe, fs::read_symlink("/proc/self/exe").string());
  EXPECT_EQ(info->cwd, fs::current_path().string());
  EXPECT_GE(info->stat.threads, 1u);
  EXPECT_GT(info->start_wall_ns, 0);
  EXPECT_FALSE(collector::read_proc_info(0x7ffffff0));
}

// Lines arrive in blocks, the last one possibly cut: a later block ends it.
TEST(PerfMap, LinesInBlocksAndLaterEntriesWin) {
  collector::PerfMap map("/nonexistent");
  map.add_lines("7f2f067e37c0 378 JS:~readProxySetting /app/cli.js:1:26\n7f2f067e4000 10 JS:~ma");
  map.add_lines("in /app/cli.js:2:14\nnot a line\n");
  EXPECT_EQ(map.size(), 2u);
  std::string name;
  uint64_t offset = 0;
  ASSERT_TRUE(map.find(0x7f2f067e37c0 + 0x10, &name, &offset));
  EXPECT_EQ(name, "JS:~readProxySetting /app/cli.js:1:26");
  EXPECT_EQ(offset, 0x10u);
  ASSERT_TRUE(map.find(0x7f2f067e4005, &name, &offset));
  EXPECT_EQ(name, "JS:~main /app/cli.js:2:14");
  EXPECT_FALSE(map.find(0x7f2f067e4010, &name, &offset));  // past its size
  EXPECT_FALSE(map.find(0x1000, &name, &offset));
  // The same start compiled again (after a GC) carries the newer name.
  map.add_lines("7f2f067e37c0 20 JS:*readProxySetting /app/cli.js:1:26\n");
  ASSERT_TRUE(map.find(0x7f2f067e37c1, &name, &offset));
  EXPECT_EQ(name, "JS:*readProxySetting /app/cli.js:1:26");
}

// The sample's functions by file offset, and the call before a return
// address, naming its PLT target.
TEST(Symbolizer, NamesTheSampleAndItsCalls) {
  std::string error;
  auto elf = ElfFile::open(kWhoAsked, &error);
  ASSERT_TRUE(elf) << error;
  auto fn = elf->find_symbol("read_proxy_setting");
  ASSERT_TRUE(fn);
  auto module = analyzer::ModuleSymbols::load(kWhoAsked, &error);
  ASSERT_TRUE(module) << error;
  EXPECT_EQ(module->build_id(), elf->build_id());
  EXPECT_EQ(module->build_id().size(), 40u);
  auto at = module->function_at(fn->file_offset + 3);
  ASSERT_TRUE(at);
  EXPECT_EQ(at->first, "read_proxy_setting");
  EXPECT_EQ(at->second, 3u);

  // Find the call to getenv in read_proxy_setting: its end is a return address.
  auto code = elf->read(fn->file_offset, fn->size);
  uint64_t call_end = 0;
  for (const auto& insn : decode_x86_64(code, fn->address, 64))
    if (insn.is_call) call_end = insn.address + insn.size;
  ASSERT_NE(call_end, 0u);
  uint64_t ret_offset = *elf->file_offset_of(call_end);
  auto insn = module->instruction_before(ret_offset);
  ASSERT_TRUE(insn);
  EXPECT_THAT(*insn, StartsWith("call 0x"));
  EXPECT_THAT(*insn, HasSubstr(" <getenv@plt>"));

  // A stack as the collector records it: module, offset, build id.
  trace::Stack st;
  trace::Frame* f = st.add_frames();
  f->set_address(0x555555554000 + call_end);
  f->set_module(kWhoAsked);
  f->set_module_offset(ret_offset);
  f->set_build_id(module->build_id());
  analyzer::Symbolizer symbolizer;
  symbolizer.symbolize(&st);
  EXPECT_EQ(st.frames(0).symbol(), "read_proxy_setting");
  EXPECT_EQ(st.frames(0).symbol_offset(), call_end - fn->address);
  EXPECT_THAT(st.frames(0).instruction(), HasSubstr("<getenv@plt>"));
  EXPECT_EQ(analyzer::frame_text(st.frames(0)),
            "read_proxy_setting+0x" + [&] {
              char b[32];
              snprintf(b, sizeof b, "%llx", static_cast<unsigned long long>(call_end - fn->address));
              return std::string(b);
            }() + " (who_asked)");
}

// Offline: the module's path is gone; a --binaries directory has it under
// another name, found by build id; a file with another build id is refused.
TEST(Symbolizer, FindsBinariesByBuildIdAndRefusesOthers) {
  testing::TempDir dir;
  fs::copy_file(kWhoAsked, dir.file("renamed"));
  std::string error;
  auto elf = ElfFile::open(kWhoAsked, &error);
  auto fn = elf->find_symbol("collect_host_facts");
  ASSERT_TRUE(fn);
  auto make = [&](const std::string& build_id) {
    trace::Stack st;
    trace::Frame* f = st.add_frames();
    f->set_module("/opt/agent/bin/who_asked");
    f->set_module_offset(fn->file_offset + 5);
    f->set_build_id(build_id);
    return st;
  };
  trace::Stack none = make(elf->build_id());
  analyzer::Symbolizer plain;
  plain.symbolize(&none);
  EXPECT_EQ(none.frames(0).symbol(), "");
  EXPECT_EQ(plain.missing().count("/opt/agent/bin/who_asked"), 1u);

  analyzer::SymbolizerOptions with_dir;
  with_dir.binary_dirs = {dir.path()};
  trace::Stack found = make(elf->build_id());
  analyzer::Symbolizer by_id(with_dir);
  by_id.symbolize(&found);
  EXPECT_EQ(found.frames(0).symbol(), "collect_host_facts");

  trace::Stack other = make("00112233445566778899aabbccddeeff00112233");
  analyzer::Symbolizer refuses(with_dir);
  refuses.symbolize(&other);
  EXPECT_EQ(other.frames(0).symbol(), "");
}

// JIT names written at the end of a trace name the frames of its stacks.
TEST(Symbolizer, JitNamesFromTheEndOfTheTrace) {
  analyzer::Profile p;
  analyzer::Profile::RecordedStack rec;
  rec.pid = 7;
  trace::Frame* f = rec.stack.add_frames();
  f->set_address(0x7f0000001234);
  f->set_module("[anon]");
  p.stacks[5] = rec;
  p.jit_symbols[7][0x7f0000001200] = {0x7f0000001300, "JS:~collect /app/a.js:3:1"};
  analyzer::symbolize_stacks(p, {});
  const trace::Frame& g = p.stacks[5].stack.frames(0);
  EXPECT_EQ(g.symbol(), "JS:~collect /app/a.js:3:1");
  EXPECT_EQ(g.symbol_offset(), 0x34u);
  EXPECT_TRUE(g.jit());
  EXPECT_EQ(analyzer::frame_text(g), "JS:~collect /app/a.js:3:1");
}

TEST(Disassembly, InstructionBeforeAReturnAddress) {
  // mov eax, 1; call rel32 (to 0x1010 from 0x1005); syscall
  std::vector<uint8_t> code = {0xb8, 0x01, 0x00, 0x00, 0x00, 0xe8, 0x06, 0x00, 0x00, 0x00};
  auto call = instruction_before(code, 0x1000 + code.size());
  ASSERT_TRUE(call);
  EXPECT_EQ(call->text, "call 0x1010");
  EXPECT_TRUE(call->is_call);
  std::vector<uint8_t> sys = {0x48, 0x89, 0xc7, 0x0f, 0x05};
  auto s = instruction_before(sys, 0x2005);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->text, "syscall");
  EXPECT_TRUE(s->is_syscall);
  // call qword ptr [rip + 0x2fe2]
  std::vector<uint8_t> indirect = {0x90, 0xff, 0x15, 0xe2, 0x2f, 0x00, 0x00};
  auto i = instruction_before(indirect, 0x3007);
  ASSERT_TRUE(i);
  EXPECT_EQ(i->text, "call qword ptr [rip + 0x2fe2]");
  // Nothing ends there as a call.
  std::vector<uint8_t> plain = {0x90, 0x90, 0x90, 0x90};
  EXPECT_FALSE(instruction_before(plain, 0x4004));
}

// glibc's open() saves the caller's rbp and uses the register for the path:
// at its syscall the rule must say where the saved rbp is.
TEST(SyscallFrames, SystemCLibraryHasRulesForOpen) {
  std::string libc;
  for (const char* p : {"/lib/x86_64-linux-gnu/libc.so.6", "/usr/lib/x86_64-linux-gnu/libc.so.6"})
    if (access(p, R_OK) == 0) libc = p;
  if (libc.empty()) GTEST_SKIP() << "no glibc at the Debian path";
  std::string error;
  auto frames = collector::syscall_frames(libc, &error);
  ASSERT_FALSE(frames.empty()) << error;
  auto elf = ElfFile::open(libc, &error);
  auto open_fn = elf->find_symbol("open");
  ASSERT_TRUE(open_fn);
  size_t in_open = 0;
  for (const auto& f : frames) {
    EXPECT_GT(f.cfa_offset, 0);
    EXPECT_EQ(f.cfa_offset % 8, 0);
    if (f.file_offset > open_fn->file_offset && f.file_offset <= open_fn->file_offset + open_fn->size) {
      ++in_open;
      EXPECT_LT(f.rbp_offset, 0) << "open() saves rbp";
      EXPECT_GE(f.cfa_offset, 24);  // return address, rbp, rbx at least
    }
  }
  EXPECT_GE(in_open, 1u);
  EXPECT_TRUE(collector::syscall_frames("/nonexistent", &error).empty());
  EXPECT_EQ(error, "cannot open /nonexistent: No such file or directory");
}

// Which stacks a recording keeps is data the application layer hands down:
// the knowledge base's fingerprint and credential path globs.
trace::Event open_of(const std::string& path) {
  trace::Event e;
  e.mutable_open()->set_path(path);
  return e;
}

TEST(StackFilter, KeepsPathLookupsOnlyForTheGivenGlobs) {
  auto keep = collector::stack_filter({"/etc/machine-id", "/home/*/.ssh/**"});
  EXPECT_TRUE(keep(open_of("/etc/machine-id")));
  EXPECT_TRUE(keep(open_of("/home/u/.ssh/id_ed25519")));
  EXPECT_FALSE(keep(open_of("/etc/passwd")));
  EXPECT_FALSE(keep(open_of("/home/u/.sshrc")));
  trace::Event stat;
  stat.mutable_stat()->set_path("/etc/machine-id");
  EXPECT_TRUE(keep(stat));
  trace::Event access;
  access.mutable_access()->set_path("/etc/hostname");
  EXPECT_FALSE(keep(access));
  // Asked again (the answer is remembered): the same.
  EXPECT_TRUE(keep(open_of("/etc/machine-id")));
  EXPECT_FALSE(keep(open_of("/etc/passwd")));
  // Kinds without a path keep theirs.
  trace::Event getenv;
  getenv.mutable_getenv()->set_name("TZ");
  EXPECT_TRUE(keep(getenv));
  EXPECT_FALSE(collector::stack_filter({})(open_of("/etc/machine-id")));
}

TEST(StackFilter, TheKnowledgeBasesPathsDecideAsItsCategoriesDo) {
  const analyzer::KnowledgeBase kb = analyzer::KnowledgeBase::builtin();
  auto keep = collector::stack_filter(app::stack_paths(kb));
  // What the recording decided from the categories before the decision
  // became data: a fingerprint or credentials path keeps its stack.
  const int credentials = kb.index_of("credentials");
  ASSERT_GE(credentials, 0);
  analyzer::CategorySet wanted = analyzer::CategorySet{1} << credentials;
  for (size_t i = 0; i < kb.categories().size(); ++i)
    if (kb.categories()[i].fingerprint) wanted |= analyzer::CategorySet{1} << i;
  const std::vector<std::pair<std::string, bool>> paths = {
      {"/etc/localtime", true},          {"/usr/share/zoneinfo/Asia/Shanghai", true},
      {"/etc/machine-id", true},         {"/etc/hosts", true},
      {"/proc/cpuinfo", true},           {"/root/.ssh/id_rsa", true},
      {"/home/u/.ssh/known_hosts", true}, {"/etc/ssh/ssh_host_rsa_key", true},
      {"/etc/passwd", false},            {"/usr/lib/x86_64-linux-gnu/libc.so.6", false},
      {"/proc/self/environ", false},     {"/tmp/x", false}};
  for (const auto& [path, expected] : paths) {
    EXPECT_EQ(keep(open_of(path)), expected) << path;
    EXPECT_EQ((kb.classify_path(path) & wanted) != 0, expected) << path;
  }
}

}  // namespace
}  // namespace agenttrace
