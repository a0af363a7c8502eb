// The analyzer's rules: fingerprint collection, hidden and look-alike
// characters in outgoing payloads, value echo, credential access, coverage.
#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <set>

#include "analyzer/findings.h"
#include "analyzer/unicode_scan.h"
#include "analyzer/value_echo.h"
#include "trace/redaction.h"
#include "common/strings.h"
#include "common/utf8.h"

namespace agenttrace::analyzer {

namespace {

// Payload evidence per finding is capped; the count says how many there were.
constexpr size_t kMaxPayloadEvidence = 12;
// A stream with more invalid UTF-8 than this share is binary (ciphertext,
// compressed bodies): decoding it as text would find noise.
constexpr double kBinaryShare = 0.02;

// Ids hash what a finding is about (program, subject), never pids or times,
// so the same behavior gives the same id in every run.
std::string stable_id(const std::string& rule, const std::vector<std::string>& subject) {
  std::string key = rule;
  for (const auto& s : subject) key += '\0' + s;
  char buf[32];
  snprintf(buf, sizeof(buf), "-%08llx", static_cast<unsigned long long>(fnv1a(key) & 0xffffffffull));
  return rule + buf;
}

std::string program_of(const Profile& p, uint32_t pid) {
  auto it = p.processes.find(pid);
  if (it == p.processes.end()) return "";
  return it->second.exe.empty() ? it->second.comm : it->second.exe;
}

std::string who(const Profile& p, uint32_t pid) {
  auto it = p.processes.find(pid);
  std::string comm = it == p.processes.end() ? "?" : it->second.comm;
  return comm + " (pid " + std::to_string(pid) + ")";
}

std::string list_text(const std::vector<std::string>& items) {
  if (items.empty()) return "";
  if (items.size() == 1) return items[0];
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) out += i + 1 == items.size() ? " and " : ", ";
    out += items[i];
  }
  return out;
}

Evidence fact_evidence(const Fact& f) {
  Evidence e;
  e.event = f.first_event;
  e.stack_event = f.stack_event;
  e.wall_ns = f.first_wall_ns;
  e.pid = f.first_pid;
  e.comm = f.first_comm;
  e.category = f.category;
  if (f.kind == FactKind::kEnv)
    e.what = "getenv " + f.item + " (" + f.detail + ")";
  else if (f.kind == FactKind::kCall)
    e.what = f.item + " (" + f.detail + ")";
  else if (f.access == FileAccess::kReadlink)
    e.what = "readlink " + f.item + (f.target.empty() ? "" : " -> " + f.target);
  else
    e.what = f.detail + " " + f.item + (f.succeeded ? "" : " (absent)");
  if (f.count > 1) e.what += ", " + std::to_string(f.count) + " times";
  return e;
}

Evidence payload_evidence(const Profile& p, const PayloadStream& s, uint64_t data_offset,
                          uint64_t length) {
  Evidence e;
  const PayloadStream::Segment* seg = s.segment_at(data_offset);
  if (seg) {
    e.event = seg->event;
    e.wall_ns = seg->wall_ns;
    e.offset = seg->stream_offset + (data_offset - seg->data_offset);
  } else {
    e.offset = data_offset;
  }
  e.pid = s.pid;
  auto it = p.processes.find(s.pid);
  e.comm = it == p.processes.end() ? s.comm : it->second.comm;
  e.conn = s.conn;
  e.peer = s.peer;
  e.host = s.host;
  e.tls = s.tls;
  e.length = length;
  e.context = context_around(s.data, data_offset);
  return e;
}

std::string destination_text(const PayloadStream& s) {
  return s.host.empty() ? s.peer : s.host + " (" + s.peer + ")";
}

// Streams worth reading as text: not unix sockets, not ciphertext.
std::vector<const PayloadStream*> text_streams(const Profile& p) {
  std::set<uint32_t> tls_conns;
  for (const auto& s : p.streams)
    if (s.tls && s.conn) tls_conns.insert(s.conn);
  std::vector<const PayloadStream*> out;
  for (const auto& s : p.streams) {
    if (s.data.empty()) continue;
    if (!s.tls && s.conn && tls_conns.count(s.conn)) continue;  // its plaintext is there
    out.push_back(&s);
  }
  return out;
}

// ---- fingerprint collection ---------------------------------------------

// The base names a process tree ran under: what `runtimes` in the knowledge
// base are matched against.
std::vector<std::string> programs_of_tree(const Profile& p, uint32_t root) {
  std::set<std::string> names;
  for (const auto& [pid, info] : p.processes) {
    if (info.root != root && pid != root) continue;
    if (!info.exe.empty()) names.insert(info.exe.substr(info.exe.rfind('/') + 1));
    if (!info.comm.empty()) names.insert(info.comm);
  }
  return {names.begin(), names.end()};
}

