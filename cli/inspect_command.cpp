// agenttrace inspect FILE: static triage of a suspect script bundle or
// binary (analyzer/inspect.h). Nothing is run; the file is only read.
#include "analyzer/inspect.h"
#include "cli/commands.h"
#include "cli/output.h"
#include "cli/parse.h"
#include "common/error.h"
#include "common/strings.h"

namespace agenttrace::cli {

int inspect_command(const std::vector<std::string>& args) {
  std::string path, format = "text", output;
  CLI::App app{
      "Static triage of a script bundle (JavaScript, Python) or binary: encoded string tables (base64, hex, "
      "\\xNN escapes, with any single-byte XOR key) that hide host, time zone, environment or fingerprinting "
      "lists; invisible and look-alike Unicode and code that picks between look-alikes; references to "
      "fingerprint sources with their function. The file is streamed in " +
          human_bytes(analyzer::kReadChunkBytes) + " pieces and at most " +
          human_bytes(analyzer::kMaxInputMemory) +
          " of it and its decodings is held at once, whatever its size. Exit status: 0 nothing hidden "
          "found, 3 encoded tables, hidden characters or look-alike choices found, 125 error. See docs/inspect.md.",
      "inspect"};
  app.add_option("file", path, "the script, bundle or executable to inspect")->required();
  app.add_option("--format", format, "text or json (default text)")->check(CLI::IsMember({"text", "json"}));
  app.add_option("-o,--output", output, "write the report to FILE (default: standard output)")->type_name("FILE");
  if (!parse_or_throw(app, args)) return kExitOk;

  analyzer::InspectReport report = analyzer::inspect_file(path);
  std::string text =
      format == "json"
          ? trace::json_text(analyzer::inspect_json(report), 2) + "\n"
          : analyzer::inspect_text(report);
  write_output(output, text);
  return analyzer::is_suspicious(report) ? kExitFindings : kExitOk;
}

}  // namespace agenttrace::cli
