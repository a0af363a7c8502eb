// Files agenttrace creates for the user: traces, JSON streams, reports,
// payload and conversation dumps, watch directories.
//
// agenttrace runs as root and often writes where the traced program can
// write too (the working directory, /tmp). So a file is created without
// following a symlink at its last component and without replacing a file it
// did not create (O_CREAT|O_EXCL|O_NOFOLLOW), mode 0600, and handed to the
// invoking user (common/identity.h). An existing file is an error unless
// --force, which unlinks the name (a link itself, never its target) and
// then creates it exclusively all the same.
#pragma once

#include <string>

#include "common/unique_fd.h"

namespace agenttrace {

// Process-wide, set once at start-up from --force.
void set_replace_outputs(bool replace);
bool replace_outputs();

// Creates `path` for writing as above; throws agenttrace::Error (exit 125)
// with one sentence: an existing target, a symlink, no permission.
UniqueFd create_output_file(const std::string& path);
// The same inside a directory opened with open_output_directory.
UniqueFd create_output_file_in(int dir_fd, const std::string& dir_path, const std::string& name);

// Creates directory `path` (0700, the invoking user's) or opens it when it
// exists as a real directory (not a symlink) owned by that user or root;
// returns a descriptor of it (O_DIRECTORY|O_NOFOLLOW). Throws agenttrace::Error.
UniqueFd open_output_directory(const std::string& path);

// Writes all of `text` to `fd`; throws agenttrace::Error naming `path`.
void write_all(int fd, const std::string& path, const std::string& text);

}  // namespace agenttrace
