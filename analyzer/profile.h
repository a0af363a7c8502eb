// The behavioral profile: per process and per process tree, what was read,
// looked up, learned about the host, resolved, contacted and sent; each fact
// with its first time, count and processes. Built from the event stream, so a
// live recording and a trace file from any machine give the same profile.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <tuple>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "analyzer/code_evidence.h"
#include "analyzer/knowledge_base.h"
#include "trace/sink.h"

namespace agenttrace::analyzer {

struct ProcessInfo {
  uint32_t pid = 0;
  uint32_t ppid = 0;
  std::string comm;        // name at its last exec (or first event)
  std::string exe;
  std::vector<std::string> argv;
  std::string cwd;         // working directory at its last exec
  // Script files it opened to read (.js, .mjs, .cjs, .ts, .py, ...), the
  // first kMaxCodeFiles: the code evidence reads them (code_evidence.h).
  std::vector<std::string> code_files;
  static constexpr size_t kMaxCodeFiles = 64;
  uint64_t first_event = 0;
  int64_t start_wall_ns = 0;
  std::optional<int> exit_code;
  std::optional<int> exit_signal;
  std::vector<uint32_t> children;
  uint32_t root = 0;       // the tree it belongs to: its oldest traced ancestor
  std::vector<trace::Coverage> coverage;
  bool before_trace = false;  // already running when tracing of it began (attach, watch)
};

// What a fact is about.
enum class FactKind { kEnv, kFile, kCall };
const char* fact_kind_name(FactKind kind);  // "env", "file", "call": the report's words

// What a process asked of a file.
enum class FileAccess { kNone, kRead, kWrite, kStat, kAccess, kReadlink };
const char* file_access_name(FileAccess access);  // "read", "write", "stat", "access", "readlink"

// One thing a process tree found out (or tried to): an environment variable,
// a file, a call such as uname. Rules read the structured fields; `detail` is
// only what reports show.
struct Fact {
  std::string category;    // knowledge-base id, "" when uncategorized
  FactKind kind = FactKind::kFile;
  std::string item;        // "TZ", "/etc/machine-id", "uname"
  bool succeeded = false;  // the variable was set, the file existed
  FileAccess access = FileAccess::kNone;  // files: what was asked
  std::string via;         // files: the name it was opened by, when a link led to item
  std::string target;      // files: where readlink said the link points
  std::string detail;      // as shown: "unset", "read", "readlink -> ...", "stat", "= value"
  uint64_t first_event = 0;
  int64_t first_wall_ns = 0;
  uint32_t first_pid = 0;
  std::string first_comm;
  uint64_t count = 0;
  std::set<uint32_t> pids;
  uint64_t stack_event = 0;  // the first of its events that carries the caller's stack
};

// What one event says of a fact (kind, item, success, access, link, target,
// detail), referring to the event's strings so that only the detail is built
// per event (profile.cpp); the rest of a fact is kept from its first event.
struct FactSeen;

// A value a process obtained and could send on: from the environment (with
// --show-values), uname, a resolved time zone, or a file whose content the
// trace header records (machine-id, hostname).
struct ObtainedValue {
  std::string kind;   // "env", "timezone", "hostname", "machine_id", "username", "home", "canary"
  std::string name;   // the variable or file it came from
  std::string value;
  uint64_t event = 0;
  uint32_t pid = 0;
  uint32_t root = 0;
};

// The captured bytes of one connection and direction, in order, with where
// each event's bytes sit.
struct PayloadStream {
  uint32_t conn = 0;
  uint32_t pid = 0;       // first sender
  uint32_t root = 0;
  std::string comm;
  std::string peer;       // "127.0.0.1:443"
  std::string host;
  bool tls = false;       // plaintext from SSL_write
  bool loopback = false;
  std::string data;
  uint64_t bytes = 0;     // sent, captured or not
  uint64_t not_captured = 0;
  struct Segment {
    uint64_t event = 0;
    int64_t wall_ns = 0;
    uint64_t data_offset = 0;    // in `data`
    uint64_t stream_offset = 0;  // in the connection's stream
    uint64_t length = 0;
  };
  std::vector<Segment> segments;
  // The event and stream offset of the byte at data_offset.
  const Segment* segment_at(uint64_t data_offset) const;
};

struct Destination {
  std::string key;        // "api.example.com (1.2.3.4:443)"
  std::string peer;
  std::string host;
  bool loopback = false;
  uint64_t connections = 0;
  uint64_t failed_attempts = 0;  // connects that failed (refused, unreachable)
  uint64_t bytes_sent = 0;
  uint64_t tls_plaintext = 0;
  uint64_t first_event = 0;
  std::set<uint32_t> pids;
};

// Calls of one privileged or refused system call (trace::SystemCall).
struct SystemCallUse {
  std::string call;           // "mount"; "ia32 getuid32" for the 32-bit ABI
  uint64_t calls = 0;
  uint64_t failed = 0;
  int64_t first_error = 0;    // -errno of the first failed call
  std::string first_path;     // path argument of the first call that had one
  uint64_t first_event = 0;
  uint64_t first_failed_event = 0;
  uint32_t first_failed_pid = 0;
  std::set<uint32_t> pids;
  std::set<uint64_t> failed_targets;  // kill, tkill, tgkill, ptrace: the pids the failed calls named
};

// Connects to unix sockets, by path ("@name" for an abstract one).
struct UnixConnect {
  std::string path;
  uint64_t connections = 0;
  uint64_t failed_attempts = 0;
  int64_t first_error = 0;
  uint64_t first_event = 0;
  uint32_t first_pid = 0;
};

// A point of the report's timeline chart: an event worth plotting, by lane.
struct TimelinePoint {
  uint64_t event = 0;
  int64_t wall_ns = 0;
  uint32_t pid = 0;
  std::string lane;   // a knowledge-base category id, or "process", "network", "dns"
  std::string label;  // "getenv TZ", "read /etc/machine-id", "send 86.0 KiB to ..."
};

struct Profile {
  trace::Header header;
  bool has_trailer = false;
  trace::Trailer trailer;
  uint64_t events = 0;
  int64_t start_wall_ns = 0;
  int64_t end_wall_ns = 0;
  std::map<uint32_t, ProcessInfo> processes;
  std::vector<uint32_t> roots;
  // category id ("" for uncategorized) -> item -> fact
  std::map<std::string, std::map<std::string, Fact>> facts;
  // Every path touched and every variable looked up, categorized or not
  // (for policies): item -> fact.
  std::map<std::string, Fact> files;
  std::map<std::string, Fact> env;
  std::vector<ObtainedValue> values;
  std::map<std::string, Destination> destinations;
  std::map<std::string, UnixConnect> unix_connects;
  std::map<std::string, SystemCallUse> system_calls;  // by SystemCallUse::call
  uint64_t tasks_created = 0;  // processes and threads forked
  std::vector<std::string> dns_names;
  std::map<std::string, std::vector<std::string>> dns_answers;
  std::vector<PayloadStream> streams;   // outgoing, one per connection and TLS-ness
  std::map<std::string, uint64_t> kind_counts;
  // First event at which each tree sent bytes over the network (not unix sockets).
  std::map<uint32_t, uint64_t> first_send;
  std::map<uint32_t, int64_t> first_send_wall;
  std::map<uint32_t, uint64_t> last_send;
  bool attached = false;  // the recording started after the processes did
  // The call stacks events carried, by event id (symbolized before reports),
  // with the process each is of.
  struct RecordedStack {
    uint32_t pid = 0;
    trace::Stack stack;
  };
  std::map<uint64_t, RecordedStack> stacks;
  // Names of JIT code written at the end of the trace, per process: start -> (end, name).
  std::map<uint32_t, std::map<uint64_t, std::pair<uint64_t, std::string>>> jit_symbols;
  uint64_t stacks_dropped = 0;  // beyond kMaxStacks
  static constexpr size_t kMaxStacks = 100000;
  const trace::Stack* stack_of(uint64_t event) const;
  std::vector<TimelinePoint> timeline;
  uint64_t timeline_dropped = 0;  // points beyond kMaxTimeline
  static constexpr size_t kMaxTimeline = 20000;

