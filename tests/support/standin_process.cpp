#include "standin_process.h"

#include <fstream>
#include <iterator>
#include <stdexcept>
#include <vector>

namespace agenttrace::testing {

StandInProcess::StandInProcess(int seconds) {
  process_ = std::make_unique<Background>(
      std::vector<std::string>{STANDIN_DEMO_BIN, "--seconds", std::to_string(seconds), "--record-dir",
                               dir_.file("records"), "--ready-file", dir_.file("ready")},
      dir_.file("ready"));
  // "http=PORT https=PORT cert=PATH"
  const std::string& ready = process_->ready_text();
  size_t http = ready.find("http="), https = ready.find(" https="), cert = ready.find(" cert=");
  if (http != 0 || https == std::string::npos || cert == std::string::npos) {
    throw std::runtime_error("standin_demo's ready line is not understood: " + ready);
  }
  http_port_ = std::stoi(ready.substr(5, https - 5));
  https_port_ = std::stoi(ready.substr(https + 7, cert - https - 7));
  cert_path_ = ready.substr(cert + 6);
}

std::string StandInProcess::body(int n) const {
  std::ifstream in(dir_.file("records/request-" + std::to_string(n) + ".body"), std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace agenttrace::testing
