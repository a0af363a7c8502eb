#include "analyzer/knowledge_base.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "common/glob.h"
#include "analyzer/yaml_list.h"
#include "common/error.h"

namespace agenttrace::analyzer {

extern const char kDefaultKnowledgeBase[];  // generated from kb/default.yaml

std::vector<std::string> expand_home(const std::string& pattern) {
  if (pattern.rfind("~/", 0) != 0) return {pattern};
  std::string rest = pattern.substr(1);
  return {"/root" + rest, "/home/*" + rest};
}

KnowledgeBase KnowledgeBase::builtin() { return parse(kDefaultKnowledgeBase, "built-in knowledge base"); }

KnowledgeBase KnowledgeBase::parse(std::string_view yaml, const std::string& source) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& e) {
    throw Error(source + ": line " + std::to_string(e.mark.line + 1) + ": " + e.msg);
  }
  if (!root.IsMap()) throw Error(source + " is not a knowledge-base file (expected a mapping with `categories`)");
  if (root["version"] && (!root["version"].IsScalar() || root["version"].Scalar() != "1"))
    throw Error(source + ": knowledge-base version must be 1");
  for (const auto& kv : root) {
    std::string key = kv.first.as<std::string>("");
    if (key != "version" && key != "categories" && key != "runtimes" && key != "secrets")
      throw Error(source + ": line " + std::to_string(kv.first.Mark().line + 1) + ": unknown key `" + key +
                  "` (expected version, categories, runtimes, secrets)");
  }
  const YAML::Node cats = root["categories"];
  if (!cats || !cats.IsSequence())
    throw Error(source + ": `categories` must be a list");
  KnowledgeBase kb;
  for (const auto& node : cats) {
    std::string line = std::to_string(node.Mark().line + 1);
    if (!node.IsMap()) throw Error(source + ": line " + line + ": a category must be a mapping");
    for (const auto& kv : node) {
      std::string key = kv.first.as<std::string>("");
      if (key != "id" && key != "title" && key != "fingerprint" && key != "common" && key != "lead" &&
          key != "env" && key != "paths" && key != "syscalls")
        throw Error(source + ": line " + std::to_string(kv.first.Mark().line + 1) + ": unknown key `" +
                    key + "` (expected id, title, fingerprint, common, lead, env, paths, syscalls)");
    }
    Category c;
    if (!node["id"] || !node["id"].IsScalar() || node["id"].Scalar().empty())
      throw Error(source + ": line " + line + ": a category needs an `id`");
    c.id = node["id"].Scalar();
    c.title = node["title"] && node["title"].IsScalar() ? node["title"].Scalar() : c.id;
    for (auto [key, field] : {std::pair{"fingerprint", &c.fingerprint}, std::pair{"common", &c.common},
                              std::pair{"lead", &c.lead}}) {
      if (!node[key]) continue;
      const std::string& v = node[key].Scalar();
      if (v != "true" && v != "false")
        throw Error(source + ": line " + line + ": `" + key + "` must be true or false");
      *field = v == "true";
    }
    c.env = yaml_string_list(node["env"], "env", source);
    for (const auto& p : yaml_string_list(node["paths"], "paths", source)) {
      if (p[0] != '/' && p.rfind("~/", 0) != 0 && p.rfind("**", 0) != 0)
        throw Error(source + ": line " + line + ": path pattern `" + p +
                    "` must start with /, ~/ or **");
      for (auto& e : expand_home(p)) c.paths.push_back(std::move(e));
    }
    c.syscalls = yaml_string_list(node["syscalls"], "syscalls", source);
    if (kb.index_of(c.id) >= 0) throw Error(source + ": line " + line + ": category `" + c.id + "` appears twice");
    if (kb.categories_.size() == kMaxCategories)
      throw Error(source + ": more than " + std::to_string(kMaxCategories) + " categories");
    kb.categories_.push_back(std::move(c));
  }
  if (const YAML::Node rts = root["runtimes"]) {
    if (!rts.IsSequence()) throw Error(source + ": line " + std::to_string(rts.Mark().line + 1) + ": `runtimes` must be a list");
    for (const auto& node : rts) {
      std::string line = std::to_string(node.Mark().line + 1);
      if (!node.IsMap()) throw Error(source + ": line " + line + ": a runtime must be a mapping");
      for (const auto& kv : node) {
        std::string key = kv.first.as<std::string>("");
        if (key != "id" && key != "exe" && key != "reads")
          throw Error(source + ": line " + std::to_string(kv.first.Mark().line + 1) + ": unknown key `" + key +
                      "` in a runtime (expected id, exe, reads)");
      }
      Runtime r;
      if (!node["id"] || !node["id"].IsScalar() || node["id"].Scalar().empty())
        throw Error(source + ": line " + line + ": a runtime needs an `id`");
      r.id = node["id"].Scalar();
      r.exe = yaml_string_list(node["exe"], "exe", source);
      if (r.exe.empty()) throw Error(source + ": line " + line + ": runtime `" + r.id + "` needs `exe` (\"*\" for every process)");
      for (const auto& g : yaml_string_list(node["reads"], "reads", source))
        for (auto& e : expand_home(g)) r.reads.push_back(std::move(e));
      kb.runtimes_.push_back(std::move(r));
    }
  }
  if (const YAML::Node sec = root["secrets"]) {
    if (!sec.IsMap()) throw Error(source + ": line " + std::to_string(sec.Mark().line + 1) + ": `secrets` must be a mapping");
    for (const auto& kv : sec) {
      std::string key = kv.first.as<std::string>("");
      if (key != "headers" && key != "keys" && key != "tokens")
        throw Error(source + ": line " + std::to_string(kv.first.Mark().line + 1) + ": unknown key `" + key +
                    "` in secrets (expected headers, keys, tokens)");
    }
    kb.secrets_.headers = yaml_string_list(sec["headers"], "secrets.headers", source);
    kb.secrets_.keys = yaml_string_list(sec["keys"], "secrets.keys", source);
    if (const YAML::Node toks = sec["tokens"]) {
      if (!toks.IsSequence()) throw Error(source + ": line " + std::to_string(toks.Mark().line + 1) + ": secrets.tokens must be a list");
      for (const auto& t : toks) {
        std::string line = std::to_string(t.Mark().line + 1);
        if (!t.IsMap() || !t["kind"] || !t["prefix"] || t["prefix"].Scalar().empty())
          throw Error(source + ": line " + line + ": a token rule needs a `kind` and a non-empty `prefix`");
        trace::TokenRule r;
        r.kind = t["kind"].Scalar();
        r.prefix = t["prefix"].Scalar();
        if (t["chars"]) r.chars = t["chars"].Scalar();
        if (r.chars != "alnum" && r.chars != "alnum-_" && r.chars != "alnum_" && r.chars != "alnum-" &&
            r.chars != "upper-digit" && r.chars != "base64url")
          throw Error(source + ": line " + line + ": token chars must be alnum, alnum-_, alnum_, alnum- or upper-digit");
        try {
          if (t["min"]) r.min = t["min"].as<size_t>();
          if (t["max"]) r.max = t["max"].as<size_t>();
        } catch (const YAML::Exception&) {
          throw Error(source + ": line " + line + ": token min and max must be whole numbers");
        }
        if (r.min == 0 || r.max < r.min) throw Error(source + ": line " + line + ": token min must be at least 1 and at most max");
        for (char c : r.kind)
          if (!(isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.'))
            throw Error(source + ": line " + line + ": a token kind may hold letters, digits, '-', '_' and '.'");
        kb.secrets_.tokens.push_back(std::move(r));
      }
    }
  }
  return kb;
}

bool KnowledgeBase::is_secret_env(std::string_view name) const {
  const int creds = index_of("credentials");
  return creds >= 0 && (classify_env(name) & (CategorySet{1} << creds)) != 0;
}

void KnowledgeBase::extend(const KnowledgeBase& other) {
  for (const auto& c : other.categories_) {
    int i = index_of(c.id);
    if (i < 0) {
      if (categories_.size() == kMaxCategories)
        throw Error("knowledge base: more than " + std::to_string(kMaxCategories) + " categories");
      categories_.push_back(c);
      continue;
    }
    Category& mine = categories_[static_cast<size_t>(i)];
    mine.env.insert(mine.env.end(), c.env.begin(), c.env.end());
    mine.paths.insert(mine.paths.end(), c.paths.begin(), c.paths.end());
    mine.syscalls.insert(mine.syscalls.end(), c.syscalls.begin(), c.syscalls.end());
    if (c.fingerprint) mine.fingerprint = true;
    if (c.common) mine.common = true;
    if (c.lead) mine.lead = true;
    if (c.title != c.id) mine.title = c.title;
  }
  // A user's runtime of a known id reads more; a new id is a new runtime.
  for (const auto& r : other.runtimes_) {
    auto mine = std::find_if(runtimes_.begin(), runtimes_.end(), [&](const Runtime& x) { return x.id == r.id; });
    if (mine == runtimes_.end()) {
      runtimes_.push_back(r);
      continue;
    }
    mine->exe.insert(mine->exe.end(), r.exe.begin(), r.exe.end());
    mine->reads.insert(mine->reads.end(), r.reads.begin(), r.reads.end());
  }
  // A user's secrets section adds to the built-in one (its token rules
  // first: a more precise format of theirs names the kind).
  secrets_.headers.insert(secrets_.headers.end(), other.secrets_.headers.begin(), other.secrets_.headers.end());
  secrets_.keys.insert(secrets_.keys.end(), other.secrets_.keys.begin(), other.secrets_.keys.end());
  secrets_.tokens.insert(secrets_.tokens.begin(), other.secrets_.tokens.begin(), other.secrets_.tokens.end());
  env_cache_.clear();
  path_cache_.clear();
}

void KnowledgeBase::extend_from_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw Error("cannot read knowledge-base file " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  extend(parse(ss.str(), path));
}

int KnowledgeBase::index_of(std::string_view id) const {
  for (size_t i = 0; i < categories_.size(); ++i)
    if (categories_[i].id == id) return static_cast<int>(i);
  return -1;
}

CategorySet KnowledgeBase::classify(std::unordered_map<std::string, CategorySet>& cache,
                                    std::vector<std::string> Category::*patterns,
                                    std::string_view item) const {
  auto it = cache.find(std::string(item));
  if (it != cache.end()) return it->second;
  CategorySet set = 0;
  for (size_t i = 0; i < categories_.size(); ++i)
    for (const auto& g : categories_[i].*patterns)
      if (glob_match(g, item)) {
        set |= CategorySet{1} << i;
        break;
      }
  cache.emplace(std::string(item), set);
  return set;
}

CategorySet KnowledgeBase::classify_env(std::string_view name) const {
  return classify(env_cache_, &Category::env, name);
}

CategorySet KnowledgeBase::classify_path(std::string_view path) const {
  return classify(path_cache_, &Category::paths, path);
}

CategorySet KnowledgeBase::classify_syscall(std::string_view kind) const {
  CategorySet set = 0;
  for (size_t i = 0; i < categories_.size(); ++i)
    for (const auto& s : categories_[i].syscalls)
      if (s == kind) set |= CategorySet{1} << i;
  return set;
}

const Runtime* KnowledgeBase::runtime_reading(const std::vector<std::string>& programs, std::string_view item) const {
  for (const auto& r : runtimes_) {
    bool runs = false;
    for (const auto& g : r.exe)
      for (const auto& prog : programs) runs = runs || glob_match(g, prog);
    if (!runs) continue;
    for (const auto& g : r.reads)
      if (glob_match(g, item)) return &r;
  }
  return nullptr;
}

const std::string& KnowledgeBase::judged_path(const std::string& path, const std::string& real_path) const {
  if (real_path.empty() || classify_path(path) || !classify_path(real_path)) return path;
  return real_path;
}

std::vector<std::string> KnowledgeBase::category_ids(CategorySet set) const {
  std::vector<std::string> out;
  for (size_t i = 0; i < categories_.size(); ++i)
    if (set & (CategorySet{1} << i)) out.push_back(categories_[i].id);
  return out;
}

}  // namespace agenttrace::analyzer
