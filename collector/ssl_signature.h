// Finding BoringSSL's SSL_write and SSL_read in an executable that has no
// symbols for them: single-file executables built with Bun (the native Claude
// Code CLI among them) link BoringSSL statically, strip its symbols and carry
// no .eh_frame, yet their TLS plaintext passes through those two functions.
//
// The anchor is what BoringSSL cannot compile away: every OPENSSL_PUT_ERROR
// passes __FILE__ and __LINE__ to ERR_put_error(ERR_LIB_SSL, 0, reason, file,
// line), so each error check in ssl/ssl_lib.cc leaves a load of that path
// string next to two immediates, the reason code (stable BoringSSL ABI) and
// the source line. SSL_write is the one function in ssl_lib.cc that checks, in
// this order, "not for QUIC" (ERR_R_SHOULD_NOT_HAVE_BEEN_CALLED),
// SSL_R_UNINITIALIZED, SSL_R_SSL_HANDSHAKE_FAILURE and SSL_R_BAD_LENGTH;
// SSL_read is SSL_peek's "not for QUIC" check, inlined, plus a call to
// ssl_read_impl (whose own checks are SSL_R_UNINITIALIZED then
// SSL_R_SSL_HANDSHAKE_FAILURE) plus the stores that consume what was read,
// which SSL_peek alone does not make.
//
// A match is certain only when all of these hold; otherwise nothing is
// returned, because a uprobe at a wrong address corrupts the traced program
// while a missing one is only a coverage gap:
//  - every error site is an instruction loading the address of a whole
//    string ending in "ssl/ssl_lib.cc" into rcx (or rdx, where link-time
//    optimization dropped ERR_put_error's unused parameter), with edi = 16
//    (ERR_LIB_SSL), the reason and the line as constants in the same basic
//    block, and a call to the function most such sites call;
//  - the function's entry is 16-byte aligned, right after int3 padding or
//    right after the previous function's last ret/jmp, and the target of at
//    least one direct `call` in the executable (which makes it an entry);
//    linear Capstone decoding from it reaches every error site on an
//    instruction boundary with no undecodable byte and no int3 in between,
//    and the function ends at int3 padding or another called entry;
//  - its first error check comes within 32 instructions of the entry with no
//    ret or unconditional jmp before it (BoringSSL's SSL_write and SSL_read
//    open with those checks; a caller that inlined them would not), and the
//    function is at most 2 KiB;
//  - its error sites are exactly the expected reasons, in the expected
//    source order and close together, and exactly one function matches.
// SSL_write_ex and SSL_read_ex do not exist in BoringSSL (neither upstream
// nor Bun's fork defines them), so they are never returned.
// The steps of the search, each testable alone, are in ssl_signature_steps.h.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/elf_file.h"

namespace agenttrace::collector {

struct LocatedFunction {
  std::string name;          // "SSL_write", "SSL_read"
  uint64_t address = 0;      // virtual address of its entry
  uint64_t file_offset = 0;  // where a uprobe goes
  std::string evidence;      // one sentence: how it was found
};

// BoringSSL's SSL_write and SSL_read in an executable without their symbols.
// Empty when there is no certain match, and then *why says why in one
// sentence; when only one of the two is certain, *why says why the other is
// missing. Streams over the file's segments in bounded chunks.
std::vector<LocatedFunction> locate_boringssl_functions(const ElfFile& elf, std::string* why);

// check_uprobe_target's counterpart for an address found by signature rather
// than by symbol: empty when `address` is x86-64 code in an executable
// segment with bytes in the file, 16-byte aligned, right after int3 padding
// or exactly where a ret/jmp decoded from the padding before it ends (where
// a function begins), and decodes as instructions; otherwise one sentence
// saying why not.
std::string check_signature_target(const ElfFile& elf, uint64_t address);

}  // namespace agenttrace::collector
