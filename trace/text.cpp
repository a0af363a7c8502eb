#include "trace/text.h"

#include <fcntl.h>

#include "common/strings.h"
#include "trace/json.h"

namespace agenttrace::trace {

namespace {

std::string result_text(int64_t result) {
  if (result < 0) return "= " + result_error_name(result);
  return "= " + std::to_string(result);
}

}  // namespace

namespace {

std::string raw_summary(const Event& e) {
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
        std::string name = abbrev ? "SIG" + std::string(abbrev) : std::to_string(e.exit().signal());
        return "exit killed by " + name + (e.exit().core_dumped() ? " (core dumped)" : "");
      }
      return "exit code " + std::to_string(e.exit().code());
    case Event::kOpen:
      return "open " + e.open().path() +
             (e.open().real_path().empty() ? "" : " (really " + e.open().real_path() + ")") + " " +
             open_flags_text(e.open().flags()) + " " + result_text(e.open().result());
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
    case Event::kHostQuery: {
      // "netlink RTM_GETLINK dump", "ioctl SIOCGIFHWADDR eth0"
      const HostQuery& x = e.host_query();
      if (x.syscall() == SYSCALL_IOCTL) {
        std::string s = "ioctl " + x.request();
        if (!x.interface().empty()) s += " " + x.interface();
        if (x.index()) s += " index " + std::to_string(x.index());
        return s + " " + result_text(x.result());
      }
      std::string s = "netlink " + (x.protocol() == "route" ? "" : x.protocol() + " ") + x.request();
      if (x.dump()) s += " dump";
      if (x.family() != "unspec" && !x.family().empty()) s += " " + x.family();
      if (x.index()) s += " index " + std::to_string(x.index());
      return s + (x.result() < 0 ? " " + result_text(x.result()) : "");
    }
    case Event::kSystemCall: {
      const SystemCall& x = e.system_call();
      return kind + " " + std::string(x.abi() == "ia32" ? "ia32 " : "") + x.name() +
             (x.path().empty() ? "" : " " + x.path()) + " " + result_text(x.result());
    }
    case Event::kConnect:
    case Event::kBind:
    case Event::kListen:
    case Event::kAccept:
    case Event::kClose: {
      const Socket& x = e.body_case() == Event::kConnect ? e.connect()
                        : e.body_case() == Event::kBind   ? e.bind()
                        : e.body_case() == Event::kListen ? e.listen()
                        : e.body_case() == Event::kAccept ? e.accept()
                                                          : e.close();
      std::string s = kind + " fd " + std::to_string(x.fd());
      if (!x.addr().family().empty()) s += " " + sockaddr_text(x.addr());
      if (!x.host().empty()) s += " (" + x.host() + ")";
      if (e.has_close() || e.has_listen()) {
        if (!x.local().family().empty()) s += " local " + sockaddr_text(x.local());
      }
      return s + " " + result_text(x.result());
    }
    case Event::kSend:
    case Event::kRecv: {
      const Data& x = e.has_send() ? e.send() : e.recv();
      std::string s = kind + (x.tls() ? " tls " : " ") + std::to_string(x.bytes()) + " bytes";
      s += e.has_send() ? " to " : " from ";
      s += x.peer().family().empty() ? std::string("?") : sockaddr_text(x.peer());
      if (!x.host().empty()) s += " (" + x.host() + ")";
      if (x.ciphertext()) s += " ciphertext";
      if (!x.source_file().empty()) s += " from file " + x.source_file();
      if (x.truncated()) s += " [" + std::to_string(x.truncated()) + " not captured]";
      if (!x.data().empty()) s += " \"" + printable_preview(x.data(), 60) + "\"";
      return s;
    }
    case Event::kDns: {
      const Dns& x = e.dns();
      std::string s = "dns " + std::string(syscall_name(x.source())) + " " + x.name();
      if (!x.type().empty()) s += " " + x.type();
      if (x.answers_size()) {
        std::vector<std::string> a(x.answers().begin(), x.answers().end());
        s += " -> " + join(a, ", ");
      }
      return s;
    }
    case Event::kCoverage:
      return "coverage " + e.coverage().signal() + " " + e.coverage().state() + ": " +
             e.coverage().detail();
    case Event::kJitSymbols:
      return "jit_symbols " + std::to_string(e.jit_symbols().symbols_size()) + " names from " + e.jit_symbols().source();
    case Event::kProcess: {
      std::vector<std::string> quoted;
      for (const auto& a : e.process().argv()) quoted.push_back(shell_quote(a));
      return std::string(e.process().before_trace() ? "running " : "process ") + e.process().exe() + " [" +
             join(quoted, " ") + "]";
    }
    case Event::BODY_NOT_SET:
      break;
  }
  return kind;
}

}  // namespace

// Paths, argv, host names and previews are the traced program's choice:
// escaped whole, so none of them can move the cursor or start a line.
std::string event_summary(const Event& e) { return terminal_safe(raw_summary(e)); }

std::string event_text_line(const Event& e, uint64_t start_mono_ns) {
  char prefix[96];
  double t = start_mono_ns && e.mono_ns() >= start_mono_ns
                 ? static_cast<double>(e.mono_ns() - start_mono_ns) / 1e9
                 : static_cast<double>(e.mono_ns()) / 1e9;
  snprintf(prefix, sizeof(prefix), "+%.6fs %6u/%-6u %-15s ", t, e.pid(), e.tid(), terminal_safe(e.comm()).c_str());
  return prefix + event_summary(e);
}

}  // namespace agenttrace::trace
