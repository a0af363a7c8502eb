// Command-line parsing shared by the subcommands: CLI11, with its errors
// turned into one sentence and agenttrace's usage exit status.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

namespace agenttrace::cli {

// Parses `args` with `app`. --help prints and returns false (exit 0); any
// other parse error throws agenttrace::Error with one sentence.
bool parse_or_throw(CLI::App& app, const std::vector<std::string>& args);

// CLI11 validator for sizes like 16M.
CLI::Validator size_validator();

}  // namespace agenttrace::cli
