// How this uses cpp-httplib (Debian's libcpp-httplib 0.11.4, a compiled
// library): httplib parses request lines and headers, and writes responses,
// but the connection around them is ours. Listener overrides the server's
// per-connection hook, so the accepted socket is served by our loop with our
// Stream (Connection): that is how we
//   - see the request head's raw bytes (httplib keeps headers in a
//     case-insensitive sorted map, losing the client's order),
//   - read bodies the way the Python stand-in does (Content-Length on any
//     method, chunked de-chunked, no Content-Encoding decoding, a 256 MiB cap,
//     no read-until-EOF for a POST without a length),
//   - terminate TLS ourselves, in the connection's worker thread,
//   - close the connection after a stream (httplib would keep it open and
//     the client would wait for EOF until the keep-alive timeout),
//   - end idle keep-alive connections promptly on stop().
// The whole answer is produced in the pre-routing handler, before httplib
// would read a body itself.
#include "sandbox/standin.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <httplib.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <string_view>
#include <thread>

#include "common/atomic_file.h"
#include "common/error.h"
#include "common/output_file.h"
#include "common/unique_fd.h"
#include "sandbox/certificate.h"
#include "sandbox/standin_json.h"
#include "sandbox/standin_shapes.h"

namespace agenttrace::sandbox {
namespace {

// Refuse absurd uploads rather than buffering them in memory.
constexpr size_t kMaxBody = size_t{256} * 1024 * 1024;
// Bounds every read and write of a connection (and a TLS handshake), like the
// Python stand-in's socket timeout.
constexpr int kIoTimeoutSec = 10;
// An idle keep-alive connection is closed after this long.
constexpr int kIdleTimeoutMs = 10'000;
// How often a waiting connection checks whether the server is stopping.
constexpr int kStopPollMs = 100;
// Worker threads per server; each serves one connection at a time.
constexpr size_t kThreadsPerServer = 4;
// Longest chunk-size or trailer line read, like Python's readline(1024).
constexpr size_t kMaxChunkLine = 1024;

int64_t wall_ns() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

int64_t mono_ms() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1000 + ts.tv_nsec / 1'000'000;
}

std::string ascii_lower(std::string s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return s;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

std::string trim_ascii(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && (s[b] == ' ' || s[b] == '\t' || s[b] == '\r' || s[b] == '\n' || s[b] == '\f' || s[b] == '\v')) ++b;
  while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t' || s[e - 1] == '\r' || s[e - 1] == '\n' || s[e - 1] == '\f' ||
                   s[e - 1] == '\v')) {
    --e;
  }
  return std::string(s.substr(b, e - b));
}

// ---- records -------------------------------------------------------------------

// The request-N.json bytes: json.dumps(meta, indent=2) + "\n".
std::string record_json(const RecordedRequest& r, const std::string& path) {
  // Python's dict: a repeated header (same spelling) is joined with ", " at
  // the place it first appeared.
  std::vector<std::pair<std::string, std::string>> headers;
  for (const auto& [name, value] : r.headers) {
    auto it = std::find_if(headers.begin(), headers.end(), [&](const auto& h) { return h.first == name; });
    if (it == headers.end()) {
      headers.emplace_back(name, value);
    } else {
      it->second += ", " + value;
    }
  }
  std::string out = "{\n  \"n\": " + std::to_string(r.n) + ",\n  \"method\": ";
  append_py_string(out, r.method, true);
  out += ",\n  \"path\": ";
  append_py_string(out, path, true);
  out += ",\n  \"http_version\": ";
  append_py_string(out, r.http_version, true);
  out += ",\n  \"headers\": ";
  if (headers.empty()) {
    out += "{}";
  } else {
    out += "{";
    for (size_t i = 0; i < headers.size(); ++i) {
      out += i ? ",\n    " : "\n    ";
      append_py_string(out, headers[i].first, true);
      out += ": ";
      append_py_string(out, headers[i].second, true);
    }
    out += "\n  }";
  }
  out += ",\n  \"body_length\": " + std::to_string(r.body.size());
  out += std::string(",\n  \"body_complete\": ") + (r.body_complete ? "true" : "false");
  out += std::string(",\n  \"chunked\": ") + (r.chunked ? "true" : "false");
  out += std::string(",\n  \"tls\": ") + (r.tls ? "true" : "false");
  out += ",\n  \"client\": ";
  append_py_string(out, r.client, true);
  out += "\n}\n";
  return out;
}

// ---- URLs, as http.server and urllib.parse see them -------------------------

// http.server rewrites a path starting with "//" (gh-87389).
std::string python_path(const std::string& target) {
  if (target.rfind("//", 0) != 0) return target;
  size_t i = target.find_first_not_of('/');
  return "/" + (i == std::string::npos ? std::string() : target.substr(i));
}

