// Pins the kernel/user record layout (bpf/agenttrace.h): a change that moves
// a field breaks the build here instead of silently garbling traces.
#include <gtest/gtest.h>

#include <cstddef>
#include <set>
#include <string>

#include "agenttrace.h"
#include "collector/recorder.h"
#include "trace/format.h"

static_assert(sizeof(at_header) == 48);
static_assert(offsetof(at_header, kind) == 0);
static_assert(offsetof(at_header, flags) == 2);
static_assert(offsetof(at_header, size) == 4);
static_assert(offsetof(at_header, mono_ns) == 8);
static_assert(offsetof(at_header, pid) == 16);
static_assert(offsetof(at_header, tid) == 20);
static_assert(offsetof(at_header, ppid) == 24);
static_assert(offsetof(at_header, comm) == 32);

static_assert(sizeof(at_exec) == 72);
static_assert(offsetof(at_exec, filename_len) == 48);
static_assert(offsetof(at_exec, args_len) == 52);
static_assert(offsetof(at_exec, args_total) == 56);
static_assert(offsetof(at_exec, old_tid) == 60);
static_assert(offsetof(at_exec, exe_len) == 64);
static_assert(offsetof(at_exec, cwd_len) == 66);

static_assert(sizeof(at_fork) == 64);
static_assert(offsetof(at_fork, child_pid) == 48);
static_assert(offsetof(at_fork, is_thread) == 56);

static_assert(sizeof(at_exit) == 56);
static_assert(offsetof(at_exit, status) == 48);

static_assert(sizeof(at_path_event) == 80);
static_assert(offsetof(at_path_event, result) == 48);
static_assert(offsetof(at_path_event, dirfd) == 56);
static_assert(offsetof(at_path_event, flags) == 60);
static_assert(offsetof(at_path_event, mode) == 64);
static_assert(offsetof(at_path_event, source) == 68);
static_assert(offsetof(at_path_event, path_len) == 70);
static_assert(offsetof(at_path_event, dir_len) == 72);
static_assert(offsetof(at_path_event, target_len) == 74);
static_assert(offsetof(at_path_event, dir_depth) == 76);
static_assert(offsetof(at_path_event, real_len) == 78);

static_assert(sizeof(at_getenv) == 56);
static_assert(offsetof(at_getenv, source) == 48);
static_assert(offsetof(at_getenv, found) == 50);
static_assert(offsetof(at_getenv, name_len) == 52);
static_assert(offsetof(at_getenv, value_len) == 54);

static_assert(sizeof(at_uname) == 64);
static_assert(offsetof(at_uname, result) == 48);
static_assert(offsetof(at_uname, nodename_len) == 56);

static_assert(sizeof(at_kind_counters) == 32);
static_assert(sizeof(at_counters) == AT_KIND_MAX * 32 + 40 + AT_KIND_MAX * 16);

static_assert(sizeof(at_sockaddr) == 24);
static_assert(offsetof(at_sockaddr, port) == 2);
static_assert(offsetof(at_sockaddr, addr) == 8);

static_assert(sizeof(at_sock_event) == 128);
static_assert(offsetof(at_sock_event, result) == 48);
static_assert(offsetof(at_sock_event, conn) == 56);
static_assert(offsetof(at_sock_event, fd) == 64);
static_assert(offsetof(at_sock_event, unix_len) == 76);
static_assert(offsetof(at_sock_event, addr) == 80);
static_assert(offsetof(at_sock_event, local) == 104);

static_assert(sizeof(at_data_event) == 168);
static_assert(offsetof(at_data_event, result) == 48);
static_assert(offsetof(at_data_event, conn) == 56);
static_assert(offsetof(at_data_event, call_id) == 64);
static_assert(offsetof(at_data_event, ssl) == 72);
static_assert(offsetof(at_data_event, msg_bytes) == 80);
static_assert(offsetof(at_data_event, fd) == 88);
static_assert(offsetof(at_data_event, msg_index) == 96);
static_assert(offsetof(at_data_event, data_offset) == 100);
static_assert(offsetof(at_data_event, data_len) == 104);
static_assert(offsetof(at_data_event, captured) == 108);
static_assert(offsetof(at_data_event, chunk_index) == 112);
static_assert(offsetof(at_data_event, peer) == 120);
static_assert(offsetof(at_data_event, local) == 144);

