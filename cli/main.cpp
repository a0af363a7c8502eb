// agenttrace: shows what an AI coding agent (or any program) does on the
// machine it runs on. main() only picks the subcommand; see cli/commands.h.
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "common/error.h"
#include "common/identity.h"
#include "common/signals.h"
#include "common/strings.h"

namespace {

// %* in the pattern: the message, terminal-safe. Warnings name paths, hosts
// and process names the traced program chose.
class SafeMessage : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&, spdlog::memory_buf_t& dest) override {
    std::string safe = agenttrace::terminal_safe(std::string_view(msg.payload.data(), msg.payload.size()));
    dest.append(safe.data(), safe.data() + safe.size());
  }
  std::unique_ptr<custom_flag_formatter> clone() const override { return std::make_unique<SafeMessage>(); }
};

}  // namespace

int main(int argc, char** argv) {
  // Multi-threaded: the fleet export's thread warns too.
  auto logger = spdlog::stderr_logger_mt("agenttrace");
  auto formatter = std::make_unique<spdlog::pattern_formatter>();
  formatter->add_flag<SafeMessage>('*').set_pattern("agenttrace: %^%l%$: %*");
  logger->set_formatter(std::move(formatter));
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::warn);

  std::vector<std::string> args(argv + 1, argv + argc);
  for (const auto& a : args) {
    if (a == "--") break;
    if (a == "--debug") spdlog::set_level(spdlog::level::debug);
  }
  // Commands that trace handle these signals themselves (a signalfd in the
  // session): blocked from the start, so one that arrives while the probes
  // load is acted on, not fatal. Commands that only read keep the defaults.
  static const char* const kReadOnly[] = {"dump", "analyze", "inspect"};
  bool traces = true;
  for (const char* c : kReadOnly)
    if (!args.empty() && args[0] == c) traces = false;
  if (traces) agenttrace::block_handled_signals();
  try {
    // Files agenttrace writes belong to whoever ran sudo (pkexec, doas).
    agenttrace::set_output_owner(agenttrace::decide_command_identity("", false).owner);
    if (!args.empty() && args[0] == "dump") return agenttrace::cli::dump_command({args.begin() + 1, args.end()});
    if (!args.empty() && args[0] == "analyze") return agenttrace::cli::analyze_command({args.begin() + 1, args.end()});
    if (!args.empty() && args[0] == "inspect") return agenttrace::cli::inspect_command({args.begin() + 1, args.end()});
    if (!args.empty() && args[0] == "sandbox") return agenttrace::cli::sandbox_command({args.begin() + 1, args.end()});
    if (!args.empty() && args[0] == "diff") return agenttrace::cli::diff_command({args.begin() + 1, args.end()});
    if (!args.empty() && args[0] == "attach") return agenttrace::cli::attach_command({args.begin() + 1, args.end()});
    if (!args.empty() && args[0] == "watch") return agenttrace::cli::watch_command({args.begin() + 1, args.end()});
    if (!args.empty() && args[0] == "collect") return agenttrace::cli::collect_command({args.begin() + 1, args.end()});
    return agenttrace::cli::run_command(args);
  } catch (const agenttrace::Error& e) {
    fprintf(stderr, "agenttrace: %s\n", agenttrace::terminal_safe(e.what()).c_str());
    return e.exit_code();
  } catch (const std::exception& e) {
    fprintf(stderr, "agenttrace: internal error: %s\n", agenttrace::terminal_safe(e.what()).c_str());
    return agenttrace::kExitToolError;
  }
}
