#include "fleet/exporter.h"

#include <algorithm>
#include <cstdlib>

#include <spdlog/spdlog.h>

#include "common/error.h"
#include "fleet/entry.h"
#include "fleet/nats_client.h"
#include "fleet/outbox.h"
#include "fleet/subjects.h"

namespace agenttrace::fleet {

namespace {

// Messages published and not yet acknowledged, at most. Enough to keep a
// loopback or LAN link busy; small enough that a rewind resends little.
constexpr size_t kWindow = 2048;
// The hot path's queue, at most: only a publisher that stopped making
// progress (it never does while the disk works) could fill it.
constexpr size_t kQueueMax = 128u << 20;
// The outbox's memory part, at most, while the server is reachable but
// slower than the recording; beyond it entries go to the spool.
constexpr uint64_t kMemoryMax = 32u << 20;
// After a publish failed, wait this long before trying again.
constexpr auto kRetryDelay = std::chrono::milliseconds(500);
// How often a missing stream is looked up again.
constexpr auto kStreamRecheck = std::chrono::seconds(2);
// The publisher's clock: while messages are in flight or queued it looks
// every 2 ms (acknowledgements do not wake it); idle, every 50 ms, unless
// an event wakes it.
constexpr auto kBusyPoll = std::chrono::milliseconds(2);
constexpr auto kIdlePoll = std::chrono::milliseconds(50);
// The hot path's queue starts each round with this much room, so appending
// does not reallocate; and wakes the publisher when it holds this much.
constexpr size_t kQueueReserve = 1u << 20;
constexpr size_t kWakeBytes = 256u << 10;

}  // namespace

std::string default_spool_dir() {
  if (geteuid() == 0) return "/var/spool/agenttrace";
  if (const char* state = getenv("XDG_STATE_HOME"); state && *state) return std::string(state) + "/agenttrace/spool";
  const char* home = getenv("HOME");
  return std::string(home && *home ? home : "/tmp") + "/.local/state/agenttrace/spool";
}

Exporter::Exporter(const NatsSettings& settings, const ExportOptions& options, const std::string& host_token,
                   const std::string& session_id)
    : settings_(settings),
      options_(options),
      host_token_(host_token),
      session_(session_id),
      subject_prefix_(std::string(kSubjectRoot) + "." + host_token + "."),
      spool_path_((options.spool_dir.empty() ? default_spool_dir() : options.spool_dir) + "/" + session_id) {
  // Credentials and TLS files are checked now, while an error can still stop
  // the command from starting.
  check_nats_settings(settings_);
  outbox_ = std::make_unique<Outbox>(spool_path_, options_.spool_max);
}

Exporter::~Exporter() {
  if (thread_.joinable()) close(Clock::now());
}

void Exporter::enqueue(std::string_view suffix, const trace::RecordEncoding& record) {
  std::lock_guard<std::mutex> lock(queue_mu_);
  if (uint8_t* payload = queue_entry(suffix, record.size())) record.write(payload);
}

void Exporter::enqueue_bytes(std::string_view suffix, std::string_view payload) {
  std::lock_guard<std::mutex> lock(queue_mu_);
  if (uint8_t* p = queue_entry(suffix, payload.size())) std::copy(payload.begin(), payload.end(), p);
}

uint8_t* Exporter::queue_entry(std::string_view suffix, size_t payload_len) {
  const uint64_t seq = next_seq_++;
  const size_t n = entry_size(suffix.size(), payload_len);
  if (queue_.size() + n > kQueueMax) {
    ++queue_dropped_;  // the gap in sequence numbers shows at the centre too
    return nullptr;
  }
  const size_t at = queue_.size();
  queue_.resize(at + n);
  // The publisher takes the queue on its own clock; it is woken only when
  // it sleeps with nothing to do, or when the queue grows large, so a busy
  // recording pays no system call per event.
  if ((at == 0 && publisher_idle_.load(std::memory_order_relaxed)) || (at < kWakeBytes && at + n >= kWakeBytes))
    cv_.notify_one();
  return put_entry(reinterpret_cast<uint8_t*>(queue_.data() + at), seq, suffix, payload_len);
}

void Exporter::start() {
  if (started_) return;
  started_ = true;
  thread_ = std::thread(&Exporter::run, this);
}

ExportTotals Exporter::totals() const {
  uint64_t enqueued, queue_dropped;
  {
    std::lock_guard<std::mutex> lock(const_cast<std::mutex&>(queue_mu_));
    enqueued = next_seq_ - 1;
    queue_dropped = queue_dropped_;
  }
  std::lock_guard<std::mutex> lock(mu_);
  ExportTotals t = totals_;
  t.enqueued = enqueued;
  t.dropped = refused_ + outbox_dropped_ + queue_dropped;
  t.pending = enqueued - std::min(enqueued, t.published + t.dropped);
  return t;
}

ExportTotals Exporter::wait_settled(Clock::time_point deadline) {
  uint64_t target;
  {
    std::lock_guard<std::mutex> lock(queue_mu_);
    target = next_seq_ - 1;
  }
  if (started_) {
    std::unique_lock<std::mutex> lock(mu_);
    settled_cv_.wait_until(lock, deadline, [&] { return settled_ >= target; });
  }
  return totals();
}

ExportTotals Exporter::close(Clock::time_point deadline) {
  if (thread_.joinable()) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
      deadline_ = deadline;
    }
    cv_.notify_one();
    thread_.join();
  }
  ExportTotals t = totals();
  outbox_.reset();  // removes the spool directory when nothing is left in it
  return t;
}

