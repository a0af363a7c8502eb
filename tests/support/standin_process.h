// The LLM API stand-in that BPF tests point clients and sample agents at:
// standin_demo, the sandbox's own stand-in (sandbox/standin.h) on 127.0.0.1
// with free ports, run as a separate process (a traced client must not talk
// to the test binary itself) and killed at scope exit.
#pragma once

#include <memory>
#include <string>

#include "background.h"
#include "temp_dir.h"

namespace agenttrace::testing {

class StandInProcess {
 public:
  // Starts it and waits until both servers accept connections; it exits by
  // itself after `seconds`. Throws std::runtime_error.
  explicit StandInProcess(int seconds);

  int http_port() const { return http_port_; }
  int https_port() const { return https_port_; }
  // The certificate to trust for https (it exists while the stand-in runs).
  const std::string& cert_path() const { return cert_path_; }
  // The body bytes of request number n (from 1) as the stand-in received
  // them; it writes them before it answers.
  std::string body(int n) const;

 private:
  TempDir dir_;
  std::unique_ptr<Background> process_;
  int http_port_ = 0;
  int https_port_ = 0;
  std::string cert_path_;
};

}  // namespace agenttrace::testing
