#include "common/elf_file.h"

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

namespace agenttrace {

std::optional<ElfFile> ElfFile::open(const std::string& path, std::string* error, bool* refused,
                                     const SafeOpenOptions& options) {
  if (refused) *refused = false;
  SafeFile file = safe_open(path, options);
  if (!file.ok()) {
    *error = file.error;
    if (refused) *refused = file.refused;
    return std::nullopt;
  }
  return from_file(std::move(file), path, error);
}

std::optional<ElfFile> ElfFile::from_file(SafeFile file, const std::string& path, std::string* error) {
  if (elf_version(EV_CURRENT) == EV_NONE) {
    *error = "libelf is unusable";
    return std::nullopt;
  }
  ElfFile f;
  f.path_ = path;
  f.fd_ = std::move(file.fd);
  f.dev_ = file.dev;
  f.ino_ = file.ino;
  if (!f.load(error)) return std::nullopt;
  return f;
}

ElfFile::ElfFile(ElfFile&& o) noexcept
    : path_(std::move(o.path_)),
      fd_(std::move(o.fd_)),
      dev_(o.dev_),
      ino_(o.ino_),
      elf_(std::exchange(o.elf_, nullptr)),
      interpreter_(std::move(o.interpreter_)),
      is_dyn_type_(o.is_dyn_type_),
      machine_x86_64_(o.machine_x86_64_),
      segments_(std::move(o.segments_)),
      section_names_(std::move(o.section_names_)),
      section_extents_(std::move(o.section_extents_)),
      needed_(std::move(o.needed_)) {}

ElfFile::~ElfFile() {
  if (elf_) elf_end(elf_);
}

bool ElfFile::load(std::string* error) {
  // Read, not mapped: the traced program may own the file, and truncating a
  // mapped file under agenttrace would kill it with SIGBUS; a short read is
  // only an error.
  elf_ = elf_begin(fd_.get(), ELF_C_READ, nullptr);
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
      if (!name) continue;
      section_names_.emplace_back(name);
      section_extents_.push_back({sh.sh_offset, sh.sh_type == SHT_NOBITS ? 0 : sh.sh_size});
      if (sh.sh_type != SHT_DYNAMIC || sh.sh_entsize == 0) continue;
      Elf_Data* data = elf_getdata(scn, nullptr);
      for (size_t i = 0; data && i < sh.sh_size / sh.sh_entsize; ++i) {
        GElf_Dyn dyn;
        if (!gelf_getdyn(data, static_cast<int>(i), &dyn) || dyn.d_tag == DT_NULL) break;
        if (dyn.d_tag != DT_NEEDED) continue;
        if (const char* lib = elf_strptr(elf_, sh.sh_link, dyn.d_un.d_val)) needed_.emplace_back(lib);
      }
    }
  }
  return true;
}

bool ElfFile::has_section(std::string_view name) const {
  return std::find(section_names_.begin(), section_names_.end(), name) != section_names_.end();
}

std::optional<std::pair<uint64_t, uint64_t>> ElfFile::section_extent(std::string_view name) const {
  for (size_t i = 0; i < section_names_.size(); ++i)
    if (section_names_[i] == name) return section_extents_[i];
  return std::nullopt;
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

std::optional<uint64_t> ElfFile::address_of_offset(uint64_t file_offset) const {
  for (const auto& s : segments_)
    if (file_offset >= s.offset && file_offset < s.offset + s.filesz) return file_offset - s.offset + s.vaddr;
  return std::nullopt;
}

std::vector<std::string> ElfFile::version_definitions() const {
  std::vector<std::string> out;
  for (Elf_Scn* scn = elf_nextscn(elf_, nullptr); scn; scn = elf_nextscn(elf_, scn)) {
    GElf_Shdr sh;
    if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_GNU_verdef) continue;
    Elf_Data* data = elf_getdata(scn, nullptr);
    if (!data) continue;
    // A chain of Verdef entries, each naming its version in its first Verdaux.
    size_t off = 0;
    for (size_t i = 0; i < sh.sh_info && i < 4096; ++i) {
      GElf_Verdef def;
      GElf_Verdaux aux;
      if (!gelf_getverdef(data, static_cast<int>(off), &def)) break;
      if (def.vd_cnt > 0 && gelf_getverdaux(data, static_cast<int>(off + def.vd_aux), &aux) &&
          !(def.vd_flags & VER_FLG_BASE))
        if (const char* name = elf_strptr(elf_, sh.sh_link, aux.vda_name)) out.emplace_back(name);
      if (def.vd_next == 0) break;
      off += def.vd_next;
    }
  }
  return out;
}

