// The application layer: what wires a recording (collector/) to the live
// analysis (analyzer/) and the fleet export (fleet/). The collector only
// records and hands events to sinks; this layer builds the knowledge base,
// turns what the recording needs of it into data and helpers (which paths
// keep their stacks, what a secret is, how frames are named), adds the
// summary, profile and export sinks, and computes the analysis at the end.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "analyzer/knowledge_base.h"
#include "analyzer/profile.h"
#include "analyzer/report.h"
#include "analyzer/summary.h"
#include "collector/redactor.h"
#include "collector/run.h"
#include "collector/session.h"
#include "fleet/export_options.h"
#include "fleet/exporter.h"

namespace agenttrace::fleet {
class ExportSink;
}

namespace agenttrace::app {

// A recording's options and what this layer wires around it.
struct SessionOptions : collector::RunOptions {
  std::string kb_file;                  // --kb: extends the built-in knowledge base
  fleet::ExportOptions export_options;  // --export and its companions
};

// The built-in knowledge base, extended by `kb_file` when not empty.
// Throws agenttrace::Error.
analyzer::KnowledgeBase load_knowledge_base(const std::string& kb_file);

// Redaction as the knowledge base says (its secrets section, the variables
// of its credentials category), with the analyzer's value echo finding a
// known secret's encoded copies. `kb` must outlive the redactor.
std::unique_ptr<collector::Redactor> make_redactor(const analyzer::KnowledgeBase& kb);

// The path globs whose lookups keep their caller's stack: those of the
// fingerprint categories and of credentials.
std::vector<std::string> stack_paths(const analyzer::KnowledgeBase& kb);

class Session : private collector::SessionListener {
 public:
  // Loads the knowledge base, then the probes, opens the sinks and connects
  // the export; throws agenttrace::Error. `mode` as for TraceSession.
  explicit Session(const SessionOptions& options, const std::string& mode = "run");
  ~Session() override;
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // The recording: header, redactor, libraries, run().
  collector::TraceSession& recording() { return *recording_; }
  const analyzer::KnowledgeBase& knowledge_base() const { return kb_; }

  // After run(): the profile and findings (computed once), and what to print
  // at the end.
  const analyzer::Analysis& analysis();
  std::string end_report(const analyzer::Analysis& analysis) const;
  // With --export, after run(): what became of the exported messages.

 private:
  void file_completed(const std::string& path) override;
  void recording_ended(bool ran) override;
  void publish_findings(const analyzer::Analysis& analysis);
  void export_findings_of_file(const std::string& path);

  // Declared in the order the recorder's sinks must be torn down after:
  // the summary and profile first, then the export, then the recording.
  analyzer::KnowledgeBase kb_;
  std::unique_ptr<collector::TraceSession> recording_;
  std::unique_ptr<fleet::ExportSink> export_sink_;
  std::optional<fleet::ExportTotals> export_totals_;
  std::optional<analyzer::Analysis> analysis_;
  analyzer::SummaryBuilder summary_;
  analyzer::ProfileBuilder profile_;
};

}  // namespace agenttrace::app
