#include "app/session.h"

#include <unistd.h>

#include <spdlog/spdlog.h>

#include "analyzer/symbolizer.h"
#include "analyzer/trace_analysis.h"
#include "analyzer/value_echo.h"
#include "common/error.h"
#include "fleet/export_sink.h"
#include "fleet/nats_settings.h"
#include "fleet/subjects.h"

namespace agenttrace::app {

analyzer::KnowledgeBase load_knowledge_base(const std::string& kb_file) {
  analyzer::KnowledgeBase kb = analyzer::KnowledgeBase::builtin();
  if (!kb_file.empty()) kb.extend_from_file(kb_file);
  return kb;
}

std::unique_ptr<collector::Redactor> make_redactor(const analyzer::KnowledgeBase& kb) {
  const analyzer::KnowledgeBase* k = &kb;
  return std::make_unique<collector::Redactor>(
      kb.secret_rules(), [k](std::string_view name) { return k->is_secret_env(name); },
      [](std::string_view data, std::string_view value, size_t min_len) {
        std::vector<collector::ValueCopy> out;
        for (auto& m : analyzer::find_value_echo(data, value, min_len))
          out.push_back({std::move(m.encoding), m.offset, m.length});
        return out;
      });
}

std::vector<std::string> stack_paths(const analyzer::KnowledgeBase& kb) {
  const int credentials = kb.index_of("credentials");
  std::vector<std::string> out;
  for (size_t i = 0; i < kb.categories().size(); ++i) {
    const analyzer::Category& c = kb.categories()[i];
    if (c.fingerprint || static_cast<int>(i) == credentials) out.insert(out.end(), c.paths.begin(), c.paths.end());
  }
  return out;
}

namespace {

collector::SessionHelpers helpers_for(const SessionOptions& opt, const analyzer::KnowledgeBase& kb) {
  collector::SessionHelpers h;
  if (!opt.keep_secrets) h.redactor = make_redactor(kb);
  if (opt.stacks && opt.capture_symbols) {
    auto symbolizer = std::make_shared<analyzer::Symbolizer>();
    h.name_frames = [symbolizer](trace::Stack* stack) { symbolizer->symbolize(stack); };
  }
  return h;
}

collector::RunOptions recording_options(const SessionOptions& opt, const analyzer::KnowledgeBase& kb) {
  collector::RunOptions r = opt;
  r.stack_paths = stack_paths(kb);
  return r;
}

}  // namespace

Session::Session(const SessionOptions& opt, const std::string& mode)
    : kb_(load_knowledge_base(opt.kb_file)),
      recording_(std::make_unique<collector::TraceSession>(recording_options(opt, kb_), mode, helpers_for(opt, kb_))),
      summary_(kb_),
      profile_(kb_) {
  trace::Header& h = recording_->header();
  if (opt.export_options.enabled()) {
    const std::string session_id = fleet::make_session_id(h.boot_id(), h.start_wall_ns(), getpid());
    h.set_session_id(session_id);
    export_sink_ = std::make_unique<fleet::ExportSink>(
        fleet::load_nats_settings(opt.export_options.url, opt.export_options.config_file), opt.export_options,
        h.hostname(), session_id);
  }
  // A watch runs for hours: its analysis is of the files it writes, later,
  // so the profile (which keeps payloads) is not built in memory.
  if (mode != "watch") {
    recording_->add_sink(&summary_);
    recording_->add_sink(&profile_);
  }
  if (export_sink_) recording_->add_sink(export_sink_.get());
  recording_->set_listener(this);
}

Session::~Session() = default;

void Session::file_completed(const std::string& path) {
  // A watch keeps no profile in memory: each file it completes is analysed
  // as `agenttrace analyze` would, and its findings go out then.
  if (recording_->mode() == "watch") export_findings_of_file(path);
}

void Session::recording_ended(bool ran) {
  // Publishes the findings and delivers what the export still holds, for at
  // most --drain-timeout.
  if (!export_sink_) return;
  if (ran && recording_->mode() != "watch") publish_findings(analysis());
  export_totals_ = export_sink_->close();
  // Said even with --quiet: nothing is lost silently.
  if (export_totals_->dropped || export_totals_->pending)
    spdlog::warn("{}", fleet::export_summary(*export_sink_, *export_totals_));
}

void Session::publish_findings(const analyzer::Analysis& a) {
  for (const auto& f : a.findings) {
    trace::Json j = analyzer::finding_json(f, &a.profile);
    j["host"] = export_sink_->host();
    j["session"] = recording_->header().session_id();
    export_sink_->publish_finding(trace::json_line(j));
  }
}

void Session::export_findings_of_file(const std::string& path) {
  if (!export_sink_ || recording_->recording_failed()) return;
  try {
    publish_findings(analyzer::analyze_trace_file(path, kb_));
  } catch (const Error& e) {
    spdlog::warn("the findings of {} were not exported: {}", path, e.what());
  }
}

const analyzer::Analysis& Session::analysis() {
  if (!analysis_) {
    analysis_.emplace();
    analysis_->profile = std::move(profile_.profile());
    // Frames are named from this machine's binaries, the ones that ran.
    analyzer::symbolize_stacks(analysis_->profile, {});
    // And the code they ran is read from here too (a time and byte budget).
    analysis_->profile.code = analyzer::inspect_code(analysis_->profile);
    analysis_->findings = analyzer::run_rules(analysis_->profile, kb_);
    analysis_->source = "live";
  }
  return *analysis_;
}

std::string Session::end_report(const analyzer::Analysis& analysis) const {
  // Findings first, then the profile: one screen a person reads.
  bool color = analyzer::terminal_wants_color(STDERR_FILENO);
  std::string out = analyzer::findings_text(analysis, color) +
                    summary_.render(recording_->trace_file_written() ? recording_->trace_path() : "") +
                    analyzer::code_text(analysis.profile);
  if (export_sink_ && export_totals_) out += "  " + fleet::export_summary(*export_sink_, *export_totals_) + "\n";
  return out;
}

}  // namespace agenttrace::app
