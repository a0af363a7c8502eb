#include "common/identity.h"

#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "common/error.h"

namespace agenttrace {

namespace {

UserIdentity from_passwd(const struct passwd& pw) {
  UserIdentity u;
  u.uid = pw.pw_uid;
  u.gid = pw.pw_gid;
  u.name = pw.pw_name ? pw.pw_name : "";
  u.home = pw.pw_dir ? pw.pw_dir : "";
  u.shell = pw.pw_shell ? pw.pw_shell : "";
  // getgrouplist grows: ask for the size first.
  int n = 32;
  for (int tries = 0; tries < 4; ++tries) {
    std::vector<gid_t> groups(static_cast<size_t>(n));
    int got = n;
    if (getgrouplist(u.name.c_str(), u.gid, groups.data(), &got) >= 0) {
      groups.resize(static_cast<size_t>(got));
      u.groups = std::move(groups);
      return u;
    }
    n = got > n ? got : n * 2;
  }
  u.groups = {u.gid};
  return u;
}

std::optional<uid_t> parse_uid(const char* text) {
  if (!text || !*text) return std::nullopt;
  char* end = nullptr;
  errno = 0;
  unsigned long v = strtoul(text, &end, 10);
  if (errno != 0 || *end != '\0' || v > 0xfffffffful) return std::nullopt;
  return static_cast<uid_t>(v);
}

std::optional<UserIdentity> g_output_owner;

}  // namespace

const char* identity_source_name(IdentitySource s) {
  switch (s) {
    case IdentitySource::kSelf: return "self";
    case IdentitySource::kSudo: return "sudo";
    case IdentitySource::kPkexec: return "pkexec";
    case IdentitySource::kDoas: return "doas";
    case IdentitySource::kUserOption: return "--user";
    case IdentitySource::kAsRoot: return "--as-root";
  }
  return "self";
}

UserIdentity lookup_user(const std::string& name) {
  std::vector<char> buf(16384);
  struct passwd pw, *found = nullptr;
  int err = getpwnam_r(name.c_str(), &pw, buf.data(), buf.size(), &found);
  if (err != 0 || !found) {
    // A number names a uid.
    if (auto uid = parse_uid(name.c_str())) return lookup_user(*uid);
    throw Error("there is no user " + name + " on this machine");
  }
  return from_passwd(pw);
}

UserIdentity lookup_user(uid_t uid) {
  std::vector<char> buf(16384);
  struct passwd pw, *found = nullptr;
  int err = getpwuid_r(uid, &pw, buf.data(), buf.size(), &found);
  if (err != 0 || !found) throw Error("there is no user with uid " + std::to_string(uid) + " on this machine");
  return from_passwd(pw);
}

CommandIdentity decide_command_identity(const std::string& user_option, bool as_root) {
  CommandIdentity who;
  // The environment of a process that is not really root is the caller's
  // own: SUDO_UID then says nothing, and nothing can be changed anyway.
  if (getuid() != 0 || geteuid() != 0) {
    if (!user_option.empty()) throw Error("--user needs agenttrace to run as root (sudo agenttrace --user ...)");
    return who;
  }
  std::optional<UserIdentity> invoker;
  IdentitySource via = IdentitySource::kSelf;
  if (auto uid = parse_uid(getenv("SUDO_UID")); uid && *uid != 0) {
    invoker = lookup_user(*uid);
    // sudo passes the group it ran as; a user may have several primary ones.
    if (auto gid = parse_uid(getenv("SUDO_GID"))) invoker->gid = static_cast<gid_t>(*gid);
    via = IdentitySource::kSudo;
  } else if (auto pk = parse_uid(getenv("PKEXEC_UID")); pk && *pk != 0) {
    invoker = lookup_user(*pk);
    via = IdentitySource::kPkexec;
  } else if (const char* doas = getenv("DOAS_USER"); doas && *doas && std::strcmp(doas, "root") != 0) {
    invoker = lookup_user(std::string(doas));
    via = IdentitySource::kDoas;
  }
  who.owner = invoker;
  if (as_root) {
    who.source = IdentitySource::kAsRoot;
    return who;
  }
  if (!user_option.empty()) {
    who.user = lookup_user(user_option);
    who.source = IdentitySource::kUserOption;
    if (who.user->uid == 0) who.user.reset();
    return who;
  }
  who.user = invoker;
  who.source = via;
  return who;
}

bool is_agenttrace_variable(const std::string& name) {
  return name.rfind("AGENTTRACE_NATS_", 0) == 0 || name == "AGENTTRACE_HOST_NAME";
}

std::vector<std::string> command_environment(char** environ_now, const CommandIdentity& who) {
  std::vector<std::string> out;
  const bool change = who.user.has_value();
  for (char** e = environ_now; e && *e; ++e) {
    std::string kv = *e;
    std::string name = kv.substr(0, kv.find('='));
    if (is_agenttrace_variable(name)) continue;
    // sudo replaces these with root's (or keeps the caller's: then they are
    // set again to the same values below).
    if (change && (name == "HOME" || name == "USER" || name == "LOGNAME" || name == "SHELL")) continue;
    out.push_back(std::move(kv));
  }
  if (change) {
    const UserIdentity& u = *who.user;
    out.push_back("HOME=" + u.home);
    out.push_back("USER=" + u.name);
    out.push_back("LOGNAME=" + u.name);
    if (!u.shell.empty()) out.push_back("SHELL=" + u.shell);
  }
  return out;
}

void set_output_owner(const std::optional<UserIdentity>& owner) { g_output_owner = owner; }
const std::optional<UserIdentity>& output_owner() { return g_output_owner; }

}  // namespace agenttrace
