#include "collector/stack_resolver.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <sstream>

#include "common/disassembly.h"
#include "common/elf_file.h"
#include "common/safe_open.h"
#include "common/unique_fd.h"

namespace agenttrace::collector {

void PerfMap::add_lines(const std::string& text) {
  std::string all = partial_ + text;
  size_t start = 0;
  for (size_t nl; (nl = all.find('\n', start)) != std::string::npos; start = nl + 1) {
    std::string line = all.substr(start, nl - start);
    char* end = nullptr;
    unsigned long long addr = strtoull(line.c_str(), &end, 16);
    if (!end || *end != ' ') continue;
    char* end2 = nullptr;
    unsigned long long size = strtoull(end + 1, &end2, 16);
    if (!end2 || *end2 != ' ' || size == 0) continue;
    entries_[addr] = Entry{addr + size, std::string(end2 + 1)};
  }
  partial_ = all.substr(start);
}

namespace {
// JITDump (tools/perf/Documentation/jitdump-specification.txt): a header
// (magic, version, its own size, ...), then records of {id, total size,
// timestamp}; JIT_CODE_LOAD (id 0) goes on with pid, tid, vma, code_addr,
// code_size, code_index, a NUL-ended name and the code bytes.
constexpr uint32_t kJitDumpMagic = 0x4A695444;  // "DTiJ" in the file, little-endian
constexpr uint32_t kJitCodeLoad = 0;
constexpr size_t kJitRecordHead = 16, kJitLoadFixed = 56;
constexpr uint32_t kJitMaxRecord = 16u << 20;  // one record: its code bytes and name

uint32_t load32(const std::string& b, size_t at) {
  uint32_t v;
  memcpy(&v, b.data() + at, 4);
  return v;
}
uint64_t load64(const std::string& b, size_t at) {
  uint64_t v;
  memcpy(&v, b.data() + at, 8);
  return v;
}
}  // namespace

bool PerfMap::add_jitdump(const std::string& bytes) {
  partial_ += bytes;
  size_t at = 0;
  if (!jitdump_header_done_) {
    if (partial_.size() < 12) return true;
    uint32_t header_size = load32(partial_, 8);
    if (load32(partial_, 0) != kJitDumpMagic || header_size < 12 || header_size > 4096) return false;
    if (partial_.size() < header_size) return true;
    at = header_size;
    jitdump_header_done_ = true;
  }
  while (partial_.size() - at >= kJitRecordHead) {
    uint32_t id = load32(partial_, at), total = load32(partial_, at + 4);
    if (total < kJitRecordHead || total > kJitMaxRecord) return false;
    if (partial_.size() - at < total) break;  // the rest is still being written
    if (id == kJitCodeLoad && total > kJitLoadFixed) {
      uint64_t code_addr = load64(partial_, at + 32), code_size = load64(partial_, at + 40);
      size_t name_end = partial_.find('\0', at + kJitLoadFixed);
      if (code_size && name_end != std::string::npos && name_end < at + total)
        entries_[code_addr] = Entry{code_addr + code_size, partial_.substr(at + kJitLoadFixed, name_end - at - kJitLoadFixed)};
    }
    at += total;
  }
  partial_.erase(0, at);
  return true;
}

PerfMap::PerfMap(std::string path, FileRefusals* refusals, std::string jitdump_dir, uint32_t jitdump_pid)
    : path_(std::move(path)), refusals_(refusals), jitdump_dir_(std::move(jitdump_dir)), jitdump_pid_(jitdump_pid) {
  // "/proc/PID/root/tmp/...": the root stays reachable through a descriptor.
  std::string rest;
  if (split_proc_root(path_, &root_prefix_, &rest))
    root_.reset(::open(root_prefix_.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
}

std::string PerfMap::reachable(const std::string& path) const {
  if (!root_.valid() || path.compare(0, root_prefix_.size(), root_prefix_) != 0) return path;
  return fd_path(root_.get()) + path.substr(root_prefix_.size());
}

std::string PerfMap::find_jitdump(const std::string& dir, uint32_t pid) {
  // jit-PID.dump (JSC in Bun 1.2) or jit-TID-PID.dump (Bun 1.3 and later).
  const std::string exact = "jit-" + std::to_string(pid) + ".dump", tail = "-" + std::to_string(pid) + ".dump";
  std::error_code ec;
  std::filesystem::directory_iterator it(dir, ec), end;
  // The directory is the program's own /tmp: what it lists is bounded.
  constexpr int kMaxEntries = 10000;
  for (int seen = 0; !ec && it != end && seen < kMaxEntries; it.increment(ec), ++seen) {
    std::string name = it->path().filename().string();
    if (name == exact) return it->path().string();
    if (name.rfind("jit-", 0) == 0 && name.size() > tail.size() + 4 &&
        name.compare(name.size() - tail.size(), tail.size(), tail) == 0 &&
        name.find_first_not_of("0123456789", 4) == name.size() - tail.size())
      return it->path().string();
  }
  return "";
}

void PerfMap::add(const std::string& bytes) {
  if (format_ == Format::kUnknown) {
    if (partial_.size() + bytes.size() < 4) {
      partial_ += bytes;
      return;
    }
    std::string head = (partial_ + bytes).substr(0, 4);
    format_ = load32(head, 0) == kJitDumpMagic ? Format::kJitDump : Format::kText;
  }
  if (format_ == Format::kText) {
    add_lines(bytes);
    return;
  }
  if (!add_jitdump(bytes)) {
    refused_ = true;
    fd_.reset();
    partial_.clear();
    if (refusals_) refusals_->note(path_, path_ + " is not a well-formed JITDump past what was read");
  }
}

void PerfMap::refresh(bool rescan) {
  if (refused_) return;
  if (!fd_.valid()) {
    SafeOpenOptions options;
    options.max_bytes = kMaxPerfMapBytes;
    options.follow_in_root = false;  // a runtime writes its map itself, never as a link
    const auto now = std::chrono::steady_clock::now();
    if (!jitdump_dir_.empty() && (rescan || now - jitdump_scanned_ >= std::chrono::milliseconds(200)) &&
        access(reachable(path_).c_str(), F_OK) != 0) {
      jitdump_scanned_ = now;
      std::string dump = find_jitdump(reachable(jitdump_dir_), jitdump_pid_);
      if (!dump.empty()) {
        path_ = jitdump_dir_ + dump.substr(dump.rfind('/'));
        jitdump_dir_.clear();  // found: the text map is no longer looked for
      }
    }
    SafeFile file = safe_open(reachable(path_), options);
    if (!file.ok()) {
      // Missing is normal (no JIT, or not written yet): tried again later.
      if (file.refused) {
        refused_ = true;
        std::string why = file.error, seen = reachable(path_);
        if (auto at = why.find(seen); at != std::string::npos && seen != path_) why.replace(at, seen.size(), path_);
        if (refusals_) refusals_->note(path_, why);
      }
      return;
    }
    fd_ = std::move(file.fd);
  }
  char buf[65536];
  while (read_to_ < kMaxPerfMapBytes) {
    size_t want = static_cast<size_t>(std::min<uint64_t>(sizeof(buf), kMaxPerfMapBytes - read_to_));
    ssize_t n = pread(fd_.get(), buf, want, static_cast<off_t>(read_to_));
    if (n <= 0) break;
    read_to_ += static_cast<uint64_t>(n);
    add(std::string(buf, static_cast<size_t>(n)));
    if (refused_) return;
  }
  if (read_to_ >= kMaxPerfMapBytes) {
    // What it names so far stays usable; the rest is not read.
    struct stat st;
    if (fstat(fd_.get(), &st) == 0 && static_cast<uint64_t>(st.st_size) > read_to_) {
      refused_ = true;
      fd_.reset();
      if (refusals_)
        refusals_->note(path_, path_ + " was read only in part: it grew past the " + std::to_string(kMaxPerfMapBytes) +
                                   " bytes agenttrace reads of a perf map");
    }
  }
}

bool PerfMap::find(uint64_t address, std::string* name, uint64_t* offset) const {
  uint64_t start, size;
  if (!entry(address, &start, &size, name)) return false;
  *offset = address - start;
  return true;
}

bool PerfMap::entry(uint64_t address, uint64_t* start, uint64_t* size, std::string* name) const {
  auto it = entries_.upper_bound(address);
  if (it == entries_.begin()) return false;
  --it;
  if (address >= it->second.end) return false;
  *start = it->first;
  *size = it->second.end - it->first;
  *name = it->second.name;
  return true;
}

namespace {

// The kernel's dev_t encoding (MKDEV: major << 20 | minor), as the stack's
// frames carry it.
uint64_t kernel_dev(uint64_t major, uint64_t minor) { return (major << 20) | minor; }

bool looks_like_library(const std::string& path) {
  auto slash = path.rfind('/');
  std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
  auto so = base.find(".so");
  return so != std::string::npos && (so + 3 == base.size() || base[so + 3] == '.');
}

std::string readable_path(uint32_t pid, const std::string& path) {
  // A process in another mount namespace names files from its own root;
  // safe_open resolves a path below /proc/PID/root inside that root.
  // Once it is gone, resolved the same way in agenttrace's own root.
  std::string root = "/proc/" + std::to_string(pid) + "/root";
  return (access(root.c_str(), F_OK) == 0 ? root : std::string("/proc/self/root")) + path;
}

}  // namespace

StackResolver::StackResolver(FrameNamer name_frames) : name_frames_(std::move(name_frames)) {}

StackResolver::~StackResolver() = default;

void StackResolver::forget(uint32_t pid) { processes_.erase(pid); }

std::vector<trace::Event> StackResolver::late_jit_symbols() {
  std::vector<trace::Event> out;
  for (auto& [pid, pending] : pending_jit_) {
    PerfMap& map = *pending.perf;
    map.refresh(true);
    trace::Event e;
    e.set_pid(pid);
    e.set_tid(pid);
    trace::JitSymbols* js = e.mutable_jit_symbols();
    js->set_source(map.path());
    std::set<uint64_t> starts;
    for (uint64_t a : pending.addresses) {
      uint64_t start = 0, size = 0;
      std::string name;
      if (!map.entry(a - 1, &start, &size, &name) || !starts.insert(start).second) continue;
      auto* sym = js->add_symbols();
      sym->set_start(start);
      sym->set_size(size);
      sym->set_name(name);
    }
    if (js->symbols_size()) out.push_back(std::move(e));
  }
  pending_jit_.clear();
  return out;
}

void StackResolver::learn_file(uint32_t pid, const std::string& path) {
  if (path.empty() || path[0] != '/') return;
  std::string readable = readable_path(pid, path);
  SafeFile opened = safe_open(readable);
  if (!opened.ok()) {
    if (opened.refused && refusals_) refusals_->note(readable, opened.error);
    return;
  }
  FileKey key{kernel_dev(major(opened.dev), minor(opened.dev)), opened.ino};
  auto [it, fresh] = files_.try_emplace(key);
  if (fresh) {
    it->second.path = path;
    it->second.access = readable;
  }
}

void StackResolver::observe(const trace::Event& e) {
  if (e.has_exec()) {
    const std::string& exe = e.exec().exe().empty() ? e.exec().path() : e.exec().exe();
    if (exe.empty() || exe[0] != '/') return;
    std::string error;
    bool refused = false;
    std::string readable = readable_path(e.pid(), exe);
    auto elf = ElfFile::open(readable, &error, &refused);
    if (!elf) {
      if (refused && refusals_) refusals_->note(readable, error);
      return;
    }
    FileKey key{kernel_dev(major(elf->device()), minor(elf->device())), elf->inode()};
    auto [it, fresh] = files_.try_emplace(key);
    if (fresh) {
      it->second.path = exe;
      it->second.access = readable;
    }
    // The dynamic loader is mapped by the kernel, never opened by the program.
    learn_file(e.pid(), elf->interpreter());
  } else if (e.has_open() && e.open().result() >= 0 && looks_like_library(e.open().path())) {
    learn_file(e.pid(), e.open().path());
  }
}

void StackResolver::learn_maps(uint32_t pid, Process& p) {
  // Once per second at most: a busy process must not have its map read per event.
  auto now = std::chrono::steady_clock::now();
  if (p.maps_read && now - p.maps_time < std::chrono::seconds(1)) return;
  p.maps_read = true;
  p.maps_time = now;
  auto maps = read_maps(static_cast<pid_t>(pid));
  if (maps.empty()) return;  // gone
  p.maps = std::move(maps);
  for (const Mapping& m : p.maps) {
    if (m.inode == 0 || m.path.empty() || m.path[0] != '/') continue;
    FileKey key{kernel_dev(m.dev >> 32, m.dev & 0xffffffffu), m.inode};
    auto [it, fresh] = files_.try_emplace(key);
    if (fresh) {
      // map_files reaches the very file mapped, whatever mount namespace the
      // process lives in and even when it was deleted since.
      char name[96];
      snprintf(name, sizeof(name), "/proc/%u/map_files/%llx-%llx", pid, static_cast<unsigned long long>(m.start),
               static_cast<unsigned long long>(m.end));
      it->second.path = m.path;
      it->second.access = name;
    }
  }
}

StackResolver::File* StackResolver::file(const FileKey& key) {
  auto it = files_.find(key);
  if (it == files_.end()) return nullptr;
  File& f = it->second;
  if (!f.build_id_read) {
    f.build_id_read = true;
    std::string error;
    bool refused = false;
    SafeOpenOptions options;
    options.kernel_links = true;  // /proc/PID/map_files/: the kernel's link to the mapped file
    if (auto elf = ElfFile::open(f.access, &error, &refused, options)) f.build_id = elf->build_id();
    else if (refused && refusals_) refusals_->note(f.access, error);
  }
  return &f;
}

const Mapping* StackResolver::mapping_of(Process& p, uint64_t address) const {
  for (const Mapping& m : p.maps)
    if (address >= m.start && address < m.end) return &m;
  return nullptr;
}

namespace {

std::string jit_instruction(uint32_t pid, uint64_t address) {
  UniqueFd fd(::open(("/proc/" + std::to_string(pid) + "/mem").c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid() || address < 15) return {};
  std::vector<uint8_t> bytes(15);
  if (pread(fd.get(), bytes.data(), bytes.size(), static_cast<off_t>(address - 15)) != 15) return {};
  auto insn = instruction_before(bytes, address);
  return insn ? insn->text : std::string();
}

}  // namespace

void StackResolver::resolve(trace::Event* event) {
  if (!event->has_stack()) return;
  const uint32_t pid = event->pid();
  Process& p = processes_[pid];
  trace::Stack* st = event->mutable_stack();
  for (int i = 0; i < st->frames_size(); ++i) {
    trace::Frame* f = st->mutable_frames(i);
    ++frames_;
    if (f->inode() == 0 && f->module().empty()) {
      // The kernel could not look at the map: /proc may still be able to.
      learn_maps(pid, p);
      const Mapping* m = mapping_of(p, f->address());
      if (!m) {
        ++unresolved_;
        continue;
      }
      if (m->inode == 0) {
        f->set_module(m->path.empty() ? "[anon]" : m->path);
      } else {
        f->set_module_offset(f->address() - m->start + m->offset);
        f->set_device(static_cast<uint32_t>(kernel_dev(m->dev >> 32, m->dev & 0xffffffffu)));
        f->set_inode(m->inode);
      }
    }
    if (f->inode() != 0) {
      FileKey key{f->device(), f->inode()};
      File* file_info = file(key);
      if (!file_info) {
        learn_maps(pid, p);
        file_info = file(key);
      }
      if (!file_info) {
        ++unresolved_;
        continue;
      }
      f->set_module(file_info->path);
      f->set_build_id(file_info->build_id);
      continue;
    }
    if (f->module() != "[anon]") continue;
    // JIT code: named by the runtime's perf map, if it writes one.
    if (!p.perf) {
      // The map is named by the PID the process sees, in the /tmp it sees;
      // once it has exited, only a map in agenttrace's own /tmp is left.
      std::string root = "/proc/" + std::to_string(pid) + "/root";
      const bool alive = access(root.c_str(), F_OK) == 0;
      const uint32_t seen_pid = alive ? static_cast<uint32_t>(namespace_pid(static_cast<pid_t>(pid))) : pid;
      const std::string tmp = alive ? root + "/tmp" : "/tmp";
      p.perf = std::make_shared<PerfMap>(tmp + "/perf-" + std::to_string(seen_pid) + ".map", refusals_, tmp, seen_pid);
    }
    std::string name;
    uint64_t offset = 0;
    if (!p.perf->find(f->address() - 1, &name, &offset)) {
      p.perf->refresh();
      if (!p.perf->find(f->address() - 1, &name, &offset)) {
        // Runtimes write their maps in blocks: named at the end instead.
        Pending& pending = pending_jit_[pid];
        pending.perf = p.perf;
        if (pending.addresses.size() < 100000) pending.addresses.insert(f->address());
        ++unresolved_;
        continue;
      }
    }
    f->set_symbol(name);
    f->set_symbol_offset(offset + 1);
    f->set_jit(true);
    if (i < 3) f->set_instruction(jit_instruction(pid, f->address()));
  }
  if (name_frames_) name_frames_(st);
}

}  // namespace agenttrace::collector
