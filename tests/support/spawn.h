// A process a test starts and controls: its output goes to files, it can be
// signalled and waited for with a deadline, and it is killed at scope exit.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace agenttrace::testing {

class Spawned {
 public:
  // Starts argv with env (empty: base_env()), stdout and stderr into files
  // under `dir`, stdin from /dev/null.
  Spawned(const std::vector<std::string>& argv, const std::string& dir, const std::string& name,
          std::vector<std::string> env = {});
  ~Spawned();
  Spawned(const Spawned&) = delete;
  Spawned& operator=(const Spawned&) = delete;

  pid_t pid() const { return pid_; }
  void signal(int sig) const;
  // Waits up to timeout_s; returns the exit status (128+N when killed by N),
  // or -1 after killing it when it did not end in time.
  int wait(int timeout_s);
  std::string out() const;
  std::string err() const;
  // Waits up to timeout_s until `text` appears in its stderr.
  bool wait_for_err(const std::string& text, int timeout_s) const;

 private:
  pid_t pid_ = -1;
  bool reaped_ = false;
  std::string out_path_, err_path_;
};

// Runs `agenttrace dump TRACE` and returns its lines as JSON text (header,
// events, trailer); *warning gets its stderr.
std::vector<std::string> dump_lines(const std::string& trace, std::string* warning = nullptr);

}  // namespace agenttrace::testing