// ---- sockets ------------------------------------------------------------------

bool poll_fd(int fd, short events, int timeout_ms) {
  pollfd p{fd, events, 0};
  int r;
  do {
    r = ::poll(&p, 1, timeout_ms);
  } while (r < 0 && errno == EINTR);
  if (r <= 0) return false;
  if (events == POLLOUT) return (p.revents & POLLOUT) && !(p.revents & POLLERR);
  return true;  // readable, or an EOF or error that the next read reports
}

void socket_address(int fd, bool peer, std::string& ip, int& port) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  int r = peer ? ::getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len)
               : ::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  ip.clear();
  port = -1;
  if (r != 0) return;
  char host[NI_MAXHOST], serv[NI_MAXSERV];
  if (::getnameinfo(reinterpret_cast<sockaddr*>(&ss), len, host, sizeof host, serv, sizeof serv,
                    NI_NUMERICHOST | NI_NUMERICSERV) == 0) {
    ip = host;
    port = std::atoi(serv);
  }
}

// A failed write on a TLS socket (OpenSSL writes with write(2), not
// send(MSG_NOSIGNAL)) raises SIGPIPE at the writing thread; worker threads
// keep it blocked, and this takes the pending one away.
void discard_pending_sigpipe() {
  sigset_t pending;
  if (sigpending(&pending) != 0 || !sigismember(&pending, SIGPIPE)) return;
  sigset_t only;
  sigemptyset(&only);
  sigaddset(&only, SIGPIPE);
  timespec zero{0, 0};
  sigtimedwait(&only, nullptr, &zero);
}

// A connection as httplib's Stream: buffered reads (httplib reads the request
// head a byte at a time), the head's raw bytes captured, TLS or plain.
class Connection final : public httplib::Stream {
 public:
  Connection(int fd, SSL* ssl) : fd_(fd), ssl_(ssl), buf_(16 * 1024) {}

  bool is_readable() const override { return has_buffered() || poll_fd(fd_, POLLIN, kIoTimeoutSec * 1000); }
  bool is_writable() const override { return discard_ || poll_fd(fd_, POLLOUT, kIoTimeoutSec * 1000); }

  ssize_t read(char* ptr, size_t size) override {
    if (pos_ == end_ && !fill()) return eof_ ? 0 : -1;
    size_t n = std::min(size, end_ - pos_);
    std::memcpy(ptr, buf_.data() + pos_, n);
    pos_ += n;
    if (capturing_) {
      if (head_.empty()) head_start_ns_ = wall_ns();
      head_.append(ptr, n);
    }
    return static_cast<ssize_t>(n);
  }

  ssize_t write(const char* ptr, size_t size) override {
    if (discard_) return static_cast<ssize_t>(size);
    size_t done = 0;
    while (done < size) {
      ssize_t n = raw_write(ptr + done, size - done);
      if (n <= 0) return -1;
      done += static_cast<size_t>(n);
    }
    return static_cast<ssize_t>(size);
  }

  void get_remote_ip_and_port(std::string& ip, int& port) const override { socket_address(fd_, true, ip, port); }
  void get_local_ip_and_port(std::string& ip, int& port) const override { socket_address(fd_, false, ip, port); }
  socket_t socket() const override { return fd_; }

  // Starts capturing the next request's head.
  void begin_request() {
    capturing_ = true;
    head_.clear();
    head_start_ns_ = 0;
  }
  std::string take_head() {
    capturing_ = false;
    return std::move(head_);
  }
  int64_t head_start_ns() const { return head_start_ns_ ? head_start_ns_ : wall_ns(); }

  bool has_buffered() const { return pos_ < end_ || (ssl_ && SSL_pending(ssl_) > 0); }

  // Reads up to n bytes into dst, stopping early only at EOF, an error or a
  // timeout; returns how many arrived.
  size_t read_fully(char* dst, size_t n) {
    size_t got = std::min(n, end_ - pos_);
    std::memcpy(dst, buf_.data() + pos_, got);
    pos_ += got;
    while (got < n) {
      ssize_t r = raw_read(dst + got, n - got);
      if (r <= 0) break;
      got += static_cast<size_t>(r);
    }
    return got;
  }

  // Python's readline(max): up to and including '\n', at most max bytes.
  std::string read_line(size_t max) {
    std::string line;
    while (line.size() < max) {
      if (pos_ == end_ && !fill()) break;
      char c = buf_[pos_++];
      line += c;
      if (c == '\n') break;
    }
    return line;
  }

  // Makes every later write succeed without sending anything: the Python
  // stand-in answers nothing to a request whose body never fully arrived.
  void discard_output() { discard_ = true; }

