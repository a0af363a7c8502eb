#include "collector/bun_env_signature.h"

#include <cstring>
#include <map>
#include <optional>
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
constexpr size_t kEntryInsns = 32;            // where the ZigString is read
constexpr size_t kMinGetters = 3;
constexpr size_t kGetterEntryInsns = 40;      // where a getter reads its PropertyName
constexpr size_t kLookupInsns = 64;          // its own lookup: the name read, the map searched
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

// The 64-bit general register `reg` is part of (al, ax, eax: rax), or
// X86_REG_INVALID for any other register.
unsigned gpr64(unsigned reg) {
  static const unsigned kParts[][5] = {
      {X86_REG_RAX, X86_REG_EAX, X86_REG_AX, X86_REG_AL, X86_REG_AH},
      {X86_REG_RBX, X86_REG_EBX, X86_REG_BX, X86_REG_BL, X86_REG_BH},
      {X86_REG_RCX, X86_REG_ECX, X86_REG_CX, X86_REG_CL, X86_REG_CH},
      {X86_REG_RDX, X86_REG_EDX, X86_REG_DX, X86_REG_DL, X86_REG_DH},
      {X86_REG_RSI, X86_REG_ESI, X86_REG_SI, X86_REG_SIL, X86_REG_INVALID},
      {X86_REG_RDI, X86_REG_EDI, X86_REG_DI, X86_REG_DIL, X86_REG_INVALID},
      {X86_REG_RBP, X86_REG_EBP, X86_REG_BP, X86_REG_BPL, X86_REG_INVALID},
      {X86_REG_RSP, X86_REG_ESP, X86_REG_SP, X86_REG_SPL, X86_REG_INVALID},
      {X86_REG_R8, X86_REG_R8D, X86_REG_R8W, X86_REG_R8B, X86_REG_INVALID},
      {X86_REG_R9, X86_REG_R9D, X86_REG_R9W, X86_REG_R9B, X86_REG_INVALID},
      {X86_REG_R10, X86_REG_R10D, X86_REG_R10W, X86_REG_R10B, X86_REG_INVALID},
      {X86_REG_R11, X86_REG_R11D, X86_REG_R11W, X86_REG_R11B, X86_REG_INVALID},
      {X86_REG_R12, X86_REG_R12D, X86_REG_R12W, X86_REG_R12B, X86_REG_INVALID},
      {X86_REG_R13, X86_REG_R13D, X86_REG_R13W, X86_REG_R13B, X86_REG_INVALID},
      {X86_REG_R14, X86_REG_R14D, X86_REG_R14W, X86_REG_R14B, X86_REG_INVALID},
      {X86_REG_R15, X86_REG_R15D, X86_REG_R15W, X86_REG_R15B, X86_REG_INVALID},
  };
  if (reg == X86_REG_INVALID) return X86_REG_INVALID;
  for (const auto& parts : kParts)
    for (unsigned part : parts)
      if (part == reg) return parts[0];
  return X86_REG_INVALID;
}

// Registers a call may change (System V).
bool caller_saved(unsigned reg64) {
  switch (reg64) {
    case X86_REG_RAX: case X86_REG_RCX: case X86_REG_RDX: case X86_REG_RSI: case X86_REG_RDI:
    case X86_REG_R8: case X86_REG_R9: case X86_REG_R10: case X86_REG_R11:
      return true;
    default:
      return false;
  }
}

bool is_vector_move(unsigned id) {
  return id == X86_INS_MOVUPS || id == X86_INS_VMOVUPS || id == X86_INS_MOVAPS || id == X86_INS_VMOVAPS ||
         id == X86_INS_MOVDQU || id == X86_INS_VMOVDQU || id == X86_INS_MOVDQA || id == X86_INS_VMOVDQA;
}

