// `--export`: the recording's sink that hands every record to the exporter
// as it is recorded (the same Record bytes the trace file holds), and the
// findings at the end. The closing record carries the export's counts, so
// a trace file says what reached the stream.
#pragma once

#include <array>
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "fleet/exporter.h"
#include "trace/sink.h"

namespace agenttrace::fleet {

class ExportSink : public trace::EventSink {
 public:
  // Checks the settings and prepares the spool; throws agenttrace::Error.
  ExportSink(const NatsSettings& settings, const ExportOptions& options, const std::string& host,
             const std::string& session_id);

  void on_header(const trace::Header& header) override;  // starts the export
  void on_event(const trace::Event& event) override;
  // Waits (up to --drain-timeout) for the events to be acknowledged, then
  // writes the counts into the closing record.
  void complete_trailer(trace::Trailer* trailer) override;
  void on_trailer(const trace::Trailer& trailer) override;

  // A finding, as its JSON object, to agenttrace.<host>.findings.
  void publish_finding(std::string_view json);
  // Delivers the rest until the drain deadline; what is left stays in the
  // spool.
  ExportTotals close();

  const Exporter& exporter() const { return exporter_; }
  const std::string& host() const { return host_; }
  const std::string& url() const { return url_; }

 private:
  std::chrono::steady_clock::time_point deadline();

  Exporter exporter_;
  std::string host_;
  std::string url_;
  int64_t drain_timeout_ms_;
  std::optional<std::chrono::steady_clock::time_point> deadline_;
  std::array<std::string, 64> suffixes_;  // "events.<kind>" by the event's body case
};

// One line for the end-of-run summary: where the messages went and what
// became of them ("1234 acknowledged, 56 through the spool, none lost").
std::string export_summary(const ExportSink& sink, const ExportTotals& totals);

}  // namespace agenttrace::fleet
