#include "fleet/subjects.h"

#include <charconv>

namespace agenttrace::fleet {

std::string host_token(std::string_view host) {
  std::string out;
  out.reserve(host.size());
  for (char c : host) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u >= 'A' && u <= 'Z') out += static_cast<char>(u - 'A' + 'a');
    else if ((u >= 'a' && u <= 'z') || (u >= '0' && u <= '9') || u == '-' || u == '_') out += c;
    else out += '_';
  }
  return out.empty() ? "unknown" : out;
}

std::string subject_for(std::string_view token, std::string_view suffix) {
  std::string s;
  s.reserve(kSubjectRoot.size() + token.size() + suffix.size() + 2);
  s.append(kSubjectRoot).append(".").append(token).append(".").append(suffix);
  return s;
}

std::string event_suffix(std::string_view kind) { return "events." + std::string(kind); }

std::optional<SubjectParts> parse_subject(std::string_view subject) {
  if (subject.substr(0, kSubjectRoot.size()) != kSubjectRoot || subject.size() <= kSubjectRoot.size() + 1 ||
      subject[kSubjectRoot.size()] != '.')
    return std::nullopt;
  std::string_view rest = subject.substr(kSubjectRoot.size() + 1);
  size_t dot = rest.find('.');
  if (dot == std::string_view::npos || dot == 0 || dot + 1 == rest.size()) return std::nullopt;
  return SubjectParts{std::string(rest.substr(0, dot)), std::string(rest.substr(dot + 1))};
}

std::string make_session_id(std::string_view boot_id, int64_t start_wall_ns, pid_t pid) {
  std::string boot;
  for (char c : boot_id) {
    if (boot.size() == 12) break;
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')) boot += c;
  }
  if (boot.empty()) boot = "noboot";
  return boot + "-" + std::to_string(start_wall_ns) + "-" + std::to_string(pid);
}

std::string message_id(std::string_view host_token, std::string_view session, uint64_t sequence) {
  std::string id(host_token);
  id += '/';
  id += session;
  id += '/';
  id += std::to_string(sequence);
  return id;
}

bool parse_message_id(std::string_view id, std::string* host_token, std::string* session, uint64_t* sequence) {
  size_t slash = id.rfind('/');
  if (slash == std::string_view::npos || slash == 0 || slash + 1 == id.size()) return false;
  const char* first = id.data() + slash + 1;
  const char* last = id.data() + id.size();
  auto [end, ec] = std::from_chars(first, last, *sequence);
  if (ec != std::errc() || end != last) return false;
  std::string_view rest = id.substr(0, slash);
  size_t first_slash = rest.find('/');
  if (first_slash == std::string_view::npos) {
    host_token->clear();
    session->assign(rest);
    return true;
  }
  std::string_view host = rest.substr(0, first_slash), sess = rest.substr(first_slash + 1);
  if (host.empty() || sess.empty() || sess.find('/') != std::string_view::npos) return false;
  host_token->assign(host);
  session->assign(sess);
  return true;
}

}  // namespace agenttrace::fleet
