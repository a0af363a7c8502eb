// The knowledge base: which environment names, paths and calls belong to
// which category of host or user facts. Data, not code: the default ships in
// analyzer/kb/default.yaml (compiled into the binary) and --kb adds a file.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "trace/redaction.h"

namespace agenttrace::analyzer {

struct Category {
  std::string id;     // "timezone"
  std::string title;  // "time zone"
  bool fingerprint = false;
  bool common = false;  // runtimes read it on their own (time zone, locale)
  bool lead = false;    // its facts lead evidence lists (base URL, proxy, time zone, host identity)
  std::vector<std::string> env;       // name globs
  std::vector<std::string> paths;     // path globs, ~/ expanded
  std::vector<std::string> syscalls;  // event kinds, e.g. "uname"
};

// A language runtime (or the C library under every program) and the fact
// items it reads on its own, whatever the program does.
struct Runtime {
  std::string id;                  // "node"
  std::vector<std::string> exe;    // base-name globs of its executables; "*": every process
  std::vector<std::string> reads;  // item globs: paths, environment names, calls
};

// Categories an item belongs to, as a bit set over KnowledgeBase::categories().
using CategorySet = uint64_t;

class KnowledgeBase {
 public:
  // The built-in knowledge base.
  static KnowledgeBase builtin();
  // Parses YAML text; throws agenttrace::Error naming `source` and the line.
  static KnowledgeBase parse(std::string_view yaml, const std::string& source);
  // Adds a file's categories: a known id gets the new patterns added, a new
  // id becomes a new category. Throws agenttrace::Error.
  void extend_from_file(const std::string& path);
  void extend(const KnowledgeBase& other);

  const std::vector<Category>& categories() const { return categories_; }
  int index_of(std::string_view id) const;  // -1 when unknown

  // Classification, memoized per distinct name and path.
  CategorySet classify_env(std::string_view name) const;
  CategorySet classify_path(std::string_view path) const;
  CategorySet classify_syscall(std::string_view kind) const;
  // The path of an open to judge: as the program named it, unless only the
  // file it really opened (real_path, symlinks resolved) is known here; a
  // link chain to the time zone file is then filed under time zone.
  const std::string& judged_path(const std::string& path, const std::string& real_path) const;

  std::vector<std::string> category_ids(CategorySet set) const;
  const std::vector<Runtime>& runtimes() const { return runtimes_; }
  // The runtime, among those whose executables match one of `programs`
  // (base names), that reads `item` (path, variable name or call) on its
  // own; nullptr when none does.
  const Runtime* runtime_reading(const std::vector<std::string>& programs, std::string_view item) const;

  static constexpr size_t kMaxCategories = 64;

  // What counts as a credential for redaction (the `secrets` section).
  const trace::SecretRules& secret_rules() const { return secrets_; }
  // Whether an environment variable's value is a credential.
  bool is_secret_env(std::string_view name) const;

 private:
  CategorySet classify(std::unordered_map<std::string, CategorySet>& cache,
                       std::vector<std::string> Category::*patterns, std::string_view item) const;

  std::vector<Category> categories_;
  std::vector<Runtime> runtimes_;
  trace::SecretRules secrets_;
  mutable std::unordered_map<std::string, CategorySet> env_cache_;
  mutable std::unordered_map<std::string, CategorySet> path_cache_;
};

// "~/.ssh/**" -> {"/root/.ssh/**", "/home/*/.ssh/**"}; other patterns as is.
std::vector<std::string> expand_home(const std::string& pattern);

}  // namespace agenttrace::analyzer
