// Who asked for agenttrace, and as whom the traced command runs.
//
// agenttrace runs as root to load BPF; the command it starts must not. Under
// sudo (SUDO_UID/SUDO_GID), pkexec (PKEXEC_UID) or doas (DOAS_USER) the
// command runs as the user who typed it; `--user NAME` picks another one and
// `--as-root` keeps root. Everything agenttrace writes for the user belongs to
// the invoking user, so `agenttrace analyze` needs no root afterwards.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

namespace agenttrace {

struct UserIdentity {
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;  // supplementary groups, as initgroups(3) would set them
  std::string name;
  std::string home;
  std::string shell;
};

// How the command's user was chosen (for the trace header).
enum class IdentitySource { kSelf, kSudo, kPkexec, kDoas, kUserOption, kAsRoot };
const char* identity_source_name(IdentitySource s);

struct CommandIdentity {
  // The user the command runs as; nullopt: as agenttrace itself (no change).
  std::optional<UserIdentity> user;
  IdentitySource source = IdentitySource::kSelf;
  // Who owns the files agenttrace writes (the invoking user); nullopt: agenttrace itself.
  std::optional<UserIdentity> owner;
};

// The passwd entry (and groups) of a user by name or by uid; throws
// agenttrace::Error naming the user when there is none.
UserIdentity lookup_user(const std::string& name);
UserIdentity lookup_user(uid_t uid);

// Decides, from agenttrace's own privileges and environment, as whom the
// command runs. `user_option` is --user (empty: none). Only a real root can
// change users: without it nothing changes. Throws agenttrace::Error for an
// unknown --user, or for --user without root.
CommandIdentity decide_command_identity(const std::string& user_option, bool as_root);

// The command's environment for `who`: agenttrace's own environment, with
// HOME, USER, LOGNAME and SHELL from the passwd entry when the command
// changes user, and every variable that configures agenttrace itself (and may
// hold its secrets: AGENTTRACE_NATS_*, ...) removed.
std::vector<std::string> command_environment(char** environ_now, const CommandIdentity& who);

// Variables agenttrace reads for itself that never reach the command.
bool is_agenttrace_variable(const std::string& name);

// The owner that files agenttrace creates get; set once at start-up from the
// command identity (default: none, files stay agenttrace's own).
void set_output_owner(const std::optional<UserIdentity>& owner);
const std::optional<UserIdentity>& output_owner();

}  // namespace agenttrace
