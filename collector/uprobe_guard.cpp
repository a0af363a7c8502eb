#include "collector/uprobe_guard.h"

namespace agenttrace::collector {

std::string check_uprobe_target(const ElfFile& elf, uint64_t address) {
  char hex[32];
  snprintf(hex, sizeof(hex), "0x%llx", static_cast<unsigned long long>(address));
  std::string where = std::string(hex) + " in " + elf.path();
  if (!elf.is_64bit_x86()) return where + " is not x86-64 code";
  if (!elf.is_executable_address(address)) return where + " is not in an executable segment";
  auto function = elf.function_containing(address);
  if (!function) return where + " is not inside any known function";
  if (function->is_ifunc)
    return where + " is the IFUNC resolver " + function->name + ", not the function programs call";
  if (function->address != address) {
    char off[32];
    snprintf(off, sizeof(off), "+0x%llx", static_cast<unsigned long long>(address - function->address));
    return where + " is inside " + function->name + off + ", not at its start";
  }
  auto offset = elf.file_offset_of(address);
  if (!offset) return where + " has no bytes in the file";
  auto insns = decode_x86_64(elf.read(*offset, 16), address, 1);
  if (insns.empty() || insns[0].address != address)
    return where + " (" + function->name + ") does not start with a valid instruction";
  return {};
}

}  // namespace agenttrace::collector
