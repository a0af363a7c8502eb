// Reading ELF files with libelf: symbols and their file offsets (where a
// uprobe goes), the program interpreter, sections that identify runtimes.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/safe_open.h"
#include "common/unique_fd.h"

typedef struct Elf Elf;

namespace agenttrace {

struct ElfSymbol {
  std::string name;
  uint64_t address = 0;      // st_value: virtual address
  uint64_t size = 0;
  uint64_t file_offset = 0;  // where its first byte is in the file (0: not in the file)
  bool is_function = false;  // STT_FUNC or STT_GNU_IFUNC
  bool is_ifunc = false;
};

// One PT_LOAD program header: which bytes of the file are mapped where.
struct LoadSegment {
  uint64_t vaddr = 0, memsz = 0, offset = 0, filesz = 0;
  bool executable = false;  // PF_X
};

class ElfFile {
 public:
  // Opens path with safe_open (common/safe_open.h: no FIFO, device or
  // symbolic link at the last component, at most options.max_bytes);
  // returns nullopt with *error set when it is not a readable ELF, and
  // *refused (when given) true when safe_open refused the file.
  static std::optional<ElfFile> open(const std::string& path, std::string* error, bool* refused = nullptr,
                                     const SafeOpenOptions& options = {});
  // The same for a file safe_open already opened (and the caller looked at).
  static std::optional<ElfFile> from_file(SafeFile file, const std::string& path, std::string* error);
  ElfFile(ElfFile&& other) noexcept;
  ElfFile& operator=(ElfFile&&) = delete;
  ~ElfFile();

  const std::string& path() const { return path_; }
  // The open file: a probe placed through fd_path(fd()) goes on exactly the
  // file that was checked.
  int fd() const { return fd_.get(); }
  dev_t device() const { return dev_; }
  ino_t inode() const { return ino_; }
  bool is_64bit_x86() const { return machine_x86_64_; }
  // PT_INTERP, empty for a statically linked file.
  const std::string& interpreter() const { return interpreter_; }
  bool is_shared_object() const { return is_dyn_type_; }

  // A defined symbol from .symtab, else .dynsym, named exactly `name`.
  std::optional<ElfSymbol> find_symbol(std::string_view name) const;
  // The function symbol whose code contains `address`.
  std::optional<ElfSymbol> function_containing(uint64_t address) const;
  bool has_section(std::string_view name) const;
  // The libraries it names as DT_NEEDED ("libjli.so"), in order.
  const std::vector<std::string>& needed() const { return needed_; }
  // The file offset and size of the first section so named.
  std::optional<std::pair<uint64_t, uint64_t>> section_extent(std::string_view name) const;
  // Bytes at a file offset (fewer at end of file).
  std::vector<uint8_t> read(uint64_t file_offset, size_t size) const;
  // Whether `address` lies in an executable PT_LOAD segment.
  bool is_executable_address(uint64_t address) const;
  std::optional<uint64_t> file_offset_of(uint64_t address) const { return address_to_offset(address); }
  // The virtual address a file offset is loaded at, when a PT_LOAD maps it.
  std::optional<uint64_t> address_of_offset(uint64_t file_offset) const;
  // The symbol versions it defines (.gnu.version_d), "BUN_1.1", without the
  // file's own base entry.
  std::vector<std::string> version_definitions() const;
  // The GNU build id (.note.gnu.build-id) as lower-case hex; empty when none.
  std::string build_id() const;
  // Every function symbol (.symtab and .dynsym, duplicates removed) and a
  // "NAME@plt" entry for each PLT stub, sorted by address.
  std::vector<ElfSymbol> functions() const;
  // The PT_LOAD segments in program header order, for code that scans the
  // file itself when symbols are missing. A truncated file's segments may
  // reach past file_size().
  std::vector<LoadSegment> load_segments() const;
  uint64_t file_size() const;

 private:
  ElfFile() = default;
  bool load(std::string* error);
  std::optional<uint64_t> address_to_offset(uint64_t address) const;
  // Calls fn(symbol) for each defined symbol of .symtab then .dynsym until
  // it returns true; returns that symbol.
  template <typename Fn>
  std::optional<ElfSymbol> scan_symbols(Fn&& fn) const;

  struct Segment {
    uint64_t vaddr, memsz, offset, filesz;
    bool exec;
  };

  std::string path_;
  UniqueFd fd_;
  dev_t dev_ = 0;
  ino_t ino_ = 0;
  Elf* elf_ = nullptr;
  std::string interpreter_;
  bool is_dyn_type_ = false;
  bool machine_x86_64_ = false;
  std::vector<Segment> segments_;
  std::vector<std::string> section_names_;
  std::vector<std::pair<uint64_t, uint64_t>> section_extents_;  // (offset, size), as section_names_
  std::vector<std::string> needed_;
};

}  // namespace agenttrace