  uint32_t root_of(uint32_t pid) const;

  // The code the processes ran, as inspect read it (analyzer/code_evidence.h),
  // when it was read: a live run, or a trace recorded on this host and boot.
  std::vector<CodeInspection> code;
};

class ProfileBuilder : public trace::EventSink {
 public:
  explicit ProfileBuilder(const KnowledgeBase& kb) : kb_(kb) {}

  void on_header(const trace::Header& h) override;
  void on_event(const trace::Event& e) override;
  void on_trailer(const trace::Trailer& t) override;

  // The profile so far (event counts brought up to date).
  Profile& profile() {
    finish_counts();
    return profile_;
  }

 private:
  ProcessInfo& process(const trace::Event& e);
  void add_fact(const trace::Event& e, CategorySet cats, const FactSeen& seen);
  void add_value(const trace::Event& e, const std::string& kind, const std::string& name,
                 const std::string& value);
  void on_path(const trace::Event& e, const FactSeen& seen);
  void on_send(const trace::Event& e, const trace::Data& d);
  void plot(const trace::Event& e, const std::string& lane, std::string label);
  bool timeline_full();
  const std::vector<std::string>& ids_of(CategorySet cats);
  void finish_counts();

  const KnowledgeBase& kb_;
  Profile profile_;
  std::map<std::pair<uint32_t, bool>, size_t> stream_index_;  // (conn, tls) -> streams index
  std::map<std::string, size_t> unattributed_index_;
  std::set<std::string> value_seen_;
  std::array<uint64_t, 64> kind_counts_{};
  std::map<CategorySet, std::vector<std::string>> ids_cache_;
  ProcessInfo* last_process_ = nullptr;
  std::map<std::tuple<uint32_t, std::string, uint32_t>, std::string> dest_key_;
  uint32_t last_value_root_ = 0;
  std::string last_value_kind_, last_value_name_, last_value_;
};

// "open", "getenv", ... for a trace::Event body case number.
std::string kind_name_of_case(int body_case);

// "Asia/Shanghai" from "/usr/share/zoneinfo/Asia/Shanghai"; empty otherwise.
std::string zone_from_path(const std::string& path);

}  // namespace agenttrace::analyzer
