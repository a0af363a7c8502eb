#include "collector/elf_file.h"

#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "common/error.h"

namespace agenttrace::collector {

std::optional<ElfFile> ElfFile::open(const std::string& path, std::string* error) {
  if (elf_version(EV_CURRENT) == EV_NONE) {
    *error = "libelf is unusable";
    return std::nullopt;
  }
  ElfFile f;
  f.path_ = path;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    *error = "cannot open " + path + ": " + errno_text(errno);
    return std::nullopt;
  }
  f.fd_.reset(fd);
  if (!f.load(error)) return std::nullopt;
  return f;
}

ElfFile::ElfFile(ElfFile&& o) noexcept
    : path_(std::move(o.path_)),
      fd_(std::move(o.fd_)),
      elf_(std::exchange(o.elf_, nullptr)),
      interpreter_(std::move(o.interpreter_)),
      has_dynamic_(o.has_dynamic_),
      is_dyn_type_(o.is_dyn_type_),
      machine_x86_64_(o.machine_x86_64_),
      segments_(std::move(o.segments_)),
      section_names_(std::move(o.section_names_)) {}

ElfFile::~ElfFile() {
  if (elf_) elf_end(elf_);
}

bool ElfFile::load(std::string* error) {
  elf_ = elf_begin(fd_.get(), ELF_C_READ_MMAP, nullptr);
  if (!elf_ || elf_kind(elf_) != ELF_K_ELF) {
    *error = path_ + " is not an ELF file";
    return false;
  }
  GElf_Ehdr ehdr;
  if (!gelf_getehdr(elf_, &ehdr)) {
    *error = path_ + " has no readable ELF header";
    return false;
  }
  machine_x86_64_ = ehdr.e_machine == EM_X86_64 && ehdr.e_ident[EI_CLASS] == ELFCLASS64;
  is_dyn_type_ = ehdr.e_type == ET_DYN;
  size_t nphdr = 0;
  if (elf_getphdrnum(elf_, &nphdr) != 0) nphdr = 0;
  for (size_t i = 0; i < nphdr; ++i) {
    GElf_Phdr ph;
    if (!gelf_getphdr(elf_, static_cast<int>(i), &ph)) continue;
    if (ph.p_type == PT_LOAD)
      segments_.push_back({ph.p_vaddr, ph.p_memsz, ph.p_offset, ph.p_filesz, (ph.p_flags & PF_X) != 0});
    if (ph.p_type == PT_DYNAMIC) has_dynamic_ = true;
    if (ph.p_type == PT_INTERP && ph.p_filesz > 1 && ph.p_filesz < 4096) {
      auto bytes = read(ph.p_offset, ph.p_filesz);
      interpreter_.assign(reinterpret_cast<const char*>(bytes.data()),
                          strnlen(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
    }
  }
  size_t shstrndx = 0;
  if (elf_getshdrstrndx(elf_, &shstrndx) == 0) {
    for (Elf_Scn* scn = elf_nextscn(elf_, nullptr); scn; scn = elf_nextscn(elf_, scn)) {
      GElf_Shdr sh;
      if (!gelf_getshdr(scn, &sh)) continue;
      const char* name = elf_strptr(elf_, shstrndx, sh.sh_name);
      if (name) section_names_.emplace_back(name);
    }
  }
  return true;
}

bool ElfFile::has_section(std::string_view name) const {
  return std::find(section_names_.begin(), section_names_.end(), name) != section_names_.end();
}

std::optional<uint64_t> ElfFile::address_to_offset(uint64_t address) const {
  for (const auto& s : segments_) {
    if (address >= s.vaddr && address < s.vaddr + s.filesz) return address - s.vaddr + s.offset;
  }
  return std::nullopt;
}

bool ElfFile::is_executable_address(uint64_t address) const {
  for (const auto& s : segments_) {
    if (s.exec && address >= s.vaddr && address < s.vaddr + s.memsz) return true;
  }
  return false;
}

template <typename Fn>
std::optional<ElfSymbol> ElfFile::scan_symbols(Fn&& fn) const {
  // .symtab is the fuller table; .dynsym is all a stripped file keeps.
  for (uint32_t wanted : {static_cast<uint32_t>(SHT_SYMTAB), static_cast<uint32_t>(SHT_DYNSYM)}) {
    for (Elf_Scn* scn = elf_nextscn(elf_, nullptr); scn; scn = elf_nextscn(elf_, scn)) {
      GElf_Shdr sh;
      if (!gelf_getshdr(scn, &sh) || sh.sh_type != wanted || sh.sh_entsize == 0) continue;
      Elf_Data* data = elf_getdata(scn, nullptr);
      if (!data) continue;
      size_t count = sh.sh_size / sh.sh_entsize;
      for (size_t i = 0; i < count; ++i) {
        GElf_Sym sym;
        if (!gelf_getsym(data, static_cast<int>(i), &sym)) continue;
        if (sym.st_shndx == SHN_UNDEF || sym.st_value == 0) continue;
        const char* sym_name = elf_strptr(elf_, sh.sh_link, sym.st_name);
        if (!sym_name) continue;
        auto offset = address_to_offset(sym.st_value);  // none for .bss
        int type = GELF_ST_TYPE(sym.st_info);
        ElfSymbol out;
        out.name = sym_name;
        out.address = sym.st_value;
        out.size = sym.st_size;
        out.file_offset = offset.value_or(0);
        out.is_function = type == STT_FUNC || type == STT_GNU_IFUNC;
        out.is_ifunc = type == STT_GNU_IFUNC;
        if (fn(out)) return out;
      }
    }
  }
  return std::nullopt;
}

std::optional<ElfSymbol> ElfFile::find_symbol(std::string_view name) const {
  return scan_symbols([&](const ElfSymbol& s) { return s.name == name; });
}

std::optional<ElfSymbol> ElfFile::function_containing(uint64_t address) const {
  return scan_symbols([&](const ElfSymbol& s) {
    return s.is_function && address >= s.address && address < s.address + std::max<uint64_t>(s.size, 1);
  });
}

std::vector<LoadSegment> ElfFile::load_segments() const {
  std::vector<LoadSegment> out;
  out.reserve(segments_.size());
  for (const auto& s : segments_) out.push_back({s.vaddr, s.memsz, s.offset, s.filesz, s.exec});
  return out;
}

uint64_t ElfFile::file_size() const {
  struct stat st;
  return fstat(fd_.get(), &st) == 0 && st.st_size > 0 ? static_cast<uint64_t>(st.st_size) : 0;
}

std::vector<uint8_t> ElfFile::read(uint64_t file_offset, size_t size) const {
  std::vector<uint8_t> out(size);
  ssize_t n = pread(fd_.get(), out.data(), size, static_cast<off_t>(file_offset));
  out.resize(n > 0 ? static_cast<size_t>(n) : 0);
  return out;
}

}  // namespace agenttrace::collector
