// Publishes a recording's messages to JetStream, at least once and in order,
// without ever holding up the recording: the hot path only appends the
// serialized record to a queue in memory; a thread of its own publishes
// asynchronously with de-duplication ids, keeps what is not yet acknowledged
// in the outbox (memory, then a bounded disk spool while the server is
// away), and sends it again, in order, when the server returns. What the
// spool cannot hold is counted, never silently lost.
#pragma once

#include <nats/nats.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "fleet/export_options.h"
#include "fleet/nats_settings.h"
#include "trace/format.h"

namespace agenttrace::fleet {

class NatsClient;
class Outbox;

struct ExportTotals {
  uint64_t enqueued = 0;    // messages handed to the export
  uint64_t published = 0;   // acknowledged by the stream
  uint64_t duplicates = 0;  // of those, acknowledged as already stored (a resend)
  uint64_t spooled = 0;     // went through the disk spool on the way
  uint64_t dropped = 0;     // lost, counted: the spool (or the queue) was full, or the server refused the size
  uint64_t pending = 0;     // not yet acknowledged (in the spool at the end)
  bool ever_connected = false;
  std::string stream_note;  // "created the stream AGENTTRACE (...)"
  std::string problem;      // the latest delivery problem, one phrase
};

class Exporter {
 public:
  using Clock = std::chrono::steady_clock;

  // Prepares the spool directory DIR/SESSION; does not touch the network.
  // Throws agenttrace::Error.
  Exporter(const NatsSettings& settings, const ExportOptions& options, const std::string& host_token,
           const std::string& session_id);
  ~Exporter();
  Exporter(const Exporter&) = delete;
  Exporter& operator=(const Exporter&) = delete;

  // Hot path: copies a record into the queue under the next sequence number.
  // Never waits for the network or the disk.
  void enqueue(std::string_view suffix, const trace::RecordEncoding& record);
  void enqueue_bytes(std::string_view suffix, std::string_view payload);

  // Starts the publishing thread (after the traced command was forked: no
  // threads of the client library exist in it).
  void start();
  // Waits until every message enqueued so far is settled (acknowledged or
  // dropped) or the deadline passes.
  ExportTotals wait_settled(Clock::time_point deadline);
  // Delivers what it can by the deadline, then stops; the rest stays in the
  // spool directory, which is removed when nothing is left.
  ExportTotals close(Clock::time_point deadline);
  ExportTotals totals() const;
  // DIR/SESSION.
  const std::string& spool_path() const { return spool_path_; }
  const std::string& session_id() const { return session_; }

 private:
  enum class State : uint8_t { kWaiting, kAcked, kRefused };
  struct InFlight {
    uint64_t seq;
    State state;
  };

  // Appends an entry's head to the queue (queue_mu_ held); returns where its
  // payload goes, or null when the queue is full (counted).
  uint8_t* queue_entry(std::string_view suffix, size_t payload_len);
  void run();
  void run_loop();
  void publish(std::string_view entry);
  void rewind();
  void settle_front();
  static void on_ack(jsCtx* js, natsMsg* msg, jsPubAck* ack, jsPubAckErr* err, void* closure);
  void on_ack_result(uint64_t seq, jsPubAck* ack, jsPubAckErr* err);
  void note_problem(const std::string& problem);

  NatsSettings settings_;
  ExportOptions options_;
  std::string host_token_;
  std::string session_;
  std::string subject_prefix_;  // "agenttrace.<host>."
  std::string spool_path_;

  // Hot path -> publisher.
  std::mutex queue_mu_;
  std::string queue_;
  uint64_t next_seq_ = 1;
  uint64_t queue_dropped_ = 0;
  std::atomic<bool> publisher_idle_{false};

  // Publisher <-> acknowledgement callbacks and callers.
  mutable std::mutex mu_;
  std::condition_variable cv_;          // wakes the publisher
  std::condition_variable settled_cv_;  // wakes wait_settled()
  std::deque<InFlight> window_;
  bool failure_ = false;
  bool reconnected_ = false;
  bool stop_ = false;
  Clock::time_point deadline_{};
  ExportTotals totals_;
  uint64_t refused_ = 0;         // the server refused them (too large)
  uint64_t outbox_dropped_ = 0;  // the spool could not hold them
  uint64_t settled_ = 0;         // published + dropped
  bool error_said_ = false;

  std::unique_ptr<Outbox> outbox_;  // publisher thread only
  std::unique_ptr<NatsClient> client_;
  std::thread thread_;
  bool started_ = false;
  bool ever_published_ = false;  // publisher thread only
};

}  // namespace agenttrace::fleet
