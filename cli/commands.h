// One function per subcommand; main() only picks which one runs.
#pragma once

#include <string>
#include <vector>

namespace agenttrace::cli {

// argv without the program name; `args[0]` is the first argument. Each
// returns the process exit status and throws agenttrace::Error for failures.
int run_command(const std::vector<std::string>& args);
int dump_command(const std::vector<std::string>& args);
int analyze_command(const std::vector<std::string>& args);
int inspect_command(const std::vector<std::string>& args);
int sandbox_command(const std::vector<std::string>& args);
int diff_command(const std::vector<std::string>& args);
int attach_command(const std::vector<std::string>& args);
int watch_command(const std::vector<std::string>& args);
int collect_command(const std::vector<std::string>& args);

}  // namespace agenttrace::cli