// Runs after the rules whose findings are covert-channel evidence: gathering
// facts is evidence, not a verdict (docs/findings.md says why each severity).
void fingerprint_collection(const Profile& p, const KnowledgeBase& kb, const std::vector<Finding>& earlier,
                            std::vector<Finding>* out) {
  for (uint32_t root : p.roots) {
    auto last_send = p.last_send.find(root);
    if (last_send == p.last_send.end()) continue;
    const std::vector<std::string> programs = programs_of_tree(p, root);
    std::vector<std::string> titles;
    // Evidence order: what the program read beyond its runtime first, and in
    // each part the categories that answer the question most directly
    // (base URL, proxy, time zone, host identity) before ordinary ones.
    std::vector<std::pair<int, Evidence>> ev;
    size_t beyond = 0;  // categories read beyond what the runtime reads on its own
    std::vector<std::string> subject = {program_of(p, root)};
    for (const auto& cat : kb.categories()) {
      if (!cat.fingerprint) continue;
      auto items = p.facts.find(cat.id);
      if (items == p.facts.end()) continue;
      bool gathered = false, deliberate = false;
      size_t shown = 0;
      for (const auto& [item, f] : items->second) {
        bool in_tree = false;
        for (uint32_t pid : f.pids) in_tree |= p.root_of(pid) == root;
        // An environment lookup tells even when the variable is unset; a
        // file that does not exist tells little. Facts gathered after the
        // last send did not leave with it.
        if (!in_tree || !(f.succeeded || f.kind == FactKind::kEnv) || f.first_event > last_send->second) continue;
        gathered = true;
        const Runtime* runtime = cat.common ? nullptr : kb.runtime_reading(programs, f.item);
        bool own = cat.common || runtime;
        if (!own) deliberate = true;
        if (++shown > 8) continue;
        Evidence e = fact_evidence(f);
        if (runtime) e.what += " (" + runtime->id + " reads it on its own)";
        ev.emplace_back((own ? 2 : 0) + (cat.lead ? 0 : 1), std::move(e));
      }
      if (!gathered) continue;
      titles.push_back(cat.title);
      subject.push_back(cat.id);
      if (deliberate) ++beyond;
    }
    if (titles.size() < 2) continue;
    std::vector<Finding> of_tree;
    for (const auto& other : earlier)
      if (p.root_of(other.pid) == root) of_tree.push_back(other);
    const std::vector<std::string> covert = covert_evidence_rules(of_tree);
    Finding f;
    f.rule = "fingerprint-collection";
    f.severity = covert.empty() ? (beyond ? Severity::kLow : Severity::kInfo)
                                : (beyond ? Severity::kHigh : Severity::kMedium);
    f.pid = root;
    f.comm = p.processes.at(root).comm;
    // What left, and where to.
    uint64_t bytes = 0;
    std::vector<std::string> where;
    for (const auto& [key, d] : p.destinations) {
      bool ours = false;
      for (uint32_t pid : d.pids) ours |= p.root_of(pid) == root;
      if (!ours) continue;
      bytes += d.bytes_sent;
      if (where.size() < 3) where.push_back(key);
    }
    f.message = "The process tree of " + who(p, root) + " gathered " + list_text(titles) +
                " facts, then sent " + human_bytes(bytes) + " to " + list_text(where) + "; " +
                (beyond ? std::to_string(beyond) + (beyond == 1 ? " category" : " categories") +
                              " beyond what its runtime reads on its own"
                        : "nothing beyond what its runtime reads on its own") +
                (covert.empty() ? ", and no sign that they left covertly."
                                : ", and covert-channel evidence in what it sent (" + list_text(covert) + ").");
    std::stable_sort(ev.begin(), ev.end(), [](const auto& a, const auto& b) {
      return a.first != b.first ? a.first < b.first : a.second.event < b.second.event;
    });
    for (auto& ranked : ev) f.evidence.push_back(std::move(ranked.second));
    Evidence send;
    send.event = p.first_send.at(root);
    send.wall_ns = p.first_send_wall.at(root);
    send.pid = root;
    send.comm = f.comm;
    send.what = "first data sent over the network (to " + list_text(where) + ")";
    f.evidence.push_back(send);
    f.id = stable_id(f.rule, subject);
    out->push_back(std::move(f));
  }
}

// ---- 2. hidden and look-alike characters ---------------------------------

// The text as a reader of the request would see it: JSON \uXXXX escapes
// (Python's json.dumps writes every non-ASCII character that way) decoded to
// UTF-8, with where each byte came from in the original.
struct TextView {
  std::string text;
  std::vector<uint64_t> origin;  // empty: text is the data itself
  uint64_t to_original(uint64_t i) const { return origin.empty() ? i : origin[std::min<uint64_t>(i, origin.size() - 1)]; }
};

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool read_u16_escape(std::string_view d, size_t i, uint32_t* out) {
  if (i + 6 > d.size() || d[i] != '\\' || d[i + 1] != 'u') return false;
  uint32_t v = 0;
  for (size_t k = 2; k < 6; ++k) {
    int h = hex_value(d[i + k]);
    if (h < 0) return false;
    v = v * 16 + static_cast<uint32_t>(h);
  }
  *out = v;
  return true;
}

TextView json_unescaped(std::string_view d) {
  TextView v;
  if (d.find("\\u") == std::string_view::npos) {
    v.text = std::string(d);
    return v;
  }
  v.text.reserve(d.size());
  v.origin.reserve(d.size());
  for (size_t i = 0; i < d.size();) {
    uint32_t cp;
    // An escaped backslash is left alone so "\\u200b" stays literal text.
    if (d[i] == '\\' && i + 1 < d.size() && d[i + 1] == '\\') {
      v.text += "\\\\";
      v.origin.push_back(i);
      v.origin.push_back(i + 1);
      i += 2;
      continue;
    }
    if (read_u16_escape(d, i, &cp)) {
      size_t len = 6;
      uint32_t low;
      if (cp >= 0xD800 && cp < 0xDC00 && read_u16_escape(d, i + 6, &low) && low >= 0xDC00 && low < 0xE000) {
        cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
        len = 12;
      }
      size_t before = v.text.size();
      append_utf8(v.text, cp);
      for (size_t k = before; k < v.text.size(); ++k) v.origin.push_back(i);
      i += len;
      continue;
    }
    v.text += d[i];
    v.origin.push_back(i);
    ++i;
  }
  return v;
}

