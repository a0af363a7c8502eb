#include "analyzer/code_evidence.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <map>

#include "analyzer/inspect/definitions.h"
#include "analyzer/inspect/scanner.h"
#include "analyzer/profile.h"
#include "common/elf_file.h"
#include "common/error.h"
#include "common/glob.h"
#include "common/safe_open.h"
#include "common/strings.h"

namespace agenttrace::analyzer {

namespace {

std::string base_name(const std::string& path) { return path.substr(path.rfind('/') + 1); }

enum class Interpreter { kNone, kNode, kBun, kDeno, kPython };

Interpreter runtime_of(const std::string& exe) {
  const std::string b = base_name(exe);
  if (b == "node" || b == "nodejs" || glob_match("node[0-9]*", b)) return Interpreter::kNode;
  if (b == "bun" || b == "bunx") return Interpreter::kBun;
  if (b == "deno") return Interpreter::kDeno;
  if (b == "python" || glob_match("python[0-9]*", b)) return Interpreter::kPython;
  return Interpreter::kNone;
}

// Options that take the next argument as their value, per runtime (the
// "--name=value" spelling needs no entry).
bool takes_value(Interpreter rt, const std::string& opt) {
  static const std::set<std::string> node = {"-r", "--require", "--import", "--loader", "--experimental-loader",
                                              "-C", "--conditions", "--env-file", "--input-type", "--title",
                                              "--max-old-space-size", "--stack-size", "--inspect-port"};
  static const std::set<std::string> bun = {"-r", "--preload", "--cwd", "--env-file", "--config", "-c",
                                             "--tsconfig-override", "--define", "-d", "--loader", "-l"};
  static const std::set<std::string> python = {"-W", "-X", "--check-hash-based-pycs"};
  switch (rt) {
    case Interpreter::kNode: return node.count(opt) > 0;
    case Interpreter::kBun: return bun.count(opt) > 0;
    case Interpreter::kPython: return python.count(opt) > 0;
    default: return false;
  }
}

bool inline_code_option(Interpreter rt, const std::string& opt) {
  if (rt == Interpreter::kPython) return opt == "-c";
  return opt == "-e" || opt == "--eval" || opt == "-p" || opt == "--print";
}

std::string absolute(const std::string& path, const std::string& cwd) {
  if (path.empty() || path[0] == '/' || cwd.empty()) return path;
  return cwd + (cwd.back() == '/' ? "" : "/") + path;
}

// May the user the command ran as read this file? Owner, group or other
// bits (supplementary groups and ACLs are not looked at: a file readable
// only through them is left out, never the other way round).
bool readable_by(const struct stat& st, uint32_t uid, uint32_t gid) {
  if (uid == 0) return true;
  if (st.st_uid == uid) return st.st_mode & S_IRUSR;
  if (st.st_gid == gid) return st.st_mode & S_IRGRP;
  return st.st_mode & S_IROTH;
}

std::string code_point_text(uint32_t cp) {
  char b[16];
  snprintf(b, sizeof(b), "U+%04X", cp);
  return b;
}

// Names of functions that call one of `names`: "NAME(" not preceded by an
// identifier character, a '.', or the word "function"/"def" (a definition).
void add_callers(std::string_view text, std::set<std::string>& names) {
  inspect::Input in;
  in.append(text);
  inspect::FunctionFinder finder;
  std::set<std::string> callers;
  for (const auto& name : names) {
    if (name.empty() || name == "unknown") continue;
    for (size_t at = text.find(name); at != std::string_view::npos; at = text.find(name, at + 1)) {
      size_t after = at + name.size();
      while (after < text.size() && inspect::is_space(static_cast<unsigned char>(text[after]))) ++after;
      if (after >= text.size() || text[after] != '(') continue;
      if (at > 0 && (inspect::is_ident(static_cast<unsigned char>(text[at - 1])) || text[at - 1] == '.')) continue;
      size_t before = at;
      while (before > 0 && inspect::is_space(static_cast<unsigned char>(text[before - 1]))) --before;
      auto ends_with = [&](std::string_view word) {
        return before >= word.size() && text.substr(before - word.size(), word.size()) == word;
      };
      if (ends_with("function") || ends_with("def")) continue;
      std::string caller = finder.function_at(in, at);
      if (caller != "unknown" && caller != name) callers.insert(caller);
    }
  }
  names.insert(callers.begin(), callers.end());
}

// The function around `offset` in a text held whole.
std::string function_around(std::string_view text, uint64_t offset) {
  inspect::Input in;
  in.append(text);
  inspect::FunctionFinder finder;
  return finder.function_at(in, std::min<uint64_t>(offset, text.size()));
}

}  // namespace

std::string js_function_of_frame(const std::string& symbol) {
  // Node's perf map: "JS:~name file:line:col", "LazyCompile:*name ...",
  // "Function:~name ...".
  size_t colon = symbol.find(':');
  if (colon == std::string::npos) return "";
  std::string kind = symbol.substr(0, colon);
  // JavaScriptCore's JITDump (Bun): "JSC-DFG: name#hash" for the Baseline,
  // DFG and FTL tiers; a script's top level is named by its path.
  if (kind == "JSC-Baseline" || kind == "JSC-DFG" || kind == "JSC-FTL") {
    size_t start = symbol.find_first_not_of(' ', colon + 1), hash = symbol.rfind('#');
    if (start == std::string::npos || hash == std::string::npos || hash <= start || symbol[start] == '/') return "";
    return symbol.substr(start, hash - start);
  }
  if (kind != "JS" && kind != "LazyCompile" && kind != "Function" && kind != "Script") return "";
  size_t i = colon + 1;
  while (i < symbol.size() && (symbol[i] == '~' || symbol[i] == '*' || symbol[i] == '^')) ++i;
  size_t end = symbol.find(' ', i);
  return symbol.substr(i, end == std::string::npos ? std::string::npos : end - i);
}

bool is_code_file(const std::string& path) {
  if (path.empty() || path[0] != '/') return false;
  static const char* const kExtensions[] = {".js", ".mjs", ".cjs", ".ts", ".mts", ".cts", ".jsx", ".tsx", ".py"};
  for (const char* ext : kExtensions) {
    size_t n = strlen(ext);
    if (path.size() > n && path.compare(path.size() - n, n, ext) == 0) return true;
  }
  return false;
}

std::vector<CodeSource> code_sources(const Profile& p) {
  std::vector<const ProcessInfo*> order;
  for (const auto& [pid, info] : p.processes) order.push_back(&info);
  std::stable_sort(order.begin(), order.end(),
                   [](const ProcessInfo* a, const ProcessInfo* b) { return a->first_event < b->first_event; });
  std::vector<CodeSource> out;
  std::set<std::string> seen;
  for (const ProcessInfo* info : order) {
    if (info->exe.empty()) continue;
    CodeSource src;
    src.pid = info->pid;
    src.root = p.root_of(info->pid);
    const Interpreter rt = runtime_of(info->exe);
    if (rt == Interpreter::kNone) {
      // Perhaps a single-file executable with a bundle; inspect_code looks.
      src.path = info->exe;
      src.label = info->exe;
      src.executable = true;
      if (seen.insert("exe\0" + src.path).second) out.push_back(std::move(src));
      continue;
    }
    const auto& argv = info->argv;
    for (size_t i = 1; i < argv.size(); ++i) {
      const std::string& a = argv[i];
      if (i == 1 && (rt == Interpreter::kBun || rt == Interpreter::kDeno) && a == "run") continue;
      if (((rt == Interpreter::kDeno && a == "eval") || inline_code_option(rt, a)) && i + 1 < argv.size()) {
        src.inline_code = argv[i + 1];
        src.inline_option = a;
        break;
      }
      if (rt == Interpreter::kPython && a == "-m") break;  // a module: its file is not resolved here
      if (a == "--") continue;
      if (!a.empty() && a[0] == '-') {
        if (a.find('=') == std::string::npos && takes_value(rt, a)) ++i;
        continue;
      }
      src.path = absolute(a, info->cwd);
      break;
    }
    if (!src.inline_code.empty()) {
      src.label = base_name(info->exe) + " " + src.inline_option;
      if (seen.insert("inline\0" + src.inline_code).second) out.push_back(std::move(src));
    } else if (!src.path.empty()) {
      src.label = src.path;
      if (seen.insert("file\0" + src.path).second) out.push_back(src);
    }
    for (const auto& file : info->code_files) {
      CodeSource mod;
      mod.pid = info->pid;
      mod.root = src.root;
      mod.path = mod.label = file;
      if (seen.insert("file\0" + file).second) out.push_back(std::move(mod));
    }
  }
  return out;
}

std::vector<std::string> flagged_lines(const CodeInspection& c) {
  std::vector<std::string> out;
  if (!c.inspected || !is_suspicious(c.report)) return out;
  const std::string& where = c.source.label;
  const uint64_t base = c.source.offset;  // report offsets count from where the code starts
  for (const auto& ch : c.report.choices) {
    std::string cands;
    for (const auto& cand : ch.candidates) {
      if (!cands.empty()) cands += ", ";
      for (char32_t cp : cand.text) cands += code_point_text(cp);
    }
    out.push_back(std::string(ch.shape == "replace" ? "a separator switch" : "a look-alike chooser") +
                  (ch.function == "unknown" ? "" : " (" + ch.function + ")") + " at " + where + ":" +
                  std::to_string(base + ch.offset) + " between " + cands + " (" + ch.reason +
                  (ch.conditions.empty() ? "" : ", chosen by " + join(ch.conditions, ", ")) + ")");
  }
  for (const auto& t : c.report.tables)
    out.push_back("an encoded list of " + std::to_string(t.item_count) + " " + t.kind + " at " + where + ":" +
                  std::to_string(base + t.offset) + " (" + t.encoding + ")");
  if (c.report.hidden_in_strings) {
    const HiddenCharFinding* first = nullptr;
    for (const auto& h : c.report.hidden)
      if (h.where == "string" && !first) first = &h;
    out.push_back(std::to_string(c.report.hidden_in_strings) + " hidden character" +
                  (c.report.hidden_in_strings == 1 ? "" : "s") + " in string literals of " + where +
                  (first ? " (the first at byte " + std::to_string(base + first->ch.offset) + ")" : ""));
  }
  return out;
}

std::vector<CodeInspection> inspect_code(const Profile& p, const CodeBudget& budget) {
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  auto elapsed = [&] { return std::chrono::duration<double>(Clock::now() - start).count(); };
  const uint32_t uid = p.header.command_uid(), gid = p.header.command_gid();
  std::vector<CodeInspection> out;
  for (CodeSource& src : code_sources(p)) {
    CodeInspection c;
    c.source = std::move(src);
    const bool maybe_bundle = c.source.executable;
    auto skip = [&](std::string why) {
      c.not_inspected = std::move(why);
      out.push_back(std::move(c));
    };
    if (out.size() >= budget.max_sources) {
      skip("more than " + std::to_string(budget.max_sources) + " programs; this one was not read");
      continue;
    }
    if (elapsed() >= budget.seconds) {
      skip("the " + std::to_string(static_cast<int>(budget.seconds)) + " s budget for reading code was spent");
      continue;
    }
    const auto t0 = Clock::now();
    Inspector inspector;
    std::string whole;  // the text, when small enough to join callers
    if (!c.source.inline_code.empty()) {
      inspector.feed(c.source.inline_code);
      whole = c.source.inline_code;
      c.bytes = c.source.inline_code.size();
    } else {
      char real[PATH_MAX];
      if (!realpath(c.source.path.c_str(), real)) {
        if (!maybe_bundle) skip(c.source.path + " is no longer there (" + errno_text(errno) + ")");
        continue;
      }
      SafeOpenOptions opts;
      opts.max_bytes = budget.max_file_bytes;
      opts.follow_in_root = false;
      SafeFile f = safe_open(real, opts);
      if (!f.ok()) {
        if (!maybe_bundle) skip(f.error);
        continue;
      }
      struct stat st {};
      if (fstat(f.fd.get(), &st) != 0 || !readable_by(st, uid, gid)) {
        if (!maybe_bundle) skip(std::string(real) + " is not readable by the user the command ran as; not read");
        continue;
      }
      uint64_t from = 0;
      if (maybe_bundle) {
        // A Bun single-file executable keeps its bundle from its `.bun`
        // section on; Bun itself has an 8-byte one. Anything else is not
        // code agenttrace reads.
        std::string error;
        auto elf = ElfFile::from_file(std::move(f), real, &error);
        auto bun = elf ? elf->section_extent(".bun") : std::nullopt;
        if (!bun || bun->second <= 8) continue;
        from = bun->first;
        c.source.offset = from;
        c.source.label = c.source.path + " (Bun bundle)";
        f = safe_open(real, opts);
        if (!f.ok()) {
          skip(f.error);
          continue;
        }
      }
      std::string chunk(kReadChunkBytes, '\0');
      const bool join_whole = f.size - from <= budget.max_join_bytes;
      for (uint64_t off = from; off < f.size;) {
        if (elapsed() >= budget.seconds) {
          c.cut_short = true;
          break;
        }
        ssize_t n = pread(f.fd.get(), chunk.data(), chunk.size(), static_cast<off_t>(off));
        if (n <= 0) break;
        std::string_view piece(chunk.data(), static_cast<size_t>(n));
        inspector.feed(piece);
        if (join_whole) whole.append(piece);
        off += static_cast<uint64_t>(n);
        c.bytes += static_cast<uint64_t>(n);
      }
    }
    c.report = inspector.finish();
    c.report.path = c.source.label;
    c.inspected = true;
    // Offsets of a bundle are the file's; the text held starts at `from`.
    if (is_suspicious(c.report)) {
      std::vector<uint64_t> at;
      for (const auto& ch : c.report.choices) at.push_back(ch.offset);
      for (const auto& t : c.report.tables) at.push_back(t.offset);
      if (!whole.empty()) {
        for (uint64_t o : at) {
          std::string fn = function_around(whole, o);
          if (fn != "unknown") c.flagged_functions.insert(fn);
        }
        add_callers(whole, c.flagged_functions);
      }
    }
    c.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    out.push_back(std::move(c));
  }
  return out;
}

}  // namespace agenttrace::analyzer
