// Small string helpers shared by the collector, analyzer and command line.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace agenttrace {

std::string join(const std::vector<std::string>& parts, std::string_view sep);

// The 64-bit FNV-1a hash of the bytes: stable across runs and builds, for
// ids made from content (finding fingerprints, difference ids).
uint64_t fnv1a(std::string_view bytes);

// "16M", "512K", "1G", "4096" -> bytes; nullopt when malformed or overflowing.
std::optional<uint64_t> parse_size(std::string_view text);

// "500ms", "30s", "15m", "2h", "7d" -> nanoseconds; nullopt when malformed.
std::optional<int64_t> parse_duration_ns(std::string_view text);

// 1536 -> "1.5 KiB".
std::string human_bytes(uint64_t bytes);

// Quotes a word for a shell when it needs quoting, so a command line can be
// shown the way a user would type it.
std::string shell_quote(std::string_view word);

// RFC 3339 UTC time with nanoseconds: 2026-11-23T21:07:12.123456789Z.
std::string format_time_ns(int64_t wall_ns);

// Replaces bytes that are not printable ASCII by '.', for one-line previews.
std::string printable_preview(std::string_view bytes, size_t max_len);

// Text from a trace (a path, argv, comm, a host name, a preview) made safe
// to print on a terminal: every C0 control character (tab and newline
// included, so a value stays on its line), DEL and every C1 control
// (U+0080-U+009F, which some terminals obey as ESC sequences) is written as
// an escape: \t \n \r, \x1b for other C0 and DEL, \u009b for C1. A byte
// that is not part of well-formed UTF-8 becomes \xHH (a lone 0x9b is CSI to
// an 8-bit terminal). A backslash is kept as it is, so the function is
// idempotent and ordinary text (Windows paths, regexes) reads unchanged;
// --format json is the exact form.
std::string terminal_safe(std::string_view text);

// errno value -> symbolic name ("ENOENT"); "E<number>" for unknown values.
std::string errno_name(int err);
// The errno name of a negative syscall result (-2 -> "ENOENT"). A value no
// syscall returns (below -4095: a damaged or crafted trace) is given as its
// number rather than negated, which would overflow for INT64_MIN.
std::string result_error_name(int64_t result);

}  // namespace agenttrace
