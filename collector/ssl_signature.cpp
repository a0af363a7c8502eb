#include "collector/ssl_signature.h"

#include <string.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>

#include "collector/ssl_signature_steps.h"

namespace agenttrace::collector {

namespace ssl_signature {

namespace {

// BoringSSL's error codes (include/openssl/err.h and ssl.h). They are part
// of its ABI and never renumbered, unlike source lines.
constexpr int64_t kErrLibSsl = 16;
constexpr int64_t kShouldNotHaveBeenCalled = 66;  // ERR_R_SHOULD_NOT_HAVE_BEEN_CALLED
constexpr int64_t kUninitialized = 226;           // SSL_R_UNINITIALIZED
constexpr int64_t kHandshakeFailure = 215;        // SSL_R_SSL_HANDSHAKE_FAILURE
constexpr int64_t kBadLength = 111;               // SSL_R_BAD_LENGTH

// __FILE__ of ssl/ssl_lib.cc as the build spelled it, e.g.
// "../../vendor/boringssl/ssl/ssl_lib.cc"; the NUL makes it a whole name.
constexpr char kSourceSuffix[] = "ssl/ssl_lib.cc";

constexpr uint64_t kMaxFunction = 64 << 10;  // farthest an entry is looked for, and decoded
// Padding boundaries tried behind a site (a 0xcc byte inside an instruction
// can fake one), and how many of those that decode to the site are kept.
constexpr size_t kMaxEntryCandidates = 16;
constexpr size_t kMaxSweepsPerSite = 4;
constexpr size_t kMaxStrings = 16;
constexpr size_t kMaxCallersChecked = 16;  // direct calls decoded in context per candidate
// SSL_write and SSL_read open with their checks: the first error site comes
// within this many instructions of the entry, and the whole function is small.
constexpr size_t kEntryWindow = 32;
constexpr uint64_t kMaxMatchedFunction = 2048;
// Source lines of one function's checks are close together.
constexpr int64_t kMaxLineSpan = 64;
// ssl_read_impl's checks precede SSL_peek's in ssl_lib.cc.
constexpr int64_t kMaxReadImplDistance = 200;
// How far from an error site the arguments of its ERR_put_error call are set.
constexpr size_t kArgWindow = 12;

// Argument registers of ERR_put_error(library, unused, reason, file, line).
enum ArgSlot { kRdi, kRsi, kRdx, kRcx, kR8, kSlots };

int arg_slot(unsigned reg) {
  switch (reg) {
    case X86_REG_RDI: case X86_REG_EDI: case X86_REG_DI: case X86_REG_DIL: return kRdi;
    case X86_REG_RSI: case X86_REG_ESI: case X86_REG_SI: case X86_REG_SIL: return kRsi;
    case X86_REG_RDX: case X86_REG_EDX: case X86_REG_DX: case X86_REG_DL: case X86_REG_DH: return kRdx;
    case X86_REG_RCX: case X86_REG_ECX: case X86_REG_CX: case X86_REG_CL: case X86_REG_CH: return kRcx;
    case X86_REG_R8: case X86_REG_R8D: case X86_REG_R8W: case X86_REG_R8B: return kR8;
    default: return -1;
  }
}

Insn summarize(const Capstone& cs, const cs_insn* in) {
  Insn out;
  out.address = in->address;
  out.size = static_cast<uint8_t>(in->size);
  const cs_x86& x = in->detail->x86;
  out.is_int3 = in->id == X86_INS_INT3;
  out.is_ret = in->id == X86_INS_RET || in->id == X86_INS_RETF;
  out.is_call = in->id == X86_INS_CALL;
  out.is_jmp = in->id == X86_INS_JMP;
  out.is_cond_jump = !out.is_jmp && cs_insn_group(cs.handle(), in, X86_GRP_JUMP);
  if ((out.is_call || out.is_jmp || out.is_cond_jump) && x.op_count == 1 && x.operands[0].type == X86_OP_IMM)
    out.target = static_cast<uint64_t>(x.operands[0].imm);
  for (uint8_t i = 0; i < x.op_count; ++i) {
    const cs_x86_op& op = x.operands[i];
    if (op.type == X86_OP_MEM) {
      if (op.mem.base == X86_REG_RIP && op.mem.index == X86_REG_INVALID)
        out.rip_ref = in->address + in->size + static_cast<uint64_t>(op.mem.disp);
      if ((op.access & CS_AC_WRITE) && op.mem.base != X86_REG_RSP && op.mem.base != X86_REG_RBP)
        out.writes_heap = true;
    } else if (op.type == X86_OP_IMM) {
      out.imm_ref = static_cast<uint64_t>(op.imm);
    }
  }
  cs_regs read_regs, write_regs;
  uint8_t n_read = 0, n_write = 0;
  if (cs_regs_access(cs.handle(), in, read_regs, &n_read, write_regs, &n_write) == CS_ERR_OK) {
    for (uint8_t i = 0; i < n_write; ++i)
      if (int s = arg_slot(write_regs[i]); s >= 0) out.writes |= 1u << s;
  }
  if (x.op_count == 2 && x.operands[0].type == X86_OP_REG) {
    unsigned dst = x.operands[0].reg;
    bool whole = dst == X86_REG_RDI || dst == X86_REG_EDI || dst == X86_REG_RSI ||
                 dst == X86_REG_ESI || dst == X86_REG_RDX || dst == X86_REG_EDX ||
                 dst == X86_REG_RCX || dst == X86_REG_ECX || dst == X86_REG_R8 ||
                 dst == X86_REG_R8D;
    if (whole && in->id == X86_INS_MOV && x.operands[1].type == X86_OP_IMM) {
      out.imm_slot = arg_slot(dst);
      out.imm = x.operands[1].imm;
    } else if (whole && in->id == X86_INS_XOR && x.operands[1].type == X86_OP_REG &&
               x.operands[1].reg == dst) {
      out.imm_slot = arg_slot(dst);
      out.imm = 0;
    }
    bool rcx_or_rdx = dst == X86_REG_ECX || dst == X86_REG_RCX || dst == X86_REG_EDX ||
                      dst == X86_REG_RDX;
    if (rcx_or_rdx && ((in->id == X86_INS_MOV && x.operands[1].type == X86_OP_IMM) ||
                       (in->id == X86_INS_LEA && out.rip_ref != 0)))
      out.file_slot = arg_slot(dst);
  }
  return out;
}

size_t index_of(const std::vector<Insn>& insns, uint64_t address) {
  auto it = std::lower_bound(insns.begin(), insns.end(), address,
                             [](const Insn& i, uint64_t a) { return i.address < a; });
  return it != insns.end() && it->address == address ? static_cast<size_t>(it - insns.begin())
                                                     : insns.size();
}

// Reads ERR_put_error's arguments around the file-name load at insns[i]:
// forward to the call (following one unconditional jmp to a shared call),
// and backward to the start of the basic block for what was set before.
//
// Two layouts occur. As declared, ERR_put_error(library, unused, reason,
// file, line) takes the file in rcx. When link-time optimization drops the
// unused parameter (Bun 1.1 to 1.3 are built so), it is
// (library, reason, file, line) and the file is in rdx.
ErrorSite parse_site(const Function& f, const std::vector<bool>& block_start, size_t i) {
  ErrorSite site;
  site.address = f.insns[i].address;
  const int file_slot = f.insns[i].file_slot;
  const bool declared = file_slot == kRcx;
  const int reason_slot = declared ? kRdx : kRsi;
  const int line_slot = declared ? kR8 : kRcx;
  enum State { kUnset, kKnown, kClobbered };
  State state[kSlots] = {kUnset, kUnset, kUnset, kUnset, kUnset};
  state[file_slot] = kKnown;
  int64_t value[kSlots] = {};
  auto apply = [&](const Insn& in, bool override) {
    for (int s = 0; s < kSlots; ++s) {
      if (!(in.writes & (1u << s))) continue;
      if (!override && state[s] != kUnset) continue;
      if (s == file_slot) {  // the file name must reach the call untouched
        state[s] = kClobbered;
      } else if (in.imm_slot == s) {
        state[s] = kKnown;
        value[s] = in.imm;
      } else {
        state[s] = kClobbered;
      }
    }
  };
  auto is_control = [](const Insn& in) {
    return in.is_call || in.is_jmp || in.is_cond_jump || in.is_ret || in.is_int3;
  };
  const auto& insns = f.insns;
  uint64_t callee = 0;
  for (size_t j = i + 1; j < insns.size() && j <= i + kArgWindow; ++j) {
    const Insn& in = insns[j];
    if (in.is_call) {
      callee = in.target;
      break;
    }
    if (in.is_jmp && in.target) {
      size_t t = index_of(insns, in.target);
      for (size_t k = t; k < insns.size() && k < t + 6; ++k) {
        if (insns[k].is_call) {
          callee = insns[k].target;
          break;
        }
        if (is_control(insns[k]) || insns[k].writes) break;  // not a bare shared call
      }
      break;
    }
    if (is_control(in)) break;
    apply(in, true);
  }
  // Backward: later writes (already applied) win; stop where another path
  // could enter, since its registers would not be these.
  for (size_t k = i; k > 0 && k + kArgWindow > i; --k) {
    if (block_start[k]) break;
    const Insn& in = insns[k - 1];
    if (is_control(in)) break;
    apply(in, false);
  }
  site.callee = callee;
  bool unused_zero = !declared || (state[kRsi] == kKnown && value[kRsi] == 0);
  if (callee && state[file_slot] == kKnown && state[kRdi] == kKnown && value[kRdi] == kErrLibSsl &&
      unused_zero && state[reason_slot] == kKnown && state[line_slot] == kKnown) {
    site.reason = value[reason_slot];
    site.line = value[line_slot];
    site.parsed = true;
  }
  return site;
}

std::vector<int64_t> reasons_of(const Function& f) {
  std::vector<const ErrorSite*> by_line;
  for (const auto& s : f.sites) by_line.push_back(&s);
  std::sort(by_line.begin(), by_line.end(),
            [](const ErrorSite* a, const ErrorSite* b) { return a->line < b->line; });
  std::vector<int64_t> out;
  for (const auto* s : by_line) out.push_back(s->reason);
  return out;
}

std::pair<int64_t, int64_t> line_range(const Function& f) {
  int64_t lo = INT64_MAX, hi = INT64_MIN;
  for (const auto& s : f.sites) {
    lo = std::min(lo, s.line);
    hi = std::max(hi, s.line);
  }
  return {lo, hi};
}

bool distinct_lines(const Function& f) {
  for (size_t a = 0; a < f.sites.size(); ++a)
    for (size_t b = a + 1; b < f.sites.size(); ++b)
      if (f.sites[a].line == f.sites[b].line) return false;
  return true;
}

std::string lines_text(const Function& f) {
  std::vector<int64_t> lines;
  for (const auto& s : f.sites) lines.push_back(s.line);
  std::sort(lines.begin(), lines.end());
  std::string out;
  for (int64_t l : lines) out += (out.empty() ? "" : ",") + std::to_string(l);
  return out;
}

// Whether a matched function's entry is certain: it ends where another
// function begins, is small, and falls straight into its first check.
std::string entry_problem(const Function& f) {
  if (!f.consistent) return f.problem;
  if (!f.ends_at_boundary) return "does not end where another function begins";
  if (f.end - f.start > kMaxMatchedFunction) return "is larger than BoringSSL's function";
  if (f.sites.empty()) return "has no error checks";
  size_t first = index_of(f.insns, f.sites.front().address);
  if (first >= f.insns.size() || first > kEntryWindow)
    return "does not reach its first check within " + std::to_string(kEntryWindow) + " instructions";
  for (size_t k = 0; k < first; ++k)
    if (f.insns[k].is_ret || f.insns[k].is_jmp || f.insns[k].is_int3)
      return "leaves the entry path before its first check";
  return {};
}

// Where a function's code can end: after it a new function may begin.
bool is_terminator(unsigned id) {
  return id == X86_INS_RET || id == X86_INS_RETF || id == X86_INS_RETFQ || id == X86_INS_JMP ||
         id == X86_INS_UD2;
}

Sweep sweep_from(Capstone& cs, const CodeWindow& w, uint64_t start,
                 const std::vector<uint64_t>& sites) {
  Sweep out;
  uint64_t at = start;
  bool after_terminator = false;
  while (true) {
    if (at != start && at % 16 == 0 && after_terminator && w.has(at) &&
        w.bytes[at - w.vaddr] != 0xcc)
      out.splits.push_back(at);
    const cs_insn* in = cs.decode(w, at);
    if (!in) break;
    if (in->id == X86_INS_INT3) {
      out.ends_in_padding = true;
      break;
    }
    if (std::binary_search(sites.begin(), sites.end(), at)) out.sites_hit.push_back(at);
    after_terminator = is_terminator(in->id) || (after_terminator && in->id == X86_INS_NOP);
    at += in->size;
  }
  out.end = at;
  return out;
}

// Whether linear decoding from one of the nearest int3-padding boundaries
// behind `address` reaches it as an instruction start, and whether the
// instruction before it (nops aside) is then a ret or jmp. Bytes that only
// Calls visit(a, back) for the 16-byte aligned addresses `a` at or behind
// `address`, nearest first and at most kMaxFunction back, that begin the
// segment or follow int3 padding (where a function can begin), until visit
// returns false. `back` holds the bytes from before the farthest of them to
// `address`.
template <typename Visit>
void for_each_boundary_behind(const Image& image, const LoadSegment& seg, uint64_t address,
                              Visit&& visit) {
  uint64_t low = address > seg.vaddr + kMaxFunction ? address - kMaxFunction : seg.vaddr;
  CodeWindow back = read_code(image, seg, low > seg.vaddr ? low - 1 : low, address + 1);
  // a <= address: a step below 0 wraps around.
  for (uint64_t a = address & ~uint64_t{15}; a >= low && a <= address; a -= 16) {
    bool after_padding =
        a == seg.vaddr || (back.has(a - 1) && back.bytes[a - 1 - back.vaddr] == 0xcc);
    if (after_padding && !visit(a, back)) return;
  }
}

// Whether linear decoding from one of the nearest int3-padding boundaries
// behind `address` reaches it as an instruction start, and whether the
// instruction before it (nops aside) is then a ret or jmp. Bytes that only
// look like an instruction (inside another one) are not reached.
struct Reach {
  bool reached = false, after_terminator = false;
};

Reach reach_from_padding(const Image& image, const LoadSegment& seg, Capstone& cs, uint64_t address) {
  Reach out;
  size_t looked = 0;
  for_each_boundary_behind(image, seg, address, [&](uint64_t a, const CodeWindow&) {
    if (a == address) {
      out.reached = true;
      return false;
    }
    ++looked;
    CodeWindow w = read_code(image, seg, a, address + 16);
    Sweep sweep = sweep_from(cs, w, a, {address});
    if (!sweep.sites_hit.empty()) {
      out.reached = true;
      out.after_terminator = std::binary_search(sweep.splits.begin(), sweep.splits.end(), address);
      return false;
    }
    return looked < kMaxEntryCandidates;
  });
  return out;
}

bool writes_heap(const Function& f) {
  for (const auto& in : f.insns)
    if (in.writes_heap) return true;
  return false;
}

// 5a's parts. Each site's function and where it ends (see build_functions),
// decoded; entry_of_site gets the entry each site chose.
std::map<uint64_t, Function> delimit_functions(const Image& image, Capstone& full,
                                               const EntryCandidates& candidates,
                                               CallTargets& calls,
                                               std::map<uint64_t, uint64_t>* entry_of_site) {
  std::map<uint64_t, Function> functions;
  for (const auto& [site, reaching] : candidates.sweeps_of) {
    for (uint64_t pad_entry : reaching) {
      const Sweep& sweep = candidates.sweeps.at(pad_entry);
      uint64_t entry = 0;
      auto after = std::upper_bound(sweep.splits.begin(), sweep.splits.end(), site);
      for (auto it = after; it != sweep.splits.begin();) {
        --it;
        if (calls.called(*it)) {
          entry = *it;
          break;
        }
      }
      if (!entry && calls.called(pad_entry)) entry = pad_entry;
      if (!entry) continue;
      (*entry_of_site)[site] = entry;
      if (functions.count(entry)) break;
      Function f;
      f.start = entry;
      f.after_padding = entry == pad_entry;
      f.direct_calls = calls.confirmed_calls(entry);
      f.end = sweep.end;
      f.ends_at_boundary = sweep.ends_in_padding;
      for (auto it = after; it != sweep.splits.end(); ++it) {
        if (calls.called(*it)) {
          f.end = *it;
          f.ends_at_boundary = true;
          break;
        }
      }
      const LoadSegment* seg = image.executable_segment_of(entry);
      CodeWindow w = read_code(image, *seg, entry, f.end);
      for (uint64_t at = entry; at < f.end;) {
        const cs_insn* in = full.decode(w, at);
        if (!in) {  // the sweep decoded these bytes, so this cannot happen
          f.end = at;
          f.ends_at_boundary = false;
          break;
        }
        f.insns.push_back(summarize(full, in));
        at += in->size;
      }
      functions.emplace(entry, std::move(f));
      break;
    }
  }
  return functions;
}

// Parses f's error sites; f is not consistent when it uses the file name
// otherwise, or holds a site that chose another entry.
void read_error_sites(Function& f, const std::map<uint64_t, uint64_t>& entry_of_site,
                      const std::vector<uint64_t>& strings, const std::vector<uint64_t>& sites) {
  auto is_string = [&](uint64_t a) { return std::binary_search(strings.begin(), strings.end(), a); };
  std::vector<bool> block_start(f.insns.size(), false);
  for (const auto& in : f.insns) {
    if ((in.is_jmp || in.is_cond_jump) && in.target >= f.start && in.target < f.end) {
      size_t t = index_of(f.insns, in.target);
      if (t < f.insns.size()) {
        block_start[t] = true;
      } else {
        f.consistent = false;
        f.problem = "jumps into the middle of an instruction, so its decoding is not certain";
      }
    }
  }
  for (size_t i = 0; i < f.insns.size(); ++i) {
    const Insn& in = f.insns[i];
    bool refers = is_string(in.rip_ref) || is_string(in.imm_ref);
    if (!refers) continue;
    auto owner = entry_of_site.find(in.address);
    if (in.file_slot < 0 || owner == entry_of_site.end() || owner->second != f.start) {
      f.consistent = false;
      f.problem = "uses the ssl_lib.cc name at " + hex(in.address) + " in a way not understood";
      continue;
    }
    ErrorSite s = parse_site(f, block_start, i);
    if (!s.parsed) {
      f.consistent = false;
      f.problem = "has an error report at " + hex(in.address) + " whose arguments are not constants";
    }
    f.sites.push_back(s);
  }
  // A site of this function's code that chose another entry means the
  // two disagree about where functions begin. (Pattern hits inside other
  // instructions are byte coincidences, not sites.)
  for (uint64_t site : sites) {
    if (site < f.start || site >= f.end || index_of(f.insns, site) == f.insns.size()) continue;
    auto owner = entry_of_site.find(site);
    if (owner == entry_of_site.end() || owner->second != f.start) {
      f.consistent = false;
      f.problem = "overlaps another candidate function";
    }
  }
}

// ERR_put_error is what most error sites call; a site calling something
// else is not an OPENSSL_PUT_ERROR.
void require_common_callee(std::map<uint64_t, Function>& functions) {
  std::map<uint64_t, int> callee_votes;
  for (const auto& [entry, f] : functions)
    for (const auto& s : f.sites)
      if (s.parsed) ++callee_votes[s.callee];
  uint64_t put_error = 0;
  int best = 0;
  for (const auto& [callee, votes] : callee_votes)
    if (votes > best) best = votes, put_error = callee;
  for (auto& [entry, f] : functions) {
    for (const auto& s : f.sites) {
      if (s.parsed && s.callee != put_error) {
        f.consistent = false;
        f.problem = "has an error report at " + hex(s.address) + " that does not call ERR_put_error";
      }
    }
  }
}

bool span_ok(const Function& f, int64_t limit) {
  auto [lo, hi] = line_range(f);
  return distinct_lines(f) && hi - lo <= limit;
}

// The ssl_read_impl that `peek`, a function with SSL_peek's check, calls:
// a consistent function with SSL_R_UNINITIALIZED then
// SSL_R_SSL_HANDSHAKE_FAILURE a few lines later, both above SSL_peek's in
// ssl_lib.cc. It may contain more checks from static helpers inlined into
// it. Its match has no read set when there is none.
ReadMatch::Match read_impl_called_by(const Function& peek,
                                     const std::map<uint64_t, Function>& functions) {
  ReadMatch::Match m;
  int64_t peek_line = peek.sites.front().line;
  for (const auto& in : peek.insns) {
    auto callee = in.is_call ? functions.find(in.target) : functions.end();
    if (callee == functions.end() || !callee->second.consistent) continue;
    for (const auto& u : callee->second.sites) {
      for (const auto& h : callee->second.sites) {
        if (u.reason == kUninitialized && h.reason == kHandshakeFailure && u.line < h.line &&
            h.line - u.line <= kMaxLineSpan && h.line < peek_line &&
            peek_line - u.line <= kMaxReadImplDistance) {
          m.read = &peek;
          m.read_impl = &callee->second;
          m.read_impl_lines = std::to_string(u.line) + "," + std::to_string(h.line);
        }
      }
    }
    if (m.read) break;
  }
  return m;
}

}  // namespace

std::string hex(uint64_t v) {
  char buf[32];
  snprintf(buf, sizeof(buf), "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

const LoadSegment* Image::executable_segment_of(uint64_t address) const {
  for (const auto& s : segs)
    if (s.executable && address >= s.vaddr && address < s.vaddr + s.filesz) return &s;
  return nullptr;
}

CodeWindow read_code(const Image& image, const LoadSegment& seg, uint64_t from, uint64_t to) {
  CodeWindow w;
  uint64_t seg_end =
      seg.vaddr + std::min<uint64_t>(seg.filesz, image.file_size > seg.offset ? image.file_size - seg.offset : 0);
  from = std::max(from, seg.vaddr);
  to = std::min(to, seg_end);
  if (from >= to) return w;
  w.vaddr = from;
  w.bytes = image.elf.read(seg.offset + (from - seg.vaddr), static_cast<size_t>(to - from));
  return w;
}

Capstone::Capstone(bool detail) {
  ok_ = cs_open(CS_ARCH_X86, CS_MODE_64, &handle_) == CS_ERR_OK;
  if (!ok_) return;
  if (detail) cs_option(handle_, CS_OPT_DETAIL, CS_OPT_ON);
  insn_ = cs_malloc(handle_);
  ok_ = insn_ != nullptr;
}

Capstone::~Capstone() {
  if (insn_) cs_free(insn_, 1);
  if (handle_) cs_close(&handle_);
}

const cs_insn* Capstone::decode(const CodeWindow& w, uint64_t address) {
  if (!w.has(address)) return nullptr;
  const uint8_t* code = w.bytes.data() + (address - w.vaddr);
  size_t size = w.bytes.size() - (address - w.vaddr);
  uint64_t at = address;
  return cs_disasm_iter(handle_, &code, &size, &at, insn_) ? insn_ : nullptr;
}

std::vector<uint64_t> find_anchor_strings(const Image& image) {
  std::vector<uint64_t> strings;
  const size_t needle_len = sizeof(kSourceSuffix);  // with the NUL
  for (const auto& seg : image.segs) {
    for_each_piece(image, seg, [&](const uint8_t* p, size_t size, size_t count, uint64_t va) {
      const uint8_t* at = p;
      while (true) {
        size_t left = size - static_cast<size_t>(at - p);
        auto* hit = static_cast<const uint8_t*>(memmem(at, left, kSourceSuffix, needle_len));
        if (!hit || static_cast<size_t>(hit - p) >= count) break;
        uint64_t hit_va = va + static_cast<uint64_t>(hit - p);
        uint64_t hit_off = seg.offset + (hit_va - seg.vaddr);
        // Walk back to the NUL before the string: its first byte is what
        // OPENSSL_PUT_ERROR passes.
        size_t back = static_cast<size_t>(std::min<uint64_t>(hit_off, 4096));
        auto before = image.elf.read(hit_off - back, back);
        size_t k = before.size();
        bool whole = k == 0 || before[k - 1] == '/' || before[k - 1] == 0;
        while (k > 0 && before[k - 1] != 0 && before[k - 1] >= 0x20 && before[k - 1] < 0x7f) --k;
        if (whole && (k == 0 ? back < 4096 : before[k - 1] == 0)) {
          uint64_t start = hit_va - (before.size() - k);
          if (strings.size() < kMaxStrings && start >= seg.vaddr) strings.push_back(start);
        }
        at = hit + 1;
      }
      return true;
    });
  }
  std::sort(strings.begin(), strings.end());
  strings.erase(std::unique(strings.begin(), strings.end()), strings.end());
  return strings;
}

ErrorSiteScan find_error_sites(const Image& image, const std::vector<uint64_t>& strings) {
  auto is_string = [&](uint64_t a) { return std::binary_search(strings.begin(), strings.end(), a); };
  ErrorSiteScan out;
  std::vector<uint64_t>& sites = out.sites;
  for (const auto& seg : image.segs) {
    if (!seg.executable) continue;
    for_each_piece(image, seg, [&](const uint8_t* p, size_t size, size_t count, uint64_t va) {
      for (size_t i = 0; i < count; ++i) {
        uint64_t here = va + i;
        if ((p[i] == 0xb9 || p[i] == 0xba) && i + 5 <= size) {  // mov ecx/edx, imm32
          if (is_string(le32(p + i + 1))) sites.push_back(here);
        } else if (p[i] == 0x48 && i + 7 <= size && p[i + 1] == 0x8d &&
                   (p[i + 2] == 0x0d || p[i + 2] == 0x15)) {
          // lea rcx/rdx, [rip + disp32]
          int32_t disp = static_cast<int32_t>(le32(p + i + 3));
          if (is_string(here + 7 + static_cast<int64_t>(disp))) sites.push_back(here);
        } else if (p[i] == 0x48 && i + 7 <= size && p[i + 1] == 0xc7 &&
                   (p[i + 2] == 0xc1 || p[i + 2] == 0xc2)) {
          // mov rcx/rdx, simm32
          int32_t imm = static_cast<int32_t>(le32(p + i + 3));
          if (is_string(static_cast<uint64_t>(static_cast<int64_t>(imm)))) sites.push_back(here);
        }
        if (sites.size() > kMaxSites) {
          out.too_many = true;
          return false;
        }
      }
      return true;
    });
    if (out.too_many) break;
  }
  std::sort(sites.begin(), sites.end());
  sites.erase(std::unique(sites.begin(), sites.end()), sites.end());
  return out;
}

EntryCandidates find_entry_candidates(const Image& image, Capstone& quick,
                                      const std::vector<uint64_t>& sites) {
  EntryCandidates out;
  for (uint64_t site : sites) {
    const LoadSegment* seg = image.executable_segment_of(site);
    if (!seg) continue;
    std::vector<uint64_t>& reaching = out.sweeps_of[site];
    size_t looked = 0;
    for_each_boundary_behind(image, *seg, site, [&](uint64_t a, const CodeWindow& back) {
      if (!back.has(a) || back.bytes[a - back.vaddr] == 0xcc) return true;
      ++looked;
      auto it = out.sweeps.find(a);
      if (it == out.sweeps.end()) {
        CodeWindow w = read_code(image, *seg, a, a + kMaxFunction);
        it = out.sweeps.emplace(a, sweep_from(quick, w, a, sites)).first;
      }
      const auto& hit = it->second.sites_hit;
      if (std::binary_search(hit.begin(), hit.end(), site)) reaching.push_back(a);
      return looked < kMaxEntryCandidates && reaching.size() < kMaxSweepsPerSite;
    });
  }
  return out;
}

CallTargets::CallTargets(const Image& image, Capstone& quick, const EntryCandidates& candidates)
    : image_(image), quick_(quick) {
  for (const auto& [a, sweep] : candidates.sweeps) {
    calls_.emplace(a, Calls{});
    for (uint64_t split : sweep.splits) calls_.emplace(split, Calls{});
  }
  for (const auto& seg : image.segs) {
    if (!seg.executable || calls_.empty()) continue;
    for_each_piece(image, seg, [&](const uint8_t* p, size_t size, size_t count, uint64_t va) {
      for (size_t i = 0; i < count; ++i) {
        if (p[i] != 0xe8 || i + 5 > size) continue;
        uint64_t target = va + i + 5 + static_cast<int64_t>(static_cast<int32_t>(le32(p + i + 1)));
        auto it = calls_.find(target);
        if (it != calls_.end() && it->second.from.size() < kMaxCallersChecked)
          it->second.from.push_back(va + i);
      }
      return true;
    });
  }
}

std::vector<uint64_t> CallTargets::calls_to(uint64_t entry) const {
  auto it = calls_.find(entry);
  return it == calls_.end() ? std::vector<uint64_t>{} : it->second.from;
}

int CallTargets::confirmed_calls(uint64_t entry) {
  auto it = calls_.find(entry);
  if (it == calls_.end()) return 0;
  Calls& c = it->second;
  if (c.confirmed < 0) {
    c.confirmed = 0;
    for (uint64_t from : c.from) {
      const LoadSegment* seg = image_.executable_segment_of(from);
      if (seg && reach_from_padding(image_, *seg, quick_, from).reached) ++c.confirmed;
    }
  }
  return c.confirmed;
}

CallTargets find_call_targets(const Image& image, Capstone& quick, const EntryCandidates& candidates) {
  return CallTargets(image, quick, candidates);
}

std::map<uint64_t, Function> build_functions(const Image& image, Capstone& full,
                                             const EntryCandidates& candidates, CallTargets& calls,
                                             const std::vector<uint64_t>& strings,
                                             const std::vector<uint64_t>& sites) {
  std::map<uint64_t, uint64_t> entry_of_site;
  std::map<uint64_t, Function> functions = delimit_functions(image, full, candidates, calls, &entry_of_site);
  for (auto& [entry, f] : functions) read_error_sites(f, entry_of_site, strings, sites);
  require_common_callee(functions);
  return functions;
}

WriteMatch match_ssl_write(const std::map<uint64_t, Function>& functions) {
  const std::vector<int64_t> write_reasons = {kShouldNotHaveBeenCalled, kUninitialized,
                                              kHandshakeFailure, kBadLength};
  WriteMatch out;
  for (const auto& [entry, f] : functions) {
    if (!f.consistent || reasons_of(f) != write_reasons || !span_ok(f, kMaxLineSpan)) continue;
    if (std::string p = entry_problem(f); p.empty()) out.matches.push_back(&f);
    else out.problem = "the function at " + hex(f.start) + " with SSL_write's checks " + p;
  }
  return out;
}

ReadMatch match_ssl_read(const std::map<uint64_t, Function>& functions) {
  const std::vector<int64_t> peek_reasons = {kShouldNotHaveBeenCalled};
  ReadMatch out;
  for (const auto& [entry, f] : functions) {
    if (!f.consistent || reasons_of(f) != peek_reasons) continue;
    out.peek_check_seen = true;
    ReadMatch::Match m = read_impl_called_by(f, functions);
    if (!m.read) continue;
    // SSL_peek only copies out; SSL_read (SSL_peek inlined) then consumes
    // what it copied, which stores through the SSL object.
    if (!writes_heap(f)) {
      out.peek_like.push_back(&f);
    } else if (std::string p = entry_problem(f); p.empty()) {
      out.matches.push_back(std::move(m));
    } else {
      out.problem = "the function at " + hex(f.start) + " with SSL_read's checks " + p;
    }
  }
  return out;
}

}  // namespace ssl_signature

namespace {

using ssl_signature::hex;

// Adds f to *out as `name` when its entry passes check_signature_target;
// otherwise says why not.
std::string add_located(const ElfFile& elf, const char* name, const ssl_signature::Function& f,
                        const std::string& how, std::vector<LocatedFunction>* out) {
  if (std::string bad = check_signature_target(elf, f.start); !bad.empty()) return bad;
  LocatedFunction lf;
  lf.name = name;
  lf.address = f.start;
  lf.file_offset = elf.file_offset_of(f.start).value_or(0);
  lf.evidence = how + "; its entry " + hex(f.start) +
                (f.after_padding ? " follows int3 padding" : " directly follows the previous function's last jmp or ret") +
                ", is the target of " + std::to_string(f.direct_calls) + " direct call" +
                (f.direct_calls == 1 ? "" : "s") + " and decodes without a break to each check";
  out->push_back(std::move(lf));
  return {};
}

// Why SSL_write was not found, when it was not exactly one function.
std::string why_no_ssl_write(const ssl_signature::WriteMatch& write) {
  if (write.matches.size() > 1)
    return std::to_string(write.matches.size()) +
           " functions have SSL_write's error checks, so none is certain";
  if (!write.problem.empty()) return write.problem;
  return "no function has exactly SSL_write's ssl_lib.cc error checks (reasons 66, 226, 215, "
         "111) at a confirmed entry";
}

// Why SSL_read was not found, when it was not exactly one function.
std::string why_no_ssl_read(const ssl_signature::ReadMatch& read) {
  if (read.matches.size() > 1)
    return std::to_string(read.matches.size()) +
           " functions have SSL_read's checks and calls, so none is certain";
  if (!read.problem.empty()) return read.problem;
  if (!read.peek_like.empty())
    return "SSL_peek is a function of its own at " + hex(read.peek_like[0]->start) +
           ", and SSL_read, which only calls it, has no checks to recognize";
  if (!read.peek_check_seen)
    return "no function has exactly SSL_peek's QUIC check (reason 66) at a confirmed entry";
  return "no function with SSL_peek's QUIC check calls one with ssl_read_impl's checks "
         "(reasons 226, 215)";
}

}  // namespace

std::string check_signature_target(const ElfFile& elf, uint64_t address) {
  using namespace ssl_signature;
  std::string where = hex(address) + " in " + elf.path();
  if (!elf.is_64bit_x86()) return where + " is not x86-64 code";
  if (!elf.is_executable_address(address)) return where + " is not in an executable segment";
  const Image image(elf);
  const LoadSegment* seg = image.executable_segment_of(address);
  auto offset = elf.file_offset_of(address);
  if (!seg || !offset || *offset >= image.file_size) return where + " has no bytes in the file";
  if (address % 16 != 0) return where + " is not 16-byte aligned like a function entry";
  Capstone cs(false);
  if (!cs.ok()) return "the disassembler is unusable";
  // The code before it must end there: int3 padding, or a ret or jmp that
  // linear decoding from the padding behind it ends exactly there.
  auto before = elf.read(*offset - 1, 1);
  bool boundary = address == seg->vaddr || (before.size() == 1 && before[0] == 0xcc);
  if (!boundary) boundary = reach_from_padding(image, *seg, cs, address).after_terminator;
  if (!boundary)
    return where + " follows neither int3 padding nor the end of a ret or jmp, so it is not known "
                   "to be a function entry";
  CodeWindow w = read_code(image, *seg, address, address + 64);
  // A few whole instructions, none of them padding: the start of code.
  uint64_t at = address;
  for (int n = 0; n < 4; ++n) {
    const cs_insn* in = cs.decode(w, at);
    if (!in) return where + " does not decode as x86-64 instructions";
    if (in->id == X86_INS_INT3) return where + " is padding, not code";
    at += in->size;
  }
  return {};
}

std::vector<LocatedFunction> locate_boringssl_functions(const ElfFile& elf, std::string* why) {
  using namespace ssl_signature;
  std::string ignored;
  if (!why) why = &ignored;
  why->clear();
  const std::string& path = elf.path();
  if (!elf.is_64bit_x86()) {
    *why = path + " is not x86-64 code";
    return {};
  }
  const Image image(elf);

  const std::vector<uint64_t> strings = find_anchor_strings(image);
  if (strings.empty()) {
    *why = path + " contains no BoringSSL source name ending in " + kSourceSuffix +
           ", so there is no BoringSSL to recognize";
    return {};
  }
  const ErrorSiteScan scan = find_error_sites(image, strings);
  if (scan.too_many) {
    *why = path + " refers to ssl_lib.cc from more than " + std::to_string(kMaxSites) +
           " places, which is not BoringSSL's error reporting";
    return {};
  }
  if (scan.sites.empty()) {
    *why = path + " names ssl_lib.cc but no code passes that name to an error report";
    return {};
  }

  Capstone quick(false), full(true);
  if (!quick.ok() || !full.ok()) {
    *why = "the disassembler is unusable";
    return {};
  }
  const EntryCandidates candidates = find_entry_candidates(image, quick, scan.sites);
  CallTargets calls = find_call_targets(image, quick, candidates);
  const std::map<uint64_t, Function> functions =
      build_functions(image, full, candidates, calls, strings, scan.sites);
  const WriteMatch write = match_ssl_write(functions);
  const ReadMatch read = match_ssl_read(functions);

  std::vector<LocatedFunction> out;
  std::string write_why, read_why;
  if (write.matches.size() == 1) {
    const Function& f = *write.matches[0];
    write_why = add_located(elf, "SSL_write", f,
                            "the only function whose ssl_lib.cc error checks are SSL_write's "
                            "(reasons 66, 226, 215, 111 at lines " + lines_text(f) + ")",
                            &out);
  } else {
    write_why = why_no_ssl_write(write);
  }
  if (read.matches.size() == 1) {
    const ReadMatch::Match& m = read.matches[0];
    read_why = add_located(elf, "SSL_read", *m.read,
                           "the only function with SSL_peek's QUIC check (reason 66 at line " +
                               lines_text(*m.read) + ") that calls ssl_read_impl at " +
                               hex(m.read_impl->start) + " (reasons 226, 215 at lines " +
                               m.read_impl_lines +
                               ") and then consumes the data, i.e. SSL_read with SSL_peek inlined",
                           &out);
  } else {
    read_why = why_no_ssl_read(read);
  }

  if (out.empty()) {
    *why = path + ": " + write_why;
  } else if (!write_why.empty()) {
    *why = "SSL_write was not located in " + path + ": " + write_why;
  } else if (!read_why.empty()) {
    *why = "SSL_read was not located in " + path + ": " + read_why;
  }
  return out;
}

}  // namespace agenttrace::collector
