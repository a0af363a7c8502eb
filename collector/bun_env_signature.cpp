#include "collector/bun_env_signature.h"

#include <cstring>
#include <map>
#include <set>

#include "collector/ssl_signature_steps.h"

namespace agenttrace::collector {

namespace {

using ssl_signature::Capstone;
using ssl_signature::CodeWindow;
using ssl_signature::hex;
using ssl_signature::Image;
using ssl_signature::le32;

constexpr char kFirstName[] = "NODE_TLS_REJECT_UNAUTHORIZED";
constexpr char kSecondName[] = "BUN_CONFIG_VERBOSE_FETCH";
constexpr size_t kMaxStrings = 16;
constexpr size_t kMaxReferences = 64;
constexpr uint64_t kAnchorWindow = 16 << 10;  // createEnvironmentVariablesMap's code after its first name
constexpr uint64_t kGetterWindow = 2048;      // a getter is small
constexpr size_t kArgWindow = 6;              // the lea of &name and &value come right before the call
constexpr size_t kEntryInsns = 24;            // where the ZigString is read
constexpr size_t kMinGetters = 3;
constexpr uint64_t kZigStringAddressMask = (1ull << 53) - 1;
constexpr int64_t kZigStringUtf8Bit = 61;

// Whole NUL-terminated occurrences of `name` outside executable segments.
std::vector<uint64_t> find_whole_strings(const Image& image, const char* name) {
  std::vector<uint64_t> out;
  const size_t len = strlen(name) + 1;  // with the NUL
  for (const auto& seg : image.segs) {
    if (seg.executable) continue;
    ssl_signature::for_each_piece(image, seg, [&](const uint8_t* p, size_t size, size_t count, uint64_t va) {
      for (const uint8_t* at = p;;) {
        auto* hit = static_cast<const uint8_t*>(memmem(at, size - static_cast<size_t>(at - p), name, len));
        if (!hit || static_cast<size_t>(hit - p) >= count) break;
        uint64_t hit_va = va + static_cast<uint64_t>(hit - p);
        bool whole = hit_va == seg.vaddr;
        if (!whole) {
          auto before = image.elf.read(seg.offset + (hit_va - seg.vaddr) - 1, 1);
          whole = before.size() == 1 && before[0] == 0;
        }
        if (whole) out.push_back(hit_va);
        if (out.size() > kMaxStrings) return false;
        at = hit + 1;
      }
      return true;
    });
  }
  return out;
}

// Byte positions in executable code holding one of `strings` as a 32-bit
// absolute address or as a RIP-relative displacement ending there (an
// instruction's last four bytes); decoding decides which are real.
std::vector<uint64_t> find_reference_bytes(const Image& image, const std::vector<uint64_t>& strings) {
  std::vector<uint64_t> out;
  std::set<uint64_t> wanted(strings.begin(), strings.end());
  for (const auto& seg : image.segs) {
    if (!seg.executable) continue;
    ssl_signature::for_each_piece(image, seg, [&](const uint8_t* p, size_t size, size_t count, uint64_t va) {
      for (size_t i = 0; i < count && i + 4 <= size; ++i) {
        uint32_t v = le32(p + i);
        uint64_t pos = va + i;
        uint64_t rel = pos + 4 + static_cast<uint64_t>(static_cast<int64_t>(static_cast<int32_t>(v)));
        if (wanted.count(v) || wanted.count(rel)) out.push_back(pos);
        if (out.size() > kMaxReferences) return false;
      }
      return true;
    });
  }
  return out;
}

// The instruction holding reference bytes at `pos` that loads the address
// `target` (an immediate, or a RIP-relative operand): its address, or 0.
uint64_t instruction_loading(const Image& image, Capstone& cs, uint64_t pos, uint64_t target) {
  const LoadSegment* seg = image.executable_segment_of(pos);
  if (!seg) return 0;
  CodeWindow w = ssl_signature::read_code(image, *seg, pos - 12, pos + 16);
  for (uint64_t start = pos - 1; start + 12 >= pos && w.has(start); --start) {
    const cs_insn* in = cs.decode(w, start);
    if (!in || in->address + in->size < pos + 4 || !in->detail) continue;
    const cs_x86& x = in->detail->x86;
    for (int k = 0; k < x.op_count; ++k) {
      const cs_x86_op& op = x.operands[k];
      if (op.type == X86_OP_IMM && static_cast<uint64_t>(op.imm) == target) return in->address;
      if (op.type == X86_OP_MEM && op.mem.base == X86_REG_RIP &&
          in->address + in->size + static_cast<uint64_t>(op.mem.disp) == target)
        return in->address;
    }
  }
  return 0;
}

bool is_stack_register(unsigned reg) { return reg == X86_REG_RBP || reg == X86_REG_RSP; }

// What one stretch of decoded code does that the signature asks about.
struct Stretch {
  std::vector<uint64_t> constants;  // immediates of non-branch instructions
  std::set<uint64_t> rip_refs;      // addresses of RIP-relative operands
  // Direct calls with rsi and rdx set to stack addresses just before: callee.
  std::set<uint64_t> name_value_calls;
  bool reads_len = false, reads_ptr = false, masks = false, tests_utf8 = false;  // a ZigString from rsi
};

// Decodes linearly from `from` for at most `bytes` bytes or `max_insns`
// instructions, to int3 padding or an undecodable byte.
Stretch decode_stretch(const Image& image, Capstone& cs, uint64_t from, uint64_t bytes, size_t max_insns) {
  Stretch s;
  const LoadSegment* seg = image.executable_segment_of(from);
  if (!seg) return s;
  CodeWindow w = ssl_signature::read_code(image, *seg, from, from + bytes);
  uint64_t lea_rsi_at = 0, lea_rdx_at = 0;
  size_t n = 0;
  for (uint64_t at = from; n < max_insns; ++n) {
    const cs_insn* in = cs.decode(w, at);
    if (!in || in->id == X86_INS_INT3 || !in->detail) break;
    const cs_x86& x = in->detail->x86;
    bool branch = cs_insn_group(cs.handle(), in, X86_GRP_JUMP) || cs_insn_group(cs.handle(), in, X86_GRP_CALL);
    for (int k = 0; k < x.op_count; ++k) {
      const cs_x86_op& op = x.operands[k];
      if (op.type == X86_OP_IMM && !branch) s.constants.push_back(static_cast<uint64_t>(op.imm));
      if (op.type == X86_OP_MEM && op.mem.base == X86_REG_RIP)
        s.rip_refs.insert(in->address + in->size + static_cast<uint64_t>(op.mem.disp));
      if (op.type == X86_OP_MEM && op.mem.base == X86_REG_RSI && op.mem.index == X86_REG_INVALID &&
          in->id == X86_INS_MOV && k == 1) {
        if (op.mem.disp == 8) s.reads_len = true;
        if (op.mem.disp == 0) s.reads_ptr = true;
      }
    }
    if (in->id == X86_INS_MOVABS && x.op_count == 2 && x.operands[1].type == X86_OP_IMM &&
        static_cast<uint64_t>(x.operands[1].imm) == kZigStringAddressMask)
      s.masks = true;
    if (in->id == X86_INS_BT && x.op_count == 2 && x.operands[1].type == X86_OP_IMM &&
        x.operands[1].imm == kZigStringUtf8Bit)
      s.tests_utf8 = true;
    if (in->id == X86_INS_LEA && x.op_count == 2 && x.operands[0].type == X86_OP_REG &&
        is_stack_register(x.operands[1].mem.base)) {
      if (x.operands[0].reg == X86_REG_RSI) lea_rsi_at = n + 1;
      if (x.operands[0].reg == X86_REG_RDX) lea_rdx_at = n + 1;
    }
    if (in->id == X86_INS_CALL && x.op_count == 1 && x.operands[0].type == X86_OP_IMM && lea_rsi_at &&
        lea_rdx_at && n + 1 - lea_rsi_at <= kArgWindow && n + 1 - lea_rdx_at <= kArgWindow)
      s.name_value_calls.insert(static_cast<uint64_t>(x.operands[0].imm));
    if (in->id == X86_INS_CALL) lea_rsi_at = lea_rdx_at = 0;
    at = in->address + in->size;
  }
  return s;
}

}  // namespace

std::vector<LocatedFunction> locate_bun_env_function(const ElfFile& elf, std::string* why) {
  auto fail = [&](std::string reason) {
    *why = std::move(reason);
    return std::vector<LocatedFunction>{};
  };
  if (!elf.is_64bit_x86()) return fail("the executable is not x86-64, where Bun__getEnvValue's signature is known");
  const Image image(elf);
  auto first = find_whole_strings(image, kFirstName);
  auto second = find_whole_strings(image, kSecondName);
  if (first.empty() || second.empty() || first.size() > kMaxStrings || second.size() > kMaxStrings)
    return fail("the executable does not hold Bun's process.env names (NODE_TLS_REJECT_UNAUTHORIZED, "
                "BUN_CONFIG_VERBOSE_FETCH) once each as whole strings, so its process.env getter cannot be found");
  Capstone cs(true);
  if (!cs.ok()) return fail("the disassembler is unusable");

  std::set<uint64_t> second_set(second.begin(), second.end());
  std::map<uint64_t, std::string> found;  // Bun__getEnvValue candidates -> evidence
  auto refs = find_reference_bytes(image, first);
  if (refs.size() > kMaxReferences) return fail("the process.env names are referenced too often to tell the getter");
  std::set<uint64_t> anchors;
  for (uint64_t pos : refs)
    for (uint64_t s : first)
      if (uint64_t at = instruction_loading(image, cs, pos, s)) anchors.insert(at);
  for (uint64_t anchor : anchors) {
    Stretch code = decode_stretch(image, cs, anchor, kAnchorWindow, kAnchorWindow);
    bool has_second = false;
    for (uint64_t c : code.constants) has_second |= second_set.count(c) > 0;
    for (uint64_t r : code.rip_refs) has_second |= second_set.count(r) > 0;
    if (!has_second) continue;
    // The custom getters it passes to CustomGetterSetter::create, and what
    // they call with (&name, &value).
    std::map<uint64_t, std::set<uint64_t>> callers;  // callee -> getters
    std::set<uint64_t> entries;
    for (uint64_t c : code.constants) {
      if (c % 16 != 0 || !image.executable_segment_of(c) || entries.count(c)) continue;
      if (!check_signature_target(elf, c).empty()) continue;
      entries.insert(c);
      for (uint64_t callee : decode_stretch(image, cs, c, kGetterWindow, kGetterWindow).name_value_calls)
        callers[callee].insert(c);
    }
    for (const auto& [callee, getters] : callers) {
      if (getters.size() < kMinGetters || entries.count(callee)) continue;
      if (!check_signature_target(elf, callee).empty()) continue;
      Stretch entry = decode_stretch(image, cs, callee, 256, kEntryInsns);
      if (!(entry.reads_len && entry.reads_ptr && entry.masks && entry.tests_utf8)) continue;
      found[callee] = "the process.env names' strings are made by the code at " + hex(anchor) + ", which passes " +
                      std::to_string(entries.size()) + " functions to CustomGetterSetter::create, " +
                      std::to_string(getters.size()) + " of which call " + hex(callee) +
                      " with (&name, &value) on their stack; it reads a ZigString from its second argument "
                      "(length at +8, address masked by 0x1fffffffffffff, UTF-8 tag bit 61)";
    }
  }
  if (found.empty())
    return fail("no function of this Bun executable matches Bun__getEnvValue's signature (the process.env "
                "getters' common callee reading a ZigString), so process.env reads cannot be probed");
  if (found.size() > 1)
    return fail("more than one function matches Bun__getEnvValue's signature, so none is probed");
  auto offset = elf.file_offset_of(found.begin()->first);
  if (!offset) return fail("the located Bun__getEnvValue has no bytes in the file");
  LocatedFunction f;
  f.name = kBunEnvFunction;
  f.address = found.begin()->first;
  f.file_offset = *offset;
  f.evidence = found.begin()->second;
  why->clear();
  return {f};
}

}  // namespace agenttrace::collector