void hidden_characters(const Profile& p, std::vector<Finding>* out) {
  for (const PayloadStream* s : text_streams(p)) {
    TextView view = json_unescaped(s->data);
    ScanResult scan = scan_hidden_chars(view.text);
    if (scan.chars.empty()) continue;
    if (view.text.size() > 64 && static_cast<double>(scan.invalid_utf8_bytes) > kBinaryShare * view.text.size())
      continue;
    for (bool lookalike : {false, true}) {
      std::vector<const HiddenChar*> chars;
      for (const auto& c : scan.chars)
        if ((c.kind == HiddenChar::Kind::kLookalike) == lookalike) chars.push_back(&c);
      if (chars.empty()) continue;
      Finding f;
      f.rule = lookalike ? "lookalike-characters" : "hidden-characters";
      f.severity = Severity::kHigh;
      f.pid = s->pid;
      f.comm = s->comm;
      std::map<uint32_t, CodePoint> totals;
      for (const HiddenChar* c : chars) {
        CodePoint& cp = totals[c->code_point];
        cp.code_point = c->code_point;
        cp.name = c->name;
        cp.imitates = c->imitates;
        cp.count++;
      }
      std::vector<std::string> parts;
      for (const auto& [cp, t] : totals) {
        std::string part = code_point_label(cp);
        if (!t.imitates.empty()) part += " for '" + t.imitates + "'";
        parts.push_back(part + " x" + std::to_string(t.count));
        if (parts.size() == 4 && totals.size() > 4) {
          parts.push_back(std::to_string(totals.size() - 4) + " more kinds");
          break;
        }
      }
      f.message = who(p, s->pid) + " sent " + std::to_string(chars.size()) +
                  (lookalike ? " look-alike characters standing in for plain letters"
                             : " invisible or formatting characters") +
                  " to " + destination_text(*s) + (s->tls ? " inside TLS" : "") +
                  (view.origin.empty() ? "" : " (some written as JSON escapes)") + ": " + list_text(parts) + ".";
      // Evidence: runs of adjacent characters, each with its context.
      for (size_t i = 0; i < chars.size() && f.evidence.size() < kMaxPayloadEvidence;) {
        size_t j = i + 1;
        while (j < chars.size() && chars[j]->offset - chars[j - 1]->offset <= 8) ++j;
        uint64_t begin = chars[i]->offset, end = chars[j - 1]->offset + 1;
        uint64_t orig_begin = view.to_original(begin), orig_end = view.to_original(end - 1) + 1;
        Evidence e = payload_evidence(p, *s, orig_begin, orig_end - orig_begin);
        e.context = context_around(view.text, begin);
        std::map<uint32_t, CodePoint> run;
        for (size_t k = i; k < j; ++k) {
          CodePoint& cp = run[chars[k]->code_point];
          cp.code_point = chars[k]->code_point;
          cp.name = chars[k]->name;
          cp.imitates = chars[k]->imitates;
          cp.count++;
        }
        for (auto& [cp, c] : run) e.code_points.push_back(c);
        if (chars[i]->kind == HiddenChar::Kind::kTag) e.decoded = decode_tag_run(view.text, begin);
        e.what = std::to_string(j - i) + (lookalike ? " look-alike" : " hidden") + " character" +
                 (j - i == 1 ? "" : "s") + " at byte " + std::to_string(e.offset) + " of connection " +
                 std::to_string(s->conn);
        f.evidence.push_back(std::move(e));
        i = j;
      }
      // Host, or address without the port (a stand-in's port changes per run).
      std::string where = s->host.empty() ? s->peer.substr(0, s->peer.rfind(':')) : s->host;
      f.id = stable_id(f.rule, {program_of(p, s->pid), where, std::to_string(totals.begin()->first)});
      out->push_back(std::move(f));
    }
  }
}

// ---- 3. value echo --------------------------------------------------------

bool is_encoded(const std::string& encoding) { return encoding != "plain" && encoding != "plain-nocase"; }

// Where `value` comes back out in `data`. A redacted value (the collector
// replaced a secret by a marker, trace/redaction.h) is found by its marker:
// the collector, which saw the real bytes, put a marker of the same hash
// wherever the secret was sent, naming the encoding it was sent in.
std::vector<EchoMatch> echo_matches(std::string_view data, const std::string& value) {
  auto marker = trace::parse_redaction_marker(value);
  if (!marker || marker->length != value.size() || marker->hash.empty()) return find_value_echo(data, value);
  std::vector<EchoMatch> out;
  for (const auto& [offset, m] : trace::find_redaction_markers(data)) {
    size_t common = std::min(m.hash.size(), marker->hash.size());
    if (common < 8 || m.hash.compare(0, common, marker->hash, 0, common) != 0) continue;
    EchoMatch e;
    e.encoding = m.encoding.empty() ? "plain" : m.encoding;
    if (e.encoding.rfind("xor-", 0) == 0) e.encoding[3] = '+';
    e.offset = offset;
    e.length = m.length;
    out.push_back(std::move(e));
  }
  return out;
}

