// References to fingerprint sources (analyzer/kb/inspect.yaml): every
// pattern found in one pass, the longest match at a place kept, each with
// the function it is in (definitions.h).
#include <algorithm>
#include <vector>

#include "analyzer/inspect/definitions.h"
#include "analyzer/inspect/literal_matcher.h"
#include "analyzer/inspect/scanner.h"

namespace agenttrace::analyzer::inspect {

namespace {

// Whether the literal of `p` found at [*start, lit_end) is a match: at
// identifier boundaries, a whole string, or (a wildcard) after a name,
// whose start then goes into *start.
bool verify(const Input& in, const SourcePattern& p, uint64_t* start, uint64_t lit_end) {
  uint64_t s = *start;
  bool at_eof_end = lit_end >= in.end();
  if (p.whole_string) {
    if (s == 0 || s <= in.base() || at_eof_end) return false;
    unsigned char q = in.at(s - 1);
    return (is_quote(q) || q == 0) && in.at(lit_end) == q;
  }
  if (p.wildcard) {
    // An upper-case literal ("_BASE_URL") names a variable: the name before
    // it is upper-case too, which also finds it where a binary packs
    // strings without separators ("comGITHUB_API_URL").
    bool upper = std::none_of(p.literal.begin(), p.literal.end(), [](char c) { return c >= 'a' && c <= 'z'; });
    uint64_t j = s;
    size_t n = 0;
    while (j > in.base() && n <= 64) {
      unsigned char c = in.at(j - 1);
      bool ok = (c >= 'A' && c <= 'Z') || is_digit(c) || c == '_' || (!upper && c >= 'a' && c <= 'z');
      if (!ok) break;
      --j;
      ++n;
    }
    while (n > 0 && in.at(j) == '_') {  // "__PROXY" is not a name
      ++j;
      --n;
    }
    if (n == 0 || n > 64 || is_digit(in.at(j)) || (!upper && j > in.base() && is_ident(in.at(j - 1)))) return false;
    *start = s = j;
  } else if (is_ident(static_cast<unsigned char>(p.literal.front())) && s > in.base() && is_ident(in.at(s - 1))) {
    return false;
  }
  if (is_ident(static_cast<unsigned char>(p.literal.back())) && !at_eof_end && is_ident(in.at(lit_end))) return false;
  return true;
}

class SourceReferenceScanner final : public Scanner {
 public:
  explicit SourceReferenceScanner(const InspectRules& rules) : rules_(rules), matcher_(rules.patterns) {}

  // Matches starting in [from, to); the automaton starts afresh at `from`,
  // which finds every one of them, and reads on until they have all ended.
  void feed(const Input& in, uint64_t from, uint64_t to, InspectReport& out) override {
    uint64_t stop = std::min(in.end(), to + matcher_.max_len());
    std::vector<RawMatch> found;
    matcher_.scan(in.ptr(from), stop - from, [&](uint32_t pid, size_t end_index) {
      const SourcePattern& p = rules_.patterns[pid];
      uint64_t lit_end = from + end_index;
      uint64_t lit_start = lit_end - p.literal.size();
      if (lit_start >= to) return;
      uint64_t start = lit_start;
      if (!verify(in, p, &start, lit_end)) return;
      found.push_back({start, lit_end, pid});
    });
    // The longest match at a place wins ("resolvedOptions().timeZone" over
    // "resolvedOptions"); an exact pattern wins over a wildcard one.
    std::sort(found.begin(), found.end(), [&](const RawMatch& a, const RawMatch& b) {
      if (a.start != b.start) return a.start < b.start;
      if (a.end != b.end) return a.end > b.end;
      return rules_.patterns[a.pattern].wildcard < rules_.patterns[b.pattern].wildcard;
    });
    for (const RawMatch& m : found) {
      if (m.start >= last_ref_start_ && m.end <= last_ref_end_) continue;  // inside the previous one
      last_ref_start_ = m.start;
      last_ref_end_ = m.end;
      ++out.references_total;
      if (out.references.size() >= InspectReport::kMaxReferences) continue;
      SourceReference r;
      r.offset = m.start;
      r.pattern = m.pattern;
      r.category = rules_.patterns[m.pattern].category;
      r.match = std::string(in.view(m.start, m.end));
      r.function = functions_.function_at(in, m.start);
      out.references.push_back(std::move(r));
    }
  }


 private:
  struct RawMatch {
    uint64_t start;
    uint64_t end;
    size_t pattern;
  };


  const InspectRules& rules_;
  Matcher matcher_;
  FunctionFinder functions_;
  uint64_t last_ref_start_ = 0;
  uint64_t last_ref_end_ = 0;
};

}  // namespace

std::unique_ptr<Scanner> make_source_references_scanner(const InspectRules& rules) {
  return std::make_unique<SourceReferenceScanner>(rules);
}

}  // namespace agenttrace::analyzer::inspect
