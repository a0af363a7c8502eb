// Turns the return addresses of a captured user stack into frames a trace
// can carry to another machine: the mapped file, the offset in it and its
// build id, read from the process's /proc/PID/maps while it still runs.
// Addresses in anonymous memory are JIT code: when the runtime writes a perf
// map (/tmp/perf-PID.map: `node --perf-basic-prof`), they are named from it
// now, since nothing can name them later. With --capture-symbols the ELF
// frames are named now too, and the calling instructions disassembled.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "collector/file_refusals.h"
#include "collector/proc.h"
#include "common/unique_fd.h"
#include "trace/format.h"

namespace agenttrace::collector {

// One process's perf map, read as the runtime appends to it. Once opened,
// the file stays open: it can still be read after the process has exited
// and its /tmp (a sandbox's tmpfs) is gone. The map is in the program's own
// /tmp, so it is opened as common/safe_open.h says (a FIFO, a device or a
// symbolic link there is refused) and read up to kMaxPerfMapBytes in all.
//
// Node writes the text form (/tmp/perf-PID.map: "START SIZE NAME" lines);
// JavaScriptCore, and so Bun from 1.2, writes a JITDump instead when
// BUN_JSC_useJITDump=1 (jit-PID.dump or jit-TID-PID.dump in
// BUN_JSC_jitDumpDirectory): binary records, of which JIT_CODE_LOAD names
// the code of Baseline, DFG and FTL tiers ("JSC-DFG: name#hash"). A map
// constructed with `jitdump_dir` looks there for the process's JITDump while
// the text map does not exist; the format is told by the file's magic.
// A map below /proc/PID/root holds that root open, so a map or JITDump
// not yet opened is still found after the process has exited (its events
// are often read after that).
class PerfMap {
 public:
  explicit PerfMap(std::string path, FileRefusals* refusals = nullptr, std::string jitdump_dir = "",
                   uint32_t jitdump_pid = 0);
  // Reads what was appended since the last call. A JITDump's directory is
  // listed at most every 200 ms, unless `rescan` (the last look, at the end).
  void refresh(bool rescan = false);
  // Whether the file was refused (then it is not tried again).
  bool refused() const { return refused_; }
  // The JIT function holding `address`: name and offset.
  bool find(uint64_t address, std::string* name, uint64_t* offset) const;
  bool entry(uint64_t address, uint64_t* start, uint64_t* size, std::string* name) const;
  const std::string& path() const { return path_; }
  size_t size() const { return entries_.size(); }
  // Parses perf map lines ("START SIZE NAME", hex) into entries (for tests).
  void add_lines(const std::string& text);
  // Parses JITDump bytes (from the file's start, in any pieces) into
  // entries; false once they are not a JITDump (for tests).
  bool add_jitdump(const std::string& bytes);
  // The name of `pid`'s JITDump in `dir` ("" when there is none).
  static std::string find_jitdump(const std::string& dir, uint32_t pid);

 private:
  struct Entry {
    uint64_t end;
    std::string name;
  };
  void add(const std::string& bytes);
  // `path` (a display path) as it is reached now: below the held root.
  std::string reachable(const std::string& path) const;
  std::string path_;
  std::string root_prefix_;  // "/proc/PID/root", when the root is held
  UniqueFd root_;
  FileRefusals* refusals_;
  std::string jitdump_dir_;
  uint32_t jitdump_pid_ = 0;
  enum class Format { kUnknown, kText, kJitDump } format_ = Format::kUnknown;
  bool jitdump_header_done_ = false;
  std::chrono::steady_clock::time_point jitdump_scanned_{};  // its directory is listed at most every 200 ms
  UniqueFd fd_;
  bool refused_ = false;
  uint64_t read_to_ = 0;
  std::string partial_;  // a line not yet ended
  std::map<uint64_t, Entry> entries_;  // by start; a later entry at a start replaces the earlier
};

class StackResolver {
 public:
  // Names the ELF frames of a stack now (--capture-symbols): the analyzer's
  // symbolizer, handed down by the layer above.
  using FrameNamer = std::function<void(trace::Stack*)>;
  // `name_frames` empty: frames keep file and offset only.
  explicit StackResolver(FrameNamer name_frames = {});
  ~StackResolver();

  // Learns which files processes run and load (exec, opens of shared
  // libraries), so frames the kernel placed in a file get its path even
  // after the process has exited.
  void observe(const trace::Event& event);
  // Fills the frames of event->stack(): module path, build id; JIT names.
  void resolve(trace::Event* event);
  // The process has exited: its maps are of no further use.
  void forget(uint32_t pid);
  // Where refused files are noted (the recorder's).
  void set_refusals(FileRefusals* refusals) { refusals_ = refusals; }
  // JIT addresses recorded without a name: the runtimes' perf maps as they
  // are now (complete, for processes that have exited), as one
  // "jit_symbols" event per process, holding the entries those addresses need.
  std::vector<trace::Event> late_jit_symbols();

  uint64_t frames() const { return frames_; }
  uint64_t unresolved() const { return unresolved_; }

 private:
  struct File {
    std::string path;    // as the process named it
    std::string access;  // where agenttrace can read it
    std::string build_id;
    bool build_id_read = false;
  };
  using FileKey = std::pair<uint64_t, uint64_t>;  // kernel dev_t, inode
  struct Process {
    std::vector<Mapping> maps;
    bool maps_read = false;
    std::chrono::steady_clock::time_point maps_time;
    std::shared_ptr<PerfMap> perf;
  };
  void learn_file(uint32_t pid, const std::string& path);
  void learn_maps(uint32_t pid, Process& p);
  File* file(const FileKey& key);
  const Mapping* mapping_of(Process& p, uint64_t address) const;

  FrameNamer name_frames_;
  FileRefusals* refusals_ = nullptr;
  std::unordered_map<uint32_t, Process> processes_;
  std::map<FileKey, File> files_;
  struct Pending {
    std::set<uint64_t> addresses;
    std::shared_ptr<PerfMap> perf;  // kept open past the process's exit
  };
  std::map<uint32_t, Pending> pending_jit_;  // pid -> JIT addresses still unnamed
  uint64_t frames_ = 0, unresolved_ = 0;
};

}  // namespace agenttrace::collector