// What one stretch of decoded code does that the signature asks about.
struct Stretch {
  std::vector<uint64_t> constants;  // immediates of non-branch instructions
  std::set<uint64_t> rip_refs;      // addresses of RIP-relative operands
  // Direct calls with rsi and rdx set to stack addresses just before: callee.
  std::set<uint64_t> name_value_calls;
  // A ZigString read from rsi (the second argument), through any register
  // copied from it: its length from +8, its pointer from +0, the address
  // kept by the mask 0x1fffffffffffff (movabs and `and`, or bzhi at 53 bits)
  // and the UTF-8 tag bit 61 tested (bt, or test with 1 << 61).
  bool reads_len = false, reads_ptr = false, masks = false, tests_utf8 = false;
  // Direct calls with rsi set to a stack slot holding a 16-byte copy of the
  // ZigString at rsi (Zig passing `name.*` on): callee.
  std::set<uint64_t> name_copy_calls;
  std::set<uint64_t> calls;  // every direct call's target
  // Reads through rdx (a custom getter's PropertyName, a WTF StringImpl):
  // (displacement, bytes) of each, and whether a `test` with 1 << 2 (its
  // 8-bit flag) follows one of them.
  std::set<std::pair<int64_t, int>> impl_reads;
  bool tests_8bit = false;
  bool reads_string_impl() const {
    return impl_reads.count({4, 4}) && impl_reads.count({8, 8}) && impl_reads.count({16, 4}) && tests_8bit;
  }
  // Constants stored to memory: constant -> the displacement stored at.
  std::map<uint64_t, int64_t> stored_at;
  bool reads_zig_string() const { return reads_len && reads_ptr && masks && tests_utf8; }
};

