#include "collector/library_probes.h"

#include <link.h>
#include <map>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include "collector/bun_env_signature.h"
#include "collector/uprobe_guard.h"

namespace agenttrace::collector {

namespace {

struct ProbedFunction {
  const char* symbol;
  const char* entry_prog;
  const char* return_prog;
  bool required;  // the library is useless to probe without it
};

// Which BPF programs go on which functions (bpf/agenttrace.bpf.c).
constexpr ProbedFunction kCLibraryFunctions[] = {
    {"getenv", "handle_getenv", "handle_getenv_return", true},
    {"secure_getenv", "handle_secure_getenv", "handle_getenv_return", false},
    {"getaddrinfo", "handle_getaddrinfo", "handle_dns_return", false},
    {"gethostbyname", "handle_gethostbyname", "handle_dns_return", false},
    {"gethostbyname2", "handle_gethostbyname2", "handle_dns_return", false},
    {"gethostbyname_r", "handle_gethostbyname_r", "handle_dns_return", false},
    {"gethostbyname2_r", "handle_gethostbyname2_r", "handle_dns_return", false},
};

constexpr ProbedFunction kSslFunctions[] = {
    {"SSL_write", "handle_ssl_write", "handle_ssl_return", true},
    {"SSL_write_ex", "handle_ssl_write_ex", "handle_ssl_return", false},
    {"SSL_read", "handle_ssl_read", "handle_ssl_return", false},
    {"SSL_read_ex", "handle_ssl_read_ex", "handle_ssl_return", false},
};

// Which BPF programs go on functions found by signature.
struct LocatedProbe {
  const char* name;  // LocatedFunction::name
  const char* entry_prog;
  const char* return_prog;
};
constexpr LocatedProbe kLocatedProbes[] = {
    {"SSL_write", "handle_ssl_write", "handle_ssl_return"},
    {"SSL_read", "handle_ssl_read", "handle_ssl_return"},
    {kBunEnvFunction, "handle_bun_getenv", "handle_bun_getenv_return"},
    {kBunEnvGetterFunction, "handle_bun_env_getter", "handle_bun_env_getter_return"},
};

std::string basename_of(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

bool is_c_library(const std::string& path) {
  std::string base = basename_of(path);
  return base == "libc.so.6" || base == "libc.so" || base.rfind("ld-musl-", 0) == 0 ||
         base.rfind("libc.musl-", 0) == 0;
}

bool is_ssl_library(const std::string& path) { return basename_of(path).rfind("libssl.so", 0) == 0; }

int find_own_libc(struct dl_phdr_info* info, size_t, void* data) {
  std::string name = info->dlpi_name ? info->dlpi_name : "";
  if (name.find("/libc.so") != std::string::npos) {
    *static_cast<std::string*>(data) = name;
    return 1;
  }
  return 0;
}

}  // namespace

namespace {

bool needs(const ElfFile& elf, std::string_view prefix) {
  for (const auto& lib : elf.needed())
    if (lib.rfind(prefix, 0) == 0) return true;
  return false;
}

bool defines(const ElfFile& elf, const char* symbol) {
  auto s = elf.find_symbol(symbol);
  return s && s->is_function;
}

std::string runtime_of(const ElfFile& elf, bool go) {
  if (go) return "go";
  if (elf.has_section(".bun")) return "bun";  // Bun and every `bun build --compile` program
  // Before 1.2 neither has a .bun section (the program is appended to the
  // file), but Bun's exports are versioned BUN_1.1.
  for (const auto& v : elf.version_definitions())
    if (v.starts_with("BUN_")) return "bun";
  if (defines(elf, "uv_os_getenv") && defines(elf, "napi_create_function")) return "node";
  if (needs(elf, "libpypy") || defines(elf, "pypy_main_startup")) return "pypy";
  if (needs(elf, "libpython") || defines(elf, "Py_BytesMain") || defines(elf, "Py_Initialize")) return "cpython";
  if (needs(elf, "libperl") || defines(elf, "perl_parse")) return "perl";
  if (needs(elf, "libruby") || defines(elf, "ruby_init")) return "ruby";
  if (needs(elf, "libjli") || needs(elf, "libjvm") || defines(elf, "JLI_Launch")) return "java";
  return "";
}

}  // namespace

ExecutableKind classify_executable(const ElfFile& elf) {
  ExecutableKind k;
  k.interpreter = elf.interpreter();
  k.go_runtime = elf.has_section(".go.buildinfo") || elf.has_section(".gopclntab") ||
                 elf.has_section(".note.go.buildid");
  k.runtime = runtime_of(elf, k.go_runtime);
  if (k.runtime == "bun") k.bun_env = locate_bun_env_function(elf, &k.bun_env_why, &k.bun_env_unseen);
  if (auto ssl = elf.find_symbol("SSL_write"); ssl && ssl->is_function) {
    k.exports_ssl = true;
  } else {
    // Single-file executables (Bun) carry BoringSSL without symbols.
    k.boringssl = locate_boringssl_functions(elf, &k.boringssl_why);
    k.boringssl_present =
        !k.boringssl.empty() || k.boringssl_why.find("contains no BoringSSL") == std::string::npos;
  }
  if (!elf.interpreter().empty()) {
    k.kind = elf.interpreter().find("ld-musl") != std::string::npos ? ExecutableKind::kDynamicMusl
                                                                      : ExecutableKind::kDynamicGlibc;
  } else if (elf.find_symbol("getenv")) {
    k.kind = ExecutableKind::kStaticWithGetenv;
  } else {
    k.kind = ExecutableKind::kStaticWithoutGetenv;
  }
  return k;
}

LibraryProbes::LibraryProbes(AttachFn attach) : attach_(std::move(attach)) {}

std::string LibraryProbes::host_path(uint32_t pid, const std::string& path) {
  // A process in another mount namespace or chroot names files from its own
  // root; /proc/PID/root reaches them while the process lives, and
  // safe_open resolves them inside that root (its links cannot leave it).
  // Once it is gone, the path is resolved in agenttrace's own root the same
  // way (links followed there, never a magic link), which is the process's
  // root for everything in the host's mount namespace.
  if (pid == 0) return path;
  std::string root = "/proc/" + std::to_string(pid) + "/root";
  return (access(root.c_str(), F_OK) == 0 ? root : std::string("/proc/self/root")) + path;
}

namespace {

// A path agenttrace chose itself (its own C library, the command it was
// given): its links are resolved first, by the user's choice.
std::string resolved(const std::string& path) {
  char* real = realpath(path.c_str(), nullptr);
  if (!real) return path;
  std::string out(real);
  free(real);
  return out;
}

}  // namespace

std::optional<ElfFile> LibraryProbes::open_named(const std::string& path, std::string* error) {
  bool refused = false;
  auto elf = ElfFile::open(path, error, &refused);
  if (!elf && refused) {
    if (refusals_) refusals_->note(path, *error);
    else spdlog::warn("{}", *error);
  }
  return elf;
}

std::string LibraryProbes::attach_library(const std::string& path, LibraryGroup group) {
  std::string error;
  auto elf = open_named(path, &error);
  if (!elf) return error;
  return attach_opened(*elf, group);
}

std::string LibraryProbes::attach_opened(const ElfFile& elf, LibraryGroup group) {
  const std::string& path = elf.path();
  const ProbedFunction* begin = group == LibraryGroup::kCLibrary ? std::begin(kCLibraryFunctions) : std::begin(kSslFunctions);
  const ProbedFunction* end = group == LibraryGroup::kCLibrary ? std::end(kCLibraryFunctions) : std::end(kSslFunctions);
  for (const ProbedFunction* f = begin; f != end; ++f) {
    auto sym = elf.find_symbol(f->symbol);
    if (!sym) {
      if (f->required) return path + " has no " + f->symbol + " symbol";
      continue;
    }
    // Every address is checked before a probe goes there: a uprobe in the
    // middle of an instruction would corrupt the traced program. Check and
    // probe use the same open file, so nothing can be swapped in between.
    if (std::string why = check_uprobe_target(elf, sym->address); !why.empty()) {
      if (f->required) return why;
      spdlog::warn("not probing {}: {}", f->symbol, why);
      continue;
    }
    std::string err = attach_(f->entry_prog, false, elf, sym->file_offset);
    if (err.empty()) err = attach_(f->return_prog, true, elf, sym->file_offset);
    if (!err.empty()) {
      if (f->required) return err;
      spdlog::warn("not probing {}: {}", f->symbol, err);
    }
  }
  return {};
}

std::string LibraryProbes::attach_located(const std::string& path,
                                          const std::vector<LocatedFunction>& functions) {
  std::string error;
  auto elf = open_named(path, &error);
  if (!elf) return error;
  return attach_located_in(*elf, functions);
}

std::string LibraryProbes::attach_located_in(const ElfFile& elf, const std::vector<LocatedFunction>& functions) {
  for (const auto& f : functions) {
    const LocatedProbe* probe = nullptr;
    for (const auto& p : kLocatedProbes)
      if (f.name == p.name) probe = &p;
    if (!probe) continue;
    // No symbol vouches for these addresses: the signature check is redone
    // right before the probe goes there, on the file the probe goes on.
    if (std::string why = check_signature_target(elf, f.address); !why.empty()) return why;
    std::string err = attach_(probe->entry_prog, false, elf, f.file_offset);
    if (err.empty()) err = attach_(probe->return_prog, true, elf, f.file_offset);
    if (!err.empty()) return err;
  }
  return {};
}

const LibraryProbes::Library& LibraryProbes::ensure_ssl(const std::string& path, const ExecutableKind& kind,
                                                        bool* newly_attached) {
  *newly_attached = false;
  if (kind.exports_ssl) return ensure_library(path, LibraryGroup::kSsl, newly_attached);
  return ensure_located(path, LibraryGroup::kSsl, kind.boringssl, kind.boringssl_why, newly_attached);
}

const LibraryProbes::Library& LibraryProbes::ensure_located(const std::string& path, LibraryGroup group,
                                                            const std::vector<LocatedFunction>& functions,
                                                            const std::string& why, bool* newly_attached) {
  static const Library unknown{"", "cannot open the executable"};
  *newly_attached = false;
  std::string error;
  auto elf = open_named(path, &error);
  if (!elf) return unknown;
  FileKey key{elf->device(), elf->inode(), group};
  auto it = libraries_.find(key);
  if (it != libraries_.end()) return it->second;
  Library lib{path, functions.empty() ? why : attach_located_in(*elf, functions)};
  *newly_attached = lib.error.empty();
  if (!lib.error.empty())
    spdlog::warn("{} of {} cannot be seen: {}", group == LibraryGroup::kSsl ? "TLS plaintext" : "process.env reads",
                 path, lib.error);
  return libraries_.emplace(key, std::move(lib)).first->second;
}

const LibraryProbes::Library& LibraryProbes::ensure_library(const std::string& path,
                                                             LibraryGroup group,
                                                             bool* newly_attached) {
  static const Library unknown{"", "cannot open the library"};
  static const Library refused{"", "refused"};
  *newly_attached = false;
  // Opened once (without blocking, following no link at its last component,
  // a regular file of bounded size): the key, the checks and the probes all
  // come from this one descriptor.
  SafeFile file = safe_open(path);
  if (!file.ok()) {
    if (!file.refused) return unknown;
    if (refusals_) refusals_->note(path, file.error);
    else spdlog::warn("{}", file.error);
    return refused;
  }
  FileKey key{file.dev, file.ino, group};
  auto it = libraries_.find(key);
  if (it != libraries_.end()) return it->second;
  std::string error;
  auto elf = ElfFile::from_file(std::move(file), path, &error);
  Library lib{path, elf ? attach_opened(*elf, group) : error};
  if (!lib.error.empty())
    spdlog::warn("{} through {} cannot be seen: {}",
                 group == LibraryGroup::kCLibrary ? "environment lookups" : "TLS plaintext", path,
                 lib.error);
  *newly_attached = lib.error.empty();
  if (*newly_attached && group == LibraryGroup::kCLibrary && on_c_library_) on_c_library_(*elf);
  return libraries_.emplace(key, std::move(lib)).first->second;
}

std::vector<std::string> LibraryProbes::attach_system_libraries() {
  std::vector<std::string> attached;
  std::string own;
  dl_iterate_phdr(find_own_libc, &own);
  std::vector<std::pair<std::string, LibraryGroup>> candidates;
  if (!own.empty()) candidates.emplace_back(own, LibraryGroup::kCLibrary);
  for (const char* musl : {"/lib/ld-musl-x86_64.so.1", "/usr/lib/ld-musl-x86_64.so.1"})
    candidates.emplace_back(musl, LibraryGroup::kCLibrary);
  for (const char* ssl : {"/usr/lib/x86_64-linux-gnu/libssl.so.3", "/usr/lib/x86_64-linux-gnu/libssl.so.1.1",
                          "/lib/x86_64-linux-gnu/libssl.so.3", "/usr/lib64/libssl.so.3", "/usr/lib/libssl.so.3"})
    candidates.emplace_back(ssl, LibraryGroup::kSsl);
  for (const auto& [path, group] : candidates) {
    if (access(path.c_str(), F_OK) != 0) continue;
    bool fresh = false;
    const Library& lib = ensure_library(resolved(path), group, &fresh);
    if (lib.error.empty() && fresh) {
      attached.push_back(lib.path);
      if (group == LibraryGroup::kCLibrary && system_libc_.empty()) system_libc_ = lib.path;
    }
  }
  return attached;
}

ExecutableKind LibraryProbes::kind_of_executable(const std::string& path) {
  SafeFile file = safe_open(path);
  if (!file.ok()) {
    if (file.refused) {
      if (refusals_) refusals_->note(path, file.error);
      else spdlog::warn("{}", file.error);
    }
    return {};
  }
  std::pair<dev_t, ino_t> key{file.dev, file.ino};
  if (auto it = executables_.find(key); it != executables_.end()) return it->second;
  ExecutableKind kind;
  std::string error;
  if (auto elf = ElfFile::from_file(std::move(file), path, &error)) kind = classify_executable(*elf);
  executables_[key] = kind;
  return kind;
}

void LibraryProbes::prepare_executable(const std::string& given) {
  const std::string path = resolved(given);
  ExecutableKind kind = kind_of_executable(path);
  bool fresh = false;
  if (kind.kind == ExecutableKind::kStaticWithGetenv)
    ensure_library(path, LibraryGroup::kCLibrary, &fresh);
  else if (kind.kind == ExecutableKind::kDynamicMusl)
    ensure_library(resolved(kind.interpreter), LibraryGroup::kCLibrary, &fresh);
  if (kind.exports_ssl || kind.boringssl_present) ensure_ssl(path, kind, &fresh);
  if (!kind.bun_env.empty()) ensure_located(path, LibraryGroup::kBunEnv, kind.bun_env, kind.bun_env_why, &fresh);
}

Visibility LibraryProbes::bun_env_visibility(const ExecutableKind& kind, const std::string& path,
                                             const std::string& exe) {
  // process.env and Bun.env are served from a copy of the environment made
  // at start; libc getenv sees only the runtime's own lookups.
  if (kind.bun_env.empty())
    return {"gap",
            "Bun: process.env and Bun.env are served from a copy of the environment made at start, and "
            "their getter could not be located: " + kind.bun_env_why,
            exe};
  bool fresh = false;
  const Library& lib = ensure_located(path, LibraryGroup::kBunEnv, kind.bun_env, kind.bun_env_why, &fresh);
  if (!lib.error.empty())
    return {"gap", std::string("Bun: process.env reads could not be probed at ") + kBunEnvFunction + ": " + lib.error,
            exe};
  // What the probe cannot see is said, so "partial", not "observed".
  std::string how = std::string("Bun: process.env reads are probed at ") + kBunEnvFunction +
                    " (located by signature): the first read of each variable set at start, and every read "
                    "of TZ, NODE_TLS_REJECT_UNAUTHORIZED and BUN_CONFIG_VERBOSE_FETCH; reads of names that "
                    "were not set, and repeated reads, are answered by the JS object and are not seen; "
                    "reading the whole object ({...process.env}, JSON.stringify, Object.entries) calls every "
                    "variable's getter, so each variable set at start is seen by name, but Object.keys(process.env) "
                    "lists the names through JavaScriptCore's property enumeration, common to every object, and "
                    "is not seen";
  size_t getters = kind.bun_env.size() - 1;
  if (getters > 0)
    how += "; " + std::to_string(getters) + " process.env getter" + (getters > 1 ? "s that look" : " that looks") +
           " variables up without calling it (Bun 1.3's, of HTTP_PROXY, HTTPS_PROXY and NO_PROXY) " +
           (getters > 1 ? "are" : "is") + " probed too (located by signature), at every read, without the value";
  if (!kind.bun_env_unseen.empty()) how += "; " + kind.bun_env_unseen;
  if (fresh) return {"late", how + "; the probe was placed after it started, so its first reads may be missed", exe};
  return {"partial", how, exe};
}

Visibility LibraryProbes::getenv_visibility(const trace::Event& exec, const ExecutableKind& kind,
                                            const std::string& path) {
  const std::string& exe = exec.exec().exe().empty() ? exec.exec().path() : exec.exec().exe();
  bool fresh = false;
  switch (kind.kind) {
    case ExecutableKind::kDynamicGlibc:
    case ExecutableKind::kDynamicMusl: {
      // Runtimes that copy the environment at start and serve the
      // program's reads from the copy: getenv probes see only the runtime's
      // and C code's own lookups (README, "Which runtimes' reads are seen").
      static const std::map<std::string, std::pair<const char*, const char*>> kCopies = {
          {"go", {"partial", "a Go program: os.Getenv reads a copy of the environment made at start, so only "
                             "lookups by C code are seen"}},
          {"cpython", {"partial", "CPython: os.environ and os.getenv read a copy of the environment made at "
                                  "start, so the program's reads are not seen; only getenv calls of the "
                                  "interpreter (PYTHON* variables) and of C extensions are"}},
          {"pypy", {"partial", "PyPy: os.environ is a copy of the environment made at start, so the "
                               "program's reads are not seen; only the runtime's own getenv calls are"}},
          {"perl", {"partial", "Perl: %ENV is a copy of the environment made at start, so the program's "
                               "reads are not seen; only getenv calls of the interpreter and of XS code are"}},
          {"java", {"partial", "Java: System.getenv() reads a copy of the environment the JVM makes at its "
                               "first use, so the program's reads are not seen; only the JVM's own getenv "
                               "calls are"}},
      };
      if (kind.runtime == "bun") return bun_env_visibility(kind, path, exe);
      if (auto it = kCopies.find(kind.runtime); it != kCopies.end())
        return {it->second.first, it->second.second, exe};
      if (kind.kind == ExecutableKind::kDynamicMusl) {
        const Library& lib =
            ensure_library(host_path(exec.pid(), kind.interpreter), LibraryGroup::kCLibrary, &fresh);
        if (!lib.error.empty()) return {"gap", "probes on musl failed: " + lib.error, kind.interpreter};
        if (fresh)
          return {"late",
                  "probes on its C library were placed when it started; the first lookups may be missed",
                  kind.interpreter};
        return {"observed", "getenv calls through its C library are probed", kind.interpreter};
      }
      const char* how = kind.runtime == "node"
                            ? "Node.js: process.env reads call getenv (uv_os_getenv) through its C library, which is probed"
                        : kind.runtime == "ruby" ? "Ruby: ENV[] calls getenv through its C library each time, which is probed"
                                                 : "getenv calls through its C library are probed";
      return {"observed", how, system_libc_.empty() ? "libc.so.6" : system_libc_};
    }
    case ExecutableKind::kStaticWithGetenv: {
      const Library& lib = ensure_library(path, LibraryGroup::kCLibrary, &fresh);
      if (!lib.error.empty())
        return {"gap", "a static binary whose getenv could not be probed: " + lib.error, exe};
      if (fresh)
        return {"late",
                "a static binary: probes on its own getenv were placed after it started, so its "
                "first lookups may be missed",
                exe};
      return {"observed", "a static binary whose own getenv is probed", exe};
    }
    case ExecutableKind::kStaticWithoutGetenv:
      return {"gap",
              "a static binary without a getenv symbol: its environment lookups cannot be seen",
              exe};
    case ExecutableKind::kNotElf:
      break;
  }
  return {"gap", "the executable could not be read, so whether its lookups are visible is unknown",
          exe};
}

void LibraryProbes::observe(const trace::Event& event, std::vector<trace::Event>* extra) {
  if (event.has_exec()) {
    const std::string& exe = event.exec().exe().empty() ? event.exec().path() : event.exec().exe();
    std::string path = host_path(event.pid(), exe);
    ExecutableKind kind = kind_of_executable(path);
    extra->push_back(coverage_event(event, "getenv", getenv_visibility(event, kind, path)));
    if (kind.exports_ssl || kind.boringssl_present) {
      bool fresh = false;
      const Library& lib = ensure_ssl(path, kind, &fresh);
      std::string how = kind.exports_ssl ? "its own SSL_write and SSL_read"
                                         : "BoringSSL's SSL_write and SSL_read, found by code signature";
      Visibility v = !lib.error.empty()
                         ? Visibility{"gap", "its TLS library could not be probed: " + lib.error, exe}
                     : fresh ? Visibility{"late",
                                          "probes on " + how + " were placed after it started; its first TLS "
                                          "writes may be missed",
                                          exe}
                             : Visibility{"observed", "TLS plaintext through " + how + " is probed", exe};
      extra->push_back(coverage_event(event, "tls", v));
    }
    return;
  }
  if (!event.has_open() || event.open().result() < 0) return;
  const std::string& opened = event.open().path();
  bool c_lib = is_c_library(opened), ssl_lib = is_ssl_library(opened);
  if (!c_lib && !ssl_lib) return;
  bool fresh = false;
  LibraryGroup group = c_lib ? LibraryGroup::kCLibrary : LibraryGroup::kSsl;
  const Library& lib = ensure_library(host_path(event.pid(), opened), group, &fresh);
  const char* signal = c_lib ? "getenv" : "tls";
  if (fresh && c_lib)
    extra->push_back(coverage_event(
        event, signal,
        {"late",
         "probes on this C library were placed when the process opened it; lookups just after "
         "that may be missed",
         opened}));
  else if (fresh && ssl_lib)
    extra->push_back(coverage_event(
        event, signal,
        {"observed", "TLS plaintext through this library is probed from when it was loaded", opened}));
  else if (!lib.error.empty() && !lib.path.empty())
    extra->push_back(coverage_event(event, signal, {"gap", lib.error, opened}));
}

}  // namespace agenttrace::collector
