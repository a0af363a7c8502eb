// The records and rules behind the evasion suite, without a kernel: an
// open's real path, sendfile/splice sends with the file they carried, io_uring
// records as named gaps, and how the analyzer files and words them.
#include <gtest/gtest.h>

#include <algorithm>

#include "../support/raw_records.h"
#include "analyzer/findings.h"
#include "analyzer/knowledge_base.h"
#include "analyzer/profile.h"
#include "collector/coverage.h"
#include "collector/decoder.h"
#include "collector/splice_sources.h"

namespace agenttrace::collector {
namespace {

using testing::components;
using testing::make_header;
using testing::RawRecord;

std::vector<uint8_t> open_record(const std::string& path, const std::string& real) {
  at_path_event raw{};
  raw.h = make_header(AT_KIND_OPEN, 10, 10, "cat");
  raw.source = AT_SRC_OPENAT;
  raw.dirfd = -100;
  raw.result = 3;
  raw.path_len = path.size();
  std::string real_components = components(real);
  raw.real_len = real_components.size();
  return RawRecord(raw).append(path).append(real_components).finish();
}

trace::Event decode_ok(const std::vector<uint8_t>& bytes) {
  Decoder d(0);
  trace::Event e;
  std::string error;
  EXPECT_TRUE(d.decode(bytes.data(), bytes.size(), &e, &error)) << error;
  return e;
}

TEST(EvasionDecode, OpenThroughSymlinksKeepsTheRealPath) {
  auto e = decode_ok(open_record("/tmp/d/first", "/usr/share/zoneinfo/Etc/UTC"));
  EXPECT_EQ(e.open().path(), "/tmp/d/first");
  EXPECT_EQ(e.open().real_path(), "/usr/share/zoneinfo/Etc/UTC");
  // The same file by its own name: nothing to add.
  auto same = decode_ok(open_record("/etc/hostname", "/etc/hostname"));
  EXPECT_EQ(same.open().real_path(), "");
}

TEST(EvasionDecode, RealPathLengthPastTheRecordIsAnError) {
  auto bytes = open_record("/etc/hostname", "/etc/hostname");
  bytes.resize(bytes.size() - 3);
  reinterpret_cast<at_header*>(bytes.data())->size = bytes.size();
  Decoder d(0);
  trace::Event e;
  std::string error;
  EXPECT_FALSE(d.decode(bytes.data(), bytes.size(), &e, &error));
  EXPECT_NE(error.find("overrun"), std::string::npos) << error;
}

std::vector<uint8_t> splice_record(uint16_t source, uint16_t in_type, uint16_t out_type, uint64_t in_pipe,
                                   uint64_t out_pipe, const std::string& in_path, int64_t result) {
  at_splice_event raw{};
  raw.h = make_header(AT_KIND_SPLICE, 20, 20, "sender");
  raw.result = result;
  raw.source = source;
  raw.in_type = in_type;
  raw.out_type = out_type;
  raw.in_pipe = in_pipe;
  raw.out_pipe = out_pipe;
  raw.in_fd = 3;
  raw.out_fd = 4;
  raw.sock_type = 1;
  raw.conn = out_type == AT_FILE_SOCKET ? 0xabc : 0;
  raw.peer.family = 2;
  raw.peer.port = 8080;
  raw.peer.addr[0] = 127;
  raw.peer.addr[3] = 1;
  std::string path = in_path.empty() ? "" : components(in_path);
  raw.path_len = path.size();
  return RawRecord(raw).append(path).finish();
}

SpliceRecord decode_splice_ok(const std::vector<uint8_t>& bytes) {
  Decoder d(0);
  SpliceRecord r;
  std::string error;
  EXPECT_TRUE(d.decode_splice(bytes.data(), bytes.size(), &r, &error)) << error;
  return r;
}

TEST(EvasionDecode, SendfileToASocketIsASendOfItsFile) {
  SpliceSources sources;
  auto r = decode_splice_ok(splice_record(AT_SRC_SENDFILE, AT_FILE_REGULAR, AT_FILE_SOCKET, 0, 0, "/etc/hostname", 13));
  ASSERT_TRUE(sources.resolve(&r));
  const auto& d = r.data.event.send();
  EXPECT_EQ(d.syscall(), trace::SYSCALL_SENDFILE);
  EXPECT_EQ(d.bytes(), 13u);
  EXPECT_EQ(d.fd(), 4);
  EXPECT_EQ(d.source_file(), "/etc/hostname");
  EXPECT_EQ(trace::sockaddr_text(d.peer()), "127.0.0.1:8080");
  EXPECT_TRUE(r.data.final);
  EXPECT_EQ(r.data.captured, 0u);
  EXPECT_EQ(r.data.kernel_conn, 0xabcu);
}

TEST(EvasionDecode, SpliceThroughAPipeNamesTheFileSplicedIntoIt) {
  SpliceSources sources;
  auto in = decode_splice_ok(splice_record(AT_SRC_SPLICE, AT_FILE_REGULAR, AT_FILE_PIPE, 0, 77, "/etc/machine-id", 33));
  EXPECT_FALSE(sources.resolve(&in)) << "file into a pipe is not a send";
  auto out = decode_splice_ok(splice_record(AT_SRC_SPLICE, AT_FILE_PIPE, AT_FILE_SOCKET, 77, 0, "", 33));
  ASSERT_TRUE(sources.resolve(&out));
  EXPECT_EQ(out.data.event.send().syscall(), trace::SYSCALL_SPLICE);
  EXPECT_EQ(out.data.event.send().source_file(), "/etc/machine-id");
  // A pipe nothing known was spliced into (vmsplice of memory): no name.
  auto other = decode_splice_ok(splice_record(AT_SRC_SPLICE, AT_FILE_PIPE, AT_FILE_SOCKET, 78, 0, "", 5));
  ASSERT_TRUE(sources.resolve(&other));
  EXPECT_EQ(other.data.event.send().source_file(), "");
}

TEST(EvasionDecode, SpliceRecordsAreRefusedByThePlainDecoder) {
  auto bytes = splice_record(AT_SRC_SENDFILE, AT_FILE_REGULAR, AT_FILE_SOCKET, 0, 0, "/etc/hostname", 13);
  Decoder d(0);
  trace::Event e;
  std::string error;
  EXPECT_FALSE(d.decode(bytes.data(), bytes.size(), &e, &error));
  bytes.resize(sizeof(at_splice_event) - 1);
  SpliceRecord r;
  EXPECT_FALSE(d.decode_splice(bytes.data(), bytes.size(), &r, &error));
}

std::vector<uint8_t> io_uring_record(uint16_t source, int64_t result, uint8_t opcode, const std::string& path) {
  at_io_uring_event raw{};
  raw.h = make_header(AT_KIND_IO_URING, 30, 30, "uring");
  raw.source = source;
  raw.result = result;
  raw.opcode = opcode;
  raw.dirfd = -100;
  raw.path_len = path.size();
  return RawRecord(raw).append(path).finish();
}

TEST(EvasionDecode, IoUringRecordsAreNamedGaps) {
  auto setup = decode_ok(io_uring_record(AT_SRC_IO_URING_SETUP, 5, 0, ""));
  ASSERT_TRUE(setup.has_coverage());
  EXPECT_EQ(setup.pid(), 30u);
  EXPECT_EQ(setup.coverage().signal(), "io_uring");
  EXPECT_EQ(setup.coverage().state(), "gap");
  auto open = decode_ok(io_uring_record(AT_SRC_IO_URING_SUBMIT, 0, 18, "/etc/machine-id"));
  EXPECT_EQ(open.coverage().detail(),
            "submitted an io_uring openat of /etc/machine-id: seen by path only, not as an open with its result");
  auto send = decode_ok(io_uring_record(AT_SRC_IO_URING_SUBMIT, 0, 26, ""));
  EXPECT_EQ(send.coverage().detail(), "submitted an io_uring send: what it read, wrote or sent is not recorded");
  // A ring that could not be set up hides nothing.
  auto refused = decode_ok(io_uring_record(AT_SRC_IO_URING_SETUP, -1, 0, ""));
  EXPECT_EQ(refused.coverage().state(), "observed");
  EXPECT_EQ(refused.coverage().detail(), "io_uring_setup failed (EPERM): no ring, nothing hidden");
  EXPECT_EQ(io_uring_op_name(62), "pipe");
  EXPECT_EQ(io_uring_op_name(200), "op200");
}

}  // namespace
}  // namespace agenttrace::collector