void value_echo(const Profile& p, const KnowledgeBase& kb, std::vector<Finding>* out) {
  const int creds = kb.index_of("credentials");
  const int endpoint = kb.index_of("api_endpoint");
  auto streams = text_streams(p);
  // Group by (tree, value) so one value sent many times is one finding.
  std::map<std::pair<uint32_t, std::string>, Finding> found;
  for (const ObtainedValue& v : p.values) {
    if (v.kind == "env" && p.header.canaries().count(v.name)) continue;  // canary-leak reports those
    // A credential or base URL sent where it belongs (an API key in its
    // header, a base URL as the Host) is not an echo; only encoded forms of
    // these count.
    bool expected_plain = false;
    if (v.kind == "env") {
      CategorySet cats = kb.classify_env(v.name);
      expected_plain = (creds >= 0 && (cats & (CategorySet{1} << creds))) ||
                       (endpoint >= 0 && (cats & (CategorySet{1} << endpoint)));
    }
    for (const PayloadStream* s : streams) {
      if (s->root != v.root) continue;
      auto matches = echo_matches(s->data, v.value);
      for (const auto& m : matches) {
        if (!is_encoded(m.encoding) && expected_plain) continue;
        auto [it, fresh] = found.try_emplace({v.root, v.kind + '\0' + v.name + '\0' + v.value});
        Finding& f = it->second;
        if (fresh) {
          f.rule = "value-echo";
          f.pid = v.root;
          f.comm = p.processes.count(v.root) ? p.processes.at(v.root).comm : "";
          f.severity = Severity::kMedium;
          Evidence origin;
          origin.event = v.event;
          origin.pid = v.pid;
          origin.comm = p.processes.count(v.pid) ? p.processes.at(v.pid).comm : "";
          origin.what = "obtained " + v.kind + " from " + v.name;
          f.evidence.push_back(origin);
          f.id = stable_id(f.rule, {program_of(p, v.root), v.kind, v.name});
        }
        if (is_encoded(m.encoding) || v.kind == "canary") f.severity = Severity::kHigh;
        if (f.evidence.size() <= kMaxPayloadEvidence) {
          Evidence e = payload_evidence(p, *s, m.offset, m.length);
          e.encoding = m.encoding + (m.xor_key ? " key 0x" + [&] {
            char b[8];
            snprintf(b, sizeof(b), "%02x", m.xor_key);
            return std::string(b);
          }() : std::string());
          e.what = v.kind + " from " + v.name + " sent " + (m.encoding == "plain" ? "as is" : "encoded as " + e.encoding) +
                   " at byte " + std::to_string(e.offset) + " of connection " + std::to_string(s->conn);
          f.evidence.push_back(std::move(e));
        }
      }
    }
  }
  // Encoded copies of a secret the collector knew (a credential from the
  // command's environment or a header, redacted where it was sent): its
  // marker names the secret's kind and the encoding, so the echo is found
  // without the value, and the value never reaches the trace.
  std::set<std::string> explained;
  for (const auto& [key, f] : found)
    if (auto m = trace::parse_redaction_marker(key.second.substr(key.second.rfind('\0') + 1))) explained.insert(m->hash.substr(0, 8));
  for (const PayloadStream* s : streams) {
    for (const auto& [offset, m] : trace::find_redaction_markers(s->data)) {
      if (m.encoding.empty() || m.encoding == "plain-nocase" || m.hash.empty() || explained.count(m.hash.substr(0, 8))) continue;
      auto [it, fresh] = found.try_emplace({s->root, "secret\0" + m.hash.substr(0, 8)});
      Finding& f = it->second;
      if (fresh) {
        f.rule = "value-echo";
        f.pid = s->root;
        f.comm = p.processes.count(s->root) ? p.processes.at(s->root).comm : "";
        f.severity = Severity::kHigh;
        Evidence origin;
        origin.pid = s->root;
        origin.comm = f.comm;
        // A short marker has no kind: the trailer names it by hash.
        std::string kind = m.kind;
        if (kind.empty())
          for (const auto& [hash, k] : p.trailer.redacted_secrets())
            if (hash.compare(0, m.hash.size(), m.hash) == 0) kind = k;
        // "env.OPENAI_API_KEY" -> obtained from the environment variable.
        bool env = kind.rfind("env.", 0) == 0;
        origin.what = "obtained " +
                      std::string(env ? "value of " + kind.substr(4) : (kind.empty() ? "secret" : kind + " secret")) +
                      " (redacted, hash " + m.hash + ")";
        f.evidence.push_back(origin);
        f.id = stable_id(f.rule, {program_of(p, s->root), "secret", kind.empty() ? m.hash : kind});
      }
      if (f.evidence.size() <= kMaxPayloadEvidence) {
        Evidence e = payload_evidence(p, *s, offset, m.length);
        e.encoding = m.encoding.rfind("xor-", 0) == 0 ? "xor+" + m.encoding.substr(4) : m.encoding;
        e.what = (m.kind.empty() ? "secret " + m.hash : m.kind) + " sent encoded as " + e.encoding + " at byte " + std::to_string(e.offset) + " of connection " +
                 std::to_string(s->conn);
        f.evidence.push_back(std::move(e));
      }
    }
  }
  for (auto& [key, f] : found) {
    std::set<std::string> encodings, dests;
    for (size_t i = 1; i < f.evidence.size(); ++i) {
      encodings.insert(f.evidence[i].encoding.substr(0, f.evidence[i].encoding.find(' ')));
      dests.insert(f.evidence[i].host.empty() ? f.evidence[i].peer : f.evidence[i].host);
    }
    std::string origin = f.evidence[0].what.substr(9);  // after "obtained "
    f.message = who(p, f.pid) + " sent the " + origin + " to " +
                list_text(std::vector<std::string>(dests.begin(), dests.end())) + " (" +
                list_text(std::vector<std::string>(encodings.begin(), encodings.end())) + ").";
    out->push_back(std::move(f));
  }
}

// ---- sandbox: canaries and destinations other than the stand-in ----------

void canary_leak(const Profile& p, std::vector<Finding>* out) {
  auto streams = text_streams(p);
  for (const auto& [var, token] : p.header.canaries()) {
    std::map<std::string, Finding> by_dest;
    for (const PayloadStream* s : streams) {
      for (const auto& m : find_value_echo(s->data, token)) {
        std::string dest = destination_text(*s);
        auto [it, fresh] = by_dest.try_emplace(dest);
        Finding& f = it->second;
        if (fresh) {
          f.rule = "canary-leak";
          f.severity = Severity::kHigh;
          f.pid = s->pid;
          f.comm = s->comm;
          std::string where = s->host.empty() ? s->peer.substr(0, s->peer.rfind(':')) : s->host;
          f.id = stable_id(f.rule, {var, where});
        }
        if (f.evidence.size() < kMaxPayloadEvidence) {
          Evidence e = payload_evidence(p, *s, m.offset, m.length);
          e.encoding = m.encoding;
          e.what = "canary of " + var + " sent " + (m.encoding == "plain" ? "as is" : "encoded as " + m.encoding) +
                   " at byte " + std::to_string(e.offset) + " of connection " + std::to_string(s->conn);
          f.evidence.push_back(std::move(e));
        }
      }
    }
    for (auto& [dest, f] : by_dest) {
      std::set<std::string> encodings;
      for (const auto& e : f.evidence) encodings.insert(e.encoding);
      f.message = "The canary value of " + var + " was sent to " + dest + " (" +
                  list_text(std::vector<std::string>(encodings.begin(), encodings.end())) + ") by " +
                  who(p, f.pid) + ".";
      out->push_back(std::move(f));
    }
  }
}

void unexpected_destinations(const Profile& p, std::vector<Finding>* out) {
  if (p.header.allowed_destinations().empty()) return;
  std::set<std::string> allowed(p.header.allowed_destinations().begin(), p.header.allowed_destinations().end());
  std::map<std::string, Finding> by_dest;
  auto flag = [&](const std::string& dest, const Evidence& e, uint32_t pid) {
    auto [it, fresh] = by_dest.try_emplace(dest);
    Finding& f = it->second;
    if (fresh) {
      f.rule = "unexpected-destination";
      f.severity = Severity::kHigh;
      f.pid = pid;
      f.comm = e.comm;
      f.id = stable_id(f.rule, {program_of(p, p.root_of(pid)), dest});
      f.message = who(p, pid) + " tried to reach " + dest + ", which is not the sandbox's stand-in.";
    }
    if (f.evidence.size() < kMaxPayloadEvidence) f.evidence.push_back(e);
  };
  for (const auto& [key, d] : p.destinations) {
    if (allowed.count(d.peer)) continue;
    for (uint32_t pid : d.pids) {
      Evidence e;
      e.event = d.first_event;
      e.pid = pid;
      e.comm = p.processes.count(pid) ? p.processes.at(pid).comm : "";
      e.what = (d.connections || d.bytes_sent ? "connection or datagram to " : "failed attempt to connect to ") + key;
      flag(key, e, pid);
      break;
    }
  }
  for (const auto& pt : p.timeline) {
    if (pt.lane != "dns" || pt.label.rfind("query ", 0) != 0) continue;
    Evidence e;
    e.event = pt.event;
    e.wall_ns = pt.wall_ns;
    e.pid = pt.pid;
    e.comm = p.processes.count(pt.pid) ? p.processes.at(pt.pid).comm : "";
    e.what = "DNS " + pt.label;
    flag("a DNS resolver (" + pt.label.substr(6) + ")", e, pt.pid);
  }
  for (auto& [k, f] : by_dest) out->push_back(std::move(f));
}