 private:
  bool fill() {
    ssize_t r = raw_read(buf_.data(), buf_.size());
    if (r <= 0) {
      eof_ = r == 0;
      return false;
    }
    pos_ = 0;
    end_ = static_cast<size_t>(r);
    return true;
  }

  ssize_t raw_read(char* p, size_t n) {
    int chunk = static_cast<int>(std::min<size_t>(n, INT_MAX));
    if (ssl_) {
      int r = SSL_read(ssl_, p, chunk);
      if (r > 0) return r;
      int err = SSL_get_error(ssl_, r);
      ERR_clear_error();
      return err == SSL_ERROR_ZERO_RETURN ? 0 : -1;
    }
    ssize_t r;
    do {
      r = ::recv(fd_, p, static_cast<size_t>(chunk), 0);
    } while (r < 0 && errno == EINTR);
    return r;
  }

  ssize_t raw_write(const char* p, size_t n) {
    int chunk = static_cast<int>(std::min<size_t>(n, INT_MAX));
    if (ssl_) {
      int r = SSL_write(ssl_, p, chunk);
      if (r <= 0) {
        ERR_clear_error();
        discard_pending_sigpipe();
        return -1;
      }
      return r;
    }
    ssize_t r;
    do {
      r = ::send(fd_, p, static_cast<size_t>(chunk), MSG_NOSIGNAL);
    } while (r < 0 && errno == EINTR);
    return r;
  }

  int fd_;
  SSL* ssl_;
  std::vector<char> buf_;
  size_t pos_ = 0, end_ = 0;
  bool eof_ = false;
  bool capturing_ = false;
  std::string head_;
  int64_t head_start_ns_ = 0;
  bool discard_ = false;
};

// The request line and headers, as the client wrote them.
struct Head {
  std::string method, target, version;
  std::vector<std::pair<std::string, std::string>> headers;
};

// What http.client's header parser keeps: the name before the first ':', the
// value after it without leading blanks or the line end.
Head parse_head(const std::string& raw) {
  Head head;
  size_t pos = 0;
  bool first = true;
  while (pos < raw.size()) {
    size_t nl = raw.find('\n', pos);
    size_t end = nl == std::string::npos ? raw.size() : nl;
    std::string line = raw.substr(pos, end - pos);
    pos = end + 1;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (first) {
      first = false;
      size_t a = line.find(' ');
      size_t b = line.rfind(' ');
      if (a != std::string::npos && b > a) {
        head.method = line.substr(0, a);
        head.target = line.substr(a + 1, b - a - 1);
        head.version = line.substr(b + 1);
      }
      continue;
    }
    if (line.empty()) break;
    size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string value = line.substr(colon + 1);
    value.erase(0, value.find_first_not_of(" \t") == std::string::npos ? value.size() : value.find_first_not_of(" \t"));
    head.headers.emplace_back(line.substr(0, colon), value);
  }
  return head;
}

const std::string* find_header(const Head& head, std::string_view name) {
  for (const auto& [key, value] : head.headers) {
    if (iequals(key, name)) return &value;
  }
  return nullptr;
}

// int(text) and int(text, 16) as Python parses them: surrounding whitespace,
// a sign, '_' between digits, "0x" for base 16.
bool parse_py_int(const std::string& text, int base, long long* out) {
  std::string s = trim_ascii(text);
  bool negative = false;
  size_t i = 0;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) negative = s[i++] == '-';
  if (base == 16 && s.size() >= i + 2 && s[i] == '0' && (s[i + 1] == 'x' || s[i + 1] == 'X')) {
    i += 2;
    if (i < s.size() && s[i] == '_') ++i;
  }
  if (i >= s.size()) return false;
  unsigned long long value = 0;
  bool prev_digit = false;
  for (; i < s.size(); ++i) {
    char c = s[i];
    if (c == '_') {
      if (!prev_digit || i + 1 >= s.size()) return false;
      prev_digit = false;
      continue;
    }
    int d = c >= '0' && c <= '9' ? c - '0' : (c | 0x20) >= 'a' && (c | 0x20) <= 'f' ? (c | 0x20) - 'a' + 10 : 99;
    if (d >= base) return false;
    value = value * static_cast<unsigned>(base) + static_cast<unsigned>(d);
    if (value > (1ULL << 62)) return false;  // far beyond any size we accept
    prev_digit = true;
  }
  if (!prev_digit) return false;
  *out = negative ? -static_cast<long long>(value) : static_cast<long long>(value);
  return true;
}

const std::set<std::string>& recorded_methods() {
  static const std::set<std::string> methods = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"};
  return methods;
}

std::string http_date() {
  static const char* const kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static const char* const kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  time_t now = time(nullptr);
  tm t{};
  gmtime_r(&now, &t);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d GMT", kDays[t.tm_wday], t.tm_mday,
                kMonths[t.tm_mon], t.tm_year + 1900, t.tm_hour, t.tm_min, t.tm_sec);
  return buf;
}

