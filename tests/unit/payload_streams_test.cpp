// `agenttrace dump --payloads DIR` writes one file per connection and
// direction: a trace with more connections than a process may hold open files
// must still give every file.
#include "analyzer/payload_streams.h"

#include <gtest/gtest.h>
#include <sys/resource.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "../support/temp_dir.h"

namespace agenttrace::analyzer {
namespace {

trace::Event send_event(uint64_t id, uint32_t conn, const std::string& bytes) {
  trace::Event e;
  e.set_id(id);
  e.set_pid(100);
  e.set_comm("client");
  auto* d = e.mutable_send();
  d->set_conn(conn);
  d->set_bytes(bytes.size());
  d->set_data(bytes);
  d->mutable_peer()->set_family("inet");
  d->mutable_peer()->set_address("127.0.0.1");
  d->mutable_peer()->set_port(8000);
  return e;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

TEST(PayloadStreams, MoreConnectionsThanOpenFilesAllowed) {
  // Found by reading the code for the fuzzers: every stream kept its FILE
  // open until the end, so a trace with over ~1000 connections failed with
  // "Too many open files". Lower the limit so the test is quick.
  rlimit old{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &old), 0);
  rlimit low = old;
  low.rlim_cur = 64;
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);
  testing::TempDir dir;
  size_t n = 0;
  try {
    PayloadStreams streams(dir.file("out"));
    constexpr uint32_t kConns = 300;
    uint64_t id = 1;
    // Each connection written twice, interleaved, so closed files reopen.
    for (int round = 0; round < 2; ++round)
      for (uint32_t c = 1; c <= kConns; ++c) streams.on_event(send_event(id++, c, "r" + std::to_string(round) + ";"));
    n = streams.finish();
  } catch (...) {
    setrlimit(RLIMIT_NOFILE, &old);
    throw;
  }
  setrlimit(RLIMIT_NOFILE, &old);
  EXPECT_EQ(n, 300u);
  EXPECT_EQ(slurp(dir.file("out/conn-1-127.0.0.1_8000.out")), "r0;r1;");
  EXPECT_EQ(slurp(dir.file("out/conn-300-127.0.0.1_8000.out")), "r0;r1;");
}

}  // namespace
}  // namespace agenttrace::analyzer