// ---- 4. credential access -------------------------------------------------

void credential_access(const Profile& p, std::vector<Finding>* out) {
  auto items = p.facts.find("credentials");
  if (items == p.facts.end()) return;
  for (uint32_t root : p.roots) {
    std::vector<const Fact*> got;
    bool files = false;
    for (const auto& [item, f] : items->second) {
      bool in_tree = false;
      for (uint32_t pid : f.pids) in_tree |= p.root_of(pid) == root;
      if (!in_tree || !f.succeeded) continue;
      got.push_back(&f);
      files |= f.kind == FactKind::kFile;
    }
    if (got.empty()) continue;
    std::sort(got.begin(), got.end(), [](const Fact* a, const Fact* b) { return a->first_event < b->first_event; });
    auto last_send = p.last_send.find(root);
    bool sent_after = last_send != p.last_send.end() && last_send->second > got.front()->first_event;
    Finding f;
    f.rule = "credential-access";
    f.pid = root;
    f.comm = p.processes.at(root).comm;
    f.severity = files ? (sent_after ? Severity::kMedium : Severity::kLow) : Severity::kInfo;
    std::vector<std::string> names;
    std::vector<std::string> subject = {program_of(p, root)};
    for (const Fact* c : got) {
      if (names.size() < 5) names.push_back(c->kind == FactKind::kEnv ? c->item + " (set)" : c->item);
      subject.push_back(c->item);
      f.evidence.push_back(fact_evidence(*c));
    }
    if (got.size() > 5) names.push_back(std::to_string(got.size() - 5) + " more");
    f.message = "The process tree of " + who(p, root) + " read credentials: " + list_text(names) +
                (sent_after ? "; it sent data over the network afterwards." : "; it sent nothing afterwards.");
    f.id = stable_id(f.rule, subject);
    out->push_back(std::move(f));
  }
}

// ---- sandbox escape attempts (agenttrace sandbox) -------------------------
// What the sandbox refused that a command only tries when it wants out: a
// write-open of the read-only host (anywhere but the sandbox's private
// tmpfs), a read of the host's hidden homes, a connect off loopback or to a
// unix socket the sandbox does not have, and the system calls its filter or
// its namespaces refused (system_call events: bpf, mount, modules, a new
// user namespace, signals and ptrace to processes outside, the 32-bit ABI,
// the process limit).

bool under(const std::string& path, const std::string& dir) {
  return path == dir || (path.size() > dir.size() && path.compare(0, dir.size(), dir) == 0 && path[dir.size()] == '/');
}

void sandbox_escape_attempts(const Profile& p, std::vector<Finding>* out) {
  if (p.header.mode() != "sandbox") return;
  auto add = [&](const std::string& item, const std::string& message, Evidence e, uint32_t pid) {
    Finding f;
    f.rule = "sandbox-escape-attempt";
    f.severity = Severity::kHigh;
    f.pid = pid;
    f.comm = e.comm;
    f.id = stable_id(f.rule, {program_of(p, p.root_of(pid)), item});
    f.message = who(p, pid) + " " + message;
    f.evidence.push_back(std::move(e));
    out->push_back(std::move(f));
  };
  for (const auto& [path, f] : p.files) {
    if (f.succeeded) continue;
    bool write = f.access == FileAccess::kWrite;
    bool private_area = false;
    for (const char* dir : {"/tmp", "/var/tmp", "/run", "/dev", "/home/agent"}) private_area |= under(path, dir);
    Evidence e = fact_evidence(f);
    e.what = f.detail + " " + path + " (refused)";
    // A name looked up directly in /home (/home/.git, /home/package.json) is
    // what a program walking up from its home directory to find a project
    // root asks for: not a host user's home. Inside one (/home/NAME/...) it is.
    const bool in_a_home = under(path, "/home") && path.find('/', std::strlen("/home/")) != std::string::npos;
    bool hidden = under(path, "/root") || (in_a_home && !under(path, "/home/agent"));
    if (hidden)
      add(path, std::string("tried to ") + (write ? "write " : "read ") + path +
                    ", in the host's home directories the sandbox hides.", e, f.first_pid);
    else if (write && !private_area)
      add(path, "tried to write " + path + ", which the sandbox shows read-only.", e, f.first_pid);
  }
  for (const auto& [key, d] : p.destinations) {
    if (d.loopback || !d.failed_attempts || d.connections) continue;
    Evidence e;
    e.event = d.first_event;
    e.pid = d.pids.empty() ? 0 : *d.pids.begin();
    e.comm = p.processes.count(e.pid) ? p.processes.at(e.pid).comm : "";
    e.what = "failed attempt to connect to " + key + " (" + std::to_string(d.failed_attempts) + " times)";
    add(key, "tried to leave the sandbox's network namespace for " + key + ".", e, e.pid);
  }
  for (const auto& [path, u] : p.unix_connects) {
    // The C library asks nscd on its own before reading /etc/passwd and the like.
    if (!u.failed_attempts || u.connections || path == "/var/run/nscd/socket" || path == "/run/nscd/socket") continue;
    Evidence e;
    e.event = u.first_event;
    e.pid = u.first_pid;
    e.comm = p.processes.count(e.pid) ? p.processes.at(e.pid).comm : "";
    e.what = "failed attempt to connect to the unix socket " + path + " (" + result_error_name(u.first_error) + ", " +
             std::to_string(u.failed_attempts) + " times)";
    add("unix:" + path, "tried to reach the unix socket " + path + ", which is not in the sandbox (" +
                            result_error_name(u.first_error) + ").", e, e.pid);
  }
  // In a new PID namespace pids are handed out from 1 up, one per process or
  // thread: a larger one never existed inside.
  uint64_t pids_inside = p.tasks_created + 1;
  for (const auto& [call, u] : p.system_calls) {
    if (!u.failed) continue;
    std::string err = result_error_name(u.first_error);
    std::string message;
    bool ia32 = call.rfind("ia32 ", 0) == 0;
    bool is_signal = call == "kill" || call == "tkill" || call == "tgkill";
    if (ia32) {
      message = "used the 32-bit system-call ABI (" + call.substr(5) + "), which the sandbox refuses (" + err + ").";
    } else if (is_signal || call == "ptrace") {
      std::vector<std::string> outside;
      for (uint64_t pid : u.failed_targets)
        if (static_cast<int64_t>(pid) > 0 && (call == "ptrace" || pid > pids_inside)) outside.push_back(std::to_string(pid));
      if (outside.empty()) continue;
      message = std::string("tried to ") + (is_signal ? "signal" : "ptrace") + " process " + list_text(outside) +
                (call == "ptrace" ? "" : ", outside the sandbox") + " (" + err + ").";
    } else if (call == "clone" || call == "fork" || call == "vfork" || call == "unshare") {
      if (u.first_error == -EAGAIN && call != "unshare")
        message = "ran into the sandbox's process limit: " + std::to_string(u.failed) + " " + call + " calls refused (EAGAIN).";
      else if (u.first_error == -EPERM)
        message = "tried to create a new user namespace with " + call + ", which the sandbox refuses (EPERM).";
      else
        continue;
    } else if (call.rfind("set", 0) == 0 && call.find("id") != std::string::npos) {
      message = "tried to change its user or group with " + call + " (" + err + ").";
    } else {
      message = "called " + call + (u.first_path.empty() ? "" : " (" + u.first_path + ")") +
                ", which the sandbox refuses (" + err + ", " + std::to_string(u.failed) + (u.failed == 1 ? " time)." : " times).");
    }
    Evidence e;
    e.event = u.first_failed_event;
    e.pid = u.first_failed_pid;
    e.comm = p.processes.count(e.pid) ? p.processes.at(e.pid).comm : "";
    e.what = call + (u.first_path.empty() ? "" : " " + u.first_path) + " = " + err;
    add("syscall:" + call, message, e, e.pid);
  }
}
// ---- end of sandbox escape attempts ----------------------------------------

