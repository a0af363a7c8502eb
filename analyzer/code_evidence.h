// Code evidence joined to a run: after a live run (and in `analyze`, for a
// trace recorded on this host and boot), `agenttrace inspect`'s scanners read
// the code the traced processes executed:
//   * the script an interpreter ran (node, nodejs, bun, deno, python*): the
//     first argument that is not an option, resolved against the working
//     directory at exec, or the code given inline with -e/--eval/-p/-c; and
//     the script files it opened to read (the modules it imported);
//   * the bundle a single-file Bun executable (`bun build --compile`, the
//     native Claude Code CLI) carries after its `.bun` section.
// What it finds there (a look-alike chooser, an encoded table of hosts or
// zones) becomes the `covert-encoding-code` finding, joined, where stacks
// name JavaScript functions (--jit-symbols), to the lookups made from the
// flagged functions or the functions that call them.
//
// The files are the traced program's choice: they are opened with
// safe_open (regular files only, no FIFO or device, not on FUSE, bounded),
// after their path's symbolic links are resolved, and only when the user the
// command ran as could read them (owner, group or other bits), so a root
// agenttrace never quotes a file the traced user could not have read. The
// scan has a budget of time and bytes; what is left out is listed with why.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "analyzer/inspect.h"

namespace agenttrace::analyzer {

struct Profile;

struct CodeSource {
  uint32_t pid = 0;
  uint32_t root = 0;
  std::string label;        // what reports call it: the path, or "node -e" for inline code
  std::string path;         // the file to read; empty for inline code
  std::string inline_code;  // -e/-c code, from argv
  std::string inline_option;  // the option that gave it: "-e", "--eval", "-c", "eval"
  uint64_t offset = 0;      // where the code starts in the file (a Bun bundle)
  bool executable = false;  // a program's own executable: code only if it carries a Bun bundle
};

struct CodeInspection {
  CodeSource source;
  bool inspected = false;
  std::string not_inspected;  // why not (one sentence), when !inspected
  bool cut_short = false;     // the time budget ran out inside it
  uint64_t bytes = 0;         // read and scanned
  double seconds = 0;
  InspectReport report;
  // Functions holding what inspect flagged, and the functions calling them
  // (JavaScript and Python definitions, best effort): the names a JIT stack
  // frame is matched against.
  std::set<std::string> flagged_functions;
};

struct CodeBudget {
  double seconds = 10;                    // for all files of a run together
  uint64_t max_file_bytes = 512ull << 20;  // a larger file is not read
  size_t max_sources = 128;               // distinct files and inline programs
  // Files up to this size are also read whole once more to find the
  // functions that call a flagged one; larger ones are joined by the flagged
  // functions' own names only.
  uint64_t max_join_bytes = 64ull << 20;
};

// Whether a path names a script file: .js .mjs .cjs .ts .mts .cts .jsx .tsx
// .py (absolute paths only).
bool is_code_file(const std::string& path);

// The code each traced process ran, one entry per distinct file or inline
// program, in the order the processes started.
std::vector<CodeSource> code_sources(const Profile& p);

// Reads and scans each source within `budget` (see the top of this file).
std::vector<CodeInspection> inspect_code(const Profile& p, const CodeBudget& budget = {});

// A JIT frame's function name: "JS:~gatherFacts file:///x.mjs:11:28" ->
// "gatherFacts"; "" for a frame that is not JavaScript.
std::string js_function_of_frame(const std::string& symbol);

// What inspect flagged in a report, one line each ("a look-alike chooser
// ..."), in file order; empty when nothing counts as suspicious.
std::vector<std::string> flagged_lines(const CodeInspection& c);

}  // namespace agenttrace::analyzer
