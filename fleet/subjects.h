// Names on the wire. Every exported message goes to a subject that carries
// its host and kind, and carries a de-duplication id that names its host,
// its session and its place in it:
//   agenttrace.<host>.header | .events.<kind> | .trailer | .findings
//   Nats-Msg-Id: <host>/<session>/<sequence>
// so a consumer can filter by host or kind, tell runs of one host apart, put
// a session's messages back in order and drop a message delivered twice.
// JetStream de-duplicates by this id across the whole stream: with the host
// in it, one host's ids never equal another's, and an id naming a host other
// than its subject's is a forgery the collector reports.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace agenttrace::fleet {

inline constexpr std::string_view kSubjectRoot = "agenttrace";
// The subjects of the stream agenttrace creates: everything under the root.
inline constexpr std::string_view kStreamSubjects = "agenttrace.>";
inline constexpr std::string_view kDefaultStream = "AGENTTRACE";
inline constexpr std::string_view kMsgIdHeader = "Nats-Msg-Id";

// A host name as one subject token: lower case, and every byte that is not a
// letter, digit, '-' or '_' (dots, wildcards, spaces) becomes '_'; "unknown"
// when nothing is left.
std::string host_token(std::string_view host);

// "agenttrace.<token>.<suffix>".
std::string subject_for(std::string_view token, std::string_view suffix);

// "events.open" for an event of kind "open".
std::string event_suffix(std::string_view kind);

// What a subject says: its host token and what follows it ("events.open").
struct SubjectParts {
  std::string host;
  std::string suffix;
};
std::optional<SubjectParts> parse_subject(std::string_view subject);

// A recording's id: the boot id's first 12 hex digits, the start time in
// nanoseconds and agenttrace's pid ("3f2a9c1b0d4e-1732395432123456789-4242"):
// unique per host without coordination, and it sorts by time within a boot.
std::string make_session_id(std::string_view boot_id, int64_t start_wall_ns, pid_t pid);

// "<host token>/<session>/<sequence>", and back. An id of the older form
// "<session>/<sequence>" parses with an empty host.
std::string message_id(std::string_view host_token, std::string_view session, uint64_t sequence);
bool parse_message_id(std::string_view id, std::string* host_token, std::string* session, uint64_t* sequence);

}  // namespace agenttrace::fleet
