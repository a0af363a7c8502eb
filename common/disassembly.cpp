#include "common/disassembly.h"

#include <capstone/capstone.h>

namespace agenttrace {

namespace {

// One Capstone handle per thread, with instruction groups (call, int) on.
class Handle {
 public:
  Handle() {
    ok_ = cs_open(CS_ARCH_X86, CS_MODE_64, &h_) == CS_ERR_OK;
    if (ok_) cs_option(h_, CS_OPT_DETAIL, CS_OPT_ON);
  }
  ~Handle() {
    if (ok_) cs_close(&h_);
  }
  bool ok() const { return ok_; }
  csh get() const { return h_; }

 private:
  csh h_ = 0;
  bool ok_ = false;
};

csh handle() {
  thread_local Handle h;
  return h.ok() ? h.get() : 0;
}

DecodedInstruction convert(csh h, const cs_insn& insn) {
  DecodedInstruction d;
  d.address = insn.address;
  d.size = insn.size;
  d.text = insn.mnemonic;
  if (insn.op_str[0]) {
    d.text += ' ';
    d.text += insn.op_str;
  }
  d.is_call = cs_insn_group(h, &insn, CS_GRP_CALL);
  d.is_syscall = insn.id == X86_INS_SYSCALL || insn.id == X86_INS_SYSENTER ||
                 (insn.id == X86_INS_INT && insn.size == 2 && insn.bytes[1] == 0x80);
  return d;
}

}  // namespace

std::vector<DecodedInstruction> decode_x86_64(const std::vector<uint8_t>& code, uint64_t address,
                                              size_t count) {
  std::vector<DecodedInstruction> out;
  csh h = handle();
  if (!h) return out;
  cs_insn* insn = nullptr;
  size_t n = cs_disasm(h, code.data(), code.size(), address, count, &insn);
  for (size_t i = 0; i < n; ++i) out.push_back(convert(h, insn[i]));
  if (insn) cs_free(insn, n);
  return out;
}

std::optional<DecodedInstruction> instruction_before(const std::vector<uint8_t>& before, uint64_t end) {
  csh h = handle();
  if (!h) return std::nullopt;
  constexpr size_t kMaxInstruction = 15;
  for (size_t len = 2; len <= kMaxInstruction && len <= before.size(); ++len) {
    const uint8_t* start = before.data() + before.size() - len;
    cs_insn* insn = nullptr;
    size_t n = cs_disasm(h, start, len, end - len, 1, &insn);
    std::optional<DecodedInstruction> found;
    if (n == 1 && insn[0].size == len) {
      DecodedInstruction d = convert(h, insn[0]);
      if (d.is_call || d.is_syscall) found = std::move(d);
    }
    if (insn) cs_free(insn, n);
    if (found) return found;
  }
  return std::nullopt;
}

}  // namespace agenttrace
