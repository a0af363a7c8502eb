// Turning what the kernel side sends into absolute, normalized paths.
#pragma once

#include <string>
#include <string_view>

namespace agenttrace::collector {

// The BPF side walks dentries from a directory up to the process root and
// sends each name NUL-terminated, innermost first: "b\0a\0" means /a/b.
std::string path_from_components(std::string_view innermost_first);

// Lexically normalizes an absolute path: collapses "//", "." and "..".
// ".." at the root stays at the root, as the kernel does.
std::string normalize_path(std::string_view absolute);

// `path` made absolute against `base_dir` (already absolute) and normalized.
// An absolute `path` ignores base_dir.
std::string resolve_path(std::string_view base_dir, std::string_view path);

}  // namespace agenttrace::collector
