// The steps of locate_boringssl_functions (ssl_signature.h says what it
// finds and why a match is certain), each with its input and output, so
// that each can be tested on its own:
//   1. find_anchor_strings: where the ssl_lib.cc file name is;
//   2. find_error_sites: code that loads that name where ERR_put_error
//      takes it (byte patterns);
//   3. find_entry_candidates: where the function around each site can
//      begin, confirmed by decoding to the site;
//   4. find_call_targets: which candidates are targets of direct calls;
//   5. build_functions, then match_ssl_write and match_ssl_read: each
//      site's function with its parsed error checks, and the signatures.
#pragma once

#include <capstone/capstone.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/elf_file.h"

namespace agenttrace::collector::ssl_signature {

// "0x1a2b": an address in a sentence.
std::string hex(uint64_t v);

inline uint32_t le32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8 |
         static_cast<uint32_t>(p[2]) << 16 | static_cast<uint32_t>(p[3]) << 24;
}

constexpr size_t kChunk = 4 << 20;  // bytes read at a time: memory stays bounded
constexpr size_t kOverlap = 16;     // a chunk also shows this much of the next

// More references to the file name than this are not BoringSSL's error
// reporting (it has a few hundred error checks in ssl_lib.cc).
constexpr size_t kMaxSites = 4096;

// The executable as the steps read it: its loadable segments and how many
// bytes the file really holds (a truncated file holds fewer).
struct Image {
  explicit Image(const ElfFile& elf)
      : elf(elf), segs(elf.load_segments()), file_size(elf.file_size()) {}
  // The executable segment holding `address`, nullptr when none does.
  const LoadSegment* executable_segment_of(uint64_t address) const;

  const ElfFile& elf;
  std::vector<LoadSegment> segs;
  uint64_t file_size = 0;
};

// Bytes of an executable segment, for decoding.
struct CodeWindow {
  uint64_t vaddr = 0;
  std::vector<uint8_t> bytes;
  bool has(uint64_t a) const { return a >= vaddr && a - vaddr < bytes.size(); }
};

// The bytes of `seg` from `from` to `to`, clamped to the segment and the file.
CodeWindow read_code(const Image& image, const LoadSegment& seg, uint64_t from, uint64_t to);

// One x86-64 Capstone handle and instruction buffer; `detail` adds the
// operands and registers that build_functions needs.
class Capstone {
 public:
  explicit Capstone(bool detail);
  ~Capstone();

  bool ok() const { return ok_; }
  csh handle() const { return handle_; }
  // Decodes the instruction at `address` of `w`; nullptr when there is none.
  const cs_insn* decode(const CodeWindow& w, uint64_t address);

  // It owns the handle and the buffer.
  Capstone(const Capstone&) = delete;
  Capstone& operator=(const Capstone&) = delete;

 private:
  bool ok_ = false;
  csh handle_ = 0;
  cs_insn* insn_ = nullptr;
};

// Calls fn(bytes, size, count, vaddr) for consecutive pieces of a segment's
// bytes that are in the file. Each piece is followed by up to kOverlap bytes
// of the next, so a pattern straddling two pieces is seen; fn starts matches
// only in the first `count` bytes so none is seen twice. fn returns false to
// stop.
template <typename Fn>
void for_each_piece(const Image& image, const LoadSegment& seg, Fn&& fn) {
  if (seg.offset >= image.file_size) return;
  uint64_t avail = std::min<uint64_t>(seg.filesz, image.file_size - seg.offset);
  for (uint64_t pos = 0; pos < avail; pos += kChunk) {
    size_t count = static_cast<size_t>(std::min<uint64_t>(kChunk, avail - pos));
    size_t want = static_cast<size_t>(std::min<uint64_t>(count + kOverlap, avail - pos));
    auto bytes = image.elf.read(seg.offset + pos, want);
    count = std::min(count, bytes.size());
    if (count == 0) return;
    if (!fn(bytes.data(), bytes.size(), count, seg.vaddr + pos)) return;
  }
}

// 1. The start addresses, sorted, of the whole strings ending in
// "ssl/ssl_lib.cc" (BoringSSL's __FILE__ as the build spelled it, e.g.
// "../../vendor/boringssl/ssl/ssl_lib.cc"): preceded by a NUL, with "/" or
// nothing before the suffix. At most 16.
std::vector<uint64_t> find_anchor_strings(const Image& image);

// 2. Addresses, sorted, of instructions in executable segments that load one
// of `strings` into rcx or rdx (mov ecx/edx, imm32; lea rcx/rdx, [rip+d];
// mov rcx/rdx, simm32), where ERR_put_error takes its file argument. Byte
// patterns only, so some may lie inside other instructions; decoding
// decides. too_many when there are more than kMaxSites (sites is then cut).
struct ErrorSiteScan {
  std::vector<uint64_t> sites;
  bool too_many = false;
};
ErrorSiteScan find_error_sites(const Image& image, const std::vector<uint64_t>& strings);

// A linear decode from an entry candidate behind int3 padding, to the next
// int3 (padding), undecodable byte or the end of the window.
struct Sweep {
  uint64_t end = 0;
  bool ends_in_padding = false;
  std::vector<uint64_t> sites_hit;  // error sites that are instruction starts in it
  // 16-byte aligned instruction starts right after a ret or jmp (and any
  // nops): where a function can begin with no padding before it.
  std::vector<uint64_t> splits;
};