static_assert(sizeof(at_dns_event) == 64 + AT_DNS_MAX_ADDRS * 24);
static_assert(offsetof(at_dns_event, result) == 48);
static_assert(offsetof(at_dns_event, name_len) == 54);
static_assert(offsetof(at_dns_event, count) == 56);
static_assert(offsetof(at_dns_event, addrs) == 64);

static_assert(sizeof(at_splice_event) == 152);
static_assert(offsetof(at_splice_event, result) == 48);
static_assert(offsetof(at_splice_event, conn) == 56);
static_assert(offsetof(at_splice_event, in_pipe) == 64);
static_assert(offsetof(at_splice_event, out_pipe) == 72);
static_assert(offsetof(at_splice_event, in_fd) == 80);
static_assert(offsetof(at_splice_event, out_fd) == 84);
static_assert(offsetof(at_splice_event, source) == 88);
static_assert(offsetof(at_splice_event, in_type) == 90);
static_assert(offsetof(at_splice_event, out_type) == 92);
static_assert(offsetof(at_splice_event, sock_type) == 94);
static_assert(offsetof(at_splice_event, path_len) == 96);
static_assert(offsetof(at_splice_event, peer) == 104);
static_assert(offsetof(at_splice_event, local) == 128);

static_assert(sizeof(at_io_uring_event) == 72);
static_assert(offsetof(at_io_uring_event, result) == 48);
static_assert(offsetof(at_io_uring_event, source) == 56);
static_assert(offsetof(at_io_uring_event, opcode) == 58);
static_assert(offsetof(at_io_uring_event, dirfd) == 60);
static_assert(offsetof(at_io_uring_event, path_len) == 64);

static_assert(sizeof(at_syscall_event) == 96);
static_assert(offsetof(at_syscall_event, result) == 48);
static_assert(offsetof(at_syscall_event, args) == 56);
static_assert(offsetof(at_syscall_event, nr) == 88);
static_assert(offsetof(at_syscall_event, abi) == 92);
static_assert(offsetof(at_syscall_event, path_len) == 94);
static_assert(sizeof(at_watched_syscall) == 4);
static_assert(sizeof(at_syscall_event) + AT_PATH_MAX <= AT_SCRATCH_SIZE);

static_assert(sizeof(at_host_query) == 96);
static_assert(offsetof(at_host_query, result) == 48);
static_assert(offsetof(at_host_query, request) == 56);
static_assert(offsetof(at_host_query, fd) == 60);
static_assert(offsetof(at_host_query, source) == 64);
static_assert(offsetof(at_host_query, nl_flags) == 66);
static_assert(offsetof(at_host_query, protocol) == 68);
static_assert(offsetof(at_host_query, family) == 70);
static_assert(offsetof(at_host_query, ifindex) == 72);
static_assert(offsetof(at_host_query, length) == 76);
static_assert(offsetof(at_host_query, ifname) == 80);
static_assert(sizeof(at_host_query) + AT_STACK_BYTES <= AT_SCRATCH_SIZE);

