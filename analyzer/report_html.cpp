#include "analyzer/report.h"

namespace agenttrace::analyzer {

// Placeholder until the HTML report lands: the JSON report in a <pre>.
std::string report_html(const Analysis& a, const KnowledgeBase& kb) {
  std::string json = report_json(a, kb).dump(2, ' ', false, trace::Json::error_handler_t::replace);
  std::string escaped;
  for (char c : json) {
    if (c == '<') escaped += "&lt;";
    else if (c == '&') escaped += "&amp;";
    else escaped += c;
  }
  return "<!doctype html><meta charset=utf-8><title>agenttrace report</title><pre>" + escaped + "</pre>\n";
}

}  // namespace agenttrace::analyzer