// ---- 5. coverage gaps -----------------------------------------------------

// What a coverage signal is about, as the subject of a sentence.
std::string coverage_subject(const std::string& signal) {
  if (signal == "getenv") return "Environment lookups";
  if (signal == "tls") return "TLS plaintext";
  if (signal == "io_uring") return "Operations submitted through io_uring";
  if (signal == "process") return "Actions after the command exited";
  if (signal == "file") return "Files";
  return signal;
}

// The traced command line, quoted for a shell: the recording's own command,
// else (attach, watch) the argv of the process the finding is about.
std::string command_tail(const Profile& p, uint32_t pid) {
  std::vector<std::string> cmd;
  for (const auto& c : p.header.command()) cmd.push_back(shell_quote(c));
  if (cmd.empty() && p.processes.count(pid))
    for (const auto& a : p.processes.at(pid).argv) cmd.push_back(shell_quote(a));
  return cmd.empty() ? std::string() : " -- " + join(cmd, " ");
}

// Where a program's environment reads are partly or not at all visible, what
// it does with the variables that matter (time zone, proxy, API base URL) is
// shown by varying them: `diff` runs it with each value and compares what it
// sent; a sandbox canary is a fresh token the value would carry out. The base
// URLs named are those the tree was seen to look up (through C code, or by a
// runtime's own probe), else Anthropic's and OpenAI's.
std::vector<std::string> environment_confirm_commands(const Profile& p, uint32_t pid) {
  const std::string tail = command_tail(p, pid);
  if (tail.empty()) return {};
  std::vector<std::string> base_urls, endpoints;
  if (auto items = p.facts.find("api_endpoint"); items != p.facts.end())
    for (const auto& [item, f] : items->second)
      if (f.kind == FactKind::kEnv) (item.find("BASE_URL") != std::string::npos ? base_urls : endpoints).push_back(item);
  base_urls.insert(base_urls.end(), endpoints.begin(), endpoints.end());  // base URLs first
  if (base_urls.size() > 2) base_urls.resize(2);
  if (base_urls.empty()) base_urls = {"ANTHROPIC_BASE_URL", "OPENAI_BASE_URL"};
  std::string canaries;
  for (const auto& name : base_urls) canaries += " --canary " + shell_quote(name);
  return {"agenttrace diff --vary TZ=UTC,Asia/Tokyo" + tail,
          "agenttrace diff --vary HTTPS_PROXY=http://127.0.0.1:3128,http://127.0.0.1:8080" + tail,
          "agenttrace sandbox" + canaries + " --canary HTTPS_PROXY" + tail};
}

