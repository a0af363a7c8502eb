#include "cli/export_options.h"

#include <cstdlib>

#include "cli/parse.h"
#include "common/error.h"
#include "common/strings.h"
#include "fleet/nats_client.h"
#include "fleet/nats_settings.h"

namespace agenttrace::cli {

void add_export_options(CLI::App& app, app::SessionOptions& run, ExportFlags& flags) {
  fleet::ExportOptions& x = run.export_options;
  app.add_option("--export", x.url,
                 "publish every event and finding to NATS JetStream at nats://HOST:PORT (several: comma-separated)");
  app.add_option("--export-config", x.config_file,
                 "credentials, TLS and stream settings for --export (YAML or key=value; see docs/fleet.md)")->type_name("FILE");
  app.add_option("--spool", x.spool_dir,
                 "keep undelivered messages in DIR while the server is away (default /var/spool/agenttrace for root)");
  app.add_option("--spool-max", flags.spool_max, "most disk the spool may use (default 256M)")->check(size_validator());
  app.add_option("--drain-timeout", flags.drain_timeout,
                 "how long the end waits for the server to take what is left (default 10s)")->type_name("DURATION");
  app.add_option("--host-name", run.host_name,
                 "the name this host goes by in the trace and the export (default: AGENTTRACE_HOST_NAME, else the "
                 "machine's host name)");
}

void finish_export_options(app::SessionOptions& run, const ExportFlags& flags) {
  fleet::ExportOptions& x = run.export_options;
  if (run.host_name.empty())
    if (const char* name = getenv("AGENTTRACE_HOST_NAME"); name && *name) run.host_name = name;
  x.spool_max = *parse_size(flags.spool_max);
  if (x.spool_max < (1u << 20)) throw Error("--spool-max must be at least 1M, not " + flags.spool_max);
  auto drain = parse_duration_ns(flags.drain_timeout);
  if (!drain) throw Error("--drain-timeout " + flags.drain_timeout + ": not a duration (e.g. 10s, 2m)");
  x.drain_timeout_ms = *drain / 1000000;
  if (!x.enabled()) {
    if (!x.config_file.empty() || !x.spool_dir.empty())
      throw Error("--export-config and --spool only mean something with --export nats://HOST:PORT");
    return;
  }
  fleet::check_nats_settings(fleet::load_nats_settings(x.url, x.config_file));
}

}  // namespace agenttrace::cli
