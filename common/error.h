// Errors on the control path. Startup and input errors are thrown as
// agenttrace::Error and caught once in main(), which prints one sentence and
// exits with kExitToolError; the hot paths never throw.
#pragma once

#include <stdexcept>
#include <string>

namespace agenttrace {

// Exit statuses of agenttrace itself. In `agenttrace -- CMD` every other value
// is CMD's own status; 125-127 follow env(1), timeout(1) and chroot(1).
inline constexpr int kExitOk = 0;
inline constexpr int kExitFindings = 3;      // analysis gate: a policy was violated
inline constexpr int kExitInputDependent = 4;  // diff: output changed with the varied input
inline constexpr int kExitToolError = 125;   // agenttrace could not do its job
inline constexpr int kExitCannotExec = 126;  // CMD exists but could not be executed
inline constexpr int kExitNotFound = 127;    // CMD was not found

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message, int exit_code = kExitToolError)
      : std::runtime_error(message), exit_code_(exit_code) {}
  int exit_code() const { return exit_code_; }

 private:
  int exit_code_;
};

// strerror(errno) as a std::string, thread-safe.
std::string errno_text(int err);

}  // namespace agenttrace