void Exporter::note_problem(const std::string& problem) { totals_.problem = problem; }

void Exporter::run() {
  NatsClient::Events events;
  events.connected = [this] {
    std::lock_guard<std::mutex> lock(mu_);
    reconnected_ = true;
    cv_.notify_one();
  };
  events.disconnected = [this] {
    std::lock_guard<std::mutex> lock(mu_);
    failure_ = true;
    cv_.notify_one();
  };
  events.error = [this](const std::string& problem) {
    std::lock_guard<std::mutex> lock(mu_);
    // Said once: a refused permission repeats for every subject and resend.
    if (!error_said_) spdlog::warn("{}", problem);
    error_said_ = true;
    note_problem(problem);
  };
  jsOptions js_options;
  jsOptions_Init(&js_options);
  js_options.PublishAsync.AckHandler = &Exporter::on_ack;
  js_options.PublishAsync.AckHandlerClosure = this;
  js_options.PublishAsync.MaxPending = static_cast<int64_t>(kWindow) * 2;
  try {
    client_ = std::make_unique<NatsClient>(settings_, "agenttrace " + host_token_, NatsClient::Mode::kBackground,
                                           events, &js_options);
  } catch (const Error& e) {
    std::lock_guard<std::mutex> lock(mu_);
    note_problem(e.what());
    spdlog::warn("{}; records go to the spool {}", e.what(), spool_path_);
  }
  run_loop();
  client_.reset();
}

void Exporter::run_loop() {
  auto retry_at = Clock::now();
  auto stream_check_at = Clock::now();
  bool stream_ready = false;
  bool was_connected = true;  // so that a server unreachable from the start is reported once
  for (;;) {
    bool stop, failure, reconnected;
    Clock::time_point deadline;
    {
      std::unique_lock<std::mutex> lock(mu_);
      const bool idle = window_.empty() && outbox_->pending() == 0;
      publisher_idle_.store(idle);
      cv_.wait_for(lock, idle ? kIdlePoll : kBusyPoll, [&] { return failure_ || reconnected_ || stop_; });
      publisher_idle_.store(false);
      stop = stop_;
      deadline = deadline_;
      failure = failure_;
      reconnected = reconnected_;
      failure_ = reconnected_ = false;
    }
    std::string batch;
    std::string fresh;
    fresh.reserve(kQueueReserve);  // allocated here, not on the hot path
    uint64_t queue_dropped;
    {
      std::lock_guard<std::mutex> lock(queue_mu_);
      if (!queue_.empty()) {
        batch.swap(queue_);
        queue_.swap(fresh);
      }
      queue_dropped = queue_dropped_;
    }
    // A small batch does not keep a large buffer alive while it is in flight.
    if (batch.capacity() > 2 * batch.size() + 4096) batch.shrink_to_fit();
    outbox_->push(std::move(batch));

    const auto now = Clock::now();
    bool connected = client_ && client_->connected();
    if (failure || (!connected && outbox_->in_flight() > 0)) {
      rewind();
      if (failure) retry_at = now + kRetryDelay;
    }
    if (connected != was_connected) {
      if (!connected)
        spdlog::warn("the NATS server at {} is not answering; records go to the spool {} until it does",
                     settings_.url, spool_path_);
      else
        spdlog::info("connected to the NATS server at {}", settings_.url);
      was_connected = connected;
    }
    if (reconnected) stream_ready = false;
    settle_front();

    if (!connected) {
      outbox_->spill();  // the memory part goes to disk while the server is away
    } else if (outbox_->memory_bytes() > kMemoryMax) {
      if (outbox_->memory_in_flight()) rewind();
      outbox_->spill();
    }

    if (connected && !stream_ready && now >= stream_check_at) {
      std::string detail;
      NatsClient::StreamState st = client_->ensure_stream(&detail);
      std::lock_guard<std::mutex> lock(mu_);
      if (st == NatsClient::StreamState::kMissing) {
        stream_check_at = now + kStreamRecheck;
        if (totals_.problem != detail) spdlog::warn("{}; records go to the spool {} meanwhile", detail, spool_path_);
        note_problem(detail);
      } else {
        // kUnknown (no permission to look, say): publishing will tell.
        stream_ready = true;
        if (st == NatsClient::StreamState::kCreated) totals_.stream_note = detail;
        else if (st == NatsClient::StreamState::kUnknown) note_problem(detail);
        totals_.ever_connected = true;
      }
    }

    if (connected && stream_ready && now >= retry_at) {
      std::string_view entry;
      for (;;) {
        {
          std::lock_guard<std::mutex> lock(mu_);
          if (failure_ || window_.size() >= kWindow) break;
        }
        if (!outbox_->next(&entry)) break;
        publish(entry);
      }
      // With nothing to publish and nobody waiting, a stream that was not
      // there may have been given to another host's agenttrace: no matter.
    }

    {
      std::lock_guard<std::mutex> lock(mu_);
      totals_.spooled = outbox_->spooled();
      outbox_dropped_ = outbox_->dropped();
      settled_ = totals_.published + refused_ + outbox_dropped_ + queue_dropped;
    }
    settled_cv_.notify_all();
    if (stop && (outbox_->pending() == 0 || Clock::now() >= deadline)) break;
  }
  // What was not delivered in time stays on disk.
  rewind();
  outbox_->spill();
  std::lock_guard<std::mutex> lock(mu_);
  totals_.spooled = outbox_->spooled();
  outbox_dropped_ = outbox_->dropped();
  settled_cv_.notify_all();
}

