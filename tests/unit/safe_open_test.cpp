// Opening what a traced program chose (common/safe_open.h) and the places
// that do: perf maps, libraries to probe, modules named in a foreign trace.
// Each trap is made by the test (a FIFO, a link to /dev/zero, a link swapped
// between check and attach, a file over the limit) and removed after it.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <link.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "../support/temp_dir.h"
#include "analyzer/profile.h"
#include "analyzer/symbolizer.h"
#include "collector/file_refusals.h"
#include "collector/library_probes.h"
#include "collector/stack_resolver.h"
#include "common/elf_file.h"
#include "common/safe_open.h"

namespace agenttrace {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

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

void write_file(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

ino_t inode_of(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0 ? st.st_ino : 0;
}

TEST(SafeOpen, RegularFileOpens) {
  testing::TempDir dir;
  write_file(dir.file("map"), "1000 10 f\n");
  SafeFile f = safe_open(dir.file("map"));
  ASSERT_TRUE(f.ok()) << f.error;
  EXPECT_EQ(f.size, 10u);
  EXPECT_EQ(f.ino, inode_of(dir.file("map")));
  EXPECT_FALSE(f.refused);
  EXPECT_EQ(f.error, "");
}

TEST(SafeOpen, FifoIsRefusedWithoutWaitingForAWriter) {
  testing::TempDir dir;
  ASSERT_EQ(mkfifo(dir.file("fifo").c_str(), 0600), 0);
  SafeFile f = safe_open(dir.file("fifo"));  // a blocking open would hang here
  EXPECT_FALSE(f.ok());
  EXPECT_TRUE(f.refused);
  EXPECT_EQ(f.error, dir.file("fifo") + " was not read: it is a FIFO, not a regular file");
}

TEST(SafeOpen, LinkToDevZeroIsRefused) {
  testing::TempDir dir;
  ASSERT_EQ(symlink("/dev/zero", dir.file("zero").c_str()), 0);
  SafeFile f = safe_open(dir.file("zero"));
  EXPECT_FALSE(f.ok());
  EXPECT_TRUE(f.refused);
  EXPECT_EQ(f.error, dir.file("zero") + " was not read: it is a symbolic link, not a regular file");
  // Inside a process's root the link is followed there, to a device.
  std::string in_root = "/proc/" + std::to_string(getpid()) + "/root" + dir.file("zero");
  SafeFile g = safe_open(in_root);
  EXPECT_TRUE(g.refused);
  EXPECT_EQ(g.error, in_root + " was not read: it is a character device, not a regular file");
  // agenttrace's own root, for a process that is gone, the same way.
  SafeFile own = safe_open("/proc/self/root" + dir.file("zero"));
  EXPECT_EQ(own.error, "/proc/self/root" + dir.file("zero") + " was not read: it is a character device, not a regular file");
  SafeOpenOptions no_links;
  no_links.follow_in_root = false;
  SafeFile h = safe_open(in_root, no_links);
  EXPECT_TRUE(h.refused);
  EXPECT_EQ(h.error, in_root + " was not read: it is a symbolic link, not a regular file");
}

TEST(SafeOpen, FileOverTheLimitIsRefused) {
  testing::TempDir dir;
  write_file(dir.file("big"), std::string(1001, 'x'));
  SafeOpenOptions small;
  small.max_bytes = 1000;
  SafeFile f = safe_open(dir.file("big"), small);
  EXPECT_TRUE(f.refused);
  EXPECT_EQ(f.error, dir.file("big") +
                         " was not read: it has 1001 bytes, more than the 1000 agenttrace reads of a file a "
                         "traced program chose");
  small.max_bytes = 1001;
  EXPECT_TRUE(safe_open(dir.file("big"), small).ok());
}

TEST(SafeOpen, MagicLinksInsideARootAreRefused) {
  std::string exe = "/proc/" + std::to_string(getpid()) + "/root/proc/self/exe";
  SafeFile f = safe_open(exe);
  EXPECT_TRUE(f.refused);
  EXPECT_EQ(f.error, exe + " was not read: resolving it inside the process's root needs a link that is not allowed");
  // Outside a root, a magic link is a link like any other: refused.
  SafeFile plain = safe_open("/proc/self/exe");
  EXPECT_TRUE(plain.refused);
  EXPECT_EQ(plain.error, "/proc/self/exe was not read: it is a symbolic link, not a regular file");
}

TEST(SafeOpen, MissingFileIsNotARefusal) {
  SafeFile f = safe_open("/nonexistent/perf-1.map");
  EXPECT_FALSE(f.ok());
  EXPECT_FALSE(f.refused);
  EXPECT_EQ(f.error, "cannot open /nonexistent/perf-1.map: No such file or directory");
}

// A link inside a chroot names a file of that root, never the host's.
TEST(SafeOpen, LinksResolveInsideTheProcessRoot) {
  if (geteuid() != 0) GTEST_SKIP() << "chroot needs root";
  testing::TempDir dir;
  fs::create_directories(dir.file("lib"));
  write_file(dir.file("inside.txt"), "inside");
  ASSERT_EQ(symlink("/inside.txt", dir.file("lib/absolute").c_str()), 0);
  ASSERT_EQ(symlink("../../../../../etc/hostname", dir.file("lib/climbing").c_str()), 0);
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  pid_t child = fork();
  if (child == 0) {
    if (chroot(dir.path().c_str()) != 0) _exit(1);
    char c = 1;
    (void)!write(ready[1], &c, 1);
    pause();
    _exit(0);
  }
  char c = 0;
  ASSERT_EQ(read(ready[0], &c, 1), 1);
  std::string root = "/proc/" + std::to_string(child) + "/root";
  SafeFile abs = safe_open(root + "/lib/absolute");
  EXPECT_TRUE(abs.ok()) << abs.error;
  EXPECT_EQ(abs.ino, inode_of(dir.file("inside.txt")));
  SafeFile climb = safe_open(root + "/lib/climbing");  // the root's /etc/hostname: none
  EXPECT_FALSE(climb.ok());
  EXPECT_FALSE(climb.refused);
  EXPECT_THAT(climb.error, HasSubstr("No such file or directory"));
  kill(child, SIGKILL);
  waitpid(child, nullptr, 0);
  close(ready[0]);
  close(ready[1]);
}

TEST(PerfMapSafety, FifoIsRefusedOnceAndNamed) {
  testing::TempDir dir;
  ASSERT_EQ(mkfifo(dir.file("perf-7.map").c_str(), 0600), 0);
  collector::FileRefusals refusals;
  collector::PerfMap map(dir.file("perf-7.map"), &refusals);
  map.refresh();
  map.refresh();
  EXPECT_TRUE(map.refused());
  EXPECT_EQ(map.size(), 0u);
  EXPECT_EQ(refusals.count(), 1u);
  trace::Event cause;
  cause.set_pid(7);
  cause.set_comm("node");
  auto events = refusals.take(cause);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].pid(), 7u);
  EXPECT_EQ(events[0].coverage().signal(), "file");
  EXPECT_EQ(events[0].coverage().state(), "gap");
  EXPECT_EQ(events[0].coverage().object(), dir.file("perf-7.map"));
  EXPECT_EQ(events[0].coverage().detail(), "named a file agenttrace would not read: " + dir.file("perf-7.map") +
                                               " was not read: it is a FIFO, not a regular file");
  EXPECT_TRUE(refusals.take(cause).empty());
}

