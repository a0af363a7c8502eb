#include "cli/parse.h"

#include <algorithm>

#include "common/error.h"
#include "common/output_file.h"
#include "common/strings.h"

namespace agenttrace::cli {

namespace {

bool is_placeholder_word(std::string_view w) {
  if (w.empty()) return false;
  for (char c : w)
    if (!(isupper(static_cast<unsigned char>(c)) || isdigit(static_cast<unsigned char>(c)) || c == '_')) return false;
  return isupper(static_cast<unsigned char>(w[0]));
}

// "SRC[:DST][:ro]: make a host path visible": the value's form leads the
// description, up to ": ", and has a capital letter and no space.
std::string leading_form(const std::string& desc) {
  auto end = desc.find(": ");
  if (end == std::string::npos || end == 0) return {};
  std::string form = desc.substr(0, end);
  if (form.find(' ') != std::string::npos) return {};
  if (std::none_of(form.begin(), form.end(), [](char c) { return isupper(static_cast<unsigned char>(c)); })) return {};
  return form;
}

// What an option's value is called in --help: FILE, DIR, SIZE, N, the
// choices of a set (text|json), or the form its description starts with;
// never CLI11's type names (TEXT, INT, TEXT:SIZE).
std::string placeholder(const CLI::Option* opt) {
  std::string type = opt->get_type_name();
  std::string base = type.substr(0, type.find(':'));
  std::string validators = type.find(':') == std::string::npos ? "" : type.substr(type.find(':') + 1);
  if (!validators.empty() && validators.front() == '{' && validators.back() == '}') {
    std::string choices = validators.substr(1, validators.size() - 2);
    std::replace(choices.begin(), choices.end(), ',', '|');
    return choices;
  }
  if (is_placeholder_word(validators)) return validators;  // a validator's name: SIZE, DIR
  static const std::vector<std::string> kCliTypes = {"TEXT", "INT", "UINT", "FLOAT", "BOOLEAN", "ENUM"};
  bool generic = std::find(kCliTypes.begin(), kCliTypes.end(), base) != kCliTypes.end();
  if (!generic && !base.empty()) return base;  // named where the option is made (USER)
  std::string desc = opt->get_description();
  if (std::string form = leading_form(desc); !form.empty()) return form;
  // The first value word the description uses: "stream ... to FILE".
  static const std::vector<std::string> kWords = {"FILE", "DIR", "GLOB", "NAME", "PATH", "TIME", "K=V", "VAR", "ZONE"};
  size_t best = std::string::npos;
  std::string word;
  for (const auto& w : kWords) {
    for (size_t at = desc.find(w); at != std::string::npos; at = desc.find(w, at + 1)) {
      bool starts = at == 0 || !isalnum(static_cast<unsigned char>(desc[at - 1]));
      bool ends = at + w.size() == desc.size() || !isalnum(static_cast<unsigned char>(desc[at + w.size()]));
      if (starts && ends && at < best) {
        best = at;
        word = w;
      }
      if (starts && ends) break;
    }
  }
  if (!word.empty()) return word;
  if (desc.find("nats://") != std::string::npos) return "URL";
  if (base == "INT" || base == "UINT") return "N";
  return "VALUE";
}

std::string upper(std::string s) {
  for (char& c : s) c = static_cast<char>(toupper(static_cast<unsigned char>(c)));
  return s;
}

// One usage line, agenttrace's own (the description carries it where it says
// more than options and operands), and value placeholders a reader can use.
class HelpFormatter : public CLI::Formatter {
 public:
  std::string make_usage(const CLI::App* app, std::string) const override {
    if (app->get_description().find("usage:") != std::string::npos) return "";
    std::string line = "\nusage: agenttrace";
    if (app->get_name() != "agenttrace") line += " " + app->get_name();
    line += " [OPTIONS]";
    for (const CLI::Option* p : app->get_options([](const CLI::Option* o) { return o->get_positional(); })) {
      std::string name = upper(p->get_name(true, false));
      if (p->get_expected_max() >= CLI::detail::expected_max_vector_size) name += "...";
      line += " " + (p->get_required() ? name : "[" + name + "]");
    }
    return line + "\n";
  }
  std::string make_option_name(const CLI::Option* opt, bool is_positional) const override {
    return is_positional ? upper(opt->get_name(true, false)) : opt->get_name(false, true);
  }
  std::string make_option_opts(const CLI::Option* opt) const override {
    if (opt->get_positional() || opt->get_type_size() == 0 || opt->get_type_name().empty()) return "";  // a flag
    std::string out = " " + placeholder(opt);
    if (opt->get_expected_max() == CLI::detail::expected_max_vector_size) out += " ...";
    if (opt->get_required()) out += " (required)";
    return out;
  }
  std::string make_option_desc(const CLI::Option* opt) const override {
    std::string desc = opt->get_description();
    std::string type = opt->get_type_name();
    bool generic = type.rfind("TEXT", 0) == 0 || type.rfind("INT", 0) == 0 || type.rfind("UINT", 0) == 0;
    std::string form = leading_form(desc);
    if (generic && !form.empty() && placeholder(opt) == form) return desc.substr(form.size() + 2);
    return desc;
  }
};

}  // namespace

bool parse_or_throw(CLI::App& app, const std::vector<std::string>& args) {
  app.formatter(std::make_shared<HelpFormatter>());
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
