// Builds a trace's events in memory, in order, with ids and times, and runs
// the analyzer over them: the rule and policy tests' way to state a story.
#pragma once

#include <fcntl.h>

#include <map>
#include <string>
#include <vector>

#include "analyzer/findings.h"
#include "analyzer/profile.h"
#include "analyzer/report.h"

namespace agenttrace::analyzer {

// Builds a trace's events in order, with ids and times.
class Story {
 public:
  explicit Story(uint32_t root = 100) : root_(root) {
    header_.set_start_wall_ns(1'000'000'000);
    header_.set_root_pid(root);
    header_.add_command("agent");
    (*header_.mutable_host_values())["machine_id"] = "3d1219c7c4c5404aaa1f6d2a48adfda4";
    (*header_.mutable_host_values())["hostname"] = "build-host-7";
    exec(root, "/usr/bin/agent");
  }
  trace::Event& add(uint32_t pid) {
    events_.emplace_back();
    trace::Event& e = events_.back();
    e.set_id(events_.size());
    e.set_wall_ns(1'000'000'000 + static_cast<int64_t>(events_.size()) * 1'000'000);
    e.set_pid(pid);
    e.set_tid(pid);
    e.set_ppid(pid == root_ ? 1 : root_);
    e.set_comm(pid == root_ ? "agent" : "helper");
    return e;
  }
  void exec(uint32_t pid, const std::string& path) {
    auto& e = add(pid);
    e.mutable_exec()->set_path(path);
    e.mutable_exec()->set_exe(path);
  }
  void getenv(const std::string& name, bool found, const std::string& value = "", uint32_t pid = 0) {
    auto& e = add(pid ? pid : root_);
    e.mutable_getenv()->set_name(name);
    e.mutable_getenv()->set_found(found);
    if (!value.empty()) {
      e.mutable_getenv()->set_value(value);
      e.mutable_getenv()->set_value_captured(true);
    }
  }
  void read(const std::string& path, bool ok = true, uint32_t pid = 0) {
    auto& e = add(pid ? pid : root_);
    e.mutable_open()->set_path(path);
    e.mutable_open()->set_flags(O_RDONLY);
    e.mutable_open()->set_result(ok ? 3 : -2);
  }
  void readlink(const std::string& path, const std::string& target) {
    auto& e = add(root_);
    e.mutable_readlink()->set_path(path);
    e.mutable_readlink()->set_target(target);
    e.mutable_readlink()->set_result(static_cast<int64_t>(target.size()));
  }
  void uname() {
    auto& e = add(root_);
    e.mutable_uname()->set_nodename("build-host-7");
  }
  void fork(uint32_t child) {
    auto& e = add(root_);
    e.mutable_fork()->set_child_pid(child);
    e.mutable_fork()->set_child_tid(child);
  }
  void send(const std::string& data, uint32_t conn = 1, bool tls = false, const std::string& addr = "203.0.113.9",
            uint32_t pid = 0) {
    auto& e = add(pid ? pid : root_);
    auto* d = e.mutable_send();
    d->set_conn(conn);
    d->mutable_peer()->set_family("inet");
    d->mutable_peer()->set_address(addr);
    d->mutable_peer()->set_port(443);
    d->set_host("api.example.com");
    d->set_bytes(data.size());
    d->set_offset(offsets_[conn * 2 + tls]);
    offsets_[conn * 2 + tls] += data.size();
    d->set_data(data);
    d->set_tls(tls);
  }
  // A netlink request (RTM_GETLINK ...) as the collector records it: the
  // host_query event and the send of its bytes on the netlink socket.
  trace::Event& netlink(const std::string& request, uint32_t number, uint32_t conn, uint32_t pid = 0) {
    auto* q = add(pid ? pid : root_).mutable_host_query();
    q->set_syscall(trace::SYSCALL_SENDTO);
    q->set_request(request);
    q->set_number(number);
    q->set_protocol("route");
    q->set_flags(0x301);
    q->set_dump(true);
    q->set_family("unspec");
    q->set_result(20);
    auto& s = add(pid ? pid : root_);
    auto* d = s.mutable_send();
    d->set_syscall(trace::SYSCALL_SENDTO);
    d->set_conn(conn);
    d->mutable_peer()->set_family("netlink");
    std::string bytes("\x14\0\0\0", 4);
    bytes += static_cast<char>(number);
    bytes += std::string("\0\x01\x03", 3) + std::string(12, '\0');
    d->set_bytes(bytes.size());
    d->set_data(bytes);
    return events_[events_.size() - 2];  // the send's add() may have moved it
  }
  trace::Event& ioctl(const std::string& request, uint32_t number, const std::string& interface, uint32_t pid = 0) {
    auto& e = add(pid ? pid : root_);
    auto* q = e.mutable_host_query();
    q->set_syscall(trace::SYSCALL_IOCTL);
    q->set_request(request);
    q->set_number(number);
    q->set_interface(interface);
    return e;
  }
  void coverage(const std::string& signal, const std::string& state, const std::string& detail) {
    auto& e = add(root_);
    e.mutable_coverage()->set_signal(signal);
    e.mutable_coverage()->set_state(state);
    e.mutable_coverage()->set_detail(detail);
  }

  std::vector<Finding> findings(bool with_trailer = true) { return analysis(with_trailer).findings; }
  Analysis analysis(bool with_trailer = true) {
    KnowledgeBase kb = KnowledgeBase::builtin();
    ProfileBuilder b(kb);
    b.on_header(header_);
    for (const auto& e : events_) b.on_event(e);
    if (with_trailer) b.on_trailer(trailer_);
    Analysis a;
    a.profile = std::move(b.profile());
    a.findings = run_rules(a.profile, kb);
    return a;
  }
  void connect(const std::string& addr, uint32_t port) {
    auto& e = add(root_);
    auto* c = e.mutable_connect();
    c->mutable_addr()->set_family("inet");
    c->mutable_addr()->set_address(addr);
    c->mutable_addr()->set_port(port);
  }
  trace::Trailer& trailer() { return trailer_; }
  trace::Header& header() { return header_; }
  std::vector<trace::Event>& events() { return events_; }

 private:
  uint32_t root_;
  trace::Header header_;
  trace::Trailer trailer_;
  std::vector<trace::Event> events_;
  std::map<uint32_t, uint64_t> offsets_;
};

}  // namespace agenttrace::analyzer
