#include "collector/syscall_frames.h"

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <unistd.h>

#include <cstdlib>
#include <memory>

#include "common/elf_file.h"
#include "common/unique_fd.h"

namespace agenttrace::collector {

namespace {

constexpr int kRsp = 7;   // DWARF register numbers on x86-64
constexpr int kRbp = 6;
constexpr int kReturnAddress = 16;

// CFA = rsp + offset, from "DW_OP_breg7 N" or "DW_OP_bregx 7 N".
bool rsp_based_cfa(Dwarf_Frame* frame, int32_t* offset) {
  Dwarf_Op* ops = nullptr;
  size_t nops = 0;
  if (dwarf_frame_cfa(frame, &ops, &nops) != 0 || nops != 1) return false;
  if (ops[0].atom == DW_OP_breg0 + kRsp) {
    *offset = static_cast<int32_t>(static_cast<int64_t>(ops[0].number));
    return true;
  }
  if (ops[0].atom == DW_OP_bregx && ops[0].number == kRsp) {
    *offset = static_cast<int32_t>(static_cast<int64_t>(ops[0].number2));
    return true;
  }
  return false;
}

// Where the caller's value of `regno` is: unchanged (0), or saved at CFA + offset.
bool saved_at(Dwarf_Frame* frame, int regno, int32_t* offset) {
  Dwarf_Op mem[3];
  Dwarf_Op* ops = nullptr;
  size_t nops = 0;
  if (dwarf_frame_register(frame, regno, mem, &ops, &nops) != 0) return false;
  if (nops == 0) {
    if (ops != nullptr) return false;  // undefined: cannot be recovered
    *offset = 0;                       // same value
    return true;
  }
  // offset(N): DW_OP_call_frame_cfa, then the constant added.
  if (ops[0].atom != DW_OP_call_frame_cfa) return false;
  int64_t n = 0;
  if (nops == 1) {
    n = 0;
  } else if (nops == 2 && ops[1].atom == DW_OP_plus_uconst) {
    n = static_cast<int64_t>(ops[1].number);
  } else if (nops == 3 && (ops[1].atom == DW_OP_consts || ops[1].atom == DW_OP_const1s ||
                           ops[1].atom == DW_OP_const2s || ops[1].atom == DW_OP_const4s) &&
             ops[2].atom == DW_OP_plus) {
    n = static_cast<int64_t>(ops[1].number);
  } else {
    return false;
  }
  if (n == 0) return false;  // would read as "unchanged"
  *offset = static_cast<int32_t>(n);
  return true;
}

}  // namespace

std::vector<SyscallFrame> syscall_frames(const std::string& path, std::string* error) {
  auto file = ElfFile::open(path, error);
  if (!file) return {};
  return syscall_frames(*file, error);
}

std::vector<SyscallFrame> syscall_frames(const ElfFile& file_ref, std::string* error) {
  std::vector<SyscallFrame> out;
  const ElfFile* file = &file_ref;
  const std::string& path = file->path();
  // A second libelf handle on the same descriptor, for libdw's CFI reader
  // (read, not mapped, as ElfFile does).
  std::unique_ptr<Elf, int (*)(Elf*)> elf(elf_begin(file->fd(), ELF_C_READ, nullptr), elf_end);
  if (!elf) {
    *error = path + " is not an ELF file";
    return out;
  }
  Dwarf_CFI* cfi = dwarf_getcfi_elf(elf.get());  // .eh_frame
  if (!cfi) {
    *error = path + " has no call-frame information";
    return out;
  }
  for (const LoadSegment& seg : file->load_segments()) {
    if (!seg.executable) continue;
    std::vector<uint8_t> code = file->read(seg.offset, seg.filesz);
    // A 0f 05 inside another instruction gives a rule nobody looks up: the
    // kernel side asks only for addresses a syscall returned to.
    for (size_t i = 0; i + 1 < code.size(); ++i) {
      if (code[i] != 0x0f || code[i + 1] != 0x05) continue;
      Dwarf_Frame* frame = nullptr;
      if (dwarf_cfi_addrframe(cfi, seg.vaddr + i, &frame) != 0 || !frame) continue;
      SyscallFrame f;
      f.file_offset = seg.offset + i + 2;
      // The return address must be where a call put it (not in a register,
      // as in vfork, which pops it before the syscall).
      int32_t ra = 0;
      bool ok = rsp_based_cfa(frame, &f.cfa_offset) && saved_at(frame, kReturnAddress, &ra) && ra == -8 &&
                saved_at(frame, kRbp, &f.rbp_offset);
      free(frame);
      if (ok) out.push_back(f);
    }
  }
  dwarf_cfi_end(cfi);
  return out;
}

}  // namespace agenttrace::collector