void Exporter::rewind() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    window_.clear();
  }
  outbox_->rewind();
  // Take back what the client library still waits on: its acknowledgements
  // would be for messages this exporter will send again. (nats.c 3.4.1
  // crashes here before the first asynchronous publish: nothing to take.)
  if (client_ && ever_published_) {
    natsMsgList pending{};
    if (js_PublishAsyncGetPendingList(&pending, client_->js()) == NATS_OK) natsMsgList_Destroy(&pending);
  }
}

void Exporter::settle_front() {
  size_t n = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    while (!window_.empty() && window_.front().state != State::kWaiting) {
      if (window_.front().state == State::kAcked) ++totals_.published;
      else ++refused_;
      window_.pop_front();
      ++n;
    }
  }
  outbox_->release(n);
}

void Exporter::publish(std::string_view entry) {
  EntryView v;
  size_t size = 0;
  if (read_entry(entry, false, &v, &size) != EntryStatus::kOk) return;
  std::string subject = subject_prefix_;
  subject.append(v.suffix);
  std::string id = message_id(host_token_, session_, v.seq);
  {
    std::lock_guard<std::mutex> lock(mu_);
    window_.push_back(InFlight{v.seq, State::kWaiting});
  }
  natsMsg* msg = nullptr;
  natsStatus s = natsMsg_Create(&msg, subject.c_str(), nullptr, v.payload.data(), static_cast<int>(v.payload.size()));
  if (s == NATS_OK) {
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MsgId = id.c_str();
    po.MaxWait = settings_.ack_timeout_ms;
    s = js_PublishMsgAsync(client_->js(), &msg, &po);
    ever_published_ = true;
  }
  natsMsg_Destroy(msg);
  if (s == NATS_OK) return;
  std::lock_guard<std::mutex> lock(mu_);
  if (s == NATS_MAX_PAYLOAD) {
    // Sending it again cannot help: counted as dropped, and said once.
    window_.back().state = State::kRefused;
    std::string problem = "a " + std::to_string(v.payload.size()) +
                          "-byte record is larger than the NATS server's max_payload and was dropped (raise max_payload)";
    if (totals_.problem != problem) spdlog::warn("{}", problem);
    note_problem(problem);
  } else {
    failure_ = true;
    note_problem("cannot publish to " + settings_.url + ": " + nats_error_text(s));
  }
}

void Exporter::on_ack(jsCtx*, natsMsg* msg, jsPubAck* ack, jsPubAckErr* err, void* closure) {
  auto* self = static_cast<Exporter*>(closure);
  const char* id = nullptr;
  std::string host, session;
  uint64_t seq = 0;
  if (natsMsgHeader_Get(msg, kMsgIdHeader.data(), &id) == NATS_OK && id && parse_message_id(id, &host, &session, &seq))
    self->on_ack_result(seq, ack, err);
  natsMsg_Destroy(msg);
}

void Exporter::on_ack_result(uint64_t seq, jsPubAck* ack, jsPubAckErr* err) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = std::lower_bound(window_.begin(), window_.end(), seq,
                             [](const InFlight& f, uint64_t s) { return f.seq < s; });
  // Not there: an answer to a message sent before a rewind; it is sent again.
  if (it == window_.end() || it->seq != seq || it->state != State::kWaiting) return;
  if (ack) {
    it->state = State::kAcked;
    if (ack->Duplicate) ++totals_.duplicates;
  } else if (err && err->ErrCode == JSStreamMessageExceedsMaximumErr) {
    it->state = State::kRefused;
    note_problem("a record is larger than the stream's maximum message size and was dropped");
  } else {
    failure_ = true;
    note_problem("the stream did not acknowledge a message: " +
                 (err ? nats_error_text(err->Err, err->ErrCode) + (err->ErrText ? std::string(" ") + err->ErrText : "")
                      : std::string("no answer")));
    cv_.notify_one();  // a rewind is due now; good news waits for the publisher's clock
  }
}

}  // namespace agenttrace::fleet
