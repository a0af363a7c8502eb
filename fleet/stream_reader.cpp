#include "fleet/stream_reader.h"

#include "common/error.h"
#include "fleet/nats_client.h"
#include "fleet/subjects.h"

#include <chrono>
#include <thread>

namespace agenttrace::fleet {

namespace {

// A cluster that just lost a node elects new leaders for a few seconds;
// JetStream requests then time out or answer "temporarily unavailable".
bool transient(natsStatus s, jsErrCode jerr) {
  return s == NATS_TIMEOUT || jerr == JSClusterNotAvailErr || jerr == JSClusterNotLeaderErr ||
         jerr == JSStreamOfflineErr;
}

// Runs `call` again while it fails transiently, for at most 30 seconds.
template <typename Call>
natsStatus with_retry(jsErrCode* jerr, Call call) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  for (;;) {
    *jerr = static_cast<jsErrCode>(0);
    natsStatus s = call();
    if (s == NATS_OK || !transient(s, *jerr) || std::chrono::steady_clock::now() >= deadline) return s;
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
}

}  // namespace

StreamReader::StreamReader(const NatsSettings& settings, const ReadOptions& options)
    : settings_(settings), options_(options) {
  if (options_.filter_subject.empty()) options_.filter_subject = std::string(kStreamSubjects);
  client_ = std::make_unique<NatsClient>(settings_, "agenttrace collect", NatsClient::Mode::kNow);
  jsCtx* js = client_->js();

  jsStreamInfo* info = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  natsStatus s = with_retry(&jerr, [&] { return js_GetStreamInfo(&info, js, settings_.stream.c_str(), nullptr, &jerr); });
  if (s == NATS_NO_RESPONDERS || jerr == JSNotEnabledErr || jerr == JSNotEnabledForAccountErr)
    throw Error("JetStream is not enabled on the NATS server at " + settings_.url);
  if (s == NATS_NOT_FOUND || jerr == JSStreamNotFoundErr)
    throw NoStreamError("the NATS server at " + settings_.url + " has no stream " + settings_.stream +
                " (nothing was exported there yet, or the stream has another name)");
  if (s != NATS_OK)
    throw Error("cannot read the stream " + settings_.stream + " on " + settings_.url + ": " + nats_error_text(s, jerr));
  jsStreamInfo_Destroy(info);

  // A consumer left by an earlier run under this name starts over.
  js_DeleteConsumer(js, settings_.stream.c_str(), options_.durable.c_str(), nullptr, nullptr);
  jsSubOptions so;
  jsSubOptions_Init(&so);
  so.Stream = settings_.stream.c_str();
  so.Config.Durable = options_.durable.c_str();
  so.Config.DeliverPolicy = options_.since_ns ? js_DeliverByStartTime : js_DeliverAll;
  so.Config.OptStartTime = options_.since_ns;
  // Acknowledging a batch's last message acknowledges the batch.
  so.Config.AckPolicy = js_AckAll;
  so.Config.MaxAckPending = static_cast<int64_t>(options_.batch) * 4;
  so.Config.AckWait = 60ll * 1000000000;
  s = with_retry(&jerr, [&] {
    return js_PullSubscribe(&sub_, js, options_.filter_subject.c_str(), options_.durable.c_str(), nullptr, &so, &jerr);
  });
  if (s != NATS_OK)
    throw Error("cannot create the consumer " + options_.durable + " on the stream " + settings_.stream + ": " +
                nats_error_text(s, jerr));
}

StreamReader::~StreamReader() {
  if (sub_) {
    // This call created the consumer, so unsubscribing deletes it.
    natsSubscription_Unsubscribe(sub_);
    natsSubscription_Destroy(sub_);
  }
}

bool StreamReader::pending_is_zero() {
  jsConsumerInfo* ci = nullptr;
  if (natsSubscription_GetConsumerInfo(&ci, sub_, nullptr, nullptr) != NATS_OK) return false;
  bool zero = ci->NumPending == 0 && ci->NumAckPending == 0;
  jsConsumerInfo_Destroy(ci);
  return zero;
}

StreamReader::Fetched StreamReader::fetch(std::vector<StreamMessage>* out, int timeout_ms) {
  Fetched result;
  natsMsgList list{};
  jsErrCode jerr = static_cast<jsErrCode>(0);
  natsStatus s = natsSubscription_Fetch(&list, sub_, options_.batch, timeout_ms, &jerr);
  if (s == NATS_TIMEOUT) {
    result.caught_up = pending_is_zero();
    return result;
  }
  if (s != NATS_OK) {
    result.trouble = nats_error_text(s, jerr);
    return result;
  }
  uint64_t last_pending = 1;
  for (int i = 0; i < list.Count; ++i) {
    natsMsg* msg = list.Msgs[i];
    jsMsgMetaData* meta = nullptr;
    StreamMessage m;
    if (natsMsg_GetMetaData(&meta, msg) == NATS_OK) {
      m.stream_seq = meta->Sequence.Stream;
      m.stored_ns = meta->Timestamp;
      last_pending = meta->NumPending;
      jsMsgMetaData_Destroy(meta);
    }
    const char* id = nullptr;
    auto parts = parse_subject(natsMsg_GetSubject(msg));
    if (!parts || natsMsgHeader_Get(msg, kMsgIdHeader.data(), &id) != NATS_OK || !id ||
        !parse_message_id(id, &m.id_host, &m.session, &m.seq)) {
      ++malformed_;
      continue;
    }
    m.host = std::move(parts->host);
    m.suffix = std::move(parts->suffix);
    m.data.assign(natsMsg_GetData(msg), static_cast<size_t>(natsMsg_GetDataLength(msg)));
    out->push_back(std::move(m));
  }
  if (list.Count > 0) natsMsg_Ack(list.Msgs[list.Count - 1], nullptr);
  natsMsgList_Destroy(&list);
  result.caught_up = last_pending == 0;
  return result;
}

}  // namespace agenttrace::fleet
