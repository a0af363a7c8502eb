// Uprobes on the libraries traced programs use: the C library (getenv,
// secure_getenv and the resolver functions) and TLS libraries (SSL_write,
// SSL_read and their _ex forms), wherever they are: the system's files, a
// container's copy a process opens, a static binary's own code, or an
// executable that exports them itself (Node.js).
//
// Per executed program it records whether its getenv calls are visible
// ("observed", "late", "partial", "gap"); per program with its own TLS
// functions, that its plaintext is.
#pragma once

#include <sys/types.h>

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "collector/coverage.h"
#include "collector/file_refusals.h"
#include "common/elf_file.h"
#include "collector/ssl_signature.h"
#include "trace/format.h"

namespace agenttrace::collector {

// What an executable's own structure says about its getenv calls, before any
// probe is placed: pure, so it is unit-tested on sample binaries.
struct ExecutableKind {
  enum Kind { kDynamicGlibc, kDynamicMusl, kStaticWithGetenv, kStaticWithoutGetenv, kNotElf };
  Kind kind = kNotElf;
  bool go_runtime = false;
  // The language runtime the executable is, from its own contents (symbols
  // it defines, libraries it needs, sections), never from its name:
  // "node", "bun", "cpython", "pypy", "perl", "ruby", "java", "go", or ""
  // for none of these. It decides how much of the program's environment
  // reads getenv probes can see (getenv_visibility).
  std::string runtime;
  bool exports_ssl = false;  // has its own SSL_write (Node.js, statically linked OpenSSL)
  // BoringSSL built in without symbols (Bun), located by code signature.
  bool boringssl_present = false;
  std::vector<LocatedFunction> boringssl;
  std::string boringssl_why;  // why it could not be located, when present
  // Bun (runtime "bun"): Bun__getEnvValue, what process.env reads call,
  // located by code signature (collector/bun_env_signature.h), or why not.
  std::vector<LocatedFunction> bun_env;
  std::string bun_env_why;
  // Which process.env getters read without calling it (bun_env_signature.h).
  std::string bun_env_unseen;
  std::string interpreter;
};
ExecutableKind classify_executable(const ElfFile& elf);

// The functions probed in one kind of library.
// kBunEnv: a Bun executable's own process.env getter, found by signature.
enum class LibraryGroup { kCLibrary, kSsl, kBunEnv };

class LibraryProbes {
 public:
  // Places one uprobe (or return probe) of BPF program `prog` on the open
  // file `file` at a file offset; returns an error sentence or empty.
  // Probes::attach_uprobe through /proc/self/fd/N in production, so the
  // probe goes on the very file that was checked; a recorder in tests.
  using AttachFn = std::function<std::string(const std::string& prog, bool retprobe,
                                             const ElfFile& file, uint64_t offset)>;
  explicit LibraryProbes(AttachFn attach);
  // Called with each C library once its probes are placed (the session
  // gives the kernel its syscall frames then), still open.
  void set_on_c_library(std::function<void(const ElfFile& file)> fn) { on_c_library_ = std::move(fn); }
  // Where files the traced programs named and agenttrace refused to read
  // are noted (the recorder's); without one they are only logged.
  void set_refusals(FileRefusals* refusals) { refusals_ = refusals; }

  // Probes the C library agenttrace itself runs on (the system's), musl's
  // loader and the system's libssl when installed. Returns what was probed.
  std::vector<std::string> attach_system_libraries();

  // Probes one file now; returns an error sentence or empty.
  std::string attach_library(const std::string& path, LibraryGroup group);
  // Probes functions found by code signature (BoringSSL's, Bun's
  // Bun__getEnvValue); returns an error sentence or empty.
  std::string attach_located(const std::string& path, const std::vector<LocatedFunction>& functions);

  // Before a command is started: a static binary's own getenv, or an
  // executable's own SSL functions, are probed now so nothing is missed.
  void prepare_executable(const std::string& path);

  // Looks at each event as it passes: an exec gets coverage events; an open
  // of a C or TLS library not yet probed gets probes. Coverage events are
  // appended to *extra.
  void observe(const trace::Event& event, std::vector<trace::Event>* extra);

 private:
  using FileKey = std::tuple<dev_t, ino_t, LibraryGroup>;
  struct Library {
    std::string path;
    std::string error;  // empty when probes are attached
  };

  // Opens a file a traced program named (common/safe_open.h); a refusal is
  // noted.
  std::optional<ElfFile> open_named(const std::string& path, std::string* error);
  std::string attach_opened(const ElfFile& elf, LibraryGroup group);
  std::string attach_located_in(const ElfFile& elf, const std::vector<LocatedFunction>& functions);
  const Library& ensure_library(const std::string& path, LibraryGroup group, bool* newly_attached);
  // For group kSsl, the executable's located BoringSSL functions when it has
  // no symbols (may be empty).
  const Library& ensure_ssl(const std::string& path, const ExecutableKind& kind, bool* newly_attached);
  // Functions of the executable at `path` found by signature, probed once
  // per file and group; `why` is the error when none were found.
  const Library& ensure_located(const std::string& path, LibraryGroup group,
                                const std::vector<LocatedFunction>& functions, const std::string& why,
                                bool* newly_attached);
  ExecutableKind kind_of_executable(const std::string& path);
  Visibility getenv_visibility(const trace::Event& exec, const ExecutableKind& kind,
                               const std::string& path);
  Visibility bun_env_visibility(const ExecutableKind& kind, const std::string& path, const std::string& exe);
  static std::string host_path(uint32_t pid, const std::string& path);

  AttachFn attach_;
  std::function<void(const ElfFile& file)> on_c_library_;
  FileRefusals* refusals_ = nullptr;
  std::map<FileKey, Library> libraries_;
  std::map<std::pair<dev_t, ino_t>, ExecutableKind> executables_;
  std::string system_libc_;
};

}  // namespace agenttrace::collector
