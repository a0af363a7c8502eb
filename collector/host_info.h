// Facts about the recording host that go into a trace header.
#pragma once

#include <cstdint>
#include <map>
#include <string>

namespace agenttrace::collector {

struct HostInfo {
  // The values a traced program could obtain from this host (for the
  // analyzer's value-echo rule): hostname, machine_id, timezone, username, home.
  std::map<std::string, std::string> values;
  std::string hostname;
  std::string kernel_release;
  std::string kernel_version;
  std::string machine;
  std::string boot_id;
};

HostInfo read_host_info();

// CLOCK_REALTIME - CLOCK_MONOTONIC in nanoseconds, measured as a tight pair so
// monotonic kernel timestamps can be shown as wall-clock time.
struct ClockPair {
  int64_t wall_ns;
  uint64_t mono_ns;
  int64_t wall_minus_mono() const { return wall_ns - static_cast<int64_t>(mono_ns); }
};
ClockPair read_clocks();

}  // namespace agenttrace::collector
