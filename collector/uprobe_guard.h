// Every uprobe agenttrace places is checked first: the address must be the
// start of a function, in executable code, and decode as an instruction.
// A uprobe in the middle of an instruction would corrupt the traced program.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/disassembly.h"
#include "common/elf_file.h"

namespace agenttrace::collector {

// Returns an empty string when `address` in `elf` is a safe uprobe target:
// in executable code, exactly the first byte of a function symbol (so an
// instruction boundary), and decodable as an x86-64 instruction. Otherwise
// one sentence saying why not.
std::string check_uprobe_target(const ElfFile& elf, uint64_t address);

}  // namespace agenttrace::collector
