// x86-64 instructions decoded with Capstone: the uprobe safety check reads
// the first instruction of a function, call-site attribution the call that
// a return address follows.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace agenttrace {

struct DecodedInstruction {
  uint64_t address = 0;
  std::string text;  // "endbr64", "push rbp", "call 0x401030"
  size_t size = 0;
  bool is_call = false;     // a call (direct or indirect)
  bool is_syscall = false;  // syscall, sysenter, int 0x80
};

// Decodes up to `count` x86-64 instructions from `code` placed at `address`.
std::vector<DecodedInstruction> decode_x86_64(const std::vector<uint8_t>& code, uint64_t address,
                                              size_t count);

// The instruction that ends exactly at `end`, a return address: `before`
// holds the bytes just before it (the last byte at end - 1). x86 cannot be
// decoded backwards, so each start from end - 2 to end - 15 is tried and the
// shortest call (or syscall) that ends at `end` wins; nullopt when none does.
std::optional<DecodedInstruction> instruction_before(const std::vector<uint8_t>& before, uint64_t end);

}  // namespace agenttrace
