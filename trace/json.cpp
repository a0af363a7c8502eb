#include "trace/json.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>

#include "common/base64.h"
#include "common/strings.h"

namespace agenttrace::trace {

namespace {

void put_result(Json& j, int64_t result) {
  j["result"] = result;
  if (result < 0) j["error"] = result_error_name(result);
}

void put_path(Json& j, const std::string& path, const std::string& requested, bool truncated) {
  j["path"] = path;
  if (!requested.empty()) j["requested"] = requested;
  if (truncated) j["path_truncated"] = true;
}

Json sockaddr_json(const SockAddr& a) {
  Json j = Json::object();
  if (a.family().empty()) return j;
  j["family"] = a.family();
  if (a.family() == "unix") {
    j["path"] = a.path();
  } else if (a.family() == "netlink") {
    j["protocol"] = a.port();
  } else {
    j["address"] = a.address();
    j["port"] = a.port();
  }
  return j;
}

void put_socket(Json& j, const Socket& x) {
  j["syscall"] = std::string(syscall_name(x.syscall()));
  j["fd"] = x.fd();
  if (x.conn()) j["conn"] = x.conn();
  if (!x.type().empty()) j["type"] = x.type();
  if (x.has_addr() && !x.addr().family().empty()) j["addr"] = sockaddr_json(x.addr());
  if (!x.host().empty()) j["host"] = x.host();
  if (x.has_local() && !x.local().family().empty()) j["local"] = sockaddr_json(x.local());
  if (x.backlog()) j["backlog"] = x.backlog();
  put_result(j, x.result());
}

void put_data(Json& j, const Data& x) {
  j["syscall"] = std::string(syscall_name(x.syscall()));
  j["fd"] = x.fd();
  if (x.conn()) j["conn"] = x.conn();
  if (x.has_peer() && !x.peer().family().empty()) {
    j["peer"] = sockaddr_text(x.peer());
    j["peer_addr"] = sockaddr_json(x.peer());
  }
  if (!x.host().empty()) j["host"] = x.host();
  j["bytes"] = x.bytes();
  j["offset"] = x.offset();
  j["tls"] = x.tls();
  j["truncated"] = x.truncated();
  if (x.ciphertext()) j["ciphertext"] = true;
  if (x.gap()) j["gap"] = true;
  if (x.msg_index()) j["msg_index"] = x.msg_index();
  if (!x.source_file().empty()) j["source_file"] = x.source_file();
  j["data"] = base64_encode(x.data());
  j["preview"] = printable_preview(x.data(), 160);
  if (x.result() < 0) put_result(j, x.result());
}

Json stack_json(const Stack& st) {
  Json frames = Json::array();
  for (const Frame& f : st.frames()) {
    Json fj;
    fj["address"] = hex_address(f.address());
    if (!f.module().empty()) fj["module"] = f.module();
    if (f.module_offset()) fj["offset"] = hex_address(f.module_offset());
    if (!f.build_id().empty()) fj["build_id"] = f.build_id();
    if (!f.symbol().empty()) {
      fj["symbol"] = f.symbol();
      fj["symbol_offset"] = f.symbol_offset();
    }
    if (f.jit()) fj["jit"] = true;
    if (!f.instruction().empty()) fj["instruction"] = f.instruction();
    frames.push_back(std::move(fj));
  }
  Json j;
  j["frames"] = std::move(frames);
  if (st.truncated()) j["truncated"] = true;
  if (st.failed()) j["failed"] = true;
  return j;
}

}  // namespace

std::string hex_address(uint64_t address) {
  char buf[24];
  snprintf(buf, sizeof(buf), "0x%llx", static_cast<unsigned long long>(address));
  return buf;
}

std::string open_flags_text(int flags) {
  std::string out;
  switch (flags & O_ACCMODE) {
    case O_RDONLY: out = "O_RDONLY"; break;
    case O_WRONLY: out = "O_WRONLY"; break;
    case O_RDWR: out = "O_RDWR"; break;
    default: out = "O_ACCMODE"; break;
  }
  // Kernel values: user-space headers define O_LARGEFILE as 0 on 64-bit,
  // but the kernel reports the bit it sets. O_TMPFILE includes O_DIRECTORY's
  // bit and O_SYNC includes O_DSYNC's: the compound ones come first.
  constexpr int kLargeFile = 0100000;
  static const struct {
    int bit;
    const char* name;
  } bits[] = {
      {O_TMPFILE, "O_TMPFILE"},     {O_SYNC, "O_SYNC"},         {O_CREAT, "O_CREAT"},
      {O_EXCL, "O_EXCL"},           {O_NOCTTY, "O_NOCTTY"},     {O_TRUNC, "O_TRUNC"},
      {O_APPEND, "O_APPEND"},       {O_NONBLOCK, "O_NONBLOCK"}, {O_DSYNC, "O_DSYNC"},
      {O_DIRECT, "O_DIRECT"},       {kLargeFile, "O_LARGEFILE"}, {O_DIRECTORY, "O_DIRECTORY"},
      {O_NOFOLLOW, "O_NOFOLLOW"},   {O_NOATIME, "O_NOATIME"},   {O_CLOEXEC, "O_CLOEXEC"},
      {O_PATH, "O_PATH"},
  };
  int rest = flags & ~O_ACCMODE;
  for (const auto& b : bits) {
    if ((rest & b.bit) == b.bit) {
      out += "|";
      out += b.name;
      rest &= ~b.bit;
    }
  }
  if (rest) {
    char buf[32];
    snprintf(buf, sizeof(buf), "|0x%x", rest);
    out += buf;
  }
  return out;
}

std::string access_mode_text(int mode) {
  if (mode == F_OK) return "F_OK";
  std::string out;
  if (mode & R_OK) out += "R_OK";
  if (mode & W_OK) out += out.empty() ? "W_OK" : "|W_OK";
  if (mode & X_OK) out += out.empty() ? "X_OK" : "|X_OK";
  int rest = mode & ~(R_OK | W_OK | X_OK);
  if (rest) out += (out.empty() ? "" : "|") + std::to_string(rest);
  return out;
}

Json event_json(const Event& e) {
  Json j;
  j["id"] = e.id();
  j["kind"] = std::string(event_kind(e));
  j["ts"] = format_time_ns(e.wall_ns());
  j["mono_ns"] = e.mono_ns();
  j["pid"] = e.pid();
  j["tid"] = e.tid();
  j["ppid"] = e.ppid();
  j["comm"] = e.comm();
  switch (e.body_case()) {
    case Event::kExec: {
      const Exec& x = e.exec();
      j["path"] = x.path();
      if (x.path_truncated()) j["path_truncated"] = true;
      if (!x.exe().empty()) j["exe"] = x.exe();
      if (!x.cwd().empty()) j["cwd"] = x.cwd();
      j["argv"] = x.argv();
      j["argv_truncated"] = x.argv_truncated();
      break;
    }
    case Event::kFork: {
      const Fork& x = e.fork();
      j["child_pid"] = x.child_pid();
      j["child_tid"] = x.child_tid();
      j["thread"] = x.thread();
      break;
    }
    case Event::kExit: {
      const Exit& x = e.exit();
      if (x.signal()) {
        j["signal"] = x.signal();
        const char* abbrev = sigabbrev_np(x.signal());
        j["signal_name"] = abbrev ? "SIG" + std::string(abbrev) : std::to_string(x.signal());
        j["core_dumped"] = x.core_dumped();
      } else {
        j["code"] = x.code();
      }
      break;
    }
    case Event::kOpen: {
      const Open& x = e.open();
      j["syscall"] = std::string(syscall_name(x.syscall()));
      put_path(j, x.path(), x.requested(), x.path_truncated());
      if (!x.real_path().empty()) j["real_path"] = x.real_path();
      if (x.has_dirfd()) j["dirfd"] = x.dirfd();
      if (x.dir_unknown()) j["dir_unknown"] = true;
      j["flags"] = open_flags_text(x.flags());
      if ((x.flags() & O_CREAT) || (x.flags() & O_TMPFILE) == O_TMPFILE) j["mode"] = x.mode();
      put_result(j, x.result());
      break;
    }
    case Event::kReadlink: {
      const Readlink& x = e.readlink();
      j["syscall"] = std::string(syscall_name(x.syscall()));
      put_path(j, x.path(), x.requested(), x.path_truncated());
      j["target"] = x.target();
      put_result(j, x.result());
      break;
    }
    case Event::kStat: {
      const Stat& x = e.stat();
      j["syscall"] = std::string(syscall_name(x.syscall()));
      put_path(j, x.path(), x.requested(), x.path_truncated());
      j["flags"] = x.flags();
      put_result(j, x.result());
      break;
    }
    case Event::kAccess: {
      const Access& x = e.access();
      j["syscall"] = std::string(syscall_name(x.syscall()));
      put_path(j, x.path(), x.requested(), x.path_truncated());
      j["mode"] = access_mode_text(x.mode());
      if (x.flags()) j["flags"] = x.flags();
      put_result(j, x.result());
      break;
    }
    case Event::kGetenv: {
      const Getenv& x = e.getenv();
      j["function"] = std::string(syscall_name(x.function()));
      j["name"] = x.name();
      j["found"] = x.found();
      if (x.name_truncated()) j["name_truncated"] = true;
      if (x.value_captured()) {
        j["value"] = x.value();
        if (x.value_truncated()) j["value_truncated"] = true;
      }
      break;
    }
    case Event::kUname: {
      const Uname& x = e.uname();
      j["nodename"] = x.nodename();
      j["release"] = x.release();
      put_result(j, x.result());
      break;
    }
    case Event::kConnect: put_socket(j, e.connect()); break;
    case Event::kBind: put_socket(j, e.bind()); break;
    case Event::kListen: put_socket(j, e.listen()); break;
    case Event::kAccept: put_socket(j, e.accept()); break;
    case Event::kClose: put_socket(j, e.close()); break;
    case Event::kSend: put_data(j, e.send()); break;
    case Event::kRecv: put_data(j, e.recv()); break;
    case Event::kHostQuery: {
      const HostQuery& x = e.host_query();
      j["syscall"] = std::string(syscall_name(x.syscall()));
      j["request"] = x.request();
      j["number"] = x.number();
      j["fd"] = x.fd();
      if (!x.protocol().empty()) {
        j["protocol"] = x.protocol();
        j["flags"] = x.flags();
        j["dump"] = x.dump();
        j["family"] = x.family();
      }
      if (!x.interface().empty()) j["interface"] = x.interface();
      if (x.index()) j["index"] = x.index();
      if (x.length()) j["length"] = x.length();
      put_result(j, x.result());
      break;
    }
    case Event::kSystemCall: {
      const SystemCall& x = e.system_call();
      j["name"] = x.name();
      j["number"] = x.number();
      j["abi"] = x.abi();
      j["args"] = Json::array();
      for (uint64_t a : x.args()) j["args"].push_back(a);
      if (!x.path().empty()) j["path"] = x.path();
      if (x.path_truncated()) j["path_truncated"] = true;
      if (x.path_unreadable()) j["path_unreadable"] = true;
      put_result(j, x.result());
      break;
    }
    case Event::kDns: {
      const Dns& x = e.dns();
      j["source"] = std::string(syscall_name(x.source()));
      j["name"] = x.name();
      if (!x.type().empty()) j["type"] = x.type();
      j["answers"] = x.answers();
      j["result"] = x.result();
      if (x.has_server() && !x.server().family().empty()) j["server"] = sockaddr_text(x.server());
      if (x.id()) j["dns_id"] = x.id();
      if (x.conn()) j["conn"] = x.conn();
      break;
    }
    case Event::kCoverage: {
      const Coverage& x = e.coverage();
      j["signal"] = x.signal();
      j["state"] = x.state();
      j["detail"] = x.detail();
      if (!x.object().empty()) j["object"] = x.object();
      break;
    }
    case Event::kProcess: {
      const Process& x = e.process();
      j["exe"] = x.exe();
      j["argv"] = x.argv();
      if (!x.cwd().empty()) j["cwd"] = x.cwd();
      if (x.start_wall_ns()) j["started"] = format_time_ns(x.start_wall_ns());
      j["before_trace"] = x.before_trace();
      if (x.threads()) j["threads"] = x.threads();
      break;
    }
    case Event::kJitSymbols: {
      Json syms = Json::array();
      for (const auto& x : e.jit_symbols().symbols()) {
        Json sj;
        sj["start"] = hex_address(x.start());
        sj["size"] = x.size();
        sj["name"] = x.name();
        syms.push_back(std::move(sj));
      }
      j["source"] = e.jit_symbols().source();
      j["symbols"] = std::move(syms);
      break;
    }
    case Event::BODY_NOT_SET:
      break;
  }
  if (e.has_stack()) j["stack"] = stack_json(e.stack());
  return j;
}

Json header_json(const Header& h) {
  Json j;
  j["kind"] = "header";
  j["format_version"] = h.format_version();
  j["agenttrace_version"] = h.agenttrace_version();
  j["mode"] = h.mode();
  j["hostname"] = h.hostname();
  j["kernel"] = h.kernel_release();
  j["machine"] = h.machine();
  j["boot_id"] = h.boot_id();
  j["start"] = format_time_ns(h.start_wall_ns());
  j["command"] = h.command();
  j["options"] = h.options();
  j["root_pid"] = h.root_pid();
  j["values_captured"] = h.values_captured();
  j["ringbuf_bytes"] = h.ringbuf_bytes();
  j["capture_bytes"] = h.capture_bytes();
  if (h.attached_pids_size()) j["attached_pids"] = h.attached_pids();
  if (h.watch_comms_size()) j["watch_comms"] = h.watch_comms();
  if (h.watch_exes_size()) j["watch_exes"] = h.watch_exes();
  if (h.file_sequence()) j["file_sequence"] = h.file_sequence();
  if (h.stack_kinds_size()) j["stack_kinds"] = h.stack_kinds();
  if (h.symbols_captured()) j["symbols_captured"] = true;
  if (!h.session_id().empty()) j["session_id"] = h.session_id();
  j["command_uid"] = h.command_uid();
  j["command_gid"] = h.command_gid();
  if (!h.command_user().empty()) j["command_user"] = h.command_user();
  if (!h.command_user_source().empty()) j["command_user_source"] = h.command_user_source();
  j["redaction"] = h.redaction() ? "on" : "off";
  if (h.redaction_kinds_size()) j["redaction_kinds"] = h.redaction_kinds();
  return j;
}

Json trailer_json(const Trailer& t) {
  Json j;
  j["kind"] = "trailer";
  j["end"] = format_time_ns(t.end_wall_ns());
  j["events"] = t.events();
  Json kinds = Json::object();
  uint64_t dropped = 0;
  for (const auto& k : t.kinds()) {
    Json c;
    c["recorded"] = k.recorded();
    c["emitted"] = k.emitted();
    c["dropped"] = k.dropped();
    c["read_failed"] = k.read_failed();
    c["truncated"] = k.truncated();
    c["pairing_full"] = k.pairing_full();
    c["unfinished"] = k.unfinished();
    kinds[k.kind()] = c;
    dropped += k.dropped();
  }
  j["dropped"] = dropped;
  j["kinds"] = kinds;
  j["stash_full"] = t.stash_full();
  j["filter_full"] = t.filter_full();
  j["decode_errors"] = t.decode_errors();
  j["compat_syscalls"] = t.compat_syscalls();
  j["payload_bytes"] = t.payload_bytes();
  j["payload_truncated"] = t.payload_truncated();
  j["payload_gaps"] = t.payload_gaps();
  if (t.target_exited()) j["exit_status"] = t.exit_status();
  if (t.redacted_size()) {
    Json r = Json::object();
    for (const auto& [kind, n] : t.redacted()) r[kind] = n;
    j["redacted"] = r;
  }
  if (t.exported()) {
    Json x;
    x["published"] = t.export_published();
    x["spooled"] = t.export_spooled();
    x["dropped"] = t.export_dropped();
    x["pending"] = t.export_pending();
    j["export"] = x;
  }
  return j;
}

std::string json_text(const Json& json, int indent) {
  std::string raw = json.dump(indent, ' ', false, Json::error_handler_t::replace);
  // Outside strings JSON text is ASCII without DEL, and invalid UTF-8 was
  // replaced, so these bytes are inside strings, where \u escapes mean the same.
  std::string out;
  out.reserve(raw.size());
  for (size_t i = 0; i < raw.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(raw[i]);
    unsigned char next = i + 1 < raw.size() ? static_cast<unsigned char>(raw[i + 1]) : 0;
    if (c == 0x7f) {
      out += "\\u007f";
    } else if (c == 0xc2 && next >= 0x80 && next <= 0x9f) {
      char buf[8];
      snprintf(buf, sizeof(buf), "\\u%04x", next);
      out += buf;
      ++i;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

std::string json_line(const Json& json) { return json_text(json, -1); }

}  // namespace agenttrace::trace
