// A file replaced whole: written to a temporary name in the same directory
// and renamed into place, so a reader polling for it (a test waiting for a
// ready file, a stand-in record, a certificate) sees all of it or nothing.
// For agenttrace's own working files; files it creates for the user go
// through common/output_file.h, which never replaces a file.
#pragma once

#include <sys/types.h>

#include <string>

namespace agenttrace {

// Writes `data` to `path` with exactly `mode` (set with fchmod, so the umask
// neither widens nor narrows it), never following a link at the temporary
// name. Throws agenttrace::Error; the temporary file is then removed.
void write_file_atomic(const std::string& path, const std::string& data, mode_t mode);

}  // namespace agenttrace
