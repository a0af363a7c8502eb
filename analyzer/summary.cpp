#include "analyzer/summary.h"

#include <algorithm>
#include <fcntl.h>

#include "common/strings.h"

namespace agenttrace::analyzer {

namespace {

constexpr size_t kListed = 12;  // coverage gaps shown

std::string destination_key(const trace::SockAddr& addr, const std::string& host) {
  std::string where = trace::sockaddr_text(addr);
  return host.empty() ? where : host + " (" + where + ")";
}

bool is_shared_library(const std::string& path) {
  return path.find(".so") != std::string::npos &&
         (path.ends_with(".so") || path.find(".so.") != std::string::npos);
}

}  // namespace

void SummaryBuilder::on_header(const trace::Header& h) {
  header_ = h;
  if (h.root_pid()) processes_.insert(h.root_pid());
}

void SummaryBuilder::add_tz_fact(const std::string& fact) {
  if (tz_seen_.insert(fact).second) tz_facts_.push_back(fact);
}

void SummaryBuilder::on_event(const trace::Event& e) {
  kinds_[std::string(trace::event_kind(e))]++;
  last_mono_ns_ = e.mono_ns();
  const int tz = kb_.index_of("timezone");
  auto in_tz = [&](CategorySet s) { return tz >= 0 && (s & (CategorySet{1} << tz)); };
  switch (e.body_case()) {
    case trace::Event::kExec:
    case trace::Event::kProcess:
      processes_.insert(e.pid());
      break;
    case trace::Event::kFork:
      if (!e.fork().thread()) processes_.insert(e.fork().child_pid());
      break;
    case trace::Event::kOpen: {
      const auto& o = e.open();
      const std::string& path = kb_.judged_path(o.path(), o.real_path());
      if (o.result() < 0) {
        if (in_tz(kb_.classify_path(o.path()))) add_tz_fact("tried " + o.path() + " (" + result_error_name(o.result()) + ")");
        break;
      }
      if ((o.flags() & O_ACCMODE) != O_WRONLY && !(o.flags() & O_PATH) &&
          files_seen_.insert(path).second) {
        if (is_shared_library(path) || path == "/etc/ld.so.cache")
          ++libraries_read_;
        else
          files_read_.push_back(path);
      }
      if (in_tz(kb_.classify_path(path)))
        add_tz_fact("read " + path + (path == o.path() ? "" : " (via " + o.path() + ")"));
      break;
    }
    case trace::Event::kReadlink:
      if (in_tz(kb_.classify_path(e.readlink().path())))
        add_tz_fact("readlink " + e.readlink().path() +
                    (e.readlink().result() >= 0 ? " -> " + e.readlink().target() : " failed"));
      break;
    case trace::Event::kStat:
      if (in_tz(kb_.classify_path(e.stat().path())))
        add_tz_fact("stat " + e.stat().path() + (e.stat().result() >= 0 ? "" : " (absent)"));
      break;
    case trace::Event::kAccess:
      if (in_tz(kb_.classify_path(e.access().path())))
        add_tz_fact("access " + e.access().path() + (e.access().result() >= 0 ? "" : " (absent)"));
      break;
    case trace::Event::kGetenv: {
      const auto& g = e.getenv();
      auto [it, fresh] = env_.emplace(g.name(), g.found());
      if (!fresh && g.found()) it->second = true;
      if (in_tz(kb_.classify_env(g.name())))
        add_tz_fact("getenv " + g.name() + (g.found() ? (g.value_captured() ? " = " + g.value() : " (set)") : " (unset)"));
      break;
    }
    case trace::Event::kConnect: {
      const auto& c = e.connect();
      if (c.addr().family() == "unix" || (c.result() < 0 && c.result() != -115 /* EINPROGRESS */)) break;
      std::string key = destination_key(c.addr(), c.host());
      destinations_[key].connections++;
      if (c.conn()) conn_destination_[c.conn()] = key;
      break;
    }
    case trace::Event::kSend: {
      const auto& d = e.send();
      if (d.peer().family() == "unix" || d.peer().family().empty()) break;
      std::string key;
      if (auto it = conn_destination_.find(d.conn()); d.conn() && it != conn_destination_.end())
        key = it->second;
      else
        key = destination_key(d.peer(), d.host());
      Destination& dest = destinations_[key];
      if (d.tls())
        dest.tls_plaintext += d.bytes();
      else
        dest.bytes_sent += d.bytes();
      dest.not_captured += d.truncated();
      break;
    }
    case trace::Event::kDns: {
      const auto& d = e.dns();
      if (d.source() != trace::SYSCALL_DNS_RESPONSE && dns_seen_.insert(d.name()).second)
        dns_names_.push_back(d.name());
      break;
    }
    case trace::Event::kCoverage: {
      const auto& c = e.coverage();
      if (c.state() != "observed") {
        std::string line = e.comm() + " (" + std::to_string(e.pid()) + "): " + c.signal() + " " + c.state() + ": " + c.detail();
        if (gaps_seen_.insert(c.signal() + c.state() + c.object() + e.comm()).second) gaps_.push_back(line);
      }
      break;
    }
    default:
      break;
  }
}

void SummaryBuilder::on_trailer(const trace::Trailer& t) {
  trailer_ = t;
  has_trailer_ = true;
}

uint64_t SummaryBuilder::dropped() const {
  uint64_t n = 0;
  for (const auto& k : trailer_.kinds()) n += k.dropped();
  return n;
}

std::string SummaryBuilder::render(const std::string& trace_path) const {
  std::string out;
  uint64_t events = 0;
  for (const auto& [kind, n] : kinds_) events += n;
  double secs = header_.start_mono_ns() && last_mono_ns_ > header_.start_mono_ns()
                    ? (last_mono_ns_ - header_.start_mono_ns()) / 1e9
                    : 0.0;
  if (has_trailer_ && trailer_.end_wall_ns() > header_.start_wall_ns())
    secs = (trailer_.end_wall_ns() - header_.start_wall_ns()) / 1e9;
  std::vector<std::string> cmd;
  for (const auto& a : header_.command()) cmd.push_back(shell_quote(a));
  char head[256];
  snprintf(head, sizeof(head), "%zu process%s, %llu events in %.2f s", processes_.size(),
           processes_.size() == 1 ? "" : "es", static_cast<unsigned long long>(events), secs);
  // Paths, names and the command came from the trace: escaped for the terminal.
  out += "agenttrace summary: " + terminal_safe(join(cmd, " ")) + "\n";
  out += "  " + std::string(head) + "\n";

  std::vector<std::string> per_kind;
  for (const auto& [kind, n] : kinds_) per_kind.push_back(kind + " " + std::to_string(n));
  out += "  events: " + (per_kind.empty() ? std::string("none") : join(per_kind, ", ")) + "\n";

  out += "  files read (" + std::to_string(files_read_.size()) + ")";
  if (libraries_read_) out += " and " + std::to_string(libraries_read_) + " shared libraries";
  out += files_read_.empty() ? "\n" : ":\n";
  // One line per knowledge-base category (time zone, identity, credentials,
  // ...), then the files no category claims; a few names each.
  auto line_of = [](const std::string& title, const std::vector<std::string>& paths) {
    constexpr size_t kShown = 4;
    std::vector<std::string> shown(paths.begin(), paths.begin() + std::min(paths.size(), kShown));
    std::string l = "    " + terminal_safe(title) + " (" + std::to_string(paths.size()) + "): " + terminal_safe(join(shown, ", "));
    if (paths.size() > kShown) l += ", and " + std::to_string(paths.size() - kShown) + " more";
    return l + "\n";
  };
  std::vector<std::vector<std::string>> by_category(kb_.categories().size());
  std::vector<std::string> other;
  for (const auto& f : files_read_) {
    CategorySet set = kb_.classify_path(f);
    if (!set) other.push_back(f);
    for (size_t i = 0; i < by_category.size(); ++i)
      if (set & (CategorySet{1} << i)) by_category[i].push_back(f);
  }
  for (size_t i = 0; i < by_category.size(); ++i)
    if (!by_category[i].empty()) out += line_of(kb_.categories()[i].title, by_category[i]);
  if (!other.empty()) out += line_of("other", other);

  // Variables the knowledge base knows first, then the others, on one line.
  out += "  environment looked up (" + std::to_string(env_.size()) + ")";
  if (env_.empty()) {
    out += "\n";
  } else {
    std::vector<std::string> known, other;
    for (const auto& [name, found] : env_)
      (kb_.classify_env(name) ? known : other).push_back(name + (found ? "" : " (unset)"));
    std::vector<std::string> shown = known;
    constexpr size_t kShownNames = 16;
    if (shown.size() > kShownNames) shown.resize(kShownNames);
    for (size_t i = 0; shown.size() < kShownNames && i < other.size(); ++i) shown.push_back(other[i]);
    size_t rest = env_.size() - shown.size();
    out += ": " + terminal_safe(join(shown, ", ")) + (rest ? ", and " + std::to_string(rest) + " more" : "") + "\n";
  }

  out += "  time zone facts (" + std::to_string(tz_facts_.size()) + ")";
  out += tz_facts_.empty() ? ": none\n" : ":\n";
  for (const auto& f : tz_facts_) out += "    " + terminal_safe(f) + "\n";

  out += "  destinations (" + std::to_string(destinations_.size()) + ")";
  out += destinations_.empty() ? ": none\n" : ":\n";
  {
    size_t shown = 0;
    for (const auto& [where, d] : destinations_) {
      if (++shown > kListed) {
        out += "    ... and " + std::to_string(destinations_.size() - kListed) + " more\n";
        break;
      }
      out += "    " + terminal_safe(where) + ": " + human_bytes(d.bytes_sent) + " sent";
      if (d.tls_plaintext) out += " (" + human_bytes(d.tls_plaintext) + " TLS plaintext)";
      if (d.connections) out += " over " + std::to_string(d.connections) + " connection" + (d.connections == 1 ? "" : "s");
      if (d.not_captured) out += ", " + human_bytes(d.not_captured) + " not captured";
      out += "\n";
    }
  }
  out += "  DNS names asked (" + std::to_string(dns_names_.size()) + ")";
  out += dns_names_.empty() ? ": none\n" : ": " + terminal_safe(join(dns_names_, ", ")) + "\n";

  if (!gaps_.empty()) {
    out += "  coverage gaps (" + std::to_string(gaps_.size()) + "):\n";
    for (size_t i = 0; i < gaps_.size() && i < kListed; ++i) out += "    " + terminal_safe(gaps_[i]) + "\n";
  }

  if (!has_trailer_) {
    out += "  the trace has no closing record: it was cut short, counters are unknown\n";
  } else {
    std::vector<std::string> losses;
    for (const auto& t : trailer_.kinds()) {
      trace::KindCounters k = t;
      k.set_kind(terminal_safe(t.kind()));
      if (k.dropped()) losses.push_back(k.kind() + " " + std::to_string(k.dropped()) + " dropped");
      if (k.truncated()) losses.push_back(k.kind() + " " + std::to_string(k.truncated()) + " truncated");
      if (k.read_failed()) losses.push_back(k.kind() + " " + std::to_string(k.read_failed()) + " with unreadable fields");
      if (k.pairing_full())
        losses.push_back(k.kind() + " " + std::to_string(k.pairing_full()) + " calls unrecorded (pairing map full)");
      if (k.unfinished())
        losses.push_back(k.kind() + " " + std::to_string(k.unfinished()) + " calls unfinished (the thread exited inside)");
    }
    if (trailer_.stash_full()) losses.push_back(std::to_string(trailer_.stash_full()) + " syscalls unrecorded (pairing map full)");
    if (trailer_.filter_full()) losses.push_back(std::to_string(trailer_.filter_full()) + " processes unfollowed (filter map full)");
    if (trailer_.compat_syscalls())
      losses.push_back(std::to_string(trailer_.compat_syscalls()) + " 32-bit syscalls not decoded");
    if (trailer_.payload_truncated())
      losses.push_back(human_bytes(trailer_.payload_truncated()) + " of payload not captured" +
                       (header_.capture_bytes() ? " (budget " + human_bytes(header_.capture_bytes()) + " per connection)" : " (capture off)"));
    if (trailer_.payload_gaps()) losses.push_back(std::to_string(trailer_.payload_gaps()) + " payloads with gaps");
    if (trailer_.decode_errors()) losses.push_back(std::to_string(trailer_.decode_errors()) + " undecodable records");
    out += "  drops: " + (losses.empty() ? std::string("none") : join(losses, ", ")) + "\n";
    uint64_t redacted = 0;
    std::vector<std::string> kinds;
    for (const auto& [kind, n] : trailer_.redacted()) {
      redacted += n;
      kinds.push_back(kind + " " + std::to_string(n));
    }
    std::sort(kinds.begin(), kinds.end());
    if (!header_.redaction())
      out += "  secrets: not redacted (--keep-secrets): the trace may hold credentials as sent\n";
    else
      out += "  secrets: " + (redacted ? std::to_string(redacted) + " redacted (" + join(kinds, ", ") + ")" : std::string("none seen")) +
             "\n";
  }
  if (!trace_path.empty()) out += "  trace: " + terminal_safe(trace_path) + "\n";
  return out;
}

}  // namespace agenttrace::analyzer