TEST(PerfMapSafety, LinkToDevZeroIsRefusedAndAMapGrowingPastTheLimitIsCut) {
  testing::TempDir dir;
  ASSERT_EQ(symlink("/dev/zero", dir.file("perf-8.map").c_str()), 0);
  collector::FileRefusals refusals;
  collector::PerfMap zero(dir.file("perf-8.map"), &refusals);
  zero.refresh();
  EXPECT_TRUE(zero.refused());
  EXPECT_EQ(refusals.count(), 1u);

  // A map that is already larger than the limit is not read at all.
  {
    std::ofstream big(dir.file("perf-9.map"));
    big << "1000 10 first\n";
  }
  ASSERT_EQ(truncate(dir.file("perf-9.map").c_str(), static_cast<off_t>(kMaxPerfMapBytes) + 1), 0);
  collector::PerfMap over(dir.file("perf-9.map"), &refusals);
  over.refresh();
  EXPECT_TRUE(over.refused());
  EXPECT_EQ(refusals.count(), 2u);
}

// Records where each probe would go: the file the descriptor names at the
// moment of attaching.
struct InodeRecorder {
  std::vector<ino_t> attached;
  std::function<void()> before_first;
  collector::LibraryProbes::AttachFn fn() {
    return [this](const std::string&, bool, const ElfFile& file, uint64_t) {
      if (before_first) std::exchange(before_first, nullptr)();
      attached.push_back(inode_of(fd_path(file.fd())));
      return std::string();
    };
  }
};

