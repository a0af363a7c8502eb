#include "nats_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <thread>

namespace agenttrace::testing {

std::string nats_server_binary() {
  std::vector<std::string> dirs;
  if (const char* path = getenv("PATH")) {
    std::string p = path;
    size_t start = 0;
    while (start <= p.size()) {
      size_t colon = p.find(':', start);
      dirs.push_back(p.substr(start, colon == std::string::npos ? std::string::npos : colon - start));
      if (colon == std::string::npos) break;
      start = colon + 1;
    }
  }
  for (const char* d : {"/usr/sbin", "/usr/local/sbin", "/usr/bin", "/usr/local/bin"}) dirs.push_back(d);
  for (const auto& d : dirs) {
    std::string candidate = (d.empty() ? "." : d) + "/nats-server";
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

int free_loopback_port() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    if (fd >= 0) close(fd);
    throw std::runtime_error("cannot bind a loopback port");
  }
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

namespace {

// GET http://127.0.0.1:port/path; the status code, or 0.
int http_status(int port, const std::string& path) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval tv{2, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  int status = 0;
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
    std::string req = "GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    if (write(fd, req.data(), req.size()) == static_cast<ssize_t>(req.size())) {
      char buf[64] = {};
      ssize_t n = read(fd, buf, sizeof(buf) - 1);
      if (n > 12 && std::string(buf, 5) == "HTTP/") status = atoi(buf + 9);
    }
  }
  close(fd);
  return status;
}

}  // namespace

NatsServer::NatsServer(NatsServerOptions options) : options_(std::move(options)) {
  if (nats_server_binary().empty()) throw std::runtime_error("nats-server is not installed");
  if (!options_.port) options_.port = free_loopback_port();
  if (!options_.cluster.empty() && !options_.cluster_port) options_.cluster_port = free_loopback_port();
  http_port_ = free_loopback_port();
  config_path_ = options_.dir + "/" + options_.name + ".conf";
  log_path_ = options_.dir + "/" + options_.name + ".log";
  std::ofstream conf(config_path_);
  conf << "server_name: " << options_.name << "\n"
       << "listen: 127.0.0.1:" << options_.port << "\n"
       << "http: 127.0.0.1:" << http_port_ << "\n"
       // Room for the largest record a recording can make (16 KiB chunks
       // re-assembled up to the capture budget).
       << "max_payload: 8MB\n"
       << "jetstream {\n  store_dir: \"" << options_.dir << "/" << options_.name << "-store\"\n"
       << "  max_memory_store: 64MB\n  max_file_store: 2GB\n}\n";
  if (!options_.cluster.empty()) {
    conf << "cluster {\n  name: " << options_.cluster << "\n  listen: 127.0.0.1:" << options_.cluster_port
         << "\n  routes: [";
    for (size_t i = 0; i < options_.routes.size(); ++i)
      conf << (i ? ", " : "") << "nats-route://127.0.0.1:" << options_.routes[i];
    conf << "]\n}\n";
  }
  conf << options_.extra_config << "\n";
  conf.close();
  start();
}

NatsServer::~NatsServer() {
  if (pid_ > 0) stop_with(SIGKILL);
}

void NatsServer::start() {
  if (pid_ > 0) return;
  std::string bin = nats_server_binary();
  pid_ = fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    int log = open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
    dup2(null, 0);
    dup2(log, 1);
    dup2(log, 2);
    execl(bin.c_str(), bin.c_str(), "-c", config_path_.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  if (options_.wait_ready && !wait_ready())
    throw std::runtime_error("nats-server " + options_.name + " did not become ready: " + log());
}

bool NatsServer::wait_ready(int timeout_ms) const {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    if (pid_ > 0) {
      int status;
      if (waitpid(pid_, &status, WNOHANG) == pid_) return false;
    }
    if (http_status(http_port_, "/healthz") == 200) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

void NatsServer::stop_with(int signal) {
  if (pid_ <= 0) return;
  ::kill(pid_, signal);
  int status;
  waitpid(pid_, &status, 0);
  pid_ = -1;
}

void NatsServer::stop() { stop_with(SIGTERM); }
void NatsServer::kill() { stop_with(SIGKILL); }

std::string NatsServer::log() const {
  std::ifstream in(log_path_);
  std::string text((std::istreambuf_iterator<char>(in)), {});
  return text.size() > 4000 ? text.substr(text.size() - 4000) : text;
}

}  // namespace agenttrace::testing
