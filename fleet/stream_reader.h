// Reads the exported messages back from JetStream through a durable pull
// consumer: durable, so a long `collect --follow` rides out a server
// restart or, in a cluster, the loss of the node that led the consumer. It
// is made fresh for each `collect` and removed when collect ends.
#pragma once

#include <nats/nats.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/error.h"
#include "fleet/nats_settings.h"

namespace agenttrace::fleet {

class NatsClient;

// The server answers but holds no such stream (yet): following waits for it.
class NoStreamError : public Error {
 public:
  using Error::Error;
};

// One exported message, with what its subject and id say.
struct StreamMessage {
  std::string host;     // the subject's host token: who published it (the server's permissions say)
  std::string id_host;  // the host its de-duplication id names ("" in the older form without one)
  std::string suffix;   // "header", "events.open", "trailer", "findings"
  std::string session;
  uint64_t seq = 0;     // within the session, from 1
  std::string data;
  uint64_t stream_seq = 0;
  int64_t stored_ns = 0;  // when the stream stored it
};

struct ReadOptions {
  std::string durable;         // the consumer's name
  std::string filter_subject;  // default: every agenttrace subject
  int64_t since_ns = 0;        // only messages stored from then on (0: all)
  int batch = 1000;
};

class StreamReader {
 public:
  // Connects, checks the stream, creates the consumer. Throws
  // agenttrace::Error with one sentence (unreachable server, no stream).
  StreamReader(const NatsSettings& settings, const ReadOptions& options);
  ~StreamReader();  // removes the consumer
  StreamReader(const StreamReader&) = delete;
  StreamReader& operator=(const StreamReader&) = delete;

  struct Fetched {
    bool caught_up = false;  // nothing more in the stream right now
    std::string trouble;     // the server did not answer (reconnecting): try again
  };
  // Appends up to one batch to *out, waiting up to timeout_ms for the first.
  Fetched fetch(std::vector<StreamMessage>* out, int timeout_ms);

  uint64_t malformed() const { return malformed_; }  // messages without a usable subject or id
  const NatsSettings& settings() const { return settings_; }

 private:
  bool pending_is_zero();

  NatsSettings settings_;
  ReadOptions options_;
  std::unique_ptr<NatsClient> client_;
  natsSubscription* sub_ = nullptr;
  uint64_t malformed_ = 0;
};

}  // namespace agenttrace::fleet
