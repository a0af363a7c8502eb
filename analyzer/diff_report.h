// Reports of `agenttrace diff`: a terminal report a person reads in one
// screen, JSON with every difference, JUnit XML for CI test views (one test
// case per variant compared with the base: it fails when the command's
// requests depend on the input beyond the value itself), and SARIF 2.1.0 for
// code-scanning interfaces (one result per suspicious difference). All are
// built from the same DiffReport, so every format says the same.
#pragma once

#include <string>

#include "analyzer/diff.h"
#include "trace/json.h"

namespace agenttrace::analyzer {

// The SARIF rule every suspicious difference is reported under.
inline constexpr const char* kInputDependentRule = "input-dependent-output";

// Suspicious differences first, per comparison, then what was expected and
// what was masked as noise. `color`: ANSI colours for a terminal.
std::string diff_report_text(const DiffReport& report, bool color);

trace::Json diff_report_json(const DiffReport& report);

// `suite`: the test suite's name ("agenttrace diff" when empty).
std::string diff_report_junit(const DiffReport& report, const std::string& suite = "");

// `artifact`: a URI the results are filed under (the command, a config
// file); code-scanning services want one. When empty, results carry logical
// locations only (request, part, location), which SARIF allows.
std::string diff_report_sarif(const DiffReport& report, const std::string& artifact = "");

}  // namespace agenttrace::analyzer
