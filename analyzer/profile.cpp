#include "analyzer/profile.h"

#include <fcntl.h>

#include <algorithm>

#include "common/strings.h"
#include "trace/format.h"
#include <cstring>

namespace agenttrace::analyzer {

namespace {

bool is_loopback(const trace::SockAddr& a) {
  const std::string& s = a.address();
  return s.rfind("127.", 0) == 0 || s == "::1" || s.rfind("::ffff:127.", 0) == 0;
}

std::string destination_key(const trace::SockAddr& addr, const std::string& host) {
  std::string where = trace::sockaddr_text(addr);
  return host.empty() ? where : host + " (" + where + ")";
}

// Files whose content the trace header records, and the value they hold.
struct ValueFile {
  const char* path;
  const char* kind;
};
constexpr ValueFile kValueFiles[] = {
    {"/etc/machine-id", "machine_id"},
    {"/var/lib/dbus/machine-id", "machine_id"},
    {"/etc/hostname", "hostname"},
    {"/proc/sys/kernel/hostname", "hostname"},
    {"/etc/timezone", "timezone"},
};

// Environment variables whose value the header records, when the trace has
// no values of its own (--show-values off).
struct ValueEnv {
  const char* name;
  const char* kind;
};
constexpr ValueEnv kValueEnvs[] = {
    {"USER", "username"}, {"LOGNAME", "username"}, {"HOME", "home"}, {"HOSTNAME", "hostname"},
};

}  // namespace

std::string zone_from_path(const std::string& path) {
  auto pos = path.find("/zoneinfo/");
  if (pos == std::string::npos) return {};
  std::string zone = path.substr(pos + 10);
  for (const char* prefix : {"posix/", "right/"})
    if (zone.rfind(prefix, 0) == 0) zone = zone.substr(strlen(prefix));
  if (zone.empty() || zone.find('.') != std::string::npos) return {};  // zone1970.tab, ...
  return zone;
}

const PayloadStream::Segment* PayloadStream::segment_at(uint64_t data_offset) const {
  auto it = std::upper_bound(segments.begin(), segments.end(), data_offset,
                             [](uint64_t off, const Segment& s) { return off < s.data_offset; });
  if (it == segments.begin()) return nullptr;
  --it;
  return data_offset < it->data_offset + it->length ? &*it : nullptr;
}

const trace::Stack* Profile::stack_of(uint64_t event) const {
  auto it = stacks.find(event);
  return it == stacks.end() ? nullptr : &it->second.stack;
}

uint32_t Profile::root_of(uint32_t pid) const {
  auto it = processes.find(pid);
  return it == processes.end() ? pid : it->second.root;
}

void ProfileBuilder::on_header(const trace::Header& h) {
  profile_.header = h;
  profile_.start_wall_ns = h.start_wall_ns();
  profile_.attached = h.mode() == "attach" || h.mode() == "watch";
}

void ProfileBuilder::finish_counts() {
  profile_.kind_counts.clear();
  for (size_t i = 0; i < kind_counts_.size(); ++i)
    if (kind_counts_[i]) profile_.kind_counts[std::string(trace::event_kind_of_case(static_cast<int>(i)))] += kind_counts_[i];
}

void ProfileBuilder::on_trailer(const trace::Trailer& t) {
  finish_counts();
  profile_.trailer = t;
  profile_.has_trailer = true;
  profile_.end_wall_ns = std::max(profile_.end_wall_ns, t.end_wall_ns());
}

const std::vector<std::string>& ProfileBuilder::ids_of(CategorySet cats) {
  auto it = ids_cache_.find(cats);
  if (it != ids_cache_.end()) return it->second;
  auto ids = kb_.category_ids(cats);
  if (ids.empty()) ids.push_back("");
  return ids_cache_.emplace(cats, std::move(ids)).first->second;
}

ProcessInfo& ProfileBuilder::process(const trace::Event& e) {
  if (last_process_ && last_process_->pid == e.pid()) return *last_process_;
  auto [it, fresh] = profile_.processes.try_emplace(e.pid());
  ProcessInfo& p = it->second;
  if (fresh) {
    p.pid = e.pid();
    p.ppid = e.ppid();
    p.comm = e.comm();
    p.first_event = e.id();
    p.start_wall_ns = e.wall_ns();
    auto parent = profile_.processes.find(e.ppid());
    if (parent != profile_.processes.end()) {
      p.root = parent->second.root;
      parent->second.children.push_back(p.pid);
    } else {
      p.root = p.pid;
      profile_.roots.push_back(p.pid);
    }
  }
  last_process_ = &p;  // std::map nodes stay put
  return p;
}

bool ProfileBuilder::timeline_full() {
  if (profile_.timeline.size() < Profile::kMaxTimeline) return false;
  profile_.timeline_dropped++;
  return true;
}

void ProfileBuilder::plot(const trace::Event& e, const std::string& lane, std::string label) {
  profile_.timeline.push_back({e.id(), e.wall_ns(), e.pid(), lane, std::move(label)});
}

struct FactSeen {
  FactKind kind;
  const std::string& item;
  bool succeeded;
  std::string detail;
  FileAccess access = FileAccess::kNone;
  const std::string* via = nullptr;     // files: the name opened, when a link led to item
  const std::string* target = nullptr;  // files: a readlink's answer
};

namespace {

const std::string kUname = "uname";

// Folds one more event into a fact: the first event gives its origin, the
// first success its access and detail.
void fold(Fact& f, bool fresh, const trace::Event& e, const FactSeen& seen) {
  if (fresh) {
    f.kind = seen.kind;
    f.item = seen.item;
    f.first_event = e.id();
    f.first_wall_ns = e.wall_ns();
    f.first_pid = e.pid();
    f.first_comm = e.comm();
  }
  if (fresh || (seen.succeeded && !f.succeeded)) {
    f.succeeded = seen.succeeded;
    f.access = seen.access;
    f.via = seen.via ? *seen.via : std::string();
    f.target = seen.target ? *seen.target : std::string();
    f.detail = seen.detail;
  }
  f.count++;
  f.pids.insert(e.pid());
  if (!f.stack_event && e.has_stack()) f.stack_event = e.id();
}

void note(std::map<std::string, Fact>& table, const trace::Event& e, const FactSeen& seen) {
  auto [it, fresh] = table.try_emplace(seen.item);
  fold(it->second, fresh, e, seen);
}

// A file as one event shows it; the detail is what reports have always said:
// "read", "write via /etc/localtime", "readlink -> /usr/share/zoneinfo/UTC".
FactSeen seen_file(const std::string& path, bool ok, FileAccess access, const std::string* via = nullptr,
               const std::string* target = nullptr) {
  FactSeen s{FactKind::kFile, path, ok, file_access_name(access), access, via, target};
  if (via) s.detail += " via " + *via;
  if (target) s.detail += " -> " + *target;
  return s;
}

}  // namespace

const char* fact_kind_name(FactKind kind) {
  switch (kind) {
    case FactKind::kEnv: return "env";
    case FactKind::kFile: return "file";
    case FactKind::kCall: return "call";
  }
  return "";
}

const char* file_access_name(FileAccess access) {
  switch (access) {
    case FileAccess::kNone: return "";
    case FileAccess::kRead: return "read";
    case FileAccess::kWrite: return "write";
    case FileAccess::kStat: return "stat";
    case FileAccess::kAccess: return "access";
    case FileAccess::kReadlink: return "readlink";
  }
  return "";
}

void ProfileBuilder::add_fact(const trace::Event& e, CategorySet cats, const FactSeen& seen) {
  const auto& ids = ids_of(cats);
  if (cats && !timeline_full())
    plot(e, ids.front(),
         (seen.kind == FactKind::kEnv    ? std::string("getenv ")
          : seen.kind == FactKind::kFile ? std::string(file_access_name(seen.access)) + " "
                                         : std::string()) +
             seen.item);
  for (const auto& category : ids) {
    auto [it, fresh] = profile_.facts[category].try_emplace(seen.item);
    if (fresh) it->second.category = category;
    fold(it->second, fresh, e, seen);
  }
}

void ProfileBuilder::add_value(const trace::Event& e, const std::string& kind,
                               const std::string& name, const std::string& value) {
  if (value.empty()) return;
  uint32_t root = profile_.root_of(e.pid());
  // Most repeats are the same call again (uname, the same variable): check
  // the last key before building a new one.
  if (last_value_root_ == root && last_value_kind_ == kind && last_value_name_ == name && last_value_ == value) return;
  last_value_root_ = root;
  last_value_kind_ = kind;
  last_value_name_ = name;
  last_value_ = value;
  std::string key = std::to_string(root) + '\0' + kind + '\0' + name + '\0' + value;
  if (!value_seen_.insert(key).second) return;
  profile_.values.push_back({kind, name, value, e.id(), e.pid(), root});
}

void ProfileBuilder::on_path(const trace::Event& e, const FactSeen& seen) {
  const std::string& path = seen.item;
  const bool ok = seen.succeeded;
  note(profile_.files, e, seen);
  CategorySet cats = kb_.classify_path(path);
  // Only what the knowledge base knows becomes a fact; other files are counted.
  if (cats) add_fact(e, cats, seen);
  if (!ok) return;
  // A stat or an access check learns nothing of the content.
  if (seen.access != FileAccess::kStat && seen.access != FileAccess::kAccess) {
    for (const auto& vf : kValueFiles) {
      if (path != vf.path) continue;
      auto it = profile_.header.host_values().find(vf.kind);
      if (it != profile_.header.host_values().end()) add_value(e, vf.kind, path, it->second);
    }
  }
  // Read through a link, the open itself tells the zone (on_event, kOpen).
  if (seen.access == FileAccess::kRead && !seen.via) {
    std::string zone = zone_from_path(path);
    if (!zone.empty()) add_value(e, "timezone", path, zone);
  }
}

void ProfileBuilder::on_send(const trace::Event& e, const trace::Data& d) {
  // Unix and netlink sockets stay on the host: a netlink send is a question
  // to the kernel (its host_query event is the fact), not data sent off.
  if (d.peer().family() == "unix" || trace::kernel_socket(d.peer())) return;
  uint32_t root = profile_.root_of(e.pid());
  if (d.bytes() > 0 && !d.peer().family().empty() && !profile_.first_send.count(root)) {
    profile_.first_send[root] = e.id();
    profile_.first_send_wall[root] = e.wall_ns();
  }
  if (d.bytes() > 0 && !d.peer().family().empty()) profile_.last_send[root] = e.id();
  if (!d.peer().family().empty()) {
    // The key of a connection's destination is built once per connection.
    std::string& key = dest_key_[{d.conn(), d.peer().address(), d.peer().port()}];
    if (key.empty()) key = destination_key(d.peer(), d.host());
    Destination& dest = profile_.destinations[key];
    if (dest.key.empty()) {
      dest.key = destination_key(d.peer(), d.host());
      dest.peer = trace::sockaddr_text(d.peer());
      dest.host = d.host();
      dest.loopback = is_loopback(d.peer());
      dest.first_event = e.id();
    }
    (d.tls() ? dest.tls_plaintext : dest.bytes_sent) += d.bytes();
    dest.pids.insert(e.pid());
  }
  if (d.bytes() && !d.ciphertext() && !timeline_full())
    plot(e, "network", std::string(d.tls() ? "send (TLS) " : "send ") + human_bytes(d.bytes()) + " to " +
                           destination_key(d.peer(), d.host()));
  if (d.ciphertext()) return;
  size_t index;
  if (d.conn()) {
    auto [it, fresh] = stream_index_.try_emplace({d.conn(), d.tls()}, profile_.streams.size());
    if (fresh) profile_.streams.emplace_back();
    index = it->second;
  } else {
    std::string key = std::to_string(e.pid()) + (d.tls() ? ":tls" : ":raw");
    auto [it, fresh] = unattributed_index_.try_emplace(key, profile_.streams.size());
    if (fresh) profile_.streams.emplace_back();
    index = it->second;
  }
  PayloadStream& s = profile_.streams[index];
  if (s.segments.empty()) {
    s.conn = d.conn();
    s.pid = e.pid();
    s.root = root;
    s.comm = e.comm();
    s.peer = trace::sockaddr_text(d.peer());
    s.host = d.host();
    s.tls = d.tls();
    s.loopback = is_loopback(d.peer());
  }
  s.segments.push_back({e.id(), e.wall_ns(), s.data.size(), d.offset(), d.data().size()});
  s.data += d.data();
  s.bytes += d.bytes();
  s.not_captured += d.truncated();
}

void ProfileBuilder::on_event(const trace::Event& e) {
  profile_.events++;
  // Counted by body case: a string per event would cost more than the rest.
  kind_counts_[static_cast<size_t>(e.body_case()) % kind_counts_.size()]++;
  profile_.end_wall_ns = std::max(profile_.end_wall_ns, e.wall_ns());
  if (!profile_.start_wall_ns) profile_.start_wall_ns = e.wall_ns();
  ProcessInfo& p = process(e);
  if (e.has_stack()) {
    if (profile_.stacks.size() < Profile::kMaxStacks) profile_.stacks.emplace(e.id(), Profile::RecordedStack{e.pid(), e.stack()});
    else profile_.stacks_dropped++;
  }
  switch (e.body_case()) {
    case trace::Event::kJitSymbols: {
      auto& table = profile_.jit_symbols[e.pid()];
      for (const auto& x : e.jit_symbols().symbols()) table[x.start()] = {x.start() + x.size(), x.name()};
      break;
    }
    case trace::Event::kProcess: {
      p.comm = e.comm();
      p.exe = e.process().exe();
      p.argv.assign(e.process().argv().begin(), e.process().argv().end());
      if (e.process().start_wall_ns()) p.start_wall_ns = e.process().start_wall_ns();
      p.before_trace = e.process().before_trace();
      break;
    }
    case trace::Event::kExec: {
      if (!timeline_full()) plot(e, "process", "exec " + e.exec().path());
      p.comm = e.comm();
      p.exe = e.exec().exe().empty() ? e.exec().path() : e.exec().exe();
      p.argv.assign(e.exec().argv().begin(), e.exec().argv().end());
      p.cwd = e.exec().cwd();
      break;
    }
    case trace::Event::kFork: {
      profile_.tasks_created++;
      if (e.fork().thread()) break;
      trace::Event child;
      child.set_id(e.id());
      child.set_pid(e.fork().child_pid());
      child.set_ppid(e.pid());
      child.set_comm(e.comm());
      child.set_wall_ns(e.wall_ns());
      process(child);
      break;
    }
    case trace::Event::kExit:
      if (e.exit().signal())
        p.exit_signal = e.exit().signal();
      else
        p.exit_code = e.exit().code();
      break;
    case trace::Event::kCoverage:
      p.coverage.push_back(e.coverage());
      break;
    case trace::Event::kGetenv: {
      const auto& g = e.getenv();
      std::string detail = !g.found() ? "unset" : g.value_captured() ? "= " + g.value() : "set";
      FactSeen seen{FactKind::kEnv, g.name(), g.found(), std::move(detail)};
      note(profile_.env, e, seen);
      add_fact(e, kb_.classify_env(g.name()), seen);
      if (g.found() && g.value_captured()) {
        add_value(e, "env", g.name(), g.value());
        if (g.name() == "TZ") add_value(e, "timezone", "TZ", g.value()[0] == ':' ? g.value().substr(1) : g.value());
      } else if (g.found()) {
        for (const auto& ve : kValueEnvs) {
          if (g.name() != ve.name) continue;
          auto it = profile_.header.host_values().find(ve.kind);
          if (it != profile_.header.host_values().end()) add_value(e, ve.kind, g.name(), it->second);
        }
      }
      break;
    }
    case trace::Event::kOpen: {
      const auto& o = e.open();
      bool write = (o.flags() & O_ACCMODE) == O_WRONLY;
      FileAccess access = write ? FileAccess::kWrite : (o.flags() & O_PATH) ? FileAccess::kStat : FileAccess::kRead;
      const std::string& path = kb_.judged_path(o.path(), o.real_path());
      on_path(e, seen_file(path, o.result() >= 0, access, path == o.path() ? nullptr : &o.path()));
      if (access == FileAccess::kRead && o.result() >= 0 && p.code_files.size() < ProcessInfo::kMaxCodeFiles) {
        const std::string& file = o.real_path().empty() ? o.path() : o.real_path();
        if (is_code_file(file) && std::find(p.code_files.begin(), p.code_files.end(), file) == p.code_files.end())
          p.code_files.push_back(file);
      }
      // /etc/localtime is a link into the zone database: opening it tells the zone.
      if (access == FileAccess::kRead && o.result() >= 0 && !o.real_path().empty()) {
        std::string zone = zone_from_path(o.real_path());
        if (!zone.empty()) add_value(e, "timezone", o.path(), zone);
      }
      break;
    }
    case trace::Event::kReadlink: {
      const auto& r = e.readlink();
      on_path(e, seen_file(r.path(), r.result() >= 0, FileAccess::kReadlink, nullptr,
                           r.result() >= 0 ? &r.target() : nullptr));
      if (r.result() >= 0) {
        std::string zone = zone_from_path(r.target());
        if (!zone.empty() && kb_.classify_path(r.path())) add_value(e, "timezone", r.path(), zone);
      }
      break;
    }
    case trace::Event::kStat:
      on_path(e, seen_file(e.stat().path(), e.stat().result() >= 0, FileAccess::kStat));
      break;
    case trace::Event::kAccess:
      on_path(e, seen_file(e.access().path(), e.access().result() >= 0, FileAccess::kAccess));
      break;
    case trace::Event::kUname:
      add_fact(e, kb_.classify_syscall("uname"),
               FactSeen{FactKind::kCall, kUname, e.uname().result() >= 0, "nodename " + e.uname().nodename()});
      add_value(e, "hostname", "uname", e.uname().nodename());
      break;
    case trace::Event::kHostQuery: {
      // The request (RTM_GETLINK, SIOCGIFHWADDR) is the item the knowledge
      // base lists; the detail says how it was asked.
      const auto& q = e.host_query();
      std::string detail = q.syscall() == trace::SYSCALL_IOCTL
                               ? "ioctl" + (q.interface().empty() ? "" : " " + q.interface())
                               : "netlink " + std::string(q.dump() ? "dump" : "request");
      add_fact(e, kb_.classify_syscall(q.request()), FactSeen{FactKind::kCall, q.request(), q.result() >= 0, std::move(detail)});
      break;
    }
    case trace::Event::kConnect: {
      const auto& c = e.connect();
      if (c.addr().family() == "unix") {
        UnixConnect& u = profile_.unix_connects[c.addr().path()];
        if (u.path.empty()) {
          u.path = c.addr().path();
          u.first_event = e.id();
          u.first_pid = e.pid();
        }
        if (c.result() < 0 && c.result() != -115 /* EINPROGRESS */) {
          if (!u.failed_attempts) u.first_error = c.result();
          u.failed_attempts++;
        } else {
          u.connections++;
        }
        break;
      }
      if (c.addr().family().empty()) break;
      // A failed attempt is still an attempt to reach that destination.
      bool failed = c.result() < 0 && c.result() != -115 /* EINPROGRESS */;
      Destination& dest = profile_.destinations[destination_key(c.addr(), c.host())];
      if (dest.key.empty()) {
        dest.key = destination_key(c.addr(), c.host());
        dest.peer = trace::sockaddr_text(c.addr());
        dest.host = c.host();
        dest.loopback = is_loopback(c.addr());
        dest.first_event = e.id();
      }
      (failed ? dest.failed_attempts : dest.connections)++;
      dest.pids.insert(e.pid());
      break;
    }
    case trace::Event::kDns: {
      const auto& d = e.dns();
      if (d.source() != trace::SYSCALL_DNS_RESPONSE && !timeline_full())
        plot(e, "dns", (d.source() == trace::SYSCALL_DNS_QUERY ? "query " : "resolve ") + d.name());
      if (d.source() != trace::SYSCALL_DNS_RESPONSE &&
          std::find(profile_.dns_names.begin(), profile_.dns_names.end(), d.name()) == profile_.dns_names.end())
        profile_.dns_names.push_back(d.name());
      auto& answers = profile_.dns_answers[d.name()];
      for (const auto& a : d.answers())
        if (std::find(answers.begin(), answers.end(), a) == answers.end()) answers.push_back(a);
      break;
    }
    case trace::Event::kSend:
      on_send(e, e.send());
      break;
    case trace::Event::kSystemCall: {
      const auto& x = e.system_call();
      std::string call = (x.abi() == "ia32" ? "ia32 " : "") + x.name();
      SystemCallUse& u = profile_.system_calls[call];
      if (u.call.empty()) {
        u.call = call;
        u.first_event = e.id();
      }
      u.calls++;
      u.pids.insert(e.pid());
      if (u.first_path.empty() && !x.path().empty()) u.first_path = x.path();
      if (x.result() < 0) {
        if (!u.failed++) {
          u.first_error = x.result();
          u.first_failed_event = e.id();
          u.first_failed_pid = e.pid();
        }
        bool names_pid = x.abi() == "x86_64" && (x.name() == "kill" || x.name() == "tkill" || x.name() == "ptrace");
        if (x.abi() == "x86_64" && x.name() == "tgkill" && x.args_size() > 1) u.failed_targets.insert(x.args(0));
        else if (names_pid && x.args_size() > 1) u.failed_targets.insert(x.name() == "ptrace" ? x.args(1) : x.args(0));
      }
      break;
    }
    default:
      break;
  }
}

}  // namespace agenttrace::analyzer
