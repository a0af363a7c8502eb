#include "trace/text.h"

#include <fcntl.h>

#include "common/strings.h"
#include "trace/json.h"

namespace agenttrace::trace {

namespace {

std::string result_text(int64_t result) {
  if (result < 0) return "= " + errno_name(static_cast<int>(-result));
  return "= " + std::to_string(result);
}

}  // namespace

std::string event_summary(const Event& e) {
  std::string kind(event_kind(e));
  switch (e.body_case()) {
    case Event::kExec: {
      std::vector<std::string> quoted;
      for (const auto& a : e.exec().argv()) quoted.push_back(shell_quote(a));
      return "exec " + e.exec().path() + " [" + join(quoted, " ") +
             (e.exec().argv_truncated() ? " ...]" : "]");
    }
    case Event::kFork:
      return std::string(e.fork().thread() ? "thread " : "fork ") +
             std::to_string(e.fork().child_pid()) + "/" + std::to_string(e.fork().child_tid());
    case Event::kExit:
      if (e.exit().signal()) {
        const char* abbrev = sigabbrev_np(e.exit().signal());
        return std::string("exit killed by SIG") + (abbrev ? abbrev : std::to_string(e.exit().signal()).c_str()) +
               (e.exit().core_dumped() ? " (core dumped)" : "");
      }
      return "exit code " + std::to_string(e.exit().code());
    case Event::kOpen:
      return "open " + e.open().path() + " " + open_flags_text(e.open().flags()) + " " +
             result_text(e.open().result());
    case Event::kReadlink:
      return "readlink " + e.readlink().path() +
             (e.readlink().result() >= 0 ? " -> " + e.readlink().target() : " " + result_text(e.readlink().result()));
    case Event::kStat:
      return "stat " + e.stat().path() + " " + result_text(e.stat().result());
    case Event::kAccess:
      return "access " + e.access().path() + " " + access_mode_text(e.access().mode()) + " " +
             result_text(e.access().result());
    case Event::kGetenv: {
      std::string s = std::string(syscall_name(e.getenv().function())) + " " + e.getenv().name();
      if (!e.getenv().found()) return s + " (unset)";
      if (e.getenv().value_captured()) return s + " = " + shell_quote(e.getenv().value());
      return s + " (set)";
    }
    case Event::kUname:
      return "uname " + e.uname().nodename() + " " + e.uname().release();
    case Event::kCoverage:
      return "coverage " + e.coverage().signal() + " " + e.coverage().state() + ": " +
             e.coverage().detail();
    case Event::BODY_NOT_SET:
      break;
  }
  return kind;
}

std::string event_text_line(const Event& e, uint64_t start_mono_ns) {
  char prefix[96];
  double t = start_mono_ns && e.mono_ns() >= start_mono_ns
                 ? static_cast<double>(e.mono_ns() - start_mono_ns) / 1e9
                 : static_cast<double>(e.mono_ns()) / 1e9;
  snprintf(prefix, sizeof(prefix), "+%.6fs %6u/%-6u %-15s ", t, e.pid(), e.tid(), e.comm().c_str());
  return prefix + event_summary(e);
}

}  // namespace agenttrace::trace
