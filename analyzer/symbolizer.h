// Names for the frames of call stacks: which function asked for TZ, which
// code opened /etc/machine-id. A trace holds each frame's module, file
// offset and build id; the names come from the ELF symbol tables of the
// modules (.symtab, .dynsym and PLT stubs), found on this machine under
// their own path when the build id matches, or under --binaries DIRs by
// build id or file name. Frames already named at record time (JIT code from
// perf maps, --capture-symbols) are left as they are.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/elf_file.h"
#include "trace/format.h"

namespace agenttrace::analyzer {

// One ELF file's functions, for looking up file offsets.
class ModuleSymbols {
 public:
  // nullptr with *error set when `path` is not a readable ELF file.
  static std::unique_ptr<ModuleSymbols> load(const std::string& path, std::string* error);

  const std::string& path() const { return elf_.path(); }
  const std::string& build_id() const { return build_id_; }
  // The function whose code holds the byte at `file_offset`: its name and
  // the offset of that byte from the function's start.
  std::optional<std::pair<std::string, uint64_t>> function_at(uint64_t file_offset) const;
  // The same for a virtual address. The last function starting at or before
  // it; a symbol without a size (hand-written assembly) owns everything up
  // to the next one.
  std::optional<std::pair<std::string, uint64_t>> function_at_address(uint64_t vaddr) const;
  // The call or syscall instruction that ends just before `file_offset`.
  std::optional<std::string> instruction_before(uint64_t file_offset) const;

 private:
  explicit ModuleSymbols(ElfFile elf) : elf_(std::move(elf)) {}
  ElfFile elf_;
  std::string build_id_;
  std::vector<ElfSymbol> functions_;
};

struct SymbolizerOptions {
  std::vector<std::string> binary_dirs;  // --binaries
  // Look at the module's own path on this machine. symbolize_stacks turns it
  // off for a trace recorded on another machine or in another boot: the
  // paths it names are not this machine's files (and a crafted trace could
  // name any file here).
  bool local_files = true;
  size_t instructions = 3;               // innermost frames that get their calling instruction
};

class Symbolizer {
 public:
  explicit Symbolizer(SymbolizerOptions options = {});
  ~Symbolizer();

  // Names the frames of `stack` that have none and whose module is found;
  // adds the calling instruction to the innermost ones.
  void symbolize(trace::Stack* stack);

  // Modules that frames named but no file was found for (with why).
  const std::map<std::string, std::string>& missing() const { return missing_; }

 private:
  const ModuleSymbols* module(const std::string& path, const std::string& build_id);
  void index_binary_dirs();

  SymbolizerOptions options_;
  std::map<std::string, std::unique_ptr<ModuleSymbols>> cache_;  // key: build id, else path
  std::map<std::string, std::string> missing_;
  bool indexed_ = false;
  std::map<std::string, std::string> by_build_id_;        // under --binaries
  std::multimap<std::string, std::string> by_file_name_;  // base name -> path
};

struct Profile;

// Whether a trace with this header was recorded on this machine in this
// boot: its boot id and host name (the real one, host_values["hostname"],
// else the header's) are this machine's.
bool recorded_here(const trace::Header& header);

// Names the frames of every stack the profile holds; local files only when
// the profile was recorded here (recorded_here), else only under --binaries.
void symbolize_stacks(Profile& profile, const SymbolizerOptions& options);

// "getenv+0x1b (libc.so.6)", "JS:~readProxySetting /app/cli.js:1:26",
// "0x7f2c24e5d0b0 (libfoo.so+0x1234)" when no name is known.
std::string frame_text(const trace::Frame& frame);

}  // namespace agenttrace::analyzer