// 3. Entry candidates per site. Behind each site, the nearest 16-byte
// aligned addresses right after int3 padding from which linear decoding
// reaches the site on an instruction boundary without passing padding or
// undecodable bytes (at most 4 per site, from the 16 nearest boundaries);
// within a sweep, its splits. Which of them are entries is decided by
// direct calls (step 4).
struct EntryCandidates {
  std::map<uint64_t, Sweep> sweeps;                     // padding entry -> its sweep
  std::map<uint64_t, std::vector<uint64_t>> sweeps_of;  // site -> padding entries reaching it, nearest first
};
EntryCandidates find_entry_candidates(const Image& image, Capstone& quick,
                                      const std::vector<uint64_t>& sites);

// 4. Which candidates are called directly: `call rel32` byte patterns
// anywhere in the executable code aimed exactly at a candidate (its padding
// entries and splits), the first 16 per candidate. A call counts once it
// decodes as a call from its own padding, so bytes inside other instructions
// do not; that is checked for a candidate the first time it is asked about.
// A call target is a function entry by definition.
class CallTargets {
 public:
  CallTargets(const Image& image, Capstone& quick, const EntryCandidates& candidates);
  // Where the `call rel32` patterns aimed at `entry` are; empty for one that
  // is not a candidate.
  std::vector<uint64_t> calls_to(uint64_t entry) const;
  // How many of those decode as calls.
  int confirmed_calls(uint64_t entry);
  bool called(uint64_t entry) { return confirmed_calls(entry) > 0; }

 private:
  struct Calls {
    std::vector<uint64_t> from;
    int confirmed = -1;  // -1: not checked yet
  };
  const Image& image_;
  Capstone& quick_;
  std::unordered_map<uint64_t, Calls> calls_;
};
CallTargets find_call_targets(const Image& image, Capstone& quick, const EntryCandidates& candidates);

// What the analysis needs of one decoded instruction.
struct Insn {
  uint64_t address = 0;
  uint8_t size = 0;
  bool is_call = false, is_jmp = false, is_cond_jump = false, is_ret = false, is_int3 = false;
  uint64_t target = 0;   // direct call or jump target
  int imm_slot = -1;     // `mov r32/r64, imm` or `xor r, r` into an argument register
  int64_t imm = 0;
  uint8_t writes = 0;    // bit per argument register of ERR_put_error written in any way
  uint64_t rip_ref = 0;  // absolute address of a RIP-relative memory operand
  uint64_t imm_ref = 0;  // any immediate operand (as an address it might be)
  bool writes_heap = false;  // stores through a pointer other than rsp/rbp
  int file_slot = -1;  // rcx or rdx loaded with an address (mov imm / lea [rip+d])
};

// One OPENSSL_PUT_ERROR(SSL, reason) in ssl_lib.cc, as compiled.
struct ErrorSite {
  uint64_t address = 0;  // the instruction loading the file name
  int64_t reason = -1, line = -1;
  uint64_t callee = 0;   // what it calls: ERR_put_error
  bool parsed = false;
};

struct Function {
  uint64_t start = 0, end = 0;  // [start, end): entry to the next function or padding
  bool after_padding = false;   // else right after the previous function's ret/jmp
  bool ends_at_boundary = false;  // int3 padding or another called entry; not a decode failure
  int direct_calls = 0;
  std::vector<Insn> insns;
  std::vector<ErrorSite> sites;  // in address order
  bool consistent = true;        // every reference to the file name is a parsed site
  std::string problem;           // why not, when !consistent
};

// 5a. Each site's function, by entry: the nearest called candidate at or
// before the site; it ends at the next called candidate after it or at the
// sweep's int3 padding. Decoded, with its error sites parsed; a function
// that uses the file name in any other way, overlaps another, or has a site
// that does not call what most sites call (ERR_put_error) is marked not
// consistent, saying why.
std::map<uint64_t, Function> build_functions(const Image& image, Capstone& full,
                                             const EntryCandidates& candidates, CallTargets& calls,
                                             const std::vector<uint64_t>& strings,
                                             const std::vector<uint64_t>& sites);

// 5b. The consistent functions whose error checks are exactly SSL_write's
// reasons (66, 226, 215, 111) in source order, close together, at a certain
// entry; `problem` says why the last one with those checks but an uncertain
// entry was refused.
struct WriteMatch {
  std::vector<const Function*> matches;
  std::string problem;
};
WriteMatch match_ssl_write(const std::map<uint64_t, Function>& functions);

// 5c. The consistent functions with SSL_peek's one check (reason 66) that
// call a function with ssl_read_impl's (226 then 215, a few lines apart and
// above SSL_peek's) and then store through the SSL object, which SSL_peek
// alone does not (SSL_read with SSL_peek inlined), at a certain entry.
struct ReadMatch {
  struct Match {
    const Function* read = nullptr;
    const Function* read_impl = nullptr;
    std::string read_impl_lines;  // its two checks' lines, "226's,215's"
  };
  std::vector<Match> matches;
  std::vector<const Function*> peek_like;  // the check and the call, but no stores
  bool peek_check_seen = false;            // some function has SSL_peek's check
  std::string problem;                     // as WriteMatch's
};
ReadMatch match_ssl_read(const std::map<uint64_t, Function>& functions);

}  // namespace agenttrace::collector::ssl_signature