// DIR/request-N.body and then DIR/request-N.json: once request-N.json
// exists, request-N.body is complete.
void write_record(const std::string& dir, const RecordedRequest& r) {
  std::string base = dir + "/request-" + std::to_string(r.n);
  write_file_atomic(base + ".body", r.body, 0600);
  write_file_atomic(base + ".json", record_json(r, python_path(r.target)), 0600);
}

// Blocks every signal in the calling thread and returns the previous mask.
// Threads inherit the mask of the thread that creates them, so service
// threads created under it never take agenttrace's signals (which it reads
// from a signalfd) or die of a SIGPIPE.
sigset_t block_all_signals() {
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  return old;
}

int alpn_select(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in, unsigned int inlen,
                void*) {
  // Only HTTP/1.1: clients such as curl would otherwise try h2.
  static const unsigned char kHttp11[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
  unsigned char* selected = nullptr;
  if (SSL_select_next_proto(&selected, outlen, kHttp11, sizeof kHttp11, in, inlen) == OPENSSL_NPN_NEGOTIATED) {
    *out = selected;
    return SSL_TLSEXT_ERR_OK;
  }
  return SSL_TLSEXT_ERR_NOACK;
}

SSL_CTX* make_tls_context(const Certificate& cert) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  if (!ctx) throw Error("could not create the stand-in's TLS context (" + openssl_error() + ").");
  auto fail = [&](const std::string& what) {
    std::string why = openssl_error();
    SSL_CTX_free(ctx);
    throw Error("could not " + what + " for the stand-in's TLS server (" + why + ").");
  };
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  // A client that closes without close_notify has still ended the stream.
  SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_NO_RENEGOTIATION);
  BIO* cert_bio = BIO_new_mem_buf(cert.cert_pem.data(), static_cast<int>(cert.cert_pem.size()));
  X509* x509 = cert_bio ? PEM_read_bio_X509(cert_bio, nullptr, nullptr, nullptr) : nullptr;
  BIO_free(cert_bio);
  int ok = x509 ? SSL_CTX_use_certificate(ctx, x509) : 0;
  X509_free(x509);
  if (ok != 1) fail("load the certificate");
  BIO* key_bio = BIO_new_mem_buf(cert.key_pem.data(), static_cast<int>(cert.key_pem.size()));
  EVP_PKEY* key = key_bio ? PEM_read_bio_PrivateKey(key_bio, nullptr, nullptr, nullptr) : nullptr;
  BIO_free(key_bio);
  ok = key ? SSL_CTX_use_PrivateKey(ctx, key) : 0;
  EVP_PKEY_free(key);
  if (ok != 1 || SSL_CTX_check_private_key(ctx) != 1) fail("load the private key");
  SSL_CTX_set_alpn_select_cb(ctx, alpn_select, nullptr);
  return ctx;
}

}  // namespace

// ---- the servers ----------------------------------------------------------------

namespace {

// One request's progress through our hooks (httplib's handlers cannot carry
// it: the pre-routing handler only sees httplib's Request).
struct RequestState {
  explicit RequestState(Connection& c) : conn(c) {}
  Connection& conn;
  bool prepared = false;     // setup ran: httplib accepted the request head
  bool unsupported = false;  // a method the Python stand-in does not record (CONNECT, TRACE, ...)
  bool no_reply = false;     // the body did not arrive: record it, answer nothing
  bool close_after = false;  // close the connection after this request
  RecordedRequest record;
};

thread_local RequestState* t_current = nullptr;

}  // namespace

class Listener;

struct StandIn::Impl {
  explicit Impl(StandInOptions o);
  ~Impl();

  void prepare(RequestState& st, httplib::Request& req, bool tls);
  httplib::Server::HandlerResponse respond(httplib::Response& res);
  void route(RequestState& st, httplib::Response& res);
  void commit(RecordedRequest record);
  void track(int fd) {
    std::lock_guard<std::mutex> lock(mu);
    live_fds.insert(fd);
  }
  void untrack(int fd) {
    std::lock_guard<std::mutex> lock(mu);
    live_fds.erase(fd);
  }
  std::unique_ptr<Listener> make_listener(bool tls, const std::string& host, int port, int* bound_port);

  StandInOptions options;
  std::string owned_dir;  // a temporary cert_dir we created and remove
  CertificateFiles files;
  SSL_CTX* ssl_ctx = nullptr;

  std::unique_ptr<Listener> http, https;
  int http_port = 0, https_port = 0;
  std::thread http_thread, https_thread;
  std::atomic<bool> http_done{false}, https_done{false};
  std::mutex lifecycle;
  bool started = false, stopped = false;

