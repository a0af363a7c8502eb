#include "fleet/export_sink.h"

#include <algorithm>

#include "fleet/subjects.h"

namespace agenttrace::fleet {

ExportSink::ExportSink(const NatsSettings& settings, const ExportOptions& options, const std::string& host,
                       const std::string& session_id)
    : exporter_(settings, options, host_token(host), session_id),
      host_(host),
      url_(settings.url),
      drain_timeout_ms_(options.drain_timeout_ms) {}

void ExportSink::on_header(const trace::Header& header) {
  exporter_.enqueue("header", trace::RecordEncoding(trace::kRecordHeader, header));
  exporter_.start();
}

void ExportSink::on_event(const trace::Event& event) {
  // Subjects are made once per kind, not once per event.
  size_t c = std::min(static_cast<size_t>(event.body_case()), suffixes_.size() - 1);
  std::string& suffix = suffixes_[c];
  if (suffix.empty()) suffix = event_suffix(trace::event_kind(event));
  exporter_.enqueue(suffix, trace::RecordEncoding(trace::kRecordEvent, event));
}

std::chrono::steady_clock::time_point ExportSink::deadline() {
  if (!deadline_) deadline_ = std::chrono::steady_clock::now() + std::chrono::milliseconds(drain_timeout_ms_);
  return *deadline_;
}

void ExportSink::complete_trailer(trace::Trailer* trailer) {
  ExportTotals t = exporter_.wait_settled(deadline());
  trailer->set_exported(true);
  trailer->set_export_published(t.published);
  trailer->set_export_spooled(t.spooled);
  trailer->set_export_dropped(t.dropped);
  trailer->set_export_pending(t.pending);
}

void ExportSink::on_trailer(const trace::Trailer& trailer) {
  exporter_.enqueue("trailer", trace::RecordEncoding(trace::kRecordTrailer, trailer));
}

void ExportSink::publish_finding(std::string_view json) { exporter_.enqueue_bytes("findings", json); }

ExportTotals ExportSink::close() { return exporter_.close(deadline()); }

std::string export_summary(const ExportSink& sink, const ExportTotals& t) {
  std::string line = "export to " + sink.url() + " as " + sink.host() + ": " + std::to_string(t.published) + " of " +
                     std::to_string(t.enqueued) + " messages acknowledged";
  if (t.spooled) line += ", " + std::to_string(t.spooled) + " through the spool";
  if (t.duplicates) line += ", " + std::to_string(t.duplicates) + " resent and recognised as duplicates";
  if (t.dropped) line += ", " + std::to_string(t.dropped) + " LOST (counted: the spool was full or the server refused them)";
  if (t.pending) line += ", " + std::to_string(t.pending) + " not delivered yet, kept in " + sink.exporter().spool_path();
  if (!t.dropped && !t.pending) line += ", none lost";
  if (!t.stream_note.empty()) line += "; " + t.stream_note;
  if ((t.pending || t.dropped || !t.ever_connected) && !t.problem.empty()) line += " (" + t.problem + ")";
  return line;
}

}  // namespace agenttrace::fleet
