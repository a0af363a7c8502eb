#include "analyzer/inspect.h"

#include <fcntl.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <map>
#include <memory>

#include "analyzer/inspect/scanner.h"
#include "analyzer/yaml_list.h"
#include "common/error.h"
#include "common/strings.h"
#include "common/utf8.h"

namespace agenttrace::analyzer {

extern const char kInspectRules[];  // generated from kb/inspect.yaml

namespace {

using inspect::key_text;
using inspect::lower;

}  // namespace

// ---- InspectRules ----------------------------------------------------------------------

const InspectRules& InspectRules::builtin() {
  static const InspectRules rules = parse(kInspectRules, "built-in inspect rules");
  return rules;
}

InspectRules InspectRules::parse(std::string_view yaml, const std::string& source) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& e) {
    throw Error(source + ": line " + std::to_string(e.mark.line + 1) + ": " + e.msg);
  }
  if (!root.IsMap()) throw Error(source + " is not an inspect rules file (expected a mapping with `sources`)");
  for (const auto& kv : root) {
    std::string key = kv.first.as<std::string>("");
    if (key != "version" && key != "sources" && key != "keywords" && key != "env_names" && key != "tlds")
      throw Error(source + ": line " + std::to_string(kv.first.Mark().line + 1) + ": unknown key `" + key +
                  "` (expected version, sources, keywords, env_names, tlds)");
  }
  if (root["version"] && (!root["version"].IsScalar() || root["version"].Scalar() != "1"))
    throw Error(source + ": inspect rules version must be 1");
  const YAML::Node sources = root["sources"];
  if (!sources || !sources.IsSequence()) throw Error(source + ": `sources` must be a list");
  InspectRules rules;
  for (const auto& node : sources) {
    std::string line = std::to_string(node.Mark().line + 1);
    if (!node.IsMap()) throw Error(source + ": line " + line + ": a source must be a mapping");
    for (const auto& kv : node) {
      std::string key = kv.first.as<std::string>("");
      if (key != "id" && key != "title" && key != "text" && key != "strings")
        throw Error(source + ": line " + std::to_string(kv.first.Mark().line + 1) + ": unknown key `" + key +
                    "` (expected id, title, text, strings)");
    }
    if (!node["id"] || !node["id"].IsScalar() || node["id"].Scalar().empty())
      throw Error(source + ": line " + line + ": a source needs an `id`");
    SourceCategory c;
    c.id = node["id"].Scalar();
    c.title = node["title"] && node["title"].IsScalar() ? node["title"].Scalar() : c.id;
    for (const auto& other : rules.categories) {
      if (other.id == c.id) throw Error(source + ": line " + line + ": source `" + c.id + "` appears twice");
    }
    size_t index = rules.categories.size();
    rules.categories.push_back(c);
    for (bool whole : {false, true}) {
      for (const auto& text : yaml_string_list(node[whole ? "strings" : "text"], whole ? "strings" : "text", source)) {
        SourcePattern p;
        p.category = index;
        p.pattern = text;
        p.whole_string = whole;
        p.wildcard = !whole && text[0] == '*';
        p.literal = p.wildcard ? text.substr(1) : text;
        if (p.literal.empty() || p.literal.find('*') != std::string::npos)
          throw Error(source + ": line " + line + ": pattern `" + text +
                      "` may only have one `*`, at its start, before other characters");
        if (p.literal.size() > 200)
          throw Error(source + ": line " + line + ": pattern `" + text.substr(0, 40) + "...` is over 200 bytes");
        if (!p.wildcard) rules.keywords.insert(lower(p.literal));
        rules.patterns.push_back(std::move(p));
      }
    }
  }
  for (const auto& k : yaml_string_list(root["keywords"], "keywords", source)) rules.keywords.insert(lower(k));
  for (const auto& e : yaml_string_list(root["env_names"], "env_names", source)) rules.env_names.insert(e);
  for (const auto& t : yaml_string_list(root["tlds"], "tlds", source)) rules.tlds.insert(lower(t));
  return rules;
}

bool is_suspicious(const InspectReport& r) {
  return !r.tables.empty() || r.hidden_in_strings > 0 || !r.choices.empty();
}

// ---- the engine -------------------------------------------------------------------------

// Holds the input (inspect::Input) and gives each piece of it to every
// scanner (analyzer/inspect/scanner.h); the findings are theirs.
class Inspector::Engine {
 public:
  explicit Engine(const InspectRules& rules) : scanners_(inspect::make_scanners(rules)) {
    // Once, at its bound for kReadChunkBytes pieces: growing by doubling
    // could otherwise reserve twice that.
    input_.reserve(kMaxRetainedBytes + kReadChunkBytes);
  }