void coverage_gaps(const Profile& p, std::vector<Finding>* out) {
  std::map<std::string, Finding> by_key;
  for (const auto& [pid, proc] : p.processes) {
    for (const auto& c : proc.coverage) {
      if (c.state() == "observed") continue;
      std::string key = c.signal() + '\0' + c.state() + '\0' + c.object();
      auto [it, fresh] = by_key.try_emplace(key);
      Finding& f = it->second;
      if (fresh) {
        f.rule = "coverage-gap";
        f.pid = pid;
        f.comm = proc.comm;
        f.severity = c.state() == "gap" || c.state() == "partial" ? Severity::kLow : Severity::kInfo;
        f.message = coverage_subject(c.signal()) + " of " + who(p, pid) + " are " +
                    (c.state() == "gap" ? "not visible" : c.state() == "partial" ? "only partly visible" : "visible only from when probes were placed") +
                    ": " + (c.signal() == "getenv" || c.signal() == "tls" ? "" : who(p, pid) + " ") + c.detail() + ".";
        f.id = stable_id(f.rule, {c.signal(), c.state(), c.object()});
        if (c.signal() == "getenv" && (c.state() == "gap" || c.state() == "partial")) f.confirm = environment_confirm_commands(p, pid);
      }
      if (f.evidence.size() < kMaxPayloadEvidence) {
        Evidence e;
        e.pid = pid;
        e.comm = proc.comm;
        e.what = c.signal() + " " + c.state() + ": " + c.detail() + (c.object().empty() ? "" : " (" + c.object() + ")");
        f.evidence.push_back(e);
      }
    }
  }
  for (auto& [k, f] : by_key) out->push_back(std::move(f));

  if (p.attached) {
    Finding f;
    f.rule = "coverage-gap";
    f.severity = Severity::kInfo;
    std::vector<uint32_t> before;
    for (const auto& [pid, proc] : p.processes)
      if (proc.before_trace) before.push_back(pid);
    f.message = before.empty()
                    ? "The recording attached to processes already running: what they gathered before is unknown."
                    : "The recording attached to " + std::to_string(before.size()) +
                          (before.size() == 1 ? " process" : " processes") +
                          " already running: what they gathered before tracing began is unknown.";
    f.id = stable_id(f.rule, {"attached"});
    for (uint32_t pid : before) {
      if (f.evidence.size() >= kMaxPayloadEvidence) break;
      const ProcessInfo& proc = p.processes.at(pid);
      Evidence e;
      e.event = proc.first_event;
      e.wall_ns = proc.start_wall_ns;
      e.pid = pid;
      e.comm = proc.comm;
      e.what = "running since " + (proc.start_wall_ns ? format_time_ns(proc.start_wall_ns) : std::string("an unknown time")) +
               " before tracing began: " + (proc.exe.empty() ? proc.comm : proc.exe);
      f.evidence.push_back(std::move(e));
    }
    out->push_back(std::move(f));
  }
  // Losses are coverage too: the trace does not hold everything that happened.
  uint64_t dropped = 0, pairing_full = 0;
  for (const auto& k : p.trailer.kinds()) {
    dropped += k.dropped();
    pairing_full += k.pairing_full();
  }
  std::vector<std::string> losses;
  if (!p.has_trailer) losses.push_back("the trace has no closing record (the recording was cut short)");
  if (dropped) losses.push_back(std::to_string(dropped) + " events dropped by a full ring buffer");
  if (p.trailer.payload_gaps()) losses.push_back(std::to_string(p.trailer.payload_gaps()) + " payloads with missing bytes");
  if (p.trailer.decode_errors()) losses.push_back(std::to_string(p.trailer.decode_errors()) + " undecodable records");
  if (p.trailer.stash_full() || p.trailer.filter_full() || pairing_full)
    losses.push_back("kernel tables were full (" +
                     std::to_string(p.trailer.stash_full() + p.trailer.filter_full() + pairing_full) + " losses)");
  if (!losses.empty()) {
    Finding f;
    f.rule = "events-lost";
    f.severity = Severity::kMedium;
    f.message = "The trace is incomplete: " + list_text(losses) + ".";
    f.id = stable_id(f.rule, {});
    out->push_back(std::move(f));
  }
}

}  // namespace

const char* severity_name(Severity s) {
  switch (s) {
    case Severity::kInfo: return "info";
    case Severity::kLow: return "low";
    case Severity::kMedium: return "medium";
    case Severity::kHigh: return "high";
  }
  return "info";
}

const std::vector<RuleInfo>& rules() {
  static const std::vector<RuleInfo> all = {
      {"hidden-characters", "Hidden characters in outgoing data",
       "Invisible or formatting code points (zero-width characters, word joiner, BOM, soft hyphen, "
       "bidi controls, tag characters, variation selectors) in data a process sent."},
      {"lookalike-characters", "Look-alike characters in outgoing data",
       "Code points confusable with ASCII letters or digits standing in inside otherwise plain "
       "words or numbers of data a process sent."},
      {"value-echo", "Host or environment value in outgoing data",
       "A value the process tree obtained (time zone, host name, machine id, user name, an "
       "environment value, a canary) appears in data it sent, plainly or encoded (base64, hex, URL "
       "encoding, reversed, single-byte XOR)."},
      {"canary-leak", "Canary value in outgoing data",
       "A sandbox canary (a variable set to a fresh random token for the run) appears in data the "
       "command sent, plainly or encoded."},
      {"covert-encoding-code", "Covert encoding in the program's own code",
       "The code a traced process ran (the script of node, bun, deno or python, a Bun single-file "
       "executable's bundle) holds what `agenttrace inspect` flags: a look-alike chooser, an encoded "
       "table of hosts, zones or keywords, hidden characters. High when the tree sent data; joined, "
       "where stacks name JavaScript functions, to the lookups made from those functions."},
      {"fingerprint-collection", "Fingerprint collection",
       "A process tree gathered facts from two or more fingerprint categories (time zone, locale, "
       "proxy or gateway, API endpoints, network configuration, host identity, hardware, terminal and "
       "editor, installation ids) and then "
       "sent data over the network. Info when all of it is what its runtime reads on its own, low "
       "when it read more; medium or high only with covert-channel evidence from the same tree "
       "(hidden or look-alike characters, an encoded value echo, a canary leak, covert encoding "
       "code): high when it also read beyond its runtime."},
      {"unexpected-destination", "Destination other than the stand-in",
       "In a sandbox run, the command connected, sent a datagram or asked DNS somewhere other than "
       "the built-in stand-in."},
      {"credential-access", "Credential access",
       "Credential files were read or secret-bearing environment variables were set and looked "
       "up; the finding says whether data was sent afterwards."},
      {"sandbox-escape-attempt", "Sandbox escape attempt",
       "In a sandbox run, the command tried a way out that the sandbox refused: writing the "
       "read-only host, reading the host's hidden home directories, connecting off loopback."},
      {"coverage-gap", "Coverage gap",
       "A signal that could not be observed for a process: environment lookups of static or Go "
       "programs, TLS plaintext without a probed SSL library, operations submitted through "
       "io_uring, what a process did after the command exited, facts from before attaching."},
      {"events-lost", "Events lost",
       "The trace is incomplete: dropped events, payload gaps, undecodable records or a missing "
       "closing record."},
      // Raised by `collect` (fleet/fleet_analysis.cpp), not by run_rules: only
      // the stream knows which subject a recording was published on.
      {"host-mismatch", "Recording claims another host",
       "A recording read from NATS names a host other than the subject it was published on (which "
       "the server's permissions tie to one host): in its header, or in the de-duplication ids of "
       "its messages. It is reported under the subject's host."},
  };
  return all;
}

// ---- covert encoding code ------------------------------------------------