TEST(LibraryProbeSafety, ALinkSwappedAfterTheCheckCannotRedirectTheProbes) {
  testing::TempDir dir;
  fs::copy_file(own_libc(), dir.file("real.so"));
  fs::copy_file(std::string(SAMPLES_DIR) + "/static_getenv", dir.file("other.so"));
  ASSERT_EQ(symlink("real.so", dir.file("libc.so.6").c_str()), 0);
  InodeRecorder rec;
  // Between the check and the first probe, the link is pointed elsewhere.
  rec.before_first = [&] {
    ASSERT_EQ(symlink("other.so", dir.file("swap").c_str()), 0);
    ASSERT_EQ(rename(dir.file("swap").c_str(), dir.file("libc.so.6").c_str()), 0);
  };
  collector::LibraryProbes probes(rec.fn());
  std::string in_root = "/proc/" + std::to_string(getpid()) + "/root" + dir.file("libc.so.6");
  ASSERT_EQ(probes.attach_library(in_root, collector::LibraryGroup::kCLibrary), "");
  ASSERT_EQ(rec.attached.size(), 14u);  // 7 functions, entry and return
  EXPECT_EQ(inode_of(dir.file("libc.so.6")), inode_of(dir.file("other.so")));  // the swap happened
  for (ino_t ino : rec.attached) EXPECT_EQ(ino, inode_of(dir.file("real.so")));
}

TEST(LibraryProbeSafety, ALibraryPathThatIsALinkIsRefusedOutsideARoot) {
  testing::TempDir dir;
  ASSERT_EQ(symlink(own_libc().c_str(), dir.file("libc.so.6").c_str()), 0);
  InodeRecorder rec;
  collector::LibraryProbes probes(rec.fn());
  collector::FileRefusals refusals;
  probes.set_refusals(&refusals);
  EXPECT_EQ(probes.attach_library(dir.file("libc.so.6"), collector::LibraryGroup::kCLibrary),
            dir.file("libc.so.6") + " was not read: it is a symbolic link, not a regular file");
  EXPECT_TRUE(rec.attached.empty());
  EXPECT_EQ(refusals.count(), 1u);
}

TEST(LibraryProbeSafety, AFifoOpenedAsTheCLibraryIsNamedNotProbed) {
  testing::TempDir dir;
  ASSERT_EQ(mkfifo(dir.file("libc.so.6").c_str(), 0600), 0);
  InodeRecorder rec;
  collector::LibraryProbes probes(rec.fn());
  collector::FileRefusals refusals;
  probes.set_refusals(&refusals);
  trace::Event open;
  open.set_pid(0);  // no /proc entry: the path is taken as it is
  open.mutable_open()->set_path(dir.file("libc.so.6"));
  open.mutable_open()->set_result(3);
  std::vector<trace::Event> extra;
  probes.observe(open, &extra);
  EXPECT_TRUE(extra.empty());
  EXPECT_TRUE(rec.attached.empty());
  auto named = refusals.take(open);
  ASSERT_EQ(named.size(), 1u);
  EXPECT_EQ(named[0].coverage().object(), dir.file("libc.so.6"));
  EXPECT_THAT(named[0].coverage().detail(), HasSubstr("it is a FIFO, not a regular file"));
}