  void feed(std::string_view bytes) {
    input_.append(bytes);
    report_.size += bytes.size();
    if (!kind_decided_) {
      if (input_.end() < kKindSample) return;
      decide_kind();
    }
    // Each position is scanned once, when kLookahead bytes after it are
    // there; small feeds are gathered into steps of at least kMinStep.
    if (input_.end() >= done_ + kLookahead + kMinStep) {
      uint64_t to = input_.end() - kLookahead;
      for (auto& s : scanners_) s->feed(input_, done_, to, report_);
      done_ = to;
    }
    trim();
  }

  InspectReport finish() {
    if (!kind_decided_) decide_kind();
    for (auto& s : scanners_) {
      if (input_.end() > done_) s->feed(input_, done_, input_.end(), report_);
      s->finish(input_, report_);
    }
    done_ = input_.end();
    auto by_offset = [](const auto& a, const auto& b) { return a.offset < b.offset; };
    std::stable_sort(report_.tables.begin(), report_.tables.end(), by_offset);
    // A run can be seen as base64 and as hex; one table per offset.
    report_.tables.erase(std::unique(report_.tables.begin(), report_.tables.end(),
                                     [](const EncodedTable& a, const EncodedTable& b) { return a.offset == b.offset; }),
                         report_.tables.end());
    std::stable_sort(report_.hidden.begin(), report_.hidden.end(),
                     [](const HiddenCharFinding& a, const HiddenCharFinding& b) { return a.ch.offset < b.ch.offset; });
    std::stable_sort(report_.choices.begin(), report_.choices.end(), by_offset);
    std::stable_sort(report_.data.begin(), report_.data.end(), by_offset);
    // A hidden character that is a value of a data table (an entity table's
    // raw ZWJ) is the table's, not text the program sends.
    for (auto& h : report_.hidden) {
      if (h.where != "string") continue;
      for (const auto& d : report_.data) {
        if (h.ch.offset >= d.offset && h.ch.offset < d.end) {
          h.where = "table";
          --report_.hidden_in_strings;
          break;
        }
      }
    }
    std::stable_sort(report_.references.begin(), report_.references.end(), by_offset);
    return std::move(report_);
  }

 private:
  static constexpr size_t kKindSample = 64 * 1024;  // first bytes that decide text or binary

  // Executables and data files are not text; embedded scripts in them are
  // told apart from machine code by their surroundings (see
  // kTextContextBytes).
  void decide_kind() {
    kind_decided_ = true;
    std::string_view s = input_.view(0, std::min<uint64_t>(input_.end(), kKindSample));
    if (s.size() >= 4 && s.substr(0, 4) == "\x7f" "ELF") {
      report_.file_kind = "elf";
      input_.set_text(false);
      return;
    }
    size_t bad = 0;
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
    for (size_t i = 0; i < s.size();) {
      unsigned char c = p[i];
      if (c == 0) {
        bad = s.size();
        break;
      }
      if (c < 0x80) {
        if (c < 0x20 && !inspect::is_space(c) && c != '\f' && c != '\v' && c != 0x1b) ++bad;
        ++i;
        continue;
      }
      Utf8Decoded d = decode_utf8_at(p, s.size(), i);
      if (d.len == 0) {
        // A sequence cut by the end of the sample is not an error.
        if (s.size() - i < 4 && s.size() < report_.size) break;
        ++bad;
        ++i;
      } else {
        i += d.len;
      }
    }
    bool text = bad * 100 <= s.size();
    input_.set_text(text);
    report_.file_kind = text ? "text" : "binary";
  }

  // Drops input no scanner needs any more: everything before the function
  // lookback and before what a scanner still reads (the start of an open
  // run that is not yet too long to be decoded).
  void trim() {
    uint64_t keep = done_ > kFunctionLookback ? done_ - kFunctionLookback : 0;
    for (const auto& s : scanners_) keep = std::min(keep, s->keep_from(done_));
    if (keep > input_.base() + kTrimStep) input_.drop_before(keep);
  }

  std::vector<std::unique_ptr<inspect::Scanner>> scanners_;
  inspect::Input input_;
  uint64_t done_ = 0;  // offsets before it have been given to the scanners
  bool kind_decided_ = false;
  InspectReport report_;
};