// Decodes linearly from `from` for at most `bytes` bytes or `max_insns`
// instructions, to int3 padding or an undecodable byte.
Stretch decode_stretch(const Image& image, Capstone& cs, uint64_t from, uint64_t bytes, size_t max_insns) {
  Stretch s;
  const LoadSegment* seg = image.executable_segment_of(from);
  if (!seg) return s;
  CodeWindow w = ssl_signature::read_code(image, *seg, from, from + bytes);
  uint64_t lea_rsi_at = 0, lea_rdx_at = 0, lea_copy_at = 0;
  std::set<unsigned> name_regs = {X86_REG_RSI};  // registers holding the second argument
  std::set<unsigned> impl_regs = {X86_REG_RDX};  // registers holding the third
  std::set<unsigned> flag_regs;                  // registers loaded from [impl+16]
  std::map<unsigned, std::pair<uint64_t, int>> known;  // register -> constant moved into it, bits
  std::set<unsigned> copies;                           // vector registers loaded from [name]
  std::set<std::pair<unsigned, int64_t>> copy_slots;   // stack slots they were stored to
  size_t n = 0;
  for (uint64_t at = from; n < max_insns; ++n) {
    const cs_insn* in = cs.decode(w, at);
    if (!in || in->id == X86_INS_INT3 || !in->detail) break;
    const cs_x86& x = in->detail->x86;
    bool branch = cs_insn_group(cs.handle(), in, X86_GRP_JUMP) || cs_insn_group(cs.handle(), in, X86_GRP_CALL);
    const cs_x86_op* op0 = x.op_count > 0 ? &x.operands[0] : nullptr;
    const cs_x86_op* op1 = x.op_count > 1 ? &x.operands[1] : nullptr;
    bool loaded_copy = false;
    for (int k = 0; k < x.op_count; ++k) {
      const cs_x86_op& op = x.operands[k];
      if (op.type == X86_OP_IMM && !branch) s.constants.push_back(static_cast<uint64_t>(op.imm));
      if (op.type == X86_OP_MEM && op.mem.base == X86_REG_RIP)
        s.rip_refs.insert(in->address + in->size + static_cast<uint64_t>(op.mem.disp));
      if (op.type == X86_OP_MEM && impl_regs.count(op.mem.base) && op.mem.index == X86_REG_INVALID && k == 1 &&
          in->id == X86_INS_MOV) {
        s.impl_reads.insert({op.mem.disp, op.size});
        if (op.mem.disp == 16 && op.size == 4 && op0->type == X86_OP_REG) flag_regs.insert(gpr64(op0->reg));
      }
      if (op.type == X86_OP_MEM && name_regs.count(op.mem.base) && op.mem.index == X86_REG_INVALID && k == 1) {
        if (in->id == X86_INS_MOV && op.mem.disp == 8) s.reads_len = true;
        if (in->id == X86_INS_MOV && op.mem.disp == 0) s.reads_ptr = true;
        if (is_vector_move(in->id) && op.mem.disp == 0 && op.size == 16 && op0->type == X86_OP_REG) {
          copies.insert(op0->reg);
          loaded_copy = true;
        }
      }
    }
    if (in->id == X86_INS_MOV && x.op_count == 2 && op0->type == X86_OP_MEM && op1->type == X86_OP_IMM &&
        op0->mem.base != X86_REG_RIP && op0->mem.index == X86_REG_INVALID)
      s.stored_at[static_cast<uint64_t>(op1->imm)] = op0->mem.disp;
    auto known_value = [&](const cs_x86_op* op, int bits) -> std::optional<uint64_t> {
      if (!op || op->type != X86_OP_REG) return std::nullopt;
      auto it = known.find(gpr64(op->reg));
      if (it == known.end() || it->second.second < bits) return std::nullopt;
      return it->second.first;
    };
    if (in->id == X86_INS_MOVABS && x.op_count == 2 && op1->type == X86_OP_IMM &&
        static_cast<uint64_t>(op1->imm) == kZigStringAddressMask)
      s.masks = true;
    // bzhi dst, src, idx keeps the low idx[7:0] bits.
    if (in->id == X86_INS_BZHI && x.op_count == 3 && known_value(&x.operands[2], 8) == 53u) s.masks = true;
    if (in->id == X86_INS_BT && x.op_count == 2 && op1->type == X86_OP_IMM && op1->imm == kZigStringUtf8Bit)
      s.tests_utf8 = true;
    if (in->id == X86_INS_TEST && x.op_count == 2 &&
        (known_value(op0, 64) == 1ull << kZigStringUtf8Bit || known_value(op1, 64) == 1ull << kZigStringUtf8Bit))
      s.tests_utf8 = true;
    if (in->id == X86_INS_TEST && x.op_count == 2 && op0->type == X86_OP_REG && flag_regs.count(gpr64(op0->reg)) &&
        op1->type == X86_OP_IMM && op1->imm == 4)
      s.tests_8bit = true;
    if (is_vector_move(in->id) && x.op_count == 2 && op0->type == X86_OP_MEM && op1->type == X86_OP_REG &&
        copies.count(op1->reg) && is_stack_register(op0->mem.base) && op0->mem.index == X86_REG_INVALID)
      copy_slots.insert({op0->mem.base, op0->mem.disp});
    if (in->id == X86_INS_LEA && x.op_count == 2 && op0->type == X86_OP_REG &&
        is_stack_register(op1->mem.base)) {
      if (op0->reg == X86_REG_RSI) lea_rsi_at = n + 1;
      if (op0->reg == X86_REG_RDX) lea_rdx_at = n + 1;
      if (op0->reg == X86_REG_RSI && op1->mem.index == X86_REG_INVALID &&
          copy_slots.count({op1->mem.base, op1->mem.disp}))
        lea_copy_at = n + 1;
    }
    if (in->id == X86_INS_CALL && x.op_count == 1 && op0->type == X86_OP_IMM) {
      uint64_t callee = static_cast<uint64_t>(op0->imm);
      s.calls.insert(callee);
      if (lea_rsi_at && lea_rdx_at && n + 1 - lea_rsi_at <= kArgWindow && n + 1 - lea_rdx_at <= kArgWindow)
        s.name_value_calls.insert(callee);
      if (lea_copy_at && n + 1 - lea_copy_at <= kArgWindow) s.name_copy_calls.insert(callee);
    }
    // What the registers hold afterwards.
    if (in->id == X86_INS_CALL) {
      lea_rsi_at = lea_rdx_at = lea_copy_at = 0;
      std::erase_if(name_regs, caller_saved);
      std::erase_if(impl_regs, caller_saved);
      std::erase_if(flag_regs, caller_saved);
      std::erase_if(known, [](const auto& kv) { return caller_saved(kv.first); });
      copies.clear();
    } else if (op0 && op0->type == X86_OP_REG && (op0->access & CS_AC_WRITE)) {
      unsigned dst = gpr64(op0->reg);
      // An argument register stays followed through a whole-register copy.
      auto follow = [&](std::set<unsigned>& regs) {
        if (in->id == X86_INS_MOV && op1 && op1->type == X86_OP_REG && regs.count(op1->reg) &&
            op1->reg == gpr64(op1->reg))
          regs.insert(dst);
        else
          regs.erase(dst);
      };
      follow(name_regs);
      follow(impl_regs);
      bool loads_flags = op1 && op1->type == X86_OP_MEM && impl_regs.count(op1->mem.base) && op1->mem.disp == 16;
      if (!loads_flags) flag_regs.erase(dst);
      known.erase(dst);
      if ((in->id == X86_INS_MOV || in->id == X86_INS_MOVABS) && op1 && op1->type == X86_OP_IMM &&
          dst != X86_REG_INVALID)
        known[dst] = {static_cast<uint64_t>(op1->imm), op0->size * 8};
      if (!loaded_copy) copies.erase(op0->reg);
    }
    at = in->address + in->size;
  }
  return s;
}

}  // namespace