std::string ElfFile::build_id() const {
  for (Elf_Scn* scn = elf_nextscn(elf_, nullptr); scn; scn = elf_nextscn(elf_, scn)) {
    GElf_Shdr sh;
    if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_NOTE) continue;
    Elf_Data* data = elf_getdata(scn, nullptr);
    if (!data) continue;
    size_t off = 0, name_off = 0, desc_off = 0;
    GElf_Nhdr nh;
    while ((off = gelf_getnote(data, off, &nh, &name_off, &desc_off)) > 0) {
      if (nh.n_type != NT_GNU_BUILD_ID || nh.n_namesz != 4 ||
          memcmp(static_cast<const char*>(data->d_buf) + name_off, "GNU", 4) != 0)
        continue;
      static const char kHex[] = "0123456789abcdef";
      std::string out;
      const auto* d = static_cast<const uint8_t*>(data->d_buf) + desc_off;
      for (size_t i = 0; i < nh.n_descsz; ++i) {
        out += kHex[d[i] >> 4];
        out += kHex[d[i] & 15];
      }
      return out;
    }
  }
  return {};
}

std::vector<ElfSymbol> ElfFile::functions() const {
  std::vector<ElfSymbol> out;
  scan_symbols([&](const ElfSymbol& s) {
    if (s.is_function) out.push_back(s);
    return false;
  });
  // PLT stubs: the n-th relocation of .rela.plt jumps through the n-th entry
  // of .plt.sec (with IBT) or the (n+1)-th of .plt (after PLT0), 16 bytes each.
  size_t shstrndx = 0;
  if (elf_getshdrstrndx(elf_, &shstrndx) == 0) {
    GElf_Shdr plt{}, plt_sec{}, rela{};
    Elf_Scn* rela_scn = nullptr;
    bool have_plt = false, have_sec = false;
    for (Elf_Scn* scn = elf_nextscn(elf_, nullptr); scn; scn = elf_nextscn(elf_, scn)) {
      GElf_Shdr sh;
      if (!gelf_getshdr(scn, &sh)) continue;
      const char* name = elf_strptr(elf_, shstrndx, sh.sh_name);
      if (!name) continue;
      if (strcmp(name, ".plt") == 0) plt = sh, have_plt = true;
      else if (strcmp(name, ".plt.sec") == 0) plt_sec = sh, have_sec = true;
      else if (strcmp(name, ".rela.plt") == 0) rela = sh, rela_scn = scn;
    }
    Elf_Data* rdata = rela_scn ? elf_getdata(rela_scn, nullptr) : nullptr;
    Elf_Scn* dynsym = rela_scn ? elf_getscn(elf_, rela.sh_link) : nullptr;
    GElf_Shdr dsh;
    Elf_Data* ddata = dynsym && gelf_getshdr(dynsym, &dsh) ? elf_getdata(dynsym, nullptr) : nullptr;
    if (rdata && ddata && rela.sh_entsize && (have_plt || have_sec)) {
      size_t count = rela.sh_size / rela.sh_entsize;
      uint64_t base = have_sec ? plt_sec.sh_addr : plt.sh_addr + 16;
      for (size_t i = 0; i < count; ++i) {
        GElf_Rela r;
        GElf_Sym sym;
        if (!gelf_getrela(rdata, static_cast<int>(i), &r)) continue;
        if (!gelf_getsym(ddata, static_cast<int>(GELF_R_SYM(r.r_info)), &sym)) continue;
        const char* sname = elf_strptr(elf_, dsh.sh_link, sym.st_name);
        if (!sname || !*sname) continue;
        ElfSymbol p;
        p.name = std::string(sname) + "@plt";
        p.address = base + 16 * i;
        p.size = 16;
        p.file_offset = address_to_offset(p.address).value_or(0);
        p.is_function = true;
        out.push_back(std::move(p));
      }
    }
  }
  // At one address, the name a person knows: getenv rather than __GI_getenv.
  auto internal = [](const std::string& n) { return n.size() > 1 && n[0] == '_' && n[1] == '_'; };
  std::sort(out.begin(), out.end(), [&](const ElfSymbol& a, const ElfSymbol& b) {
    if (a.address != b.address) return a.address < b.address;
    if (internal(a.name) != internal(b.name)) return !internal(a.name);
    if (a.size != b.size) return a.size > b.size;
    return a.name.size() < b.name.size();
  });
  out.erase(std::unique(out.begin(), out.end(),
                        [](const ElfSymbol& a, const ElfSymbol& b) { return a.address == b.address; }),
            out.end());
  return out;
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

}  // namespace agenttrace
