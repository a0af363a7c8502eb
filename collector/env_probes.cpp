#include "collector/env_probes.h"

#include <link.h>
#include <sys/stat.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include "collector/uprobe_guard.h"

namespace agenttrace::collector {

namespace {

bool basename_is_c_library(const std::string& path) {
  auto slash = path.rfind('/');
  std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
  return base == "libc.so.6" || base == "libc.so" || base.rfind("ld-musl-", 0) == 0 ||
         base.rfind("libc.musl-", 0) == 0;
}

int find_own_libc(struct dl_phdr_info* info, size_t, void* data) {
  std::string name = info->dlpi_name ? info->dlpi_name : "";
  if (name.find("/libc.so") != std::string::npos) {
    *static_cast<std::string*>(data) = name;
    return 1;
  }
  return 0;
}

trace::Event coverage_event(const trace::Event& cause, const EnvVisibility& v) {
  trace::Event e;
  e.set_mono_ns(cause.mono_ns());
  e.set_wall_ns(cause.wall_ns());
  e.set_pid(cause.pid());
  e.set_tid(cause.tid());
  e.set_ppid(cause.ppid());
  e.set_comm(cause.comm());
  auto* c = e.mutable_coverage();
  c->set_signal("getenv");
  c->set_state(v.state);
  c->set_detail(v.detail);
  c->set_object(v.object);
  return e;
}

}  // namespace

ExecutableKind classify_executable(const ElfFile& elf) {
  ExecutableKind k;
  k.interpreter = elf.interpreter();
  k.go_runtime = elf.has_section(".go.buildinfo") || elf.has_section(".gopclntab") ||
                 elf.has_section(".note.go.buildid");
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

EnvProbes::EnvProbes(AttachFn attach) : attach_(std::move(attach)) {}

std::optional<EnvProbes::FileKey> EnvProbes::key_of(const std::string& path) const {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return std::nullopt;
  return FileKey{st.st_dev, st.st_ino};
}

std::string EnvProbes::host_path(uint32_t pid, const std::string& path) {
  // A process in another mount namespace or chroot names files from its own
  // root; /proc/PID/root reaches them while the process lives.
  std::string via_root = "/proc/" + std::to_string(pid) + "/root" + path;
  if (access(via_root.c_str(), F_OK) == 0) return via_root;
  return path;
}

std::string EnvProbes::attach_library(const std::string& path) {
  std::string error;
  auto elf = ElfFile::open(path, &error);
  if (!elf) return error;
  auto getenv_sym = elf->find_symbol("getenv");
  if (!getenv_sym) return path + " has no getenv symbol";
  if (std::string why = check_uprobe_target(*elf, getenv_sym->address); !why.empty()) return why;
  std::optional<uint64_t> secure_offset;
  if (auto secure = elf->find_symbol("secure_getenv")) {
    if (std::string why = check_uprobe_target(*elf, secure->address); why.empty())
      secure_offset = secure->file_offset;
    else
      spdlog::warn("not probing secure_getenv: {}", why);
  }
  return attach_(path, getenv_sym->file_offset, secure_offset);
}

const EnvProbes::Library& EnvProbes::ensure_library(const std::string& path, bool* newly_attached) {
  static const Library unknown{"", "cannot stat the library"};
  *newly_attached = false;
  auto key = key_of(path);
  if (!key) return unknown;
  auto it = libraries_.find(*key);
  if (it != libraries_.end()) return it->second;
  Library lib{path, attach_library(path)};
  if (!lib.error.empty()) spdlog::warn("environment lookups through {} cannot be seen: {}", path, lib.error);
  *newly_attached = lib.error.empty();
  return libraries_.emplace(*key, std::move(lib)).first->second;
}

std::vector<std::string> EnvProbes::attach_system_libraries() {
  std::vector<std::string> attached;
  std::string own;
  dl_iterate_phdr(find_own_libc, &own);
  std::vector<std::string> candidates;
  if (!own.empty()) candidates.push_back(own);
  for (const char* musl : {"/lib/ld-musl-x86_64.so.1", "/usr/lib/ld-musl-x86_64.so.1"})
    candidates.emplace_back(musl);
  for (const auto& path : candidates) {
    if (access(path.c_str(), F_OK) != 0) continue;
    bool fresh = false;
    const Library& lib = ensure_library(path, &fresh);
    if (lib.error.empty()) {
      attached.push_back(lib.path);
      if (system_libc_.empty()) system_libc_ = lib.path;
    }
  }
  return attached;
}

void EnvProbes::prepare_executable(const std::string& path) {
  std::string error;
  auto elf = ElfFile::open(path, &error);
  if (!elf) return;
  ExecutableKind kind = classify_executable(*elf);
  if (auto key = key_of(path)) executables_[*key] = kind;
  if (kind.kind == ExecutableKind::kStaticWithGetenv) {
    bool fresh = false;
    ensure_library(path, &fresh);
  } else if (kind.kind == ExecutableKind::kDynamicMusl) {
    bool fresh = false;
    ensure_library(kind.interpreter, &fresh);
  }
}

EnvVisibility EnvProbes::visibility_for_exec(const trace::Event& exec) {
  const std::string& exe = exec.exec().exe().empty() ? exec.exec().path() : exec.exec().exe();
  std::string path = host_path(exec.pid(), exe);
  auto key = key_of(path);
  ExecutableKind kind;
  if (auto cached = key ? executables_.find(*key) : executables_.end();
      key && cached != executables_.end()) {
    kind = cached->second;
  } else {
    std::string error;
    auto elf = ElfFile::open(path, &error);
    if (elf) kind = classify_executable(*elf);
    if (key) executables_[*key] = kind;
  }

  switch (kind.kind) {
    case ExecutableKind::kDynamicGlibc:
    case ExecutableKind::kDynamicMusl: {
      if (kind.go_runtime)
        return {"partial",
                "a Go program: os.Getenv reads a copy of the environment made at start, so only "
                "lookups by C code are seen",
                exe};
      if (kind.kind == ExecutableKind::kDynamicMusl) {
        bool fresh = false;
        const Library& lib = ensure_library(host_path(exec.pid(), kind.interpreter), &fresh);
        if (!lib.error.empty()) return {"gap", "probes on musl failed: " + lib.error, kind.interpreter};
        if (fresh)
          return {"late", "probes on its C library were placed when it started; the first lookups may be missed",
                  kind.interpreter};
        return {"observed", "getenv calls through its C library are probed", kind.interpreter};
      }
      return {"observed", "getenv calls through its C library are probed",
              system_libc_.empty() ? "libc.so.6" : system_libc_};
    }
    case ExecutableKind::kStaticWithGetenv: {
      bool fresh = false;
      const Library& lib = ensure_library(path, &fresh);
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

void EnvProbes::observe(const trace::Event& event, std::vector<trace::Event>* extra) {
  if (event.has_exec()) {
    extra->push_back(coverage_event(event, visibility_for_exec(event)));
    return;
  }
  if (event.has_open() && event.open().result() >= 0 && basename_is_c_library(event.open().path())) {
    bool fresh = false;
    const Library& lib = ensure_library(host_path(event.pid(), event.open().path()), &fresh);
    if (fresh)
      extra->push_back(coverage_event(
          event, {"late",
                  "probes on this C library were placed when the process opened it; lookups just "
                  "after that may be missed",
                  event.open().path()}));
    else if (!lib.error.empty() && !lib.path.empty())
      extra->push_back(coverage_event(event, {"gap", lib.error, event.open().path()}));
  }
}

}  // namespace agenttrace::collector