// The largest record must fit the per-CPU scratch buffer it is built in.
static_assert(sizeof(at_exec) + AT_PATH_MAX + 2 * AT_DIR_MAX + AT_ARGS_MAX <= AT_SCRATCH_SIZE);
static_assert(sizeof(at_path_event) + 2 * AT_PATH_MAX + AT_DIR_MAX <= AT_SCRATCH_SIZE);
// Stacks: 32-byte frames and an 8-byte tail, appended only to a record
// shorter than half the scratch buffer (a path event with every part at its
// longest goes without one).
static_assert(sizeof(at_frame) == 32);
static_assert(offsetof(at_frame, file_offset) == 8);
static_assert(offsetof(at_frame, ino) == 16);
static_assert(offsetof(at_frame, dev) == 24);
static_assert(offsetof(at_frame, kind) == 28);
static_assert(sizeof(at_stack_tail) == 8);
static_assert(AT_STACK_BYTES == AT_STACK_MAX * sizeof(at_frame) + sizeof(at_stack_tail));
static_assert(AT_SCRATCH_SIZE / 2 + AT_STACK_BYTES <= AT_SCRATCH_SIZE);
static_assert(sizeof(at_site_key) == 24);
static_assert(sizeof(at_site_frame) == 8);
static_assert(sizeof(at_file_id) == 16);
// A successful open has no readlink target; its real path follows the base
// directory, and the directory walk writes within the first half of scratch.
static_assert(sizeof(at_path_event) + AT_PATH_MAX + 2 * AT_DIR_MAX + 256 <= AT_SCRATCH_SIZE / 2);
static_assert(sizeof(at_splice_event) + AT_DIR_MAX + 256 <= AT_SCRATCH_SIZE / 2);
static_assert(sizeof(at_io_uring_event) + AT_PATH_MAX <= AT_SCRATCH_SIZE);

// Every row of the registry fits the counter tables.
#define AT_FITS_KINDS(name, number, text) static_assert(number > 0 && number < AT_KIND_MAX, #name);
AT_KINDS(AT_FITS_KINDS)
#undef AT_FITS_KINDS
#define AT_FITS_SOURCES(name, number, text) static_assert(number > 0 && number < AT_SRC_MAX, #name);
AT_SOURCES(AT_FITS_SOURCES)
#undef AT_FITS_SOURCES

TEST(RecordLayout, KindsFitTheCounterTable) {
  EXPECT_EQ(AT_KIND_MAX & (AT_KIND_MAX - 1), 0) << "AT_KIND_MAX is used as a mask";
}

namespace trace = agenttrace::trace;
namespace collector = agenttrace::collector;

// The registry and the schema agree both ways: every trace::Syscall value
// has a row (a printed name), every kind row a distinct name, no two rows a
// number.
TEST(Registry, EverySchemaSourceHasARowAndEveryRowAName) {
  const auto* values = google::protobuf::GetEnumDescriptor<trace::Syscall>();
  ASSERT_NE(values, nullptr);
  for (int i = 0; i < values->value_count(); ++i) {
    auto v = static_cast<trace::Syscall>(values->value(i)->number());
    if (v == trace::SYSCALL_UNSPECIFIED) continue;
    EXPECT_NE(trace::syscall_name(v), "unknown") << values->value(i)->name() << " has no row in bpf/registry.h";
  }
  std::set<std::string> names;
  std::set<int> numbers;
#define AT_KIND_SEEN(name, number, text)                                 \
  EXPECT_TRUE(names.insert(collector::kernel_kind_name(number)).second) << #name; \
  EXPECT_TRUE(numbers.insert(number).second) << #name;                  \
  EXPECT_STREQ(collector::kernel_kind_name(number), text);
  AT_KINDS(AT_KIND_SEEN)
#undef AT_KIND_SEEN
  EXPECT_STREQ(collector::kernel_kind_name(AT_KIND_MAX - 1), "") << "no name without a row";
  numbers.clear();
#define AT_SRC_SEEN(name, number, text) EXPECT_TRUE(numbers.insert(number).second) << #name;
  AT_SOURCES(AT_SRC_SEEN)
  AT_DECODER_SOURCES(AT_SRC_SEEN)
#undef AT_SRC_SEEN
  EXPECT_EQ(numbers.size(), static_cast<size_t>(values->value_count() - 1)) << "one row per schema value";
}
