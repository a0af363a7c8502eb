// Loads and attaches the BPF programs: open, configure, load and attach as
// separate steps, each failing with one sentence that says what to do.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "agenttrace.h"
#include "common/elf_file.h"

struct agenttrace_bpf;
struct bpf_link;

namespace agenttrace::collector {

struct ProbeConfig {
  bool capture_values = false;  // --show-values
  bool trace_all = false;       // record every process on the host
  uint32_t ringbuf_bytes = 16u << 20;
  uint64_t capture_bytes = 1u << 20;  // payload budget per connection and direction
  bool debug = false;           // show libbpf's own messages
  uint32_t stack_kinds = 0;     // 1 << AT_KIND_*: records that carry the user stack
  // Processes that start being traced when they exec (watch filters): by
  // name, and by executable file. Checked by the kernel at every exec.
  std::vector<std::string> watch_comms;
  std::vector<std::string> watch_exes;
};

// Checks what the kernel must offer before anything is loaded: BTF, tracefs.
// Throws agenttrace::Error naming the missing piece.
void check_kernel_support();

class Probes {
 public:
  // Opens, configures, loads and attaches every tracepoint program. Uprobes
  // are attached later, per library (attach_uprobe, from LibraryProbes).
  explicit Probes(const ProbeConfig& config);
  ~Probes();
  Probes(const Probes&) = delete;
  Probes& operator=(const Probes&) = delete;

  // Adds a thread group to the in-kernel filter.
  void trace_pid(uint32_t tgid);
  // Thread groups in the filter now: followed, and not exited yet.
  std::vector<uint32_t> traced_pids() const;

  int ringbuf_fd() const;

  // Counters summed over CPUs.
  at_counters read_counters() const;

  // Attaches the BPF program `prog_name` as a uprobe (or return probe) to
  // `path` at a file offset. LibraryProbes passes "/proc/self/fd/N" of the
  // file it checked, so the probe goes on that very file. Returns an error sentence, or empty on success.
  std::string attach_uprobe(const std::string& prog_name, bool retprobe, const std::string& path,
                            uint64_t offset);

  // Gives the kernel the C library's syscall frames (collector/syscall_frames.h)
  // so stacks captured at its syscalls start with the right caller.
  // Returns how many were added.
  size_t add_syscall_sites(const ElfFile& file);

  // Hands the slow part of detaching to a background process so agenttrace
  // can exit with the command's status at once. The kernel detaches a uprobe
  // or syscall tracepoint one RCU grace period at a time (some 45 ms each
  // here, serialized), over a second for all of agenttrace's probes. A forked
  // child keeps the links, waits until this process is gone, then lets them
  // go; this process's own references are dropped in its destructor.
  void detach_in_background();

  // Tracepoints this kernel lacks, as "category/name"; their programs were
  // not loaded and what they would record is missing from the trace.
  const std::vector<std::string>& missing_tracepoints() const { return missing_; }

 private:
  // Puts each syscall handler into the tail-call tables at its number.
  void fill_syscall_tables();
  void fill_watch_filters(const ProbeConfig& config);
  agenttrace_bpf* skel_ = nullptr;
  std::vector<bpf_link*> links_;
  std::vector<std::string> missing_;
};

}  // namespace agenttrace::collector
