#include "analyzer/yaml_list.h"

#include <yaml-cpp/yaml.h>

#include "common/error.h"

namespace agenttrace::analyzer {

std::vector<std::string> yaml_string_list(const YAML::Node& node, const std::string& what,
                                          const std::string& source) {
  std::vector<std::string> out;
  if (!node) return out;
  if (!node.IsSequence())
    throw Error(source + ": line " + std::to_string(node.Mark().line + 1) + ": " + what + " must be a list");
  for (const auto& item : node) {
    if (!item.IsScalar() || item.Scalar().empty())
      throw Error(source + ": line " + std::to_string(item.Mark().line + 1) + ": " + what +
                  " entries must be non-empty strings");
    out.push_back(item.Scalar());
  }
  return out;
}

}  // namespace agenttrace::analyzer