// A trace from another machine (or boot) names paths of that machine: they
// are not opened here, only files under --binaries are.
TEST(SymbolizerSafety, ForeignTracesDoNotOpenLocalFiles) {
  const std::string who_asked = std::string(SAMPLES_DIR) + "/who_asked";
  std::string error;
  auto elf = ElfFile::open(who_asked, &error);
  ASSERT_TRUE(elf) << error;
  auto fn = elf->find_symbol("collect_host_facts");
  ASSERT_TRUE(fn);
  auto profile_with = [&](const std::string& boot_id, const std::string& host) {
    analyzer::Profile p;
    p.header.set_boot_id(boot_id);
    (*p.header.mutable_host_values())["hostname"] = host;
    analyzer::Profile::RecordedStack rec;
    rec.pid = 1;
    trace::Frame* f = rec.stack.add_frames();
    f->set_module(who_asked);
    f->set_module_offset(fn->file_offset + 5);
    p.stacks[1] = rec;
    return p;
  };
  std::string boot;
  std::getline(std::ifstream("/proc/sys/kernel/random/boot_id"), boot);
  struct utsname u {};
  ASSERT_EQ(uname(&u), 0);

  analyzer::Profile here = profile_with(boot, u.nodename);
  EXPECT_TRUE(analyzer::recorded_here(here.header));
  analyzer::symbolize_stacks(here, {});
  EXPECT_EQ(here.stacks[1].stack.frames(0).symbol(), "collect_host_facts");

  for (auto [b, h] : {std::pair<std::string, std::string>{"00000000-0000-0000-0000-000000000000", u.nodename},
                      std::pair<std::string, std::string>{boot, "elsewhere"}}) {
    analyzer::Profile foreign = profile_with(b, h);
    EXPECT_FALSE(analyzer::recorded_here(foreign.header));
    analyzer::symbolize_stacks(foreign, {});
    EXPECT_EQ(foreign.stacks[1].stack.frames(0).symbol(), "") << b << " " << h;
  }

  // With --binaries the directory's copy names it.
  testing::TempDir dir;
  fs::copy_file(who_asked, dir.file("who_asked"));
  analyzer::Profile foreign = profile_with("00000000-0000-0000-0000-000000000000", "elsewhere");
  analyzer::SymbolizerOptions with_dir;
  with_dir.binary_dirs = {dir.path()};
  analyzer::symbolize_stacks(foreign, with_dir);
  EXPECT_EQ(foreign.stacks[1].stack.frames(0).symbol(), "collect_host_facts");
}

}  // namespace

static void u32(std::string& b, uint32_t v) { b.append(reinterpret_cast<const char*>(&v), 4); }
static void u64(std::string& b, uint64_t v) { b.append(reinterpret_cast<const char*>(&v), 8); }

// A JITDump of process `pid` with one load record: `name` for 16 bytes at `addr`.
static std::string one_load_jitdump(uint32_t pid, uint64_t addr, const std::string& name) {
  std::string d;
  u32(d, 0x4A695444); u32(d, 1); u32(d, 40); u32(d, 62); u32(d, 0); u32(d, pid); u64(d, 1); u64(d, 0);
  u32(d, 0); u32(d, static_cast<uint32_t>(56 + name.size() + 1 + 16)); u64(d, 2);
  u32(d, pid); u32(d, pid); u64(d, addr); u64(d, addr); u64(d, 16); u64(d, 1);
  d += name; d += '\0'; d += std::string(16, '\x90');
  return d;
}

// Bun's JITDump, in pieces as it is written: a header, a load record for a
// function, one of another kind, and a load cut short (named once complete).
TEST(PerfMapJitDump, LoadRecordsNameTheCodeAndPiecesWait) {
  std::string dump;
  u32(dump, 0x4A695444); u32(dump, 1); u32(dump, 40); u32(dump, 62);
  u32(dump, 0); u32(dump, 7); u64(dump, 1); u64(dump, 0);
  auto load = [&](uint64_t addr, uint64_t size, const std::string& name) {
    std::string r;
    u32(r, 0); u32(r, static_cast<uint32_t>(56 + name.size() + 1 + size)); u64(r, 5);
    u32(r, 7); u32(r, 7); u64(r, addr); u64(r, addr); u64(r, size); u64(r, 1);
    r += name; r += '\0'; r += std::string(size, '\xcc');
    return r;
  };
  std::string other;
  u32(other, 6); u32(other, 24); u64(other, 9); u64(other, 0);  // a JIT_CODE_CLOSE-like record: skipped
  const std::string second = load(0x7f0000002000, 64, "JSC-FTL: stamp#AAAAAA");
  std::string all = dump + load(0x7f0000001000, 32, "JSC-DFG: readZone#EIriTt") + other + second;
  testing::TempDir dir;
  collector::PerfMap map(dir.file("jit-7.dump"));
  const size_t cut = all.size() - 10;
  ASSERT_TRUE(map.add_jitdump(all.substr(0, 3)));
  ASSERT_TRUE(map.add_jitdump(all.substr(3, cut - 3)));
  std::string name;
  uint64_t offset = 0;
  ASSERT_TRUE(map.find(0x7f0000001010, &name, &offset));
  EXPECT_EQ(name, "JSC-DFG: readZone#EIriTt");
  EXPECT_EQ(offset, 0x10u);
  EXPECT_FALSE(map.find(0x7f0000001020, &name, &offset));  // past its 32 bytes
  EXPECT_FALSE(map.find(0x7f0000002000, &name, &offset));  // not complete yet
  ASSERT_TRUE(map.add_jitdump(all.substr(cut)));
  ASSERT_TRUE(map.find(0x7f0000002000, &name, &offset));
  EXPECT_EQ(name, "JSC-FTL: stamp#AAAAAA");
  EXPECT_EQ(map.size(), 2u);
  // Not a JITDump, and a record claiming to be smaller than its head.
  collector::PerfMap text(dir.file("x.dump"));
  EXPECT_FALSE(text.add_jitdump(std::string("7f00 10 name\n") + std::string(40, ' ')));
  collector::PerfMap bad(dir.file("y.dump"));
  std::string broken = dump;
  u32(broken, 0); u32(broken, 8);
  EXPECT_FALSE(bad.add_jitdump(broken + std::string(8, '\0')));
}

