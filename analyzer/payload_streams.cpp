#include "analyzer/payload_streams.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>
#include <fstream>

#include "common/error.h"
#include "common/output_file.h"
#include "common/strings.h"
#include "trace/json.h"

namespace agenttrace::analyzer {

namespace {

// A file-name-safe form of "127.0.0.1:443" or "api.example.com".
std::string safe(const std::string& s) {
  std::string out;
  for (char c : s) out += (isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-') ? c : '_';
  return out;
}

}  // namespace

PayloadStreams::PayloadStreams(const std::string& dir) : dir_(dir), dir_fd_(open_output_directory(dir)) {}

PayloadStreams::~PayloadStreams() {
  for (auto& [name, s] : streams_)
    if (s.out) fclose(s.out);
}

FILE* PayloadStreams::file_of(Stream& s, bool create) {
  if (s.out) return s.out;
  if (open_.size() >= kMaxOpenFiles) close_file(*open_.front());
  std::string path = dir_ + "/" + s.file;
  // A file evicted from the open set is opened again by name in the
  // directory already opened, never through a link.
  UniqueFd fd = create ? create_output_file_in(dir_fd_.get(), dir_, s.file)
                       : UniqueFd(openat(dir_fd_.get(), s.file.c_str(), O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.valid()) throw Error("cannot write " + path + ": " + errno_text(errno));
  s.out = fdopen(fd.get(), create ? "wb" : "ab");
  if (!s.out) throw Error("cannot write " + path + ": " + errno_text(errno));
  fd.release();
  open_.push_back(&s);
  return s.out;
}

void PayloadStreams::close_file(Stream& s) {
  if (!s.out) return;
  int rc = fclose(s.out);
  s.out = nullptr;
  for (auto it = open_.begin(); it != open_.end(); ++it)
    if (*it == &s) {
      open_.erase(it);
      break;
    }
  if (rc != 0) throw Error("cannot write " + dir_ + "/" + s.file + ": " + errno_text(errno));
}

PayloadStreams::Stream& PayloadStreams::stream_for(const trace::Event& e, const trace::Data& d) {
  std::string peer = trace::sockaddr_text(d.peer());
  std::string name;
  if (d.conn())
    name = "conn-" + std::to_string(d.conn()) + "-" + safe(d.host().empty() ? peer : d.host());
  else
    name = "pid-" + std::to_string(e.pid()) + "-unattributed";
  name += d.tls() ? ".tls.out" : ".out";
  Stream& s = streams_[name];
  if (s.file.empty()) {
    s.file = name;
    s.conn = d.conn();
    s.pid = e.pid();
    s.comm = e.comm();
    s.peer = peer;
    s.host = d.host();
    s.tls = d.tls();
    s.first_event = e.id();
    file_of(s, true);
  }
  return s;
}

void PayloadStreams::on_event(const trace::Event& e) {
  if (!e.has_send()) return;
  const trace::Data& d = e.send();
  if (d.ciphertext() || (d.bytes() == 0 && d.data().empty()) || trace::kernel_socket(d.peer())) return;
  Stream& s = stream_for(e, d);
  s.bytes += d.bytes();
  s.truncated += d.truncated();
  if (d.gap()) ++s.gaps;
  if (!d.data().empty()) {
    if (fwrite(d.data().data(), 1, d.data().size(), file_of(s, false)) != d.data().size())
      throw Error("cannot write " + dir_ + "/" + s.file + ": " + errno_text(errno));
    s.captured += d.data().size();
  }
}

size_t PayloadStreams::finish() {
  if (finished_) return streams_.size();
  finished_ = true;
  trace::Json index = trace::Json::array();
  for (auto& [name, s] : streams_) {
    close_file(s);
    trace::Json j;
    j["file"] = s.file;
    j["conn"] = s.conn;
    j["pid"] = s.pid;
    j["comm"] = s.comm;
    j["peer"] = s.peer;
    if (!s.host.empty()) j["host"] = s.host;
    j["tls_plaintext"] = s.tls;
    j["bytes"] = s.bytes;
    j["captured"] = s.captured;
    j["not_captured"] = s.truncated;
    j["messages_with_gaps"] = s.gaps;
    j["first_event"] = s.first_event;
    index.push_back(j);
  }
  std::string path = dir_ + "/index.json";
  UniqueFd out = create_output_file_in(dir_fd_.get(), dir_, "index.json");
  write_all(out.get(), path, index.dump(2) + "\n");
  return streams_.size();
}

}  // namespace agenttrace::analyzer