  mutable std::mutex mu;
  uint64_t last_n = 0;
  std::map<uint64_t, RecordedRequest> records;
  std::set<int> live_fds;
};

class Listener final : public httplib::Server {
 public:
  Listener(StandIn::Impl& owner, SSL_CTX* tls) : owner_(owner), tls_(tls) {}

  bool stopping() const { return svr_sock_ == INVALID_SOCKET; }

  // httplib's stop() only closes a server that is listening.
  void close_unstarted() {
    int sock = svr_sock_.exchange(INVALID_SOCKET);
    if (sock != INVALID_SOCKET) ::close(sock);
  }

 private:
  // httplib calls this from a worker thread for each accepted socket.
  bool process_and_close_socket(socket_t sock) override {
    ::fcntl(sock, F_SETFD, FD_CLOEXEC);
    timeval tv{kIoTimeoutSec, 0};
    ::setsockopt(sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(sock, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    // Streams write one small event at a time; don't hold them back.
    int one = 1;
    ::setsockopt(sock, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    owner_.track(sock);
    SSL* ssl = nullptr;
    bool ok = !stopping();
    if (ok && tls_) {
      // TLS is layered on here, in the connection's own thread: a client that
      // stalls in the handshake (or rejects the certificate) holds up only it.
      ssl = SSL_new(tls_);
      ok = ssl && SSL_set_fd(ssl, sock) == 1 && SSL_accept(ssl) == 1;
      ERR_clear_error();
    }
    if (ok) {
      try {
        Connection conn(sock, ssl);
        serve(conn);
      } catch (...) {
        // Nothing may escape into httplib's thread pool; the connection just ends.
      }
    }
    if (ssl) {
      if (ok) SSL_shutdown(ssl);  // close_notify, so clients reading to EOF see a clean end
      SSL_free(ssl);
      ERR_clear_error();
      discard_pending_sigpipe();
    }
    owner_.untrack(sock);
    ::shutdown(sock, SHUT_WR);
    // Read what the client still sends, briefly: closing with unread data
    // makes the kernel reset the connection, which can destroy the end of our
    // reply before the client has read it.
    char sink[4096];
    int64_t deadline = mono_ms() + 100;
    while (mono_ms() < deadline && poll_fd(sock, POLLIN, 20)) {
      if (::recv(sock, sink, sizeof sink, MSG_DONTWAIT) <= 0) break;
    }
    ::close(sock);
    return true;
  }

  bool wait_for_request(Connection& conn) {
    if (conn.has_buffered()) return true;
    int64_t deadline = mono_ms() + kIdleTimeoutMs;
    while (!stopping() && mono_ms() < deadline) {
      if (poll_fd(conn.socket(), POLLIN, kStopPollMs)) return true;
    }
    return false;
  }

  void serve(Connection& conn) {
    while (wait_for_request(conn)) {
      RequestState state(conn);
      t_current = &state;
      conn.begin_request();
      bool connection_closed = false;
      bool ok = process_request(conn, false, connection_closed,
                                [&](httplib::Request& req) { owner_.prepare(state, req, tls_ != nullptr); });
      t_current = nullptr;
      // A head httplib refused itself (400, 414, 416) never reached prepare();
      // like http.server, stop reading a stream that may be out of step.
      if (!ok || connection_closed || state.close_after || !state.prepared || stopping()) break;
    }
  }

  StandIn::Impl& owner_;
  SSL_CTX* tls_;
};

std::string standin_dir_prefix() { return "agenttrace-standin-" + std::to_string(getpid()); }

size_t remove_stale_standin_dirs(const std::string& parent) {
  static constexpr std::string_view kPrefix = "agenttrace-standin-";
  std::error_code ec;
  size_t removed = 0;
  for (const auto& entry : std::filesystem::directory_iterator(parent, ec)) {
    std::string name = entry.path().filename().string();
    if (name.compare(0, kPrefix.size(), kPrefix) != 0) continue;
    // agenttrace-standin-<pid>-XXXXXX
    size_t digits = kPrefix.size();
    pid_t pid = 0;
    while (digits < name.size() && name[digits] >= '0' && name[digits] <= '9' && pid < 4194304)
      pid = pid * 10 + (name[digits++] - '0');
    if (digits == kPrefix.size() || digits >= name.size() || name[digits] != '-' || pid <= 0) continue;
    struct stat st {};
    if (::lstat(entry.path().c_str(), &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != ::geteuid()) continue;
    if (pid == ::getpid() || ::kill(pid, 0) == 0 || errno != ESRCH) continue;  // alive (or not ours to judge)
    std::error_code rm;
    if (std::filesystem::remove_all(entry.path(), rm) != static_cast<std::uintmax_t>(-1) && !rm) ++removed;
  }
  return removed;
}

StandIn::Impl::Impl(StandInOptions o) : options(std::move(o)) {
  if (!options.record_dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(options.record_dir, ec);
    if (ec) throw Error("cannot create the directory " + options.record_dir + ": " + ec.message() + ".");
  }
  const char* tmp = getenv("TMPDIR");
  const std::string tmp_dir = tmp && *tmp ? tmp : "/tmp";
  // What an agenttrace killed before it could clean up left behind (a
  // certificate only: the key was never written).
  remove_stale_standin_dirs(tmp_dir);
  std::string dir = options.cert_dir;
  if (dir.empty()) {
    std::string pattern = tmp_dir + "/" + standin_dir_prefix() + "-XXXXXX";
    if (!mkdtemp(pattern.data())) {
      throw Error("cannot create a directory for the stand-in's certificate in " + pattern + ": " +
                  errno_text(errno) + ".");
    }
    // Others may read cert.pem (the agent may run as another user); it is
    // all there is: the key stays in this process.
    ::chmod(pattern.c_str(), 0755);
    owned_dir = dir = pattern;
  }
  try {
    Certificate cert = make_self_signed_certificate(options.host_names);
    files = write_certificate(cert, dir);
    ssl_ctx = make_tls_context(cert);
    OPENSSL_cleanse(cert.key_pem.data(), cert.key_pem.size());
  } catch (...) {
    if (!owned_dir.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(owned_dir, ec);
    }
    throw;
  }
}

StandIn::Impl::~Impl() {
  https.reset();
  http.reset();
  if (ssl_ctx) SSL_CTX_free(ssl_ctx);
  if (!owned_dir.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(owned_dir, ec);
  }
}

// Runs in httplib's process_request once the head is parsed, before routing.
void StandIn::Impl::prepare(RequestState& st, httplib::Request& req, bool tls) {
  st.prepared = true;
  Head head = parse_head(st.conn.take_head());
  // httplib must neither compress the reply, nor answer a Range, nor send its
  // own 100 Continue: the reply is the Python stand-in's, byte for byte.
  req.headers.erase("Accept-Encoding");
  req.headers.erase("Expect");
  req.ranges.clear();
  if (!recorded_methods().count(head.method)) {
    st.unsupported = true;
    st.close_after = true;
    st.record.method = head.method;
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mu);
    st.record.n = ++last_n;
  }
  RecordedRequest& r = st.record;
  r.wall_ns = st.conn.head_start_ns();
  r.tls = tls;
  r.method = head.method;
  r.target = head.target;
  r.http_version = head.version;
  std::string ip;
  int port = 0;
  st.conn.get_remote_ip_and_port(ip, port);
  r.client = ip + ":" + std::to_string(port);
  r.headers = head.headers;

  // Keep-alive as http.server decides it.
  const std::string* connection = find_header(head, "Connection");
  std::string conntype = connection ? ascii_lower(*connection) : "";
  bool http11 = head.version >= "HTTP/1.1";
  if (conntype == "close" || (!http11 && conntype != "keep-alive")) st.close_after = true;

  const std::string* expect = find_header(head, "Expect");
  if (expect && ascii_lower(*expect) == "100-continue" && http11) {
    static const char kContinue[] = "HTTP/1.1 100 Continue\r\n\r\n";
    st.conn.write(kContinue, sizeof kContinue - 1);
  }

  // The body, as the Python stand-in reads it.
  const std::string* te = find_header(head, "Transfer-Encoding");
  bool complete = true;
  if (te && ascii_lower(*te).find("chunked") != std::string::npos) {
    r.chunked = true;
    complete = false;
    size_t total = 0;
    for (;;) {
      std::string size_line = st.conn.read_line(kMaxChunkLine);
      if (size_line.empty()) break;  // EOF
      long long size = 0;
      std::string size_text = size_line.substr(0, size_line.find(';'));
      if (trim_ascii(size_text).empty()) size_text = "0";
      if (!parse_py_int(size_text, 16, &size) || size < 0) break;
      if (size == 0) {
        // Skip trailers up to the empty line that ends the message.
        for (;;) {
          std::string line = st.conn.read_line(kMaxChunkLine);
          if (line.empty() || line == "\r\n" || line == "\n") break;
        }
        complete = true;
        break;
      }
      total += static_cast<size_t>(size);
      if (total > kMaxBody) break;
      size_t at = r.body.size();
      r.body.resize(at + static_cast<size_t>(size));
      size_t got = st.conn.read_fully(r.body.data() + at, static_cast<size_t>(size));
      r.body.resize(at + got);
      st.conn.read_line(kMaxChunkLine);  // CRLF after the chunk data
      if (got != static_cast<size_t>(size)) break;
    }
  } else {
    const std::string* cl = find_header(head, "Content-Length");
    long long length = 0;
    if (cl && !cl->empty() && (!parse_py_int(*cl, 10, &length) || length < 0 ||
                               static_cast<unsigned long long>(length) > kMaxBody)) {
      complete = false;  // a length we refuse: nothing of the body is read
    } else if (length > 0) {
      r.body.resize(static_cast<size_t>(length));
      size_t got = st.conn.read_fully(r.body.data(), static_cast<size_t>(length));
      r.body.resize(got);
      complete = got == static_cast<size_t>(length);
    }
  }
  r.body_complete = complete;
  if (!complete) {
    st.no_reply = true;
    st.close_after = true;
  }
}

httplib::Server::HandlerResponse StandIn::Impl::respond(httplib::Response& res) {
  RequestState* st = t_current;
  if (!st || !st->prepared) {
    res.status = 500;  // not reached: every request passes prepare() first
    return httplib::Server::HandlerResponse::Handled;
  }
  if (st->unsupported) {
    res.status = 501;
    res.set_content("standin: unsupported method " + st->record.method + "\n", "text/plain");
    return httplib::Server::HandlerResponse::Handled;
  }
  if (st->no_reply) {
    st->conn.discard_output();
    res.status = 400;  // never sent
    st->record.status = 0;
    commit(std::move(st->record));
    return httplib::Server::HandlerResponse::Handled;
  }
  try {
    route(*st, res);
  } catch (const std::exception&) {
    res = httplib::Response();
    res.status = 500;
    res.set_content("standin: internal error\n", "text/plain");
    st->record.status = 500;
    st->close_after = true;
  }
  commit(std::move(st->record));
  return httplib::Server::HandlerResponse::Handled;
}

void StandIn::Impl::route(RequestState& st, httplib::Response& res) {
  RecordedRequest& r = st.record;
  StandInReply reply = answer_request(r.method, python_path(r.target), r.body, r.n, options.reply);
  r.status = reply.status;
  res.status = reply.status;
  if (!reply.stream) {
    res.set_content(reply.body, "application/json");
    res.set_header("x-request-id", reply.request_id);
    return;
  }
  res.set_header("Cache-Control", "no-cache");
  res.set_header("Connection", "close");
  res.set_header("x-request-id", reply.request_id);
  auto frames = std::make_shared<std::vector<std::string>>(std::move(reply.frames));
  // No length: the stream ends when the connection closes.
  res.set_content_provider("text/event-stream; charset=utf-8", [frames](size_t, httplib::DataSink& sink) {
    // One write per event, like a real stream.
    for (const auto& frame : *frames) {
      if (!sink.write(frame.data(), frame.size())) return false;
    }
    sink.done();
    return true;
  });
  st.close_after = true;
}

void StandIn::Impl::commit(RecordedRequest record) {
  if (!options.record_dir.empty()) {
    try {
      write_record(options.record_dir, record);
    } catch (const Error& e) {
      // The request is still answered and kept for requests(); only its files are missing.
      std::fprintf(stderr, "standin: %s\n", e.what());
    }
  }
  std::lock_guard<std::mutex> lock(mu);
  uint64_t n = record.n;
  records[n] = std::move(record);
}

std::unique_ptr<Listener> StandIn::Impl::make_listener(bool tls, const std::string& host, int port,
                                                       int* bound_port) {
  // httplib::Server's constructor sets SIGPIPE to SIG_IGN for the whole
  // process, and an ignored SIGPIPE is inherited through exec by every command
  // agenttrace starts; put the disposition back.
  struct sigaction saved {};
  sigaction(SIGPIPE, nullptr, &saved);
  auto listener = std::make_unique<Listener>(*this, tls ? ssl_ctx : nullptr);
  sigaction(SIGPIPE, &saved, nullptr);

  listener->new_task_queue = [] { return new httplib::ThreadPool(kThreadsPerServer); };
  // httplib's default sets SO_REUSEPORT, which lets a second server bind the
  // same port and silently take half the connections.
  listener->set_socket_options([](socket_t sock) {
    int one = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    ::fcntl(sock, F_SETFD, FD_CLOEXEC);
  });
  // Like the Python stand-in: IPv6 only for an IPv6 address, "localhost" is 127.0.0.1.
  listener->set_address_family(host.find(':') != std::string::npos ? AF_INET6 : AF_INET);
  listener->set_default_headers({{"Server", "standin/1"}});
  listener->set_pre_routing_handler(
      [this](const httplib::Request&, httplib::Response& res) { return respond(res); });
  listener->set_post_routing_handler([](const httplib::Request&, httplib::Response& res) {
    // httplib's additions the Python stand-in does not make.
    res.headers.erase("Keep-Alive");
    res.headers.erase("Accept-Ranges");
    if (res.get_header_value_count("Connection") > 1) {
      res.headers.erase("Connection");
      res.set_header("Connection", "close");
    }
    res.set_header("Date", http_date());
  });

  std::string host_text = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  errno = 0;
  int got = port == 0 ? listener->bind_to_any_port(host) : (listener->bind_to_port(host, port) ? port : -1);
  if (got < 0) {
    int err = errno;
    throw Error("cannot listen on " + host_text + ":" + std::to_string(port) + " for the stand-in's " +
                (tls ? "https" : "http") + " server" + (err ? ": " + errno_text(err) : std::string()) + ".");
  }
  *bound_port = got;
  return listener;
}

// ---- StandIn ------------------------------------------------------------------

StandIn::StandIn(StandInOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}

StandIn::~StandIn() { stop(); }

void StandIn::bind(const std::string& host, int http_port, int https_port) {
  std::lock_guard<std::mutex> lock(impl_->lifecycle);
  if (impl_->stopped) throw Error("the stand-in was stopped and cannot be bound again.");
  if (impl_->http) throw Error("the stand-in is already bound.");
  if (http_port < 0 || http_port > 65535 || https_port < 0 || https_port > 65535) {
    throw Error("the stand-in's ports must be between 0 and 65535.");
  }
  int bound_http = 0, bound_https = 0;
  auto http = impl_->make_listener(false, host, http_port, &bound_http);
  std::unique_ptr<Listener> https;
  try {
    https = impl_->make_listener(true, host, https_port, &bound_https);
  } catch (...) {
    http->close_unstarted();
    throw;
  }
  impl_->http = std::move(http);
  impl_->https = std::move(https);
  impl_->http_port = bound_http;
  impl_->https_port = bound_https;
}

void StandIn::start() {
  std::lock_guard<std::mutex> lock(impl_->lifecycle);
  if (impl_->stopped) throw Error("the stand-in was stopped and cannot be started again.");
  if (!impl_->http) throw Error("the stand-in must be bound before it is started.");
  if (impl_->started) return;
  impl_->started = true;
  sigset_t old = block_all_signals();
  auto run = [](Listener* listener, std::atomic<bool>* done) {
    listener->listen_after_bind();
    done->store(true);
  };
  impl_->http_thread = std::thread(run, impl_->http.get(), &impl_->http_done);
  impl_->https_thread = std::thread(run, impl_->https.get(), &impl_->https_done);
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  // httplib's stop() does nothing to a server whose accept loop has not begun.
  while (!(impl_->http->is_running() || impl_->http_done) || !(impl_->https->is_running() || impl_->https_done)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

void StandIn::stop() {
  std::lock_guard<std::mutex> lock(impl_->lifecycle);
  if (impl_->stopped) return;
  impl_->stopped = true;
  for (Listener* listener : {impl_->http.get(), impl_->https.get()}) {
    if (!listener) continue;
    if (impl_->started) {
      listener->stop();
    } else {
      listener->close_unstarted();
    }
  }
  {
    // Wakes workers blocked reading a connection; they then see the stop.
    std::lock_guard<std::mutex> fds(impl_->mu);
    for (int fd : impl_->live_fds) ::shutdown(fd, SHUT_RDWR);
  }
  if (impl_->http_thread.joinable()) impl_->http_thread.join();
  if (impl_->https_thread.joinable()) impl_->https_thread.join();
}

int StandIn::http_port() const { return impl_->http_port; }
int StandIn::https_port() const { return impl_->https_port; }
std::string StandIn::cert_path() const { return impl_->files.cert_path; }

std::vector<RecordedRequest> StandIn::requests() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  std::vector<RecordedRequest> out;
  out.reserve(impl_->records.size());
  for (const auto& [n, record] : impl_->records) out.push_back(record);
  return out;
}

void StandIn::write_records(const std::string& dir) const {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw Error("cannot create the directory " + dir + ": " + ec.message() + ".");
  for (const auto& r : requests()) write_record(dir, r);
}

void StandIn::write_records_safely(const std::string& dir, const std::vector<RecordedRequest>& requests) {
  std::error_code ec;
  if (auto parent = std::filesystem::path(dir).parent_path(); !parent.empty())
    std::filesystem::create_directories(parent, ec);
  UniqueFd d = open_output_directory(dir);
  for (const auto& r : requests) {
    std::string base = "request-" + std::to_string(r.n);
    // The body first: once request-N.json exists, request-N.body is complete.
    UniqueFd body = create_output_file_in(d.get(), dir, base + ".body");
    write_all(body.get(), dir + "/" + base + ".body", r.body);
    UniqueFd json = create_output_file_in(d.get(), dir, base + ".json");
    write_all(json.get(), dir + "/" + base + ".json", record_json(r, python_path(r.target)));
  }
}

}  // namespace agenttrace::sandbox
