#include "common/output_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "common/error.h"
#include "common/identity.h"

namespace agenttrace {

namespace {

bool g_replace = false;

// Hands a new file or directory to the invoking user.
void give_to_owner(int fd, const std::string& path) {
  const auto& owner = output_owner();
  if (!owner) return;
  if (fchown(fd, owner->uid, owner->gid) != 0)
    throw Error("cannot give " + path + " to user " + owner->name + ": " + errno_text(errno));
}

std::string exists_message(const std::string& path) {
  return path + " exists; agenttrace does not replace a file it did not create (remove it, choose another name, or "
                "give --force)";
}

UniqueFd create_at(int dir_fd, const std::string& shown, const std::string& name) {
  constexpr int kFlags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;
  int fd = openat(dir_fd, name.c_str(), kFlags, 0600);
  if (fd < 0 && errno == EEXIST && g_replace) {
    struct stat st;
    if (fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode))
      throw Error("cannot write " + shown + ": it is a directory");
    // unlink removes a symlink itself, never what it points to; a name
    // planted again in between makes O_EXCL fail below.
    if (unlinkat(dir_fd, name.c_str(), 0) != 0 && errno != ENOENT)
      throw Error("cannot replace " + shown + ": " + errno_text(errno));
    fd = openat(dir_fd, name.c_str(), kFlags, 0600);
  }
  if (fd < 0) {
    int err = errno;
    if (err == EEXIST) throw Error(exists_message(shown));
    if (err == ELOOP) throw Error("cannot write " + shown + ": it is a symbolic link");
    throw Error("cannot create " + shown + ": " + errno_text(err));
  }
  UniqueFd out(fd);
  give_to_owner(out.get(), shown);
  return out;
}

}  // namespace

void set_replace_outputs(bool replace) { g_replace = replace; }
bool replace_outputs() { return g_replace; }

UniqueFd create_output_file(const std::string& path) {
  if (path.empty()) throw Error("an output file needs a name");
  size_t slash = path.rfind('/');
  std::string dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
  std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  if (name.empty() || name == "." || name == "..") throw Error("cannot write " + path + ": not a file name");
  UniqueFd d(open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!d.valid()) throw Error("cannot create " + path + ": " + dir + ": " + errno_text(errno));
  return create_at(d.get(), path, name);
}

UniqueFd create_output_file_in(int dir_fd, const std::string& dir_path, const std::string& name) {
  if (name.empty() || name.find('/') != std::string::npos || name == "." || name == "..")
    throw Error("cannot write " + dir_path + "/" + name + ": not a file name");
  return create_at(dir_fd, dir_path + "/" + name, name);
}

UniqueFd open_output_directory(const std::string& path) {
  if (path.empty()) throw Error("an output directory needs a name");
  bool created = mkdir(path.c_str(), 0700) == 0;
  if (!created && errno != EEXIST) throw Error("cannot create directory " + path + ": " + errno_text(errno));
  int fd = open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    struct stat st;
    bool link = lstat(path.c_str(), &st) == 0 && S_ISLNK(st.st_mode);
    if (err == ELOOP || err == ENOTDIR)
      throw Error("cannot write into " + path + ": it is " + (link ? "a symbolic link" : "not a directory"));
    throw Error("cannot open directory " + path + ": " + errno_text(err));
  }
  UniqueFd d(fd);
  if (created) {
    give_to_owner(d.get(), path);
    return d;
  }
  // An existing directory is written into only when it is the invoking
  // user's (or root's): another user's directory could be theirs to swap.
  struct stat st;
  if (fstat(d.get(), &st) != 0) throw Error("cannot inspect " + path + ": " + errno_text(errno));
  const auto& owner = output_owner();
  uid_t me = owner ? owner->uid : geteuid();
  if (st.st_uid != me && st.st_uid != 0)
    throw Error("cannot write into " + path + ": it belongs to uid " + std::to_string(st.st_uid) +
                ", not to the user agenttrace writes for");
  if ((st.st_mode & S_IWOTH) && !(st.st_mode & S_ISVTX))
    throw Error("cannot write into " + path + ": anyone may replace files in it (world-writable, no sticky bit)");
  return d;
}

void write_all(int fd, const std::string& path, const std::string& text) {
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw Error("cannot write " + path + ": " + errno_text(errno));
    }
    done += static_cast<size_t>(n);
  }
}

}  // namespace agenttrace
