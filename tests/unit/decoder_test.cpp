#include "collector/decoder.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>

#include "../support/raw_records.h"

namespace agenttrace::collector {
namespace {

using testing::components;
using testing::make_header;
using testing::RawRecord;

constexpr int64_t kOffset = 1'700'000'000'000'000'000;

trace::Event decode_ok(const std::vector<uint8_t>& bytes) {
  Decoder d(kOffset);
  trace::Event e;
  std::string error;
  EXPECT_TRUE(d.decode(bytes.data(), bytes.size(), &e, &error)) << error;
  return e;
}

std::string decode_error(const std::vector<uint8_t>& bytes) {
  Decoder d(kOffset);
  trace::Event e;
  std::string error;
  EXPECT_FALSE(d.decode(bytes.data(), bytes.size(), &e, &error));
  return error;
}

TEST(Decoder, ExecJoinsRelativeFilenameToCwdAndSplitsArgv) {
  at_exec raw{};
  raw.h = make_header(AT_KIND_EXEC, 42, 42, "bash", 5000);
  std::string filename = "./bin/tool";
  std::string exe = components("/opt/x/bin/tool");
  std::string cwd = components("/opt/x");
  std::string args("tool\0--flag\0value with space\0", 29);
  raw.filename_len = filename.size();
  raw.exe_len = exe.size();
  raw.cwd_len = cwd.size();
  raw.args_len = args.size();
  raw.args_total = args.size();
  auto e = decode_ok(RawRecord(raw).append(filename).append(exe).append(cwd).append(args).finish());
  EXPECT_EQ(e.pid(), 42u);
  EXPECT_EQ(e.comm(), "bash");
  EXPECT_EQ(e.mono_ns(), 5000u);
  EXPECT_EQ(e.wall_ns(), kOffset + 5000);
  ASSERT_TRUE(e.has_exec());
  EXPECT_EQ(e.exec().path(), "/opt/x/bin/tool");
  EXPECT_EQ(e.exec().exe(), "/opt/x/bin/tool");
  EXPECT_EQ(e.exec().cwd(), "/opt/x");
  ASSERT_EQ(e.exec().argv_size(), 3);
  EXPECT_EQ(e.exec().argv(0), "tool");
  EXPECT_EQ(e.exec().argv(1), "--flag");
  EXPECT_EQ(e.exec().argv(2), "value with space");
  EXPECT_FALSE(e.exec().argv_truncated());
}

TEST(Decoder, ExecMarksTruncatedArgv) {
  at_exec raw{};
  raw.h = make_header(AT_KIND_EXEC, 7, 7, "x");
  raw.h.flags = AT_F_ARGS_TRUNCATED;
  std::string filename = "/bin/x";
  std::string args("x\0aaaa", 6);  // the last argument was cut
  raw.filename_len = filename.size();
  raw.args_len = args.size();
  raw.args_total = 100000;
  auto e = decode_ok(RawRecord(raw).append(filename).append(args).finish());
  ASSERT_EQ(e.exec().argv_size(), 2);
  EXPECT_EQ(e.exec().argv(1), "aaaa");
  EXPECT_TRUE(e.exec().argv_truncated());
  EXPECT_EQ(e.exec().argv_bytes(), 100000u);
}

TEST(Decoder, OpenWithRelativePathResolvesAgainstDirectory) {
  at_path_event raw{};
  raw.h = make_header(AT_KIND_OPEN, 10, 11, "node");
  raw.source = AT_SRC_OPENAT;
  raw.dirfd = 5;
  raw.flags = O_RDONLY | O_CLOEXEC;
  raw.result = 7;
  std::string path = "../zoneinfo/./Asia/Shanghai";
  std::string dir = components("/usr/share/locale");
  raw.path_len = path.size();
  raw.dir_len = dir.size();
  auto e = decode_ok(RawRecord(raw).append(path).append(dir).finish());
  ASSERT_TRUE(e.has_open());
  EXPECT_EQ(e.open().path(), "/usr/share/zoneinfo/Asia/Shanghai");
  EXPECT_EQ(e.open().requested(), path);
  EXPECT_EQ(e.open().syscall(), trace::SYSCALL_OPENAT);
  EXPECT_EQ(e.open().dirfd(), 5);
  EXPECT_EQ(e.open().result(), 7);
  EXPECT_EQ(e.open().flags(), O_RDONLY | O_CLOEXEC);
  EXPECT_EQ(e.tid(), 11u);
}

TEST(Decoder, AbsolutePathIsNormalizedAndKeepsRequested) {
  at_path_event raw{};
  raw.h = make_header(AT_KIND_STAT, 1, 1, "x");
  raw.source = AT_SRC_NEWFSTATAT;
  raw.dirfd = -100;
  raw.result = -2;
  std::string path = "/etc//./localtime";
  raw.path_len = path.size();
  auto e = decode_ok(RawRecord(raw).append(path).finish());
  EXPECT_EQ(e.stat().path(), "/etc/localtime");
  EXPECT_EQ(e.stat().requested(), path);
  EXPECT_EQ(e.stat().result(), -2);
  EXPECT_EQ(e.stat().syscall(), trace::SYSCALL_NEWFSTATAT);
}

TEST(Decoder, UnknownDirectoryKeepsThePathRelative) {
  at_path_event raw{};
  raw.h = make_header(AT_KIND_ACCESS, 1, 1, "x");
  raw.h.flags = AT_F_DIR_UNKNOWN;
  raw.source = AT_SRC_FACCESSAT;
  raw.dirfd = 99;
  std::string path = "hosts";
  raw.path_len = path.size();
  auto e = decode_ok(RawRecord(raw).append(path).finish());
  EXPECT_EQ(e.access().path(), "hosts");
  EXPECT_TRUE(e.access().requested().empty());
}

TEST(Decoder, ReadlinkCarriesTarget) {
  at_path_event raw{};
  raw.h = make_header(AT_KIND_READLINK, 3, 3, "node");
  raw.source = AT_SRC_READLINK;
  raw.dirfd = -100;
  std::string path = "/etc/localtime", target = "/usr/share/zoneinfo/Etc/UTC";
  raw.path_len = path.size();
  raw.target_len = target.size();
  raw.result = target.size();
  auto e = decode_ok(RawRecord(raw).append(path).append(target).finish());
  EXPECT_EQ(e.readlink().path(), "/etc/localtime");
  EXPECT_EQ(e.readlink().target(), target);
  EXPECT_EQ(e.readlink().syscall(), trace::SYSCALL_READLINK);
}

TEST(Decoder, GetenvWithAndWithoutValue) {
  at_getenv raw{};
  raw.h = make_header(AT_KIND_GETENV, 9, 9, "agent");
  raw.source = AT_SRC_SECURE_GETENV;
  raw.found = 1;
  raw.name_len = 2;
  auto e = decode_ok(RawRecord(raw).append("TZ").finish());
  EXPECT_EQ(e.getenv().name(), "TZ");
  EXPECT_TRUE(e.getenv().found());
  EXPECT_FALSE(e.getenv().value_captured());
  EXPECT_EQ(e.getenv().function(), trace::SYSCALL_SECURE_GETENV);

  raw.h.flags = AT_F_VALUE_CAPTURED;
  raw.value_len = 13;
  auto v = decode_ok(RawRecord(raw).append("TZ").append("Asia/Shanghai").finish());
  EXPECT_TRUE(v.getenv().value_captured());
  EXPECT_EQ(v.getenv().value(), "Asia/Shanghai");

  // Found with an empty value is still a captured value.
  raw.value_len = 0;
  auto empty = decode_ok(RawRecord(raw).append("TZ").finish());
  EXPECT_TRUE(empty.getenv().value_captured());
  EXPECT_EQ(empty.getenv().value(), "");

  EXPECT_FALSE(empty.getenv().name_truncated());

  // A name cut at AT_ENV_NAME_MAX says so (the kernel side sets the path flag).
  raw.h.flags = AT_F_PATH_TRUNCATED;
  auto cut = decode_ok(RawRecord(raw).append("TZ").finish());
  EXPECT_TRUE(cut.getenv().name_truncated());
}

TEST(Decoder, ExitCodeAndSignal) {
  at_exit raw{};
  raw.h = make_header(AT_KIND_EXIT, 4, 4, "sh");
  raw.status = 7 << 8;
  auto e = decode_ok(RawRecord(raw).finish());
  EXPECT_EQ(e.exit().code(), 7);
  EXPECT_EQ(e.exit().signal(), 0);
  raw.status = SIGTERM;
  auto k = decode_ok(RawRecord(raw).finish());
  EXPECT_EQ(k.exit().signal(), SIGTERM);
  EXPECT_EQ(k.exit().code(), 0);
  raw.status = SIGSEGV | 0x80;
  auto c = decode_ok(RawRecord(raw).finish());
  EXPECT_EQ(c.exit().signal(), SIGSEGV);
  EXPECT_TRUE(c.exit().core_dumped());
}

TEST(Decoder, ForkAndThread) {
  at_fork raw{};
  raw.h = make_header(AT_KIND_FORK, 4, 5, "node");
  raw.child_pid = 4;
  raw.child_tid = 6;
  raw.is_thread = 1;
  auto e = decode_ok(RawRecord(raw).finish());
  EXPECT_TRUE(e.fork().thread());
  EXPECT_EQ(e.fork().child_tid(), 6u);
}

TEST(Decoder, UnameFields) {
  at_uname raw{};
  raw.h = make_header(AT_KIND_UNAME, 4, 4, "x");
  raw.nodename_len = 2;
  raw.release_len = 4;
  auto e = decode_ok(RawRecord(raw).append("vm").append("6.18").finish());
  EXPECT_EQ(e.uname().nodename(), "vm");
  EXPECT_EQ(e.uname().release(), "6.18");
}

// What getifaddrs(3) sends: an RTM_GETLINK dump on a NETLINK_ROUTE socket,
// rtgen_family AF_PACKET (17), no interface index in so short a message.
TEST(Decoder, NetlinkRequestNamedWithItsFlagsAndFamily) {
  at_host_query raw{};
  raw.h = make_header(AT_KIND_HOST_QUERY, 4, 4, "node");
  raw.result = 20;
  raw.request = 18;  // RTM_GETLINK
  raw.fd = 19;
  raw.source = AT_SRC_SENDTO;
  raw.nl_flags = 0x301;  // NLM_F_REQUEST | NLM_F_DUMP
  raw.protocol = 0;
  raw.family = 17;
  raw.length = 20;
  auto e = decode_ok(RawRecord(raw).finish());
  ASSERT_TRUE(e.has_host_query());
  const auto& q = e.host_query();
  EXPECT_EQ(q.syscall(), trace::SYSCALL_SENDTO);
  EXPECT_EQ(q.request(), "RTM_GETLINK");
  EXPECT_EQ(q.number(), 18u);
  EXPECT_EQ(q.protocol(), "route");
  EXPECT_EQ(q.flags(), 0x301u);
  EXPECT_TRUE(q.dump());
  EXPECT_EQ(q.family(), "packet");
  EXPECT_EQ(q.length(), 20u);
  EXPECT_EQ(q.index(), 0);
  EXPECT_EQ(q.fd(), 19);
  EXPECT_EQ(q.result(), 20);
  EXPECT_EQ(q.interface(), "");

  raw.request = 20;  // SOCK_DIAG_BY_FAMILY
  raw.protocol = 4;
  raw.nl_flags = 1;
  e = decode_ok(RawRecord(raw).finish());
  EXPECT_EQ(e.host_query().request(), "SOCK_DIAG_BY_FAMILY");
  EXPECT_EQ(e.host_query().protocol(), "sock_diag");
  EXPECT_FALSE(e.host_query().dump());
  raw.request = 0x1a;
  raw.protocol = 31;
  e = decode_ok(RawRecord(raw).finish());
  EXPECT_EQ(e.host_query().request(), "netlink 31 0x1a");
  EXPECT_EQ(e.host_query().protocol(), "netlink 31");
}

TEST(Decoder, InterfaceIoctlNamedWithTheInterfaceAsked) {
  at_host_query raw{};
  raw.h = make_header(AT_KIND_HOST_QUERY, 4, 4, "x");
  raw.request = 0x8927;  // SIOCGIFHWADDR
  raw.fd = 3;
  raw.source = AT_SRC_IOCTL;
  memcpy(raw.ifname, "eth0", 4);
  auto e = decode_ok(RawRecord(raw).finish());
  const auto& q = e.host_query();
  EXPECT_EQ(q.syscall(), trace::SYSCALL_IOCTL);
  EXPECT_EQ(q.request(), "SIOCGIFHWADDR");
  EXPECT_EQ(q.interface(), "eth0");
  EXPECT_EQ(q.protocol(), "");
  EXPECT_FALSE(q.dump());

  // A full-length name has no NUL; SIOCGIFNAME returns the name of an index.
  raw.request = 0x8910;
  raw.ifindex = 7;
  memcpy(raw.ifname, "abcdefghijklmnop", 16);
  e = decode_ok(RawRecord(raw).finish());
  EXPECT_EQ(e.host_query().request(), "SIOCGIFNAME");
  EXPECT_EQ(e.host_query().interface(), "abcdefghijklmnop");
  EXPECT_EQ(e.host_query().index(), 7);
  raw.request = 0x8901;
  e = decode_ok(RawRecord(raw).finish());
  EXPECT_EQ(e.host_query().request(), "ioctl 0x8901");
  EXPECT_EQ(decode_error(RawRecord(make_header(AT_KIND_HOST_QUERY, 4, 4, "x")).finish()),
            "record of kind 21 has 48 bytes, fewer than its fixed part");
}

TEST(Decoder, SystemCallNamedInItsAbiWithItsPath) {
  at_syscall_event raw{};
  raw.h = make_header(AT_KIND_SYSCALL, 4, 4, "x");
  raw.result = -1;  // EPERM
  raw.nr = 165;     // x86-64 mount
  raw.abi = AT_ABI_X86_64;
  raw.args[0] = 0;
  raw.args[1] = 0x7ffd0000;
  raw.args[3] = 0x20 | 0x1000;
  raw.path_len = 4;
  auto e = decode_ok(RawRecord(raw).append("/etc").finish());
  ASSERT_TRUE(e.has_system_call());
  EXPECT_EQ(e.system_call().name(), "mount");
  EXPECT_EQ(e.system_call().number(), 165u);
  EXPECT_EQ(e.system_call().abi(), "x86_64");
  EXPECT_EQ(e.system_call().result(), -1);
  EXPECT_EQ(e.system_call().path(), "/etc");
  ASSERT_EQ(e.system_call().args_size(), 4);
  EXPECT_EQ(e.system_call().args(1), 0x7ffd0000u);
  EXPECT_EQ(e.system_call().args(3), 0x1020u);
  EXPECT_FALSE(e.system_call().path_unreadable());

  at_syscall_event compat{};
  compat.h = make_header(AT_KIND_SYSCALL, 4, 4, "x");
  compat.h.flags = AT_F_READ_FAILED;
  compat.result = -1;
  compat.nr = 199;  // i386 getuid32
  compat.abi = AT_ABI_IA32;
  auto c = decode_ok(RawRecord(compat).finish());
  EXPECT_EQ(c.system_call().name(), "getuid32");
  EXPECT_EQ(c.system_call().abi(), "ia32");
  EXPECT_TRUE(c.system_call().path().empty());
  EXPECT_TRUE(c.system_call().path_unreadable());

  compat.nr = 4000;  // no such call
  EXPECT_EQ(decode_ok(RawRecord(compat).finish()).system_call().name(), "syscall 4000");

  raw.path_len = 5;  // longer than what follows
  EXPECT_EQ(decode_error(RawRecord(raw).append("/etc").finish()), "record lengths overrun its size (syscall)");
}

TEST(Decoder, RejectsShortAndOverrunningRecords) {
  std::vector<uint8_t> tiny(10, 0);
  EXPECT_NE(decode_error(tiny).find("shorter than a record header"), std::string::npos);

  at_path_event raw{};
  raw.h = make_header(AT_KIND_OPEN, 1, 1, "x");
  raw.path_len = 500;  // more than follows
  auto bytes = RawRecord(raw).append("/etc").finish();
  EXPECT_NE(decode_error(bytes).find("overrun"), std::string::npos);

  at_header h = make_header(AT_KIND_FORK, 1, 1, "x");
  auto short_fork = RawRecord(h).finish();  // header only
  EXPECT_NE(decode_error(short_fork).find("fewer than its fixed part"), std::string::npos);

  at_header unknown = make_header(31, 1, 1, "x");
  EXPECT_NE(decode_error(RawRecord(unknown).finish()).find("unknown kind 31"), std::string::npos);

  at_header lying = make_header(AT_KIND_EXIT, 1, 1, "x");
  auto bytes2 = RawRecord(lying).finish();
  reinterpret_cast<at_header*>(bytes2.data())->size = 4096;
  EXPECT_NE(decode_error(bytes2).find("claims 4096 bytes"), std::string::npos);
}

TEST(Decoder, IgnoresReservationPaddingBeyondSize) {
  at_getenv raw{};
  raw.h = make_header(AT_KIND_GETENV, 9, 9, "agent");
  raw.name_len = 4;
  auto bytes = RawRecord(raw).append("HOME").finish();
  bytes.resize(bytes.size() + 256, 0xAA);  // fixed-size ring-buffer reservation
  auto e = decode_ok(bytes);
  EXPECT_EQ(e.getenv().name(), "HOME");
}

// A record with AT_F_STACK ends with its frames and their count; the rest
// of the record decodes as if they were not there.
TEST(Decoder, StackAtTheEndOfAGetenvRecord) {
  at_getenv g{};
  g.h = make_header(AT_KIND_GETENV, 42, 43, "agent");
  g.h.flags = AT_F_STACK;
  g.source = AT_SRC_GETENV;
  g.name_len = 2;
  RawRecord rec(g);
  rec.append("TZ");
  rec.append(std::string(40, '\0'));  // the longest name's room, unused
  at_frame frames[3] = {
      {0x401179, 0x1179, 1234, (8u << 20) | 1, AT_FRAME_FILE},
      {0x7f0000001000, 0, 0, 0, AT_FRAME_ANON},
      {0x10, 0, 0, 0, AT_FRAME_NONE},
  };
  rec.append(std::string(reinterpret_cast<const char*>(frames), sizeof(frames)));
  at_stack_tail tail{3, 0};
  rec.append(std::string(reinterpret_cast<const char*>(&tail), sizeof(tail)));
  trace::Event e = decode_ok(rec.finish());
  EXPECT_EQ(e.getenv().name(), "TZ");
  ASSERT_TRUE(e.has_stack());
  ASSERT_EQ(e.stack().frames_size(), 3);
  EXPECT_EQ(e.stack().frames(0).address(), 0x401179u);
  EXPECT_EQ(e.stack().frames(0).module_offset(), 0x1179u);
  EXPECT_EQ(e.stack().frames(0).inode(), 1234u);
  EXPECT_EQ(e.stack().frames(0).device(), (8u << 20) | 1);
  EXPECT_EQ(e.stack().frames(0).module(), "");
  EXPECT_EQ(e.stack().frames(1).module(), "[anon]");
  EXPECT_EQ(e.stack().frames(2).module(), "[unmapped]");
  EXPECT_FALSE(e.stack().truncated());
  EXPECT_FALSE(e.stack().failed());
}

TEST(Decoder, StackCountBeyondTheRecordIsAnError) {
  at_getenv g{};
  g.h = make_header(AT_KIND_GETENV, 42, 43, "agent");
  g.h.flags = AT_F_STACK;
  g.name_len = 2;
  RawRecord rec(g);
  rec.append("TZ");
  at_stack_tail tail{5, 0};  // five frames claimed, none there
  rec.append(std::string(reinterpret_cast<const char*>(&tail), sizeof(tail)));
  EXPECT_EQ(decode_error(rec.finish()), "record lengths overrun its size (stack)");
  at_stack_tail too_many{AT_STACK_MAX + 1, 0};
  RawRecord rec2(g);
  rec2.append("TZ");
  rec2.append(std::string(reinterpret_cast<const char*>(&too_many), sizeof(too_many)));
  EXPECT_EQ(decode_error(rec2.finish()), "record lengths overrun its size (stack)");
}

}  // namespace
}  // namespace agenttrace::collector
