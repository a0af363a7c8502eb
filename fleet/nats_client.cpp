#include "fleet/nats_client.h"

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <vector>

#include "common/error.h"
#include "fleet/nkey.h"
#include "fleet/subjects.h"

namespace agenttrace::fleet {

namespace {

// "No server available" -> "no server available", for the middle of a
// sentence; an acronym ("SSL Error") stays as it is.
std::string lower_first(std::string s) {
  if (s.size() > 1 && s[0] >= 'A' && s[0] <= 'Z' && !(s[1] >= 'A' && s[1] <= 'Z'))
    s[0] = static_cast<char>(s[0] - 'A' + 'a');
  return s;
}

void check(natsStatus s, const std::string& what) {
  if (s != NATS_OK) throw Error("cannot " + what + ": " + nats_error_text(s));
}

// Credentials and TLS; the files are read here, so a bad one is found
// before anything connects.
void apply_credentials(natsOptions* opts, const NatsSettings& s) {
  if (!s.creds_file.empty())
    check(natsOptions_SetUserCredentialsFromFiles(opts, s.creds_file.c_str(), nullptr),
          "use the NATS credentials file " + s.creds_file);
  if (!s.user.empty()) check(natsOptions_SetUserInfo(opts, s.user.c_str(), s.password.c_str()), "use the NATS user");
  if (!s.token.empty()) check(natsOptions_SetToken(opts, s.token.c_str()), "use the NATS token");
  if (!s.nkey_seed_file.empty()) {
    std::string pub = nkey_public_from_seed(read_nkey_seed_file(s.nkey_seed_file));
    check(natsOptions_SetNKeyFromSeed(opts, pub.c_str(), s.nkey_seed_file.c_str()),
          "use the nkey seed " + s.nkey_seed_file);
  }
  if (s.tls) check(natsOptions_SetSecure(opts, true), "enable TLS for NATS");
  if (!s.ca_file.empty())
    check(natsOptions_LoadCATrustedCertificates(opts, s.ca_file.c_str()), "load the TLS CA file " + s.ca_file);
  if (!s.cert_file.empty())
    check(natsOptions_LoadCertificatesChain(opts, s.cert_file.c_str(), s.key_file.c_str()),
          "load the TLS certificate " + s.cert_file);
}

}  // namespace

void check_nats_settings(const NatsSettings& settings) {
  natsOptions* opts = nullptr;
  check(natsOptions_Create(&opts), "set up the NATS client");
  try {
    apply_credentials(opts, settings);
  } catch (...) {
    natsOptions_Destroy(opts);
    throw;
  }
  natsOptions_Destroy(opts);
}

std::string nats_error_text(natsStatus status, jsErrCode js_error) {
  std::string text = lower_first(natsStatus_GetText(status));
  natsStatus last = NATS_OK;
  const char* detail = nats_GetLastError(&last);
  if (detail && *detail && last == status) {
    std::string d = detail;
    if (d.find(text) == std::string::npos && lower_first(d) != text) text += " (" + d + ")";
  }
  if (js_error) text += " [JetStream error " + std::to_string(static_cast<int>(js_error)) + "]";
  return text;
}

// Per connection: set in the closed callback, which is the last one the
// client library makes, so the destructor knows no callback can follow.
struct ClosedSignal {
  std::mutex mu;
  std::condition_variable cv;
  bool closed = false;
};

namespace {

void on_closed(natsConnection*, void* closure) {
  auto* signal = static_cast<ClosedSignal*>(closure);
  std::lock_guard<std::mutex> lock(signal->mu);
  signal->closed = true;
  signal->cv.notify_all();
}

}  // namespace

NatsClient::NatsClient(const NatsSettings& settings, const std::string& name, Mode mode, Events events,
                       const jsOptions* js_options)
    : settings_(settings), events_(std::move(events)) {
  closed_ = new ClosedSignal;
  try {
    connect(name, mode, js_options);
  } catch (...) {
    closing_ = true;
    if (conn_) natsConnection_Destroy(conn_);
    if (opts_) natsOptions_Destroy(opts_);
    delete closed_;
    throw;
  }
}

void NatsClient::connect(const std::string& name, Mode mode, const jsOptions* js_options) {
  check(natsOptions_Create(&opts_), "set up the NATS client");
  std::vector<const char*> servers;
  for (const auto& s : settings_.servers) servers.push_back(s.c_str());
  check(natsOptions_SetServers(opts_, servers.data(), static_cast<int>(servers.size())), "use the NATS URL " + settings_.url);
  natsOptions_SetName(opts_, name.c_str());
  // Servers in the order given: the first is the nearest.
  natsOptions_SetNoRandomize(opts_, true);
  natsOptions_SetTimeout(opts_, 2000);
  // A server that vanished without closing the connection (a network
  // partition) is noticed within about 15 s instead of the default minutes.
  natsOptions_SetPingInterval(opts_, 5000);
  natsOptions_SetMaxPingsOut(opts_, 2);
  natsOptions_SetAllowReconnect(opts_, true);
  natsOptions_SetMaxReconnect(opts_, -1);
  natsOptions_SetReconnectWait(opts_, 250);
  natsOptions_SetDisconnectedCB(opts_, &NatsClient::on_disconnected, this);
  natsOptions_SetReconnectedCB(opts_, &NatsClient::on_connected, this);
  natsOptions_SetClosedCB(opts_, &on_closed, closed_);
  natsOptions_SetErrorHandler(opts_, &NatsClient::on_error, this);

  apply_credentials(opts_, settings_);
  if (mode == Mode::kBackground)
    check(natsOptions_SetRetryOnFailedConnect(opts_, true, &NatsClient::on_connected, this),
          "set up NATS reconnection");

  natsStatus s = natsConnection_Connect(&conn_, opts_);
  if (s == NATS_OK) {
    connected_ = true;
  } else if (!(mode == Mode::kBackground && s == NATS_NOT_YET_CONNECTED)) {
    std::string why = nats_error_text(s);
    throw Error("cannot connect to the NATS server at " + settings_.url + ": " + why);
  }
  jsOptions defaults;
  jsOptions_Init(&defaults);
  s = natsConnection_JetStream(&js_, conn_, js_options ? const_cast<jsOptions*>(js_options) : &defaults);
  if (s != NATS_OK) throw Error("cannot use JetStream on " + settings_.url + ": " + nats_error_text(s));
}

NatsClient::~NatsClient() {
  closing_ = true;
  jsCtx_Destroy(js_);
  natsConnection_Close(conn_);
  {
    // The closed callback runs on the library's thread after every other
    // callback of this connection; `this` must outlive them all.
    std::unique_lock<std::mutex> lock(closed_->mu);
    closed_->cv.wait_for(lock, std::chrono::seconds(5), [&] { return closed_->closed; });
  }
  natsConnection_Destroy(conn_);
  natsOptions_Destroy(opts_);
  if (closed_->closed) delete closed_;  // else leaked: a late callback may still use it
}

void NatsClient::on_connected(natsConnection*, void* closure) {
  auto* self = static_cast<NatsClient*>(closure);
  if (self->closing_) return;
  self->connected_ = true;
  if (self->events_.connected) self->events_.connected();
}

void NatsClient::on_disconnected(natsConnection*, void* closure) {
  auto* self = static_cast<NatsClient*>(closure);
  self->connected_ = false;
  if (self->closing_) return;
  if (self->events_.disconnected) self->events_.disconnected();
}

void NatsClient::on_error(natsConnection* nc, natsSubscription*, natsStatus err, void* closure) {
  auto* self = static_cast<NatsClient*>(closure);
  if (self->closing_ || !self->events_.error) return;
  const char* text = nullptr;
  natsConnection_GetLastError(nc, &text);
  std::string phrase = text && *text ? lower_first(text) : lower_first(natsStatus_GetText(err));
  self->events_.error("the NATS server at " + self->settings_.url + " reports: " + phrase);
}

NatsClient::StreamState NatsClient::ensure_stream(std::string* detail) {
  jsStreamInfo* info = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  natsStatus s = js_GetStreamInfo(&info, js_, settings_.stream.c_str(), nullptr, &jerr);
  if (s == NATS_OK) {
    jsStreamInfo_Destroy(info);
    return StreamState::kExists;
  }
  if (s == NATS_NO_RESPONDERS || jerr == JSNotEnabledErr || jerr == JSNotEnabledForAccountErr) {
    *detail = "JetStream is not enabled on the NATS server at " + settings_.url + " (start nats-server with -js)";
    return StreamState::kUnknown;
  }
  if (!(s == NATS_NOT_FOUND || jerr == JSStreamNotFoundErr)) {
    *detail = "cannot look up the stream " + settings_.stream + ": " + nats_error_text(s, jerr);
    return StreamState::kUnknown;
  }
  if (!settings_.create_stream) {
    *detail = "the stream " + settings_.stream + " does not exist on " + settings_.url +
              " (create it, or allow agenttrace to with create_stream: true)";
    return StreamState::kMissing;
  }
  jsStreamConfig cfg;
  jsStreamConfig_Init(&cfg);
  std::string subjects(kStreamSubjects);
  const char* subject_list[] = {subjects.c_str()};
  cfg.Name = settings_.stream.c_str();
  cfg.Subjects = subject_list;
  cfg.SubjectsLen = 1;
  cfg.Storage = js_FileStorage;
  cfg.Replicas = settings_.stream_replicas;
  cfg.Retention = js_LimitsPolicy;
  cfg.Discard = js_DiscardOld;
  if (settings_.stream_max_bytes) cfg.MaxBytes = settings_.stream_max_bytes;
  if (settings_.stream_max_age_ns) cfg.MaxAge = settings_.stream_max_age_ns;
  jerr = static_cast<jsErrCode>(0);
  s = js_AddStream(&info, js_, &cfg, nullptr, &jerr);
  if (s != NATS_OK) {
    // Another host may have created it a moment ago.
    if (jerr == JSStreamNameExistErr) return StreamState::kExists;
    *detail = "cannot create the stream " + settings_.stream + ": " + nats_error_text(s, jerr);
    return StreamState::kUnknown;
  }
  jsStreamInfo_Destroy(info);
  *detail = "created the stream " + settings_.stream + " (subjects " + subjects + ", file storage, " +
            std::to_string(settings_.stream_replicas) + " replica" + (settings_.stream_replicas == 1 ? "" : "s") + ")";
  return StreamState::kCreated;
}

}  // namespace agenttrace::fleet
