// Where environment lookups can be seen. getenv() is a C-library function, so
// agenttrace places uprobes on every C library its traced processes use, and
// records, per executed program, whether its lookups are visible: through the
// probes ("observed"), only after probes were placed late ("late"), only in
// part ("partial": a runtime that copies the environment at start), or not at
// all ("gap": a static binary without a getenv symbol).
#pragma once

#include <sys/types.h>

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "collector/elf_file.h"
#include "trace/format.h"

namespace agenttrace::collector {

class Probes;

struct EnvVisibility {
  std::string state;   // "observed", "late", "partial", "gap"
  std::string detail;  // one sentence
  std::string object;  // library or executable
};

// What an executable's own structure says about its getenv calls, before any
// probe is placed: pure, so it is unit-tested on sample binaries.
struct ExecutableKind {
  enum Kind { kDynamicGlibc, kDynamicMusl, kStaticWithGetenv, kStaticWithoutGetenv, kNotElf };
  Kind kind = kNotElf;
  bool go_runtime = false;
  std::string interpreter;
};
ExecutableKind classify_executable(const ElfFile& elf);

class EnvProbes {
 public:
  // `attach` places getenv probes on a file at offsets; returns an error
  // sentence or empty. Probes::attach_getenv in production.
  using AttachFn = std::function<std::string(const std::string& path, uint64_t getenv_offset,
                                             std::optional<uint64_t> secure_offset)>;
  explicit EnvProbes(AttachFn attach);

  // Probes on the C library agenttrace itself runs on (the system's) and on
  // musl's loader when one is installed. Returns the libraries probed.
  std::vector<std::string> attach_system_libraries();

  // Attaches to one library file now; returns an error sentence or empty.
  std::string attach_library(const std::string& path);

  // Before a command is started: when its executable carries its own getenv
  // (a static binary), probe it now so not even its first lookup is missed.
  void prepare_executable(const std::string& path);

  // Looks at each event as it passes: an exec gets a coverage event saying
  // whether that program's getenv calls are visible; an open of a C library
  // not yet probed gets probes. Coverage events are appended to *extra.
  void observe(const trace::Event& event, std::vector<trace::Event>* extra);

 private:
  using FileKey = std::pair<dev_t, ino_t>;
  struct Library {
    std::string path;
    std::string error;  // empty when probes are attached
  };

  std::optional<FileKey> key_of(const std::string& path) const;
  // Attaches if new; returns the library's record.
  const Library& ensure_library(const std::string& host_path, bool* newly_attached);
  EnvVisibility visibility_for_exec(const trace::Event& exec);
  static std::string host_path(uint32_t pid, const std::string& path);

  AttachFn attach_;
  std::map<FileKey, Library> libraries_;
  std::map<FileKey, ExecutableKind> executables_;
  std::string system_libc_;
};

}  // namespace agenttrace::collector
