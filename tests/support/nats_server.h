// A real nats-server with JetStream for the fleet tests and the benchmark:
// on loopback ports of its own, with a store directory the test owns; it can
// be stopped, killed and started again on the same port and store, alone or
// as a node of a cluster.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace agenttrace::testing {

// The nats-server binary (PATH, then /usr/sbin, /usr/local/sbin, /usr/bin),
// or empty when it is not installed.
std::string nats_server_binary();

// A TCP port free on 127.0.0.1 right now.
int free_loopback_port();

struct NatsServerOptions {
  std::string name = "n1";
  std::string dir;             // store, configuration and log live here
  int port = 0;                // 0: a free one
  std::string cluster;         // cluster name; empty: standalone
  int cluster_port = 0;        // 0: a free one (cluster only)
  std::vector<int> routes;     // cluster ports of the other nodes
  std::string extra_config;    // appended to the configuration (authorization, limits)
  bool wait_ready = true;      // wait for /healthz to say ok
};

class NatsServer {
 public:
  // Writes the configuration and starts the server. Throws std::runtime_error.
  explicit NatsServer(NatsServerOptions options);
  ~NatsServer();
  NatsServer(const NatsServer&) = delete;
  NatsServer& operator=(const NatsServer&) = delete;

  void start();  // again after stop()/kill(): same port, same store
  void stop();   // SIGTERM and wait: a clean shutdown
  void kill();   // SIGKILL and wait: a crash
  // Waits until /healthz answers ok (JetStream ready); false on timeout.
  bool wait_ready(int timeout_ms = 20000) const;

  bool running() const { return pid_ > 0; }
  int port() const { return options_.port; }
  int cluster_port() const { return options_.cluster_port; }
  std::string url() const { return "nats://127.0.0.1:" + std::to_string(options_.port); }
  std::string log() const;  // what it wrote, for failure messages

 private:
  void stop_with(int signal);

  NatsServerOptions options_;
  int http_port_ = 0;
  std::string config_path_;
  std::string log_path_;
  pid_t pid_ = -1;
};

}  // namespace agenttrace::testing