TEST(PerfMapJitDump, FoundByTheProcessIdInEitherNamingAndReadFromTheFile) {
  testing::TempDir dir;
  EXPECT_EQ(collector::PerfMap::find_jitdump(dir.path(), 42), "");
  { std::ofstream(dir.file("jit-4242.dump")) << "x"; }   // another process
  { std::ofstream(dir.file("jit-x-42.dump")) << "x"; }   // not a thread id
  EXPECT_EQ(collector::PerfMap::find_jitdump(dir.path(), 42), "");
  { std::ofstream(dir.file("jit-43-42.dump")) << "x"; }  // Bun 1.3: jit-TID-PID.dump
  EXPECT_EQ(collector::PerfMap::find_jitdump(dir.path(), 42), dir.file("jit-43-42.dump"));
  { std::ofstream(dir.file("jit-77.dump")) << "x"; }     // Bun 1.2: jit-PID.dump
  EXPECT_EQ(collector::PerfMap::find_jitdump(dir.path(), 77), dir.file("jit-77.dump"));
  // A process without a text map: its JITDump is found in the directory and read.
  const std::string name = "JSC-Baseline: hot#ABCDEF";
  { std::ofstream(dir.file("jit-10-9.dump"), std::ios::binary) << one_load_jitdump(9, 0x5000, name); }
  collector::PerfMap map(dir.file("perf-9.map"), nullptr, dir.path(), 9);
  map.refresh();
  std::string got;
  uint64_t offset = 0;
  ASSERT_TRUE(map.find(0x5004, &got, &offset));
  EXPECT_EQ(got, name);
  EXPECT_EQ(map.path(), dir.file("jit-10-9.dump"));
}

// A runtime's events are often read after it has exited: a map of a process
// seen through /proc/PID/root holds that root, so a JITDump written late is
// still found through it, and the last look at the end is not held back by
// the 200 ms between listings.
TEST(PerfMapJitDump, FoundThroughTheProcessRootAfterItExited) {
  testing::TempDir dir;
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  pid_t child = fork();
  if (child == 0) {
    char c;
    close(ready[1]);
    (void)!read(ready[0], &c, 1);
    _exit(0);
  }
  const std::string root = "/proc/" + std::to_string(child) + "/root";
  collector::PerfMap map(root + dir.file("perf-31.map"), nullptr, root + dir.path(), 31);
  map.refresh();  // nothing there yet: listed once
  close(ready[1]);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  close(ready[0]);
  ASSERT_NE(access(root.c_str(), F_OK), 0) << "the child's root is still reachable by its path";
  const std::string name = "JSC-DFG: late#ABCDEF";
  { std::ofstream(dir.file("jit-32-31.dump"), std::ios::binary) << one_load_jitdump(31, 0x6000, name); }
  std::string got;
  uint64_t offset = 0;
  map.refresh();  // within 200 ms of the first listing: not listed again
  EXPECT_FALSE(map.find(0x6004, &got, &offset));
  map.refresh(true);
  ASSERT_TRUE(map.find(0x6004, &got, &offset));
  EXPECT_EQ(got, name);
  EXPECT_EQ(map.path(), root + dir.file("jit-32-31.dump"));
}

}  // namespace agenttrace
