// Finding the function that Bun's process.env (and Bun.env, the same object)
// reads a variable through, in an executable without symbols: Bun ships
// stripped, and so is every `bun build --compile` program.
//
// What is found is Bun__getEnvValue(JSGlobalObject*, const ZigString* name,
// ZigString* value) -> bool (src/bun.js/bindings/JSEnvironmentVariableMap.cpp
// calls it, src/bun.js/api/BunObject.zig defines it). process.env is a JS
// object made at start with one accessor per variable then set; the
// accessor's getter calls Bun__getEnvValue the first time the variable is
// read and then keeps the value on the object. The getters of TZ,
// NODE_TLS_REJECT_UNAUTHORIZED and BUN_CONFIG_VERBOSE_FETCH, which exist even
// when those are unset, call it on every read. A name that was not set at
// start has no accessor, so reading it calls nothing and cannot be seen.
//
// The anchor is createEnvironmentVariablesMap, the one function that makes
// strings of both "NODE_TLS_REJECT_UNAUTHORIZED" and
// "BUN_CONFIG_VERBOSE_FETCH" and passes the addresses of those getters to
// CustomGetterSetter::create. A match is certain only when all of these hold
// (otherwise nothing is returned: a uprobe at a wrong address corrupts the
// traced program, a missing one is only a coverage gap):
//  - both names are whole NUL-terminated strings, and one stretch of code,
//    decoded linearly from an instruction that loads the address of the
//    first, loads the address of the second with no padding or undecodable
//    byte in between;
//  - that code stores at least three function entries (16-byte aligned, after
//    padding or a ret/jmp: check_signature_target) as constants, and at
//    least three of those call one and the same function with rsi and rdx
//    both set to addresses in their own stack frame (&name and &value);
//  - exactly one function is called so, and its first instructions read a
//    ZigString from rsi (or a register copied from it) the way Bun's Zig
//    code does: its length from [rsi+8], its pointer from [rsi], the address
//    kept to 53 bits (movabs 0x1fffffffffffff and `and`, or bzhi with 53)
//    and the UTF-8 tag bit 61 tested (bt 61, or test with 1 << 61); or, as
//    in Bun 1.3, it copies the 16 bytes at [rsi] to its stack and passes
//    that copy as rsi to a function (ZigString.toSlice) whose first
//    instructions read a ZigString so.
// Verified on Bun 1.1.45, 1.2.23, 1.3.14 and 1.4.5 (scripts/fetch-bun.sh
// DIR all), and on programs each compiled with `bun build --compile`.
#pragma once

#include <string>
#include <vector>

#include "collector/ssl_signature.h"
#include "common/elf_file.h"

namespace agenttrace::collector {

// The name of the function locate_bun_env_function finds.
inline constexpr char kBunEnvFunction[] = "Bun__getEnvValue";
// What the other functions it returns are named: process.env getters that
// look variables up without calling Bun__getEnvValue (Bun 1.3's getter of
// the proxy variables), probed themselves.
inline constexpr char kBunEnvGetterFunction[] = "process.env getter";

// Bun__getEnvValue in a Bun executable without symbols, first, or empty
// with *why saying in one sentence why there is no certain match.
// Other process.env getters among those createEnvironmentVariablesMap makes
// may look variables up without calling it (making two or more of the calls
// its lookup makes, and not it: Bun 1.3's getter of HTTP_PROXY, HTTPS_PROXY
// and NO_PROXY, either case). Those whose first instructions read the
// PropertyName they get as a WTF StringImpl (32-bit length at +4, characters
// at +8, 32-bit flags at +16 tested with 1 << 2, the 8-bit flag) follow it,
// named kBunEnvGetterFunction; *unseen (when given) names the others, whose
// reads are not seen, in one sentence; empty when there is none.
std::vector<LocatedFunction> locate_bun_env_function(const ElfFile& elf, std::string* why,
                                                     std::string* unseen = nullptr);

}  // namespace agenttrace::collector
