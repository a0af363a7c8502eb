// `agenttrace collect --from nats://HOST:PORT`: the fleet's recordings, read
// back from JetStream and analysed in one place.
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <ctime>

#include "analyzer/knowledge_base.h"
#include "analyzer/report.h"
#include "cli/commands.h"
#include "cli/output.h"
#include "cli/parse.h"
#include "common/error.h"
#include "common/unique_fd.h"
#include "fleet/collect.h"
#include "fleet/fleet_report.h"
#include "fleet/nats_settings.h"

namespace agenttrace::cli {

namespace {

int64_t now_ns() {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

}  // namespace

int collect_command(const std::vector<std::string>& args) {
  fleet::CollectOptions o;
  std::string format = "text", output, kb_file, since;
  CLI::App app{"Read what a fleet of hosts exported to NATS JetStream (agenttrace --export) and analyse it:\n"
               "which hosts ran which agents, what each gathered and sent, every finding with its host.\n\n"
               "usage: agenttrace collect --from nats://HOST:PORT [--hosts GLOB] [--since TIME] [--follow]\n"
               "                          [--format text|json|html|sarif] [-o FILE]",
               "collect"};
  app.add_option("--from", o.from, "the NATS server(s): nats://HOST:PORT, comma-separated for a cluster")->required();
  app.add_option("--hosts", o.hosts_glob, "only hosts whose name matches GLOB (e.g. 'build-*')");
  app.add_option("--since", since, "only what was stored since TIME (2026-11-23T21:07:12Z) or DURATION ago (2h)");
  app.add_flag("--follow", o.follow,
               "keep reading and print each new finding as it appears; Ctrl-C writes the full report");
  app.add_option("--format", format, "text, json, html or sarif (default text)")
      ->check(CLI::IsMember({"text", "json", "html", "sarif"}));
  app.add_option("-o,--output", output, "write the report to FILE (default: standard output)")->type_name("FILE");
  app.add_option("--nats-config", o.config_file,
                 "credentials, TLS and stream settings (the format of --export-config; see docs/fleet.md)")->type_name("FILE");
  app.add_option("--durable", o.durable, "name of the durable consumer (default agenttrace-collect-PID)")->type_name("NAME");
  app.add_option("--kb", kb_file, "a knowledge-base file that extends the built-in one")->type_name("FILE");
  app.add_option("--binaries", o.binary_dirs, "a directory with the hosts' binaries, to name stack frames (repeatable)")
      ->check(CLI::ExistingDirectory);
  if (!parse_or_throw(app, args)) return kExitOk;
  if (!fleet::is_nats_url(o.from)) throw Error("--from " + o.from + ": expected nats://HOST:PORT");
  if (!since.empty()) o.since_ns = fleet::parse_since(since, now_ns());

  analyzer::KnowledgeBase kb = analyzer::KnowledgeBase::builtin();
  if (!kb_file.empty()) kb.extend_from_file(kb_file);

  // Following ends on Ctrl-C or SIGTERM, asked between reads; the client
  // library's threads must not get those signals, so they are blocked first.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  UniqueFd signal_fd;
  if (o.follow) {
    sigprocmask(SIG_BLOCK, &stop_signals, nullptr);
    signal_fd.reset(signalfd(-1, &stop_signals, SFD_CLOEXEC | SFD_NONBLOCK));
  }
  auto stop = [&] {
    signalfd_siginfo si;
    return signal_fd.valid() && read(signal_fd.get(), &si, sizeof(si)) == sizeof(si);
  };
  auto on_new = [&](const fleet::FleetAnalysis::NewFinding& nf) {
    std::string line = format == "json" ? [&] {
      trace::Json j = analyzer::finding_json(nf.finding);
      j["host"] = nf.host;
      j["session"] = nf.session;
      return trace::json_line(j);
    }()
                                        : fleet::finding_line(nf.host, nf.session, nf.finding);
    line += '\n';
    // Findings go to stderr when the report goes to stdout, so the two do not mix.
    FILE* out = output.empty() || output == "-" ? stderr : stdout;
    fputs(line.c_str(), out);
    fflush(out);
  };
  fleet::FleetReport report = fleet::collect(o, kb, on_new, stop);
  bool color = format == "text" && (output.empty() || output == "-") && analyzer::terminal_wants_color(STDOUT_FILENO);
  write_output(output, fleet::render_fleet_report(report, kb, format, color));
  return kExitOk;
}

}  // namespace agenttrace::cli
