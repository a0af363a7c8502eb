// The sandbox's stand-in for LLM HTTP APIs: a port to C++ of the Python
// stand-in the tests once used (cpp-httplib for HTTP parsing, OpenSSL for
// TLS), so `agenttrace sandbox` can answer an agent's API calls inside the
// sandbox's own network namespace without a Python interpreter there. This
// is the server (listening, TLS, reading and recording requests); what it
// answers is in standin_shapes.h, and how it spells JSON in standin_json.h.
//
// It answers the shapes the common agents use (standin_shapes.h), POST only:
//   /v1/messages                                   Anthropic Messages
//   /v1/chat/completions                           OpenAI Chat Completions
//   /v1/responses                                  OpenAI Responses
//   /v1beta/models/M:generateContent               Gemini
//   /v1beta/models/M:streamGenerateContent         Gemini, server-sent events
//       with ?alt=sse, otherwise a JSON array of chunks
// The first three stream server-sent events when the request JSON has
// "stream": true. Replies are byte-for-byte those of the Python stand-in
// (ids from the request number, fixed `created`, token counts from the body
// length and the reply's word count, JSON spelled like Python's json.dumps).
// Everything else is a 404 with a JSON error. Streams end with
// "Connection: close" and no Content-Length; all other replies carry a
// Content-Length, so keep-alive connections carry on.
//
// Every request the HTTP parser accepts is recorded, 404s included, with its
// headers in the client's order and spelling and its body bytes as sent (a
// chunked upload de-chunked). Responses are never compressed.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace agenttrace::sandbox {

struct RecordedRequest {
  uint64_t n = 0;        // 1, 2, ... in arrival order, across both servers
  int64_t wall_ns = 0;   // CLOCK_REALTIME when the request's first byte was read
  bool tls = false;      // arrived on the https server
  std::string method, target, http_version, client;  // client: "ADDRESS:PORT"
  std::vector<std::pair<std::string, std::string>> headers;  // as sent, in order
  std::string body;
  int status = 0;        // the status answered; 0 when no reply was sent (incomplete body)
  bool body_complete = true;  // false: the connection ended or timed out mid-body, or its length was refused
  bool chunked = false;       // the body came with Transfer-Encoding: chunked
};

struct StandInOptions {
  std::string reply = "hi";             // the assistant's text in every reply
  std::vector<std::string> host_names;  // extra DNS names (or addresses) for the certificate
  std::string cert_dir;                 // where cert.pem goes; empty: a temporary directory named
                                        // standin_dir_prefix()-XXXXXX, removed with the StandIn
  std::string record_dir;               // when set, each request's files (see write_records) are
                                        // written there as it is recorded, before it is answered,
                                        // like the Python stand-in; created if missing
};

// "agenttrace-standin-<pid>": the name of this process's temporary
// certificate directories (followed by -XXXXXX), so that a later run can tell
// one left by an agenttrace that was killed.
std::string standin_dir_prefix();

// Removes the directories in `parent` that standin_dir_prefix() named for a
// process that no longer exists and that belong to this user (real
// directories, not links): what a SIGKILLed agenttrace left. Returns how many
// were removed. Done by every StandIn for its temporary directory's parent.
size_t remove_stale_standin_dirs(const std::string& parent);

class StandIn {
 public:
  // Generates the certificate. Throws agenttrace::Error.
  explicit StandIn(StandInOptions options);
  ~StandIn();
  StandIn(const StandIn&) = delete;
  StandIn& operator=(const StandIn&) = delete;

  // Binds both servers on host:http_port and host:https_port in the calling
  // thread's network namespace (the sandbox enters its namespace first, then
  // calls this; sockets stay in the namespace they were created in). Port 0
  // picks free ports. Throws agenttrace::Error.
  void bind(const std::string& host, int http_port, int https_port);
  // Serves from background threads (the calling thread's namespace no longer
  // matters). Throws agenttrace::Error when called before bind().
  void start();
  // Stops accepting, ends idle keep-alive connections and joins every
  // thread. Idempotent; also done by the destructor.
  void stop();

  int http_port() const;
  int https_port() const;
  std::string cert_path() const;  // the certificate to trust (its key is in memory only)

  // A thread-safe snapshot of the requests recorded so far, in arrival order.
  // A request appears once its body has been read, before its reply is sent.
  std::vector<RecordedRequest> requests() const;

  // Writes DIR/request-N.body (the body bytes) and then DIR/request-N.json
  // (method, path, headers, body length, ...; the Python stand-in's fields
  // and formatting) for every request, each file renamed into place once
  // complete. Creates DIR if missing. Throws agenttrace::Error.
  void write_records(const std::string& dir) const;
  // The same for `requests` (redacted ones, for `sandbox --record-dir`), as
  // files agenttrace creates for the user: new, 0600, never through a link
  // (common/output_file.h).
  static void write_records_safely(const std::string& dir, const std::vector<RecordedRequest>& requests);

 private:
  struct Impl;
  friend class Listener;  // the servers (standin.cpp) report to Impl
  std::unique_ptr<Impl> impl_;
};

}  // namespace agenttrace::sandbox
