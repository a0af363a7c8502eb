// Where a C library's syscall wrappers keep their caller's return address
// and frame pointer, at each syscall instruction, read from the library's
// call-frame information (.eh_frame, through elfutils' libdw). A stack
// captured at a syscall starts inside such a wrapper: glibc's open() keeps
// no frame pointer and uses rbp for its own data, so a frame-pointer walk
// from there loses the program's function that called open(). With these
// rules the kernel side finds that caller exactly and walks on from it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/elf_file.h"

namespace agenttrace::collector {

struct SyscallFrame {
  uint64_t file_offset = 0;  // of the address just after the syscall instruction
  int32_t cfa_offset = 0;    // the canonical frame address is rsp + cfa_offset
  int32_t rbp_offset = 0;    // the caller's rbp is saved at CFA + rbp_offset; 0: rbp is the caller's
};

// Every `syscall` instruction in the executable segments of the ELF file at
// `path` whose frame the CFI describes with rsp-based rules. Empty with
// *error set when the file or its CFI cannot be read.
std::vector<SyscallFrame> syscall_frames(const std::string& path, std::string* error);
// The same for a file already open (and checked): its descriptor is read,
// never its path again.
std::vector<SyscallFrame> syscall_frames(const ElfFile& file, std::string* error);

}  // namespace agenttrace::collector
