#include "analyzer/symbolizer.h"

#include <cxxabi.h>
#include <sys/utsname.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "analyzer/profile.h"
#include "common/disassembly.h"

namespace agenttrace::analyzer {

namespace fs = std::filesystem;

namespace {

// "node::RealEnvStore::Get(char const*) const" for "_ZNK4node12RealEnvStore3GetEPKc";
// other names as they are.
std::string demangle(const std::string& name) {
  if (name.rfind("_Z", 0) != 0) return name;
  int status = 0;
  char* out = abi::__cxa_demangle(name.c_str(), nullptr, nullptr, &status);
  if (status != 0 || !out) return name;
  std::string s(out);
  free(out);
  return s;
}

}  // namespace

std::unique_ptr<ModuleSymbols> ModuleSymbols::load(const std::string& path, std::string* error) {
  auto elf = ElfFile::open(path, error);
  if (!elf) return nullptr;
  std::unique_ptr<ModuleSymbols> m(new ModuleSymbols(std::move(*elf)));
  m->build_id_ = m->elf_.build_id();
  m->functions_ = m->elf_.functions();
  return m;
}

std::optional<std::pair<std::string, uint64_t>> ModuleSymbols::function_at(uint64_t file_offset) const {
  auto vaddr = elf_.address_of_offset(file_offset);
  if (!vaddr) return std::nullopt;
  return function_at_address(*vaddr);
}

std::optional<std::pair<std::string, uint64_t>> ModuleSymbols::function_at_address(uint64_t vaddr) const {
  auto it = std::upper_bound(functions_.begin(), functions_.end(), vaddr,
                             [](uint64_t a, const ElfSymbol& s) { return a < s.address; });
  if (it == functions_.begin()) return std::nullopt;
  --it;
  if (it->size && vaddr >= it->address + it->size) return std::nullopt;
  return std::make_pair(it->name, vaddr - it->address);
}

std::optional<std::string> ModuleSymbols::instruction_before(uint64_t file_offset) const {
  constexpr uint64_t kWindow = 15;
  if (file_offset < 2) return std::nullopt;
  uint64_t start = file_offset >= kWindow ? file_offset - kWindow : 0;
  auto bytes = elf_.read(start, file_offset - start);
  if (bytes.size() != file_offset - start) return std::nullopt;
  uint64_t end = elf_.address_of_offset(file_offset - 1).value_or(file_offset - 1) + 1;
  auto insn = agenttrace::instruction_before(bytes, end);
  if (!insn) return std::nullopt;
  // A direct call names its target: "call 0x401030 <getenv@plt>".
  std::string text = insn->text;
  if (text.rfind("call 0x", 0) == 0) {
    uint64_t target = strtoull(text.c_str() + 5, nullptr, 16);
    if (auto fn = function_at_address(target))
      text += " <" + demangle(fn->first) + (fn->second ? "+" + std::to_string(fn->second) : "") + ">";
  }
  return text;
}

Symbolizer::Symbolizer(SymbolizerOptions options) : options_(std::move(options)) {}
Symbolizer::~Symbolizer() = default;

void Symbolizer::index_binary_dirs() {
  indexed_ = true;
  for (const auto& dir : options_.binary_dirs) {
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(dir, fs::directory_options::skip_permission_denied, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (!it->is_regular_file(ec)) continue;
      std::string path = it->path().string();
      std::string error;
      auto elf = ElfFile::open(path, &error);
      if (!elf) continue;
      std::string id = elf->build_id();
      if (!id.empty()) by_build_id_.emplace(id, path);
      by_file_name_.emplace(it->path().filename().string(), path);
    }
  }
}

const ModuleSymbols* Symbolizer::module(const std::string& path, const std::string& build_id) {
  const std::string key = build_id.empty() ? "path:" + path : build_id;
  if (auto it = cache_.find(key); it != cache_.end()) return it->second.get();
  std::unique_ptr<ModuleSymbols> found;
  std::string why = "not found";
  auto accept = [&](const std::string& candidate) {
    std::string error;
    auto m = ModuleSymbols::load(candidate, &error);
    if (!m) {
      why = error;
      return false;
    }
    if (!build_id.empty() && m->build_id() != build_id) {
      why = candidate + " has another build id";
      return false;
    }
    found = std::move(m);
    return true;
  };
  if (!options_.binary_dirs.empty()) {
    if (!indexed_) index_binary_dirs();
    if (auto it = by_build_id_.find(build_id); !build_id.empty() && it != by_build_id_.end()) accept(it->second);
    if (!found) {
      auto range = by_file_name_.equal_range(fs::path(path).filename().string());
      for (auto it = range.first; it != range.second && !found; ++it) accept(it->second);
    }
  }
  if (!found && options_.local_files && !path.empty() && path[0] == '/') accept(path);
  else if (!found && !options_.local_files)
    why = "the trace was recorded on another machine or boot, so " + path +
          " here was not opened (give its files with --binaries DIR)";
  if (!found) missing_.emplace(path, why);
  auto& slot = cache_[key];
  slot = std::move(found);
  return slot.get();
}

void Symbolizer::symbolize(trace::Stack* stack) {
  for (int i = 0; i < stack->frames_size(); ++i) {
    trace::Frame* f = stack->mutable_frames(i);
    bool need_name = f->symbol().empty();
    bool need_insn = f->instruction().empty() && static_cast<size_t>(i) < options_.instructions;
    if ((!need_name && !need_insn) || f->module().empty() || f->module()[0] != '/') continue;
    const ModuleSymbols* m = module(f->module(), f->build_id());
    if (!m) continue;
    // Every frame is a return address (or, innermost, the address after a
    // syscall): the call it returns to is the byte before it.
    if (need_name && f->module_offset() > 0) {
      if (auto fn = m->function_at(f->module_offset() - 1)) {
        f->set_symbol(demangle(fn->first));
        f->set_symbol_offset(fn->second + 1);
      }
    }
    if (need_insn)
      if (auto insn = m->instruction_before(f->module_offset())) f->set_instruction(*insn);
  }
}

bool recorded_here(const trace::Header& header) {
  std::ifstream in("/proc/sys/kernel/random/boot_id");
  std::string boot;
  std::getline(in, boot);
  struct utsname u {};
  if (boot.empty() || uname(&u) != 0) return false;
  auto it = header.host_values().find("hostname");
  const std::string& host = it != header.host_values().end() ? it->second : header.hostname();
  return header.boot_id() == boot && host == u.nodename;
}

void symbolize_stacks(Profile& profile, const SymbolizerOptions& given) {
  if (profile.stacks.empty()) return;
  SymbolizerOptions options = given;
  if (options.local_files && !recorded_here(profile.header)) options.local_files = false;
  Symbolizer symbolizer(options);
  for (auto& [event, recorded] : profile.stacks) {
    symbolizer.symbolize(&recorded.stack);
    // JIT frames named at the end of the trace.
    auto table = profile.jit_symbols.find(recorded.pid);
    if (table == profile.jit_symbols.end()) continue;
    for (auto& f : *recorded.stack.mutable_frames()) {
      if (!f.symbol().empty() || f.module() != "[anon]") continue;
      auto it = table->second.upper_bound(f.address() - 1);
      if (it == table->second.begin()) continue;
      --it;
      if (f.address() - 1 >= it->second.first) continue;
      f.set_symbol(it->second.second);
      f.set_symbol_offset(f.address() - it->first);
      f.set_jit(true);
    }
  }
}

std::string frame_text(const trace::Frame& f) {
  char buf[64];
  std::string module = f.module().empty() ? std::string() : fs::path(f.module()).filename().string();
  if (!f.symbol().empty()) {
    if (f.jit()) return f.symbol();
    snprintf(buf, sizeof(buf), "+0x%llx", static_cast<unsigned long long>(f.symbol_offset()));
    return f.symbol() + buf + (module.empty() ? "" : " (" + module + ")");
  }
  snprintf(buf, sizeof(buf), "0x%llx", static_cast<unsigned long long>(f.address()));
  std::string out = buf;
  if (!module.empty() && module != "[anon]") {
    snprintf(buf, sizeof(buf), "+0x%llx", static_cast<unsigned long long>(f.module_offset()));
    out += " (" + module + buf + ")";
  }
  return out;
}

}  // namespace agenttrace::analyzer
