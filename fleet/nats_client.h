// A connection to NATS with a JetStream context, set up from NatsSettings:
// servers, credentials, TLS and reconnection. The export keeps trying in the
// background while the server is away; `collect` wants an answer now.
#pragma once

#include <nats/nats.h>

#include <atomic>
#include <functional>
#include <string>

#include "fleet/nats_settings.h"

namespace agenttrace::fleet {

struct ClosedSignal;

// "no server available for connection (nats: ...)": the status and the
// client library's last error, in one phrase.
std::string nats_error_text(natsStatus status, jsErrCode js_error = static_cast<jsErrCode>(0));

// Reads the credentials and TLS files the settings name, as connecting
// would; throws agenttrace::Error with one sentence when one is unusable.
void check_nats_settings(const NatsSettings& settings);

class NatsClient {
 public:
  // Called on the client library's threads: keep them short.
  struct Events {
    std::function<void()> connected;     // the first connection, made in the background, or a reconnection
    std::function<void()> disconnected;
    // An error the server reported without a call to return it to, e.g. a
    // publish the account may not make: one phrase.
    std::function<void(const std::string&)> error;
  };
  enum class Mode {
    kNow,         // connect now, or throw agenttrace::Error with one sentence
    kBackground,  // return at once; keep trying (and reconnecting) until destroyed
  };

  // `js_options` (may be null) configures the JetStream context, e.g. the
  // asynchronous publish acknowledgement handler.
  NatsClient(const NatsSettings& settings, const std::string& name, Mode mode, Events events = {},
             const jsOptions* js_options = nullptr);
  ~NatsClient();
  NatsClient(const NatsClient&) = delete;
  NatsClient& operator=(const NatsClient&) = delete;

  natsConnection* connection() const { return conn_; }
  jsCtx* js() const { return js_; }
  bool connected() const { return connected_.load(); }
  const NatsSettings& settings() const { return settings_; }

  enum class StreamState { kExists, kCreated, kMissing, kUnknown };
  // Looks the stream up and, when it is missing and the settings allow,
  // creates it (subjects agenttrace.>, file storage, the configured replicas
  // and limits). kUnknown: the server did not say (no permission, timeout);
  // `detail` says why.
  StreamState ensure_stream(std::string* detail);

 private:
  void connect(const std::string& name, Mode mode, const jsOptions* js_options);
  static void on_connected(natsConnection* nc, void* closure);
  static void on_disconnected(natsConnection* nc, void* closure);
  static void on_error(natsConnection* nc, natsSubscription* sub, natsStatus err, void* closure);

  NatsSettings settings_;
  Events events_;
  natsOptions* opts_ = nullptr;
  natsConnection* conn_ = nullptr;
  jsCtx* js_ = nullptr;
  ClosedSignal* closed_ = nullptr;
  std::atomic<bool> connected_{false};
  std::atomic<bool> closing_{false};
};

}  // namespace agenttrace::fleet