Inspector::Inspector(const InspectRules& rules) : engine_(new Engine(rules)) {}
Inspector::~Inspector() { delete engine_; }
void Inspector::feed(std::string_view bytes) { engine_->feed(bytes); }
InspectReport Inspector::finish() { return engine_->finish(); }

InspectReport inspect_buffer(std::string_view data, const InspectRules& rules) {
  Inspector in(rules);
  for (size_t off = 0; off < data.size(); off += kReadChunkBytes) {
    in.feed(data.substr(off, kReadChunkBytes));
  }
  return in.finish();
}

InspectReport inspect_file(const std::string& path, const InspectRules& rules) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error("cannot read " + path + ": " + errno_text(errno));
  (void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  Inspector in(rules);
  std::unique_ptr<char[]> chunk(new char[kReadChunkBytes]);
  for (;;) {
    ssize_t n = ::read(fd, chunk.get(), kReadChunkBytes);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      throw Error("cannot read " + path + ": " + errno_text(err));
    }
    if (n == 0) break;
    in.feed(std::string_view(chunk.get(), static_cast<size_t>(n)));
  }
  ::close(fd);
  InspectReport r = in.finish();
  r.path = path;
  return r;
}

// ---- reports -------------------------------------------------------------------------------

namespace {

std::string cp_hex(uint32_t cp) {
  char buf[16];
  snprintf(buf, sizeof buf, "U+%04X", cp);
  return buf;
}

trace::Json char_json(uint32_t cp) {
  std::string label = code_point_label(cp);
  std::string hex = cp_hex(cp);
  std::string name = label.size() > hex.size() + 1 ? label.substr(hex.size() + 1) : std::string();
  return trace::Json{{"code_point", hex}, {"name", name}};
}

}  // namespace

trace::Json inspect_json(const InspectReport& r, const InspectRules& rules) {
  trace::Json j;
  j["file"] = r.path;
  j["size"] = r.size;
  j["file_kind"] = r.file_kind;
  j["suspicious"] = is_suspicious(r);
  j["exit_status"] = is_suspicious(r) ? kExitFindings : kExitOk;

  trace::Json tables = trace::Json::array();
  for (const auto& t : r.tables) {
    trace::Json e;
    e["offset"] = t.offset;
    e["length"] = t.length;
    e["encoding"] = t.encoding;
    e["key"] = t.xor_key == 0 ? std::string("none") : key_text(t.xor_key);
    e["in_string"] = t.in_string;
    e["separator"] = t.separator;
    e["kind"] = t.kind;
    e["item_count"] = t.item_count;
    e["recognized"] = t.recognized;
    e["items"] = t.items;
    e["items_truncated"] = t.items.size() < t.item_count;
    tables.push_back(std::move(e));
  }
  j["encoded_tables"] = std::move(tables);

  trace::Json hidden = trace::Json::array();
  for (const auto& h : r.hidden) {
    trace::Json e;
    e["offset"] = h.ch.offset;
    e["code_point"] = cp_hex(h.ch.code_point);
    e["name"] = h.ch.name;
    e["kind"] = kind_name(h.ch.kind);
    if (!h.ch.imitates.empty()) e["imitates"] = h.ch.imitates;
    e["context"] = h.context;
    e["where"] = h.where;
    hidden.push_back(std::move(e));
  }
  j["hidden_characters"] = {{"total", r.hidden_total},
                            {"in_strings", r.hidden_in_strings},
                            {"in_regex", r.hidden_in_regex},
                            {"truncated", r.hidden.size() < r.hidden_total},
                            {"items", std::move(hidden)}};

  trace::Json choices = trace::Json::array();
  for (const auto& c : r.choices) {
    trace::Json e;
    e["offset"] = c.offset;
    e["second_offset"] = c.second_offset;
    e["reason"] = c.reason;
    e["shape"] = c.shape;
    e["function"] = c.function;
    e["characters"] = trace::Json::array({char_json(c.first), char_json(c.second)});
    trace::Json cands = trace::Json::array();
    for (const auto& cand : c.candidates) {
      trace::Json cps = trace::Json::array();
      for (char32_t cp : cand.text) cps.push_back(char_json(cp));
      cands.push_back({{"offset", cand.offset}, {"spelling", context_around(cand.spelling, 0, 64)},
                       {"code_points", std::move(cps)}});
    }
    e["candidates"] = std::move(cands);
    e["conditions"] = c.conditions;
    e["snippet"] = c.snippet;
    choices.push_back(std::move(e));
  }
  j["lookalike_choices"] = std::move(choices);

  trace::Json data = trace::Json::array();
  for (const auto& d : r.data) {
    data.push_back({{"offset", d.offset}, {"kind", d.kind}, {"entries", d.entries}, {"snippet", d.snippet}});
  }
  j["data_tables"] = std::move(data);

  std::vector<size_t> per_category(rules.categories.size());
  for (const auto& ref : r.references) ++per_category[ref.category];
  trace::Json cats = trace::Json::array();
  for (size_t i = 0; i < rules.categories.size(); ++i) {
    if (per_category[i] == 0) continue;
    cats.push_back({{"id", rules.categories[i].id}, {"title", rules.categories[i].title}, {"count", per_category[i]}});
  }
  trace::Json refs = trace::Json::array();
  for (const auto& ref : r.references) {
    refs.push_back({{"offset", ref.offset},
                    {"category", rules.categories[ref.category].id},
                    {"pattern", rules.patterns[ref.pattern].pattern},
                    {"match", ref.match},
                    {"function", ref.function}});
  }
  j["fingerprint_sources"] = {{"total", r.references_total},
                              {"truncated", r.references.size() < r.references_total},
                              {"categories", std::move(cats)},
                              {"references", std::move(refs)}};
  j["blobs"] = {{"examined", r.blobs_examined}, {"too_long", r.blobs_too_long}};
  return j;
}

