// Helper processes for BPF tests (the LLM API stand-in, the DNS stub): started
// in the background, waited for through a ready file, killed at scope exit.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace agenttrace::testing {

class Background {
 public:
  // Starts argv; returns when `ready_file` exists and is not empty (or
  // throws after timeout_s).
  Background(const std::vector<std::string>& argv, const std::string& ready_file,
             int timeout_s = 10);
  ~Background();
  Background(const Background&) = delete;
  Background& operator=(const Background&) = delete;

  // Contents of the ready file (the stand-in writes its port there).
  const std::string& ready_text() const { return ready_; }

 private:
  pid_t pid_ = -1;
  std::string ready_;
};

}  // namespace agenttrace::testing
