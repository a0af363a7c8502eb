// A YAML list of strings, as the knowledge base and the inspect rules read
// their lists.
#pragma once

#include <string>
#include <vector>

namespace YAML {
class Node;
}

namespace agenttrace::analyzer {

// The entries of `node` (empty when the key is absent). Throws
// agenttrace::Error naming `source`, the line and `what` when the node is not
// a list or an entry is not a non-empty string.
std::vector<std::string> yaml_string_list(const YAML::Node& node, const std::string& what,
                                          const std::string& source);

}  // namespace agenttrace::analyzer