std::string inspect_text(const InspectReport& r, const InspectRules& rules) {
  constexpr size_t kShown = 8;  // entries per section: one screen for the common case
  std::string out;
  // Items, contexts and snippets are the file's own bytes: each line is
  // escaped whole (it has no colour of its own), so none can forge another.
  auto line = [&](const std::string& s) { out += terminal_safe(s) + "\n"; };
  auto plural = [](size_t n, const char* one, const char* many) {
    return std::to_string(n) + " " + (n == 1 ? one : many);
  };
  line("agenttrace inspect: " + (r.path.empty() ? std::string("(buffer)") : r.path) + " (" + human_bytes(r.size) +
       ", " + r.file_kind + ")");

  if (!r.tables.empty()) {
    line("");
    line("encoded string tables (" + std::to_string(r.tables.size()) + "):");
    for (size_t i = 0; i < r.tables.size() && i < kShown; ++i) {
      const EncodedTable& t = r.tables[i];
      static const std::map<std::string, std::string> kKindText = {
          {"hosts", "hosts"}, {"domain-suffixes", "domain suffixes"}, {"time-zones", "time zones"},
          {"env-names", "environment variable names"}, {"keywords", "fingerprint keywords"},
          {"mixed", "fingerprint names (mixed kinds)"}};
      auto kt = kKindText.find(t.kind);
      std::string kind = kt == kKindText.end() ? t.kind : kt->second;
      line("  @" + std::to_string(t.offset) + "  " + t.encoding + ", key " +
           (t.xor_key == 0 ? std::string("none") : key_text(t.xor_key)) + ", " +
           std::to_string(t.item_count) + " " + kind + (t.in_string ? " (string literal, " : " (raw, ") +
           std::to_string(t.length) + " chars)");
      std::string items;
      size_t shown = 0;
      for (const auto& item : t.items) {
        if (items.size() + item.size() > 200) break;
        items += (shown++ == 0 ? "" : ", ") + item;
      }
      if (shown < t.item_count) items += ", ... " + std::to_string(t.item_count - shown) + " more";
      line("      " + items);
    }
    if (r.tables.size() > kShown) line("  ... " + std::to_string(r.tables.size() - kShown) + " more (--format json)");
  }

  if (r.hidden_total > 0) {
    line("");
    uint64_t in_tables = 0;
    for (const auto& h : r.hidden) in_tables += h.where == "table";
    uint64_t elsewhere = r.hidden_total - r.hidden_in_strings - r.hidden_in_regex - in_tables;
    line("hidden characters (" + std::to_string(r.hidden_total) + ": " + std::to_string(r.hidden_in_strings) +
         " in string literals, " + std::to_string(r.hidden_in_regex) + " in regular expressions and " +
         std::to_string(in_tables) + " in data tables (data), " + std::to_string(elsewhere) + " in comments or code):");
    // String literals first: those are what counts.
    std::vector<const HiddenCharFinding*> order;
    for (const auto& h : r.hidden) if (h.where == "string") order.push_back(&h);
    for (const auto& h : r.hidden) if (h.where != "string") order.push_back(&h);
    for (size_t i = 0; i < order.size() && i < kShown; ++i) {
      const HiddenCharFinding& h = *order[i];
      std::string what = code_point_label(h.ch.code_point) + " (" + kind_name(h.ch.kind) +
                         (h.ch.imitates.empty() ? "" : ", imitates '" + h.ch.imitates + "'") + ", in " + h.where + ")";
      line("  @" + std::to_string(h.ch.offset) + "  " + what);
      line("      " + h.context);
    }
    if (r.hidden_total > kShown) line("  ... " + std::to_string(r.hidden_total - kShown) + " more (--format json)");
  }

  if (!r.choices.empty()) {
    line("");
    line("look-alike choices (" + std::to_string(r.choices.size()) + "):");
    for (size_t i = 0; i < r.choices.size() && i < kShown; ++i) {
      const LookalikeChoice& c = r.choices[i];
      std::string cands;
      for (const auto& cand : c.candidates) {
        if (!cands.empty()) cands += ", ";
        for (size_t k = 0; k < cand.text.size(); ++k) cands += (k ? "+" : "") + code_point_label(cand.text[k]);
      }
      line("  @" + std::to_string(c.offset) + "  " + c.reason + " (" + c.shape +
           (c.function == "unknown" ? "" : " in " + c.function) + "): " + cands);
      if (!c.conditions.empty()) line("      chosen by: " + join(c.conditions, ", "));
      line("      " + c.snippet);
    }
    if (r.choices.size() > kShown) line("  ... " + std::to_string(r.choices.size() - kShown) + " more (--format json)");
  }

  if (!r.data.empty()) {
    line("");
    line("look-alike or invisible characters as data, not choices (" + std::to_string(r.data.size()) + "):");
    for (size_t i = 0; i < r.data.size() && i < kShown; ++i) {
      const DataTable& d = r.data[i];
      line("  @" + std::to_string(d.offset) + "  " + d.kind + ", " + std::to_string(d.entries) + " entries: " + d.snippet);
    }
    if (r.data.size() > kShown) line("  ... " + std::to_string(r.data.size() - kShown) + " more (--format json)");
  }

  line("");
  if (r.references_total == 0) {
    line("fingerprint sources: none referenced");
  } else {
    line("fingerprint sources (" + plural(r.references_total, "reference", "references") + "):");
    for (size_t c = 0; c < rules.categories.size(); ++c) {
      // Per category: each distinct text matched, how often, and where first.
      std::map<std::string, std::pair<size_t, const SourceReference*>> by_match;
      std::vector<std::string> order;
      size_t count = 0;
      for (const auto& ref : r.references) {
        if (ref.category != c) continue;
        ++count;
        auto [it, fresh] = by_match.try_emplace(ref.match, 0, &ref);
        if (fresh) order.push_back(ref.match);
        ++it->second.first;
      }
      if (count == 0) continue;
      std::string s = "  " + rules.categories[c].title + " (" + std::to_string(count) + "): ";
      for (size_t i = 0; i < order.size() && i < 4; ++i) {
        const auto& [n, first] = by_match[order[i]];
        s += (i == 0 ? "" : "; ") + order[i] + (n > 1 ? " x" + std::to_string(n) : "") + " @" +
             std::to_string(first->offset) + (first->function == "unknown" ? "" : " in " + first->function);
      }
      if (order.size() > 4) s += "; ... " + std::to_string(order.size() - 4) + " more";
      line(s);
    }
    if (r.references.size() < r.references_total) {
      line("  (the first " + std::to_string(r.references.size()) + " are listed in --format json)");
    }
  }

  line("");
  if (is_suspicious(r)) {
    std::vector<std::string> what;
    if (!r.tables.empty()) what.push_back(plural(r.tables.size(), "encoded table", "encoded tables"));
    if (r.hidden_in_strings > 0)
      what.push_back(plural(r.hidden_in_strings, "hidden character", "hidden characters") + " in string literals");
    if (!r.choices.empty()) what.push_back(plural(r.choices.size(), "look-alike choice", "look-alike choices"));
    line("verdict: suspicious: " + join(what, ", ") + " (exit 3)");
  } else if (r.hidden_total > 0 || !r.data.empty()) {
    line("verdict: nothing hidden found: " +
         (r.hidden_total > 0 ? plural(r.hidden_total, "hidden character", "hidden characters") +
                                   " only in regular expressions, data tables, comments or code" : std::string("")) +
         (r.hidden_total > 0 && !r.data.empty() ? "; " : "") +
         (r.data.empty() ? std::string("") : plural(r.data.size(), "character table", "character tables") + " (data)") +
         " (exit 0)");
  } else {
    line("verdict: nothing hidden found (exit 0)");
  }
  return out;
}

}  // namespace agenttrace::analyzer
