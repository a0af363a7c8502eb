// The JSON form of trace records: one object per line, as `--json` streams
// them and `agenttrace dump` prints them. docs/events.md describes every field.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "trace/format.h"

namespace agenttrace::trace {

using Json = nlohmann::ordered_json;

Json event_json(const Event& event);
Json header_json(const Header& header);
Json trailer_json(const Trailer& trailer);

// One line, no trailing newline; invalid UTF-8 in paths or names is replaced
// rather than rejected. Safe on a terminal: besides the C0 controls JSON
// escapes anyway, DEL and the C1 controls (U+0080-U+009F) are written as
// \u escapes, so `dump` or `--json -` cannot send a terminal a CSI.
std::string json_line(const Json& json);

// The same, indented by `indent` spaces (the reports' --format json).
std::string json_text(const Json& json, int indent);

// open(2) flags as "O_WRONLY|O_CREAT|O_CLOEXEC".
std::string open_flags_text(int flags);
// "0x7f2c24e5d0b0"
std::string hex_address(uint64_t address);
// access(2) mode as "F_OK" or "R_OK|X_OK".
std::string access_mode_text(int mode);

}  // namespace agenttrace::trace