std::vector<LocatedFunction> locate_bun_env_function(const ElfFile& elf, std::string* why, std::string* unseen) {
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
  std::map<uint64_t, std::string> unseen_by;  // candidates -> the getters that bypass them, unprobed
  std::map<uint64_t, std::vector<uint64_t>> getters_by;
  std::map<uint64_t, uint64_t> found_anchor;  // candidates -> the bypassing getters probed
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
    std::map<uint64_t, std::set<uint64_t>> entries;  // entry -> what it calls
    for (uint64_t c : code.constants) {
      if (c % 16 != 0 || !image.executable_segment_of(c) || entries.count(c)) continue;
      if (!check_signature_target(elf, c).empty()) continue;
      Stretch getter = decode_stretch(image, cs, c, kGetterWindow, kGetterWindow);
      entries[c] = getter.calls;
      for (uint64_t callee : getter.name_value_calls) callers[callee].insert(c);
    }
    for (const auto& [callee, getters] : callers) {
      if (getters.size() < kMinGetters || entries.count(callee)) continue;
      if (!check_signature_target(elf, callee).empty()) continue;
      Stretch entry = decode_stretch(image, cs, callee, 256, kEntryInsns);
      std::string reads;
      if (entry.reads_zig_string()) {
        reads = "it reads a ZigString from its second argument";
      } else {
        // Older builds pass a copy of the ZigString on to ZigString.toSlice.
        for (uint64_t next : entry.name_copy_calls)
          if (decode_stretch(image, cs, next, 256, kEntryInsns).reads_zig_string()) {
            reads = "it copies the ZigString of its second argument and passes the copy to " + hex(next) +
                    ", which reads it";
            break;
          }
      }
      if (reads.empty()) continue;
      // A getter that calls two or more of the functions its lookup calls,
      // and not it, does the same lookup itself (Bun 1.3's proxy variables'
      // getter). The getters are told from the setters by where they are
      // stored: CustomGetterSetter::create, inlined, keeps the getter at +8
      // and the setter at +16.
      std::set<uint64_t> own = decode_stretch(image, cs, callee, kGetterWindow, kLookupInsns).calls;
      std::vector<uint64_t> bypass;
      for (const auto& [e, calls] : entries) {
        auto slot = code.stored_at.find(e);
        if (getters.count(e) || calls.count(callee) || slot == code.stored_at.end() || slot->second != 8) continue;
        size_t shared = 0;
        for (uint64_t t : calls) shared += own.count(t);
        if (shared >= 2) bypass.push_back(e);
      }
      // Such a getter is probed itself when its first instructions read
      // the PropertyName it is given the way the BPF program does.
      std::vector<uint64_t> unprobed;
      for (uint64_t e : bypass) {
        if (decode_stretch(image, cs, e, 512, kGetterEntryInsns).reads_string_impl())
          getters_by[callee].push_back(e);
        else
          unprobed.push_back(e);
      }
      std::string& bypassing = unseen_by[callee];
      for (uint64_t e : unprobed) bypassing += (bypassing.empty() ? "" : ", ") + hex(e);
      if (!unprobed.empty())
        bypassing = std::to_string(unprobed.size()) + " other process.env getter" +
                    (unprobed.size() > 1 ? "s" : "") + " (" + bypassing + ") look" +
                    (unprobed.size() > 1 ? "" : "s") +
                    " variables up without calling Bun__getEnvValue, making the same calls it makes, so the "
                    "reads " + (unprobed.size() > 1 ? "they serve" : "it serves") + " are not seen";
      found_anchor[callee] = anchor;
      found[callee] = "the process.env names' strings are made by the code at " + hex(anchor) + ", which passes " +
                      std::to_string(entries.size()) + " functions to CustomGetterSetter::create, " +
                      std::to_string(getters.size()) + " of which call " + hex(callee) +
                      " with (&name, &value) on their stack; " + reads +
                      " (length at +8, address masked to 53 bits, UTF-8 tag bit 61)";
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
  if (unseen) *unseen = unseen_by[f.address];
  std::vector<LocatedFunction> out = {f};
  for (uint64_t e : getters_by[f.address]) {
    auto at = elf.file_offset_of(e);
    if (!at) continue;
    LocatedFunction g;
    g.name = kBunEnvGetterFunction;
    g.address = e;
    g.file_offset = *at;
    g.evidence = "a getter the process.env code at " + hex(found_anchor[f.address]) +
                 " passes to CustomGetterSetter::create makes the calls " + hex(f.address) +
                 " makes without calling it, and reads its PropertyName as a WTF StringImpl (length at +4, "
                 "characters at +8, flags at +16 tested for 8-bit)";
    out.push_back(g);
  }
  return out;
}

}  // namespace agenttrace::collector