// `agenttrace diff` commands that would confirm a channel carrying the time
// zone or the proxy settings the tree looked up: one per variable (diff
// varies one at a time), and the zone file when it was read.
std::vector<std::string> confirm_commands(const Profile& p, const KnowledgeBase& kb, uint32_t root) {
  const std::string tail = command_tail(p, root);
  std::vector<std::string> out;
  if (tail.empty()) return out;
  auto looked_up = [&](const std::string& category, auto&& each) {
    auto items = p.facts.find(category);
    if (items == p.facts.end()) return;
    for (const auto& [item, f] : items->second) {
      bool in_tree = false;
      for (uint32_t pid : f.pids) in_tree |= p.root_of(pid) == root;
      if (in_tree) each(f);
    }
  };
  looked_up("timezone", [&](const Fact& f) {
    if (f.kind == FactKind::kEnv && f.item == "TZ") out.push_back("agenttrace diff --vary TZ=UTC,Asia/Tokyo" + tail);
    if (f.kind == FactKind::kFile && f.item == "/etc/localtime")
      out.push_back("agenttrace diff --vary-localtime UTC,Asia/Tokyo" + tail);
  });
  looked_up("proxy", [&](const Fact& f) {
    // Proxy URLs, not CA bundles or NO_PROXY, which the category also holds.
    std::string upper;
    for (char ch : f.item) upper += static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    const bool proxy_url = upper.size() > 6 && upper.compare(upper.size() - 6, 6, "_PROXY") == 0 && upper != "NO_PROXY";
    if (f.kind == FactKind::kEnv && proxy_url && out.size() < 4 && kb.classify_env(f.item))
      out.push_back("agenttrace diff --vary " + shell_quote(f.item) +
                    "=http://127.0.0.1:3128,http://127.0.0.1:8080" + tail);
  });
  return out;
}

// The program's own code holds what inspect flags, and the tree gathered
// facts and sent: high. Where JIT stacks name the functions, the lookups made
// from a flagged function or one that calls it are quoted with it.
void covert_encoding_code(const Profile& p, const KnowledgeBase& kb, std::vector<Finding>* out) {
  std::map<uint32_t, std::vector<const CodeInspection*>> by_root;
  for (const auto& c : p.code)
    if (!flagged_lines(c).empty()) by_root[c.source.root].push_back(&c);
  for (const auto& [root, codes] : by_root) {
    Finding f;
    f.rule = "covert-encoding-code";
    f.pid = root;
    f.comm = p.processes.count(root) ? p.processes.at(root).comm : "";
    std::vector<std::string> what, subject = {program_of(p, root)};
    std::set<std::string> flagged;
    for (const CodeInspection* c : codes) {
      for (auto& line : flagged_lines(*c)) {
        Evidence e;
        e.pid = c->source.pid;
        e.comm = p.processes.count(e.pid) ? p.processes.at(e.pid).comm : "";
        e.what = "the program's own code holds " + line;
        if (what.size() < 3) what.push_back(line);
        f.evidence.push_back(std::move(e));
      }
      subject.push_back(c->source.label);
      flagged.insert(c->flagged_functions.begin(), c->flagged_functions.end());
    }
    // Lookups of fingerprint facts whose stacks pass through a flagged function.
    std::vector<std::string> joined;
    for (const auto& cat : kb.categories()) {
      if (!cat.fingerprint) continue;
      auto items = p.facts.find(cat.id);
      if (items == p.facts.end()) continue;
      for (const auto& [item, fact] : items->second) {
        if (!fact.stack_event || p.root_of(fact.first_pid) != root) continue;
        const trace::Stack* st = p.stack_of(fact.stack_event);
        if (!st) continue;
        std::string via;
        for (const auto& frame : st->frames()) {
          std::string fn = js_function_of_frame(frame.symbol());
          if (!fn.empty() && flagged.count(fn)) {
            via = fn;
            break;
          }
        }
        if (via.empty()) continue;
        Evidence e = fact_evidence(fact);
        e.event = fact.stack_event;
        e.what += ", from " + via + ", which holds or calls the flagged code";
        if (joined.size() < 4) joined.push_back(fact.kind == FactKind::kEnv ? fact.item : fact.item + " (" + fact_kind_name(fact.kind) + ")");
        f.evidence.push_back(std::move(e));
      }
    }
    const bool sent = p.last_send.count(root) > 0;
    f.severity = sent ? Severity::kHigh : Severity::kMedium;
    f.message = "The code " + who(p, root) + " ran holds " + list_text(what) +
                (joined.empty() ? "" : "; " + list_text(joined) + " " + (joined.size() == 1 ? "was" : "were") +
                                           " looked up from the functions that hold or call it") +
                (sent ? ", and the tree sent data over the network." : "; the tree sent nothing over the network.");
    f.confirm = confirm_commands(p, kb, root);
    f.id = stable_id(f.rule, subject);
    out->push_back(std::move(f));
  }
}

bool is_covert_evidence(const Finding& f) {
  return f.rule == "hidden-characters" || f.rule == "lookalike-characters" || f.rule == "canary-leak" ||
         f.rule == "covert-encoding-code" || (f.rule == "value-echo" && f.severity == Severity::kHigh);
}

std::vector<std::string> covert_evidence_rules(const std::vector<Finding>& findings) {
  std::vector<std::string> out;
  for (const auto& f : findings)
    if (is_covert_evidence(f) && std::find(out.begin(), out.end(), f.rule) == out.end()) out.push_back(f.rule);
  return out;
}

std::vector<Finding> run_rules(const Profile& profile, const KnowledgeBase& kb) {
  std::vector<Finding> out;
  hidden_characters(profile, &out);
  value_echo(profile, kb, &out);
  canary_leak(profile, &out);
  covert_encoding_code(profile, kb, &out);
  fingerprint_collection(profile, kb, out, &out);
  credential_access(profile, &out);
  unexpected_destinations(profile, &out);
  sandbox_escape_attempts(profile, &out);
  coverage_gaps(profile, &out);
  std::stable_sort(out.begin(), out.end(), [](const Finding& a, const Finding& b) {
    if (a.severity != b.severity) return a.severity > b.severity;
    uint64_t ea = a.evidence.empty() ? 0 : a.evidence.front().event;
    uint64_t eb = b.evidence.empty() ? 0 : b.evidence.front().event;
    return ea < eb;
  });
  return out;
}

}  // namespace agenttrace::analyzer
