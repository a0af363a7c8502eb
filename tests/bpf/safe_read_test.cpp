// The collector reads what a traced program chose, and keeps per-thread
// state for its library calls; neither can be turned against it. A FIFO or
// a link to /dev/zero where a perf map or a library is looked for is
// refused, counted and named, and does not stall or grow the recorder; tens
// of thousands of threads killed inside getenv leave the uprobe pairing map
// usable, with every unfinished call counted.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "../support/agenttrace_runner.h"

namespace agenttrace::testing {
namespace {

using ::testing::HasSubstr;

const std::string kSamples = SAMPLES_DIR;

// agenttrace's peak resident set (VmHWM, KiB) while `r` ran, sampled from
// /proc until it exits.
struct PeakMemory {
  std::atomic<long> kib{0};
  std::thread sampler;
  std::function<void(pid_t)> watcher() {
    return [this](pid_t pid) {
      sampler = std::thread([this, pid] {
        std::string status = "/proc/" + std::to_string(pid) + "/status";
        for (;;) {
          std::ifstream in(status);
          if (!in) return;
          std::string line;
          bool zombie = false;
          while (std::getline(in, line)) {
            if (line.rfind("State:", 0) == 0 && line.find('Z') != std::string::npos) zombie = true;
            if (line.rfind("VmHWM:", 0) == 0) kib = std::stol(line.substr(6));
          }
          if (zombie) return;
          std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
      });
    };
  }
  ~PeakMemory() {
    if (sampler.joinable()) sampler.join();
  }
};

struct HostileRun {
  RunResult r;
  double seconds = 0;
  long peak_kib = 0;
};

HostileRun run_hostile(const std::string& mode, const TempDir& dir) {
  RunSpec spec;
  spec.command = {kSamples + "/hostile_files", mode, dir.path()};
  spec.timeout_s = 90;
  PeakMemory peak;
  spec.while_running = peak.watcher();
  auto start = std::chrono::steady_clock::now();
  HostileRun h;
  h.r = run_agenttrace(spec, dir);
  h.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (peak.sampler.joinable()) peak.sampler.join();
  h.peak_kib = peak.kib;
  return h;
}

std::vector<Json> file_coverage(const std::vector<Json>& events) {
  std::vector<Json> out;
  for (const auto& e : of_kind(events, "coverage"))
    if (e["signal"] == "file") out.push_back(e);
  return out;
}

// What the recorder may take for one such run: it is some 40 MiB here; a
// file that balloons it is read without end.
constexpr long kPeakKiB = 150 * 1024;

void expect_refused(const HostileRun& h, const std::string& path, const std::string& why) {
  const RunResult& r = h.r;
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "done\n");
  // Not stalled: the command sleeps 1 s, agenttrace adds its start and end
  // (some 4 s here, up to 25 s on a machine loaded 90 deep); a recorder
  // stuck on the file never ends.
  EXPECT_LT(h.seconds, 60.0) << r.err;
  EXPECT_GT(h.peak_kib, 0);
  EXPECT_LT(h.peak_kib, kPeakKiB);
  auto refused = file_coverage(r.events);
  ASSERT_EQ(refused.size(), 1u) << r.err;
  int root = r.header["root_pid"];
  EXPECT_EQ(refused[0]["pid"], root);
  EXPECT_EQ(refused[0]["state"], "gap");
  EXPECT_EQ(refused[0]["object"], path);
  EXPECT_EQ(refused[0]["detail"], "named a file agenttrace would not read: " + path + " was not read: " + why);
  expect_no_losses(r);
  // The end report names it among the coverage gaps.
  EXPECT_THAT(r.err, HasSubstr("file gap: named a file agenttrace would not read: " + path));
}

TEST(SafeRead, FifoAsPerfMapIsRefusedAndCounted) {
  REQUIRE_BPF();
  TempDir dir;
  HostileRun h = run_hostile("perf-fifo", dir);
  int pid = h.r.header["root_pid"];
  std::string map = "/proc/" + std::to_string(pid) + "/root/tmp/perf-" + std::to_string(pid) + ".map";
  expect_refused(h, map, "it is a FIFO, not a regular file");
  // The lookup from the anonymous code is recorded all the same, its frame unnamed.
  auto getenvs = of_kind(h.r.events, "getenv");
  int from_jit = 0;
  for (const auto& e : getenvs) from_jit += e["name"] == "AGENTTRACE_FROM_JIT";
  EXPECT_EQ(from_jit, 1);
}

TEST(SafeRead, DevZeroLinkAsPerfMapIsRefusedAndCounted) {
  REQUIRE_BPF();
  TempDir dir;
  HostileRun h = run_hostile("perf-zero", dir);
  int pid = h.r.header["root_pid"];
  std::string map = "/proc/" + std::to_string(pid) + "/root/tmp/perf-" + std::to_string(pid) + ".map";
  expect_refused(h, map, "it is a symbolic link, not a regular file");
}

TEST(SafeRead, FifoNamedLikeTheCLibraryIsRefusedAndCounted) {
  REQUIRE_BPF();
  TempDir dir;
  HostileRun h = run_hostile("lib-fifo", dir);
  int pid = h.r.header["root_pid"];
  expect_refused(h, "/proc/" + std::to_string(pid) + "/root" + dir.path() + "/libc.so.6",
                 "it is a FIFO, not a regular file");
}

TEST(SafeRead, DevZeroLinkNamedLikeTheCLibraryIsRefusedAndCounted) {
  REQUIRE_BPF();
  TempDir dir;
  HostileRun h = run_hostile("lib-zero", dir);
  int pid = h.r.header["root_pid"];
  // Resolved inside the process's root, the link leads to a device.
  expect_refused(h, "/proc/" + std::to_string(pid) + "/root" + dir.path() + "/libc.so.6",
                 "it is a character device, not a regular file");
}

// 40 processes of 512 threads each (20480, more than the pairing map's 16384
// entries) die inside getenv; every one is counted as unfinished, none is
// left in the map, and the 100 lookups after the storm are all recorded.
TEST(SafeRead, ThreadsKilledInsideGetenvLeaveThePairingMapUsable) {
  REQUIRE_BPF();
  constexpr int kProcesses = 40, kThreads = 512, kLookups = 100;
  TempDir dir;
  RunSpec spec;
  spec.command = {kSamples + "/ustash_storm", std::to_string(kProcesses), std::to_string(kThreads),
                  std::to_string(kLookups)};
  spec.timeout_s = 110;
  RunResult r = run_agenttrace(spec, dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const int total = kProcesses * kThreads;
  ASSERT_EQ(r.out, "processes=40 threads=512 inside=" + std::to_string(total) + " lookups=100\n");
  expect_no_losses(r);
  const Json& getenv = r.trailer["kinds"]["getenv"];
  EXPECT_EQ(getenv["unfinished"], total);
  EXPECT_EQ(getenv["pairing_full"], 0);
  EXPECT_EQ(getenv["dropped"], 0);
  int after = 0, storm = 0;
  for (const auto& e : of_kind(r.events, "getenv")) {
    after += e["name"] == "AGENTTRACE_AFTER_STORM";
    storm += e["name"] == "AGENTTRACE_STORM";
  }
  EXPECT_EQ(after, kLookups);
  EXPECT_EQ(storm, 0);  // none of those calls returned
  EXPECT_THAT(r.err, HasSubstr("getenv " + std::to_string(total) + " calls unfinished (the thread exited inside)"));
}

}  // namespace
}  // namespace agenttrace::testing
