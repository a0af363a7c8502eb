// The collector's redaction of credentials (the format: trace/redaction.h).
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "agenttrace.pb.h"
#include "trace/redaction.h"

namespace agenttrace::collector {

// A copy of a known value in bytes: where it is, and under which encoding
// ("plain", "base64", "url", ...: the names of analyzer/value_echo.h).
struct ValueCopy {
  std::string encoding;
  uint64_t offset = 0;
  uint64_t length = 0;
};
// The copies of `value` in `data`, plain or encoded, in offset order; none
// when `value` is shorter than `min_len`. The analyzer's value echo, handed
// down by the layer above (app/session.h): the collector does not depend on
// the analyzer.
using CopyFinder = std::function<std::vector<ValueCopy>(std::string_view data, std::string_view value, size_t min_len)>;

class Redactor {
 public:
  // `secret_env` says whether an environment variable's value is a secret
  // (the knowledge base's credentials category); `find_copies` finds a known
  // secret's copies. The key is random.
  Redactor(trace::SecretRules rules, std::function<bool(std::string_view)> secret_env, CopyFinder find_copies);

  // Known secrets: their copies are found anywhere, plain or encoded (as
  // base64, hex, URL escapes...), and redacted with the kind named here.
  // Values shorter than 8 bytes are not remembered (they would match by
  // accident).
  void add_secret(const std::string& kind, const std::string& value);
  // The values of secret-bearing variables in an environment ("K=V").
  void add_environment(const std::vector<std::string>& env);

  // In place; each returns how many secrets it replaced.
  size_t redact_header(trace::Header* h);
  size_t redact_event(trace::Event* e);
  // Bytes that may hold HTTP headers, JSON, form bodies, URLs.
  size_t redact_bytes(std::string* data);
  // A single value (an argv element, an environment value of `name`).
  size_t redact_value(std::string* value, std::string_view env_name = {});

  // Replaced so far, per kind (without the encoding suffix).
  const std::map<std::string, uint64_t>& counts() const { return counts_; }
  // The kinds of secrets looked for (for the header).
  std::vector<std::string> kinds_looked_for() const;
  // Hash -> kind of every secret redacted so far (the trailer's index).
  const std::map<std::string, std::string>& secret_kinds() const { return secret_kinds_; }
  std::string hash_of(std::string_view value) const;

 private:
  struct Known {
    std::string kind;
    std::string value;
  };
  void replace(std::string* data, size_t at, size_t len, const std::string& kind, std::string_view value);
  size_t redact_known(std::string* data);
  size_t redact_headers(std::string* data);
  size_t redact_keys(std::string* data);
  size_t redact_tokens(std::string* data);
  size_t redact_argv(google::protobuf::RepeatedPtrField<std::string>* argv);
  bool learn(const std::string& kind, std::string_view value);

  trace::SecretRules rules_;
  std::function<bool(std::string_view)> secret_env_;
  CopyFinder find_copies_;
  std::array<unsigned char, 32> key_{};
  std::vector<Known> known_;
  std::map<std::string, uint64_t> counts_;
  std::map<std::string, std::string> secret_kinds_;
};

}  // namespace agenttrace::collector