namespace agenttrace::analyzer {
namespace {

TEST(EvasionAnalysis, JudgedPathIsTheRealOneOnlyWhenOnlyItIsKnown) {
  auto kb = KnowledgeBase::builtin();
  EXPECT_EQ(kb.judged_path("/tmp/d/first", "/usr/share/zoneinfo/Etc/UTC"), "/usr/share/zoneinfo/Etc/UTC");
  EXPECT_EQ(kb.judged_path("/etc/localtime", "/usr/share/zoneinfo/Etc/UTC"), "/etc/localtime");
  EXPECT_EQ(kb.judged_path("/tmp/a", "/tmp/b"), "/tmp/a");
  EXPECT_EQ(kb.judged_path("/tmp/a", ""), "/tmp/a");
}

trace::Event process_event(uint64_t id, uint32_t pid, const std::string& comm) {
  trace::Event e;
  e.set_id(id);
  e.set_pid(pid);
  e.set_tid(pid);
  e.set_comm(comm);
  return e;
}

TEST(EvasionAnalysis, SymlinkChainToTheZoneFileIsATimeZoneFact) {
  auto kb = KnowledgeBase::builtin();
  ProfileBuilder b(kb);
  trace::Event e = process_event(1, 10, "sneaky");
  auto* o = e.mutable_open();
  o->set_path("/tmp/d/first");
  o->set_real_path("/usr/share/zoneinfo/Asia/Shanghai");
  o->set_result(3);
  b.on_event(e);
  Profile& p = b.profile();
  ASSERT_TRUE(p.facts["timezone"].count("/usr/share/zoneinfo/Asia/Shanghai"));
  EXPECT_EQ(p.facts["timezone"]["/usr/share/zoneinfo/Asia/Shanghai"].detail, "read via /tmp/d/first");
  bool zone_value = false;
  for (const auto& v : p.values) zone_value |= v.kind == "timezone" && v.value == "Asia/Shanghai";
  EXPECT_TRUE(zone_value);
}

TEST(EvasionAnalysis, IoUringAndOutlivedProcessesAreCoverageGapFindings) {
  auto kb = KnowledgeBase::builtin();
  ProfileBuilder b(kb);
  trace::Event cause = process_event(1, 30, "uring");
  trace::Event gap = collector::io_uring_coverage(cause, true, 5, 0, "");
  gap.set_id(1);
  b.on_event(gap);
  trace::Event late = collector::outlived_coverage(31, 1, "daemon", 0, 0);
  late.set_id(2);
  b.on_event(late);
  auto findings = run_rules(b.profile(), kb);
  std::vector<std::string> messages;
  for (const auto& f : findings)
    if (f.rule == "coverage-gap") messages.push_back(f.message);
  ASSERT_EQ(messages.size(), 2u);
  EXPECT_NE(std::find(messages.begin(), messages.end(),
                      "Operations submitted through io_uring of uring (pid 30) are not visible: uring (pid 30) set "
                      "up an io_uring: opens, reads and sends submitted through it are not recorded as such."),
            messages.end())
      << messages[0] << "\n" << messages[1];
  EXPECT_NE(std::find(messages.begin(), messages.end(),
                      "Actions after the command exited of daemon (pid 31) are not visible: daemon (pid 31) was "
                      "still running when the command exited, and what it did afterwards is not recorded."),
            messages.end())
      << messages[0] << "\n" << messages[1];
}

}  // namespace
}  // namespace agenttrace::analyzer
