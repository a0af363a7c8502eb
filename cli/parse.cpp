#include "cli/parse.h"

#include <algorithm>

#include "common/error.h"
#include "common/output_file.h"
#include "common/strings.h"

namespace agenttrace::cli {

bool parse_or_throw(CLI::App& app, const std::vector<std::string>& args) {
  std::vector<std::string> reversed(args.rbegin(), args.rend());  // CLI11 takes them reversed
  // Every subcommand that writes files takes --force the same way.
  static bool force = false;
  if (!app.get_option_no_throw("--force"))
    app.add_flag("--force", force, "replace existing output files (never through a symbolic link)");
  try {
    app.parse(reversed);
    set_replace_outputs(force);
  } catch (const CLI::CallForHelp&) {
    fputs(app.help().c_str(), stdout);
    return false;
  } catch (const CLI::CallForAllHelp&) {
    fputs(app.help("", CLI::AppFormatMode::All).c_str(), stdout);
    return false;
  } catch (const CLI::CallForVersion& e) {
    // Asked for, so printed on stdout with success, not as an error.
    fprintf(stdout, "%s\n", e.what());
    return false;
  } catch (const CLI::ExtrasError& e) {
    std::string what = e.what();
    auto colon = what.find(':');
    std::string extras = colon == std::string::npos ? what : what.substr(colon + 2);
    throw Error("unexpected argument " + extras + " (see agenttrace " + app.get_name() + " --help)");
  } catch (const CLI::ParseError& e) {
    std::string what = e.what();
    if (!what.empty()) what[0] = static_cast<char>(tolower(what[0]));
    throw Error(what + " (see agenttrace " + (app.get_parent() ? app.get_name() + " " : std::string()) + "--help)");
  }
  return true;
}

CLI::Validator size_validator() {
  return CLI::Validator(
      [](std::string& s) -> std::string {
        return parse_size(s) ? std::string() : "'" + s + "' is not a size (e.g. 4096, 512K, 16M)";
      },
      "SIZE");
}

}  // namespace agenttrace::cli
