// The one-line text form of an event, for -v and for reports:
//   +0.012s 1234/1234 bash            open     /etc/machine-id O_RDONLY = 3
#pragma once

#include <cstdint>
#include <string>

#include "trace/format.h"

namespace agenttrace::trace {

// What happened, without time and process: "open /etc/machine-id O_RDONLY = 3".
// Both forms are terminal-safe (common/strings.h terminal_safe): a control
// character in a path or an argument is printed as an escape.
std::string event_summary(const Event& event);

// The full line; `start_mono_ns` is the recording's start (0: absolute).
std::string event_text_line(const Event& event, uint64_t start_mono_ns);

}  // namespace agenttrace::trace
