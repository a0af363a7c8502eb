#include "collector/paths.h"

#include <vector>

namespace agenttrace::collector {

std::string path_from_components(std::string_view innermost_first) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (start < innermost_first.size()) {
    size_t end = innermost_first.find('\0', start);
    if (end == std::string_view::npos) end = innermost_first.size();
    if (end > start) parts.push_back(innermost_first.substr(start, end - start));
    start = end + 1;
  }
  std::string out;
  for (auto it = parts.rbegin(); it != parts.rend(); ++it) {
    out += '/';
    out += *it;
  }
  return out.empty() ? "/" : out;
}

std::string normalize_path(std::string_view absolute) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (start <= absolute.size()) {
    size_t end = absolute.find('/', start);
    if (end == std::string_view::npos) end = absolute.size();
    std::string_view part = absolute.substr(start, end - start);
    if (part.empty() || part == ".") {
      // skip
    } else if (part == "..") {
      if (!parts.empty()) parts.pop_back();
    } else {
      parts.push_back(part);
    }
    start = end + 1;
  }
  std::string out;
  for (auto part : parts) {
    out += '/';
    out += part;
  }
  return out.empty() ? "/" : out;
}

std::string resolve_path(std::string_view base_dir, std::string_view path) {
  if (!path.empty() && path[0] == '/') return normalize_path(path);
  std::string joined(base_dir);
  joined += '/';
  joined += path;
  return normalize_path(joined);
}

}  // namespace agenttrace::collector
