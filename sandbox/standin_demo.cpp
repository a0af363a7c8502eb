// standin_demo [--seconds N] [--reply TEXT] [--record-dir DIR] [--ready-file FILE]
//
// Runs the sandbox's stand-in LLM API on 127.0.0.1 (free ports), prints
//   http=PORT https=PORT cert=PATH
// on one line once both servers accept connections (and, with --ready-file,
// writes the same line to FILE, renamed into place), and serves for N seconds
// (default 30) or until SIGINT or SIGTERM. With --record-dir, each request's
// request-N.body and request-N.json are written there as it arrives. At the
// end it says on stderr how many requests it served. Exit status 0, or 125
// with one sentence on stderr. tests/standin/clients.sh drives real HTTP
// clients against it; the BPF tests (tests/support/standin_process.h) trace
// agents talking to it.
#include <signal.h>
#include <time.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "common/atomic_file.h"
#include "common/error.h"
#include "sandbox/standin.h"

namespace {

[[noreturn]] void usage(const char* why) {
  std::fprintf(stderr, "standin_demo: %s\nusage: standin_demo [--seconds N] [--reply TEXT] [--record-dir DIR] "
               "[--ready-file FILE]\n",
               why);
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  long seconds = 30;
  std::string ready_file;
  agenttrace::sandbox::StandInOptions options;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (i + 1 >= argc) usage(("missing value after " + arg).c_str());
    std::string value = argv[++i];
    if (arg == "--seconds") {
      char* end = nullptr;
      seconds = std::strtol(value.c_str(), &end, 10);
      if (value.empty() || *end || seconds <= 0) usage("--seconds takes a positive number");
    } else if (arg == "--reply") {
      options.reply = value;
    } else if (arg == "--record-dir") {
      options.record_dir = value;
    } else if (arg == "--ready-file") {
      ready_file = value;
    } else {
      usage(("unknown option " + arg).c_str());
    }
  }

  // SIGINT and SIGTERM end the wait below instead of the process, so the
  // records are still written.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  sigprocmask(SIG_BLOCK, &stop_signals, nullptr);

  try {
    agenttrace::sandbox::StandIn standin(options);
    standin.bind("127.0.0.1", 0, 0);
    standin.start();
    std::string ready = "http=" + std::to_string(standin.http_port()) + " https=" +
                        std::to_string(standin.https_port()) + " cert=" + standin.cert_path() + "\n";
    std::fputs(ready.c_str(), stdout);
    std::fflush(stdout);
    // Renamed into place: a reader polling for the file sees all of it or nothing.
    if (!ready_file.empty()) agenttrace::write_file_atomic(ready_file, ready, 0644);

    timespec timeout{seconds, 0};
    sigtimedwait(&stop_signals, nullptr, &timeout);
    standin.stop();
    std::fprintf(stderr, "standin_demo: %zu request(s) served\n", standin.requests().size());
  } catch (const agenttrace::Error& e) {
    std::fprintf(stderr, "standin_demo: %s\n", e.what());
    return e.exit_code();
  }
  return 0;
}
