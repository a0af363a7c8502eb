// The escape suite: each program in samples/escape/ tries one way out of
// `agenttrace sandbox`. Each test asserts the exact error the attempt got,
// that the host is unchanged, and what the trace and the
// sandbox-escape-attempt rule show of it. The command runs as nobody
// (65534): the tests run agenttrace with a clean environment, without
// SUDO_UID.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstddef>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "../support/agenttrace_runner.h"

namespace agenttrace::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsSupersetOf;
using ::testing::UnorderedElementsAre;

namespace fs = std::filesystem;

const std::string kEscape = std::string(SAMPLES_DIR) + "/escape/";
constexpr uid_t kNobody = 65534;

std::string quoted(const std::string& word) {
  std::string out = "'";
  for (char c : word) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

struct Escape {
  int exit_code = -1;
  std::string out, err;
  Json report;
  Json header;  // the trace's
  std::vector<Json> events;
};

// A workspace the command's uid owns.
struct Workspace {
  TempDir dir;
  Workspace() {
    if (chown(dir.path().c_str(), kNobody, kNobody) != 0) throw std::runtime_error("chown workspace");
  }
};

// `agenttrace sandbox ARGS -- CMD` in `ws`, with its report, events and
// trace kept in a directory of the test's own.
Escape run_escape(const Workspace& ws, const std::vector<std::string>& args, const std::vector<std::string>& command) {
  TempDir out;
  std::string cmd = "cd " + ws.dir.path() + " && env -i PATH=/usr/local/bin:/usr/bin:/bin " +
                    std::string(AGENTTRACE_BIN) + " sandbox -q --format json -o " + out.file("report") + " --json " +
                    out.file("events") + " --trace " + out.file("trace.atrace");
  for (const auto& a : args) cmd += " " + quoted(a);
  cmd += " --";
  for (const auto& c : command) cmd += " " + quoted(c);
  cmd += " > " + out.file("out") + " 2> " + out.file("err");
  Escape r;
  int rc = system(cmd.c_str());
  r.exit_code = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  r.out = slurp(out.file("out"));
  r.err = slurp(out.file("err"));
  r.report = Json::parse(slurp(out.file("report")), nullptr, false);
  std::string dump = "'" + std::string(AGENTTRACE_BIN) + "' dump " + out.file("trace.atrace") + " 2>/dev/null | head -1 > " +
                     out.file("header");
  if (system(dump.c_str()) == 0) r.header = Json::parse(slurp(out.file("header")), nullptr, false);
  std::istringstream lines(slurp(out.file("events")));
  std::string line;
  while (std::getline(lines, line))
    if (!line.empty()) r.events.push_back(Json::parse(line));
  return r;
}

// "open PATH = ERROR" for every open of `path` by the command.
std::vector<std::string> opens_of(const Escape& r, const std::string& path) {
  std::vector<std::string> out;
  for (const auto& e : of_kind(r.events, "open"))
    if (e["path"] == path) out.push_back(brief(e));
  return out;
}

// "connect ADDRESS = ERROR" for the command's connects.
std::vector<std::string> connects(const Escape& r) {
  std::vector<std::string> out;
  for (const auto& e : of_kind(r.events, "connect")) {
    const Json& a = e["addr"];
    std::string where = a.value("family", "") == "unix" ? a.value("path", "")
                                                        : a.value("address", "") + ":" + std::to_string(a.value("port", 0));
    out.push_back("connect " + where + (e["result"].get<int64_t>() < 0 ? " = " + e["error"].get<std::string>() : ""));
  }
  return out;
}

// "NAME[ PATH] = ERROR" (or "= N") for the command's system_call events,
// "ia32 NAME = ERROR" for the 32-bit ABI.
std::vector<std::string> system_calls(const Escape& r) {
  std::vector<std::string> out;
  for (const auto& e : of_kind(r.events, "system_call")) {
    int64_t result = e["result"];
    out.push_back((e["abi"] == "ia32" ? "ia32 " : "") + e["name"].get<std::string>() +
                  (e.contains("path") ? " " + e["path"].get<std::string>() : "") + " = " +
                  (result < 0 ? e["error"].get<std::string>() : std::to_string(result)));
  }
  return out;
}

std::vector<std::string> escape_findings(const Escape& r) {
  std::vector<std::string> out;
  if (!r.report.is_object()) return out;
  for (const auto& f : r.report["findings"])
    if (f["rule"] == "sandbox-escape-attempt") out.push_back(f["severity"].get<std::string>() + " " + f["message"].get<std::string>());
  return out;
}

TEST(Escape, WritesOutsideTheWorkspaceStayInsideOrAreRefused) {
  REQUIRE_BPF();
  Workspace ws;
  std::string tag = "agenttrace-escape-" + std::to_string(getpid());
  std::string host_home = "/home/" + tag;
  fs::create_directories(host_home);
  Escape r = run_escape(ws, {}, {kEscape + "write_file", "/tmp/" + tag, "/root/" + tag, host_home + "/x",
                                 "/etc/" + tag, "/usr/" + tag, "/etc/passwd", "written-in-workspace"});
  std::error_code ec;
  fs::remove_all(host_home, ec);
  EXPECT_EQ(r.exit_code, 1) << r.err;  // the private tmpfs and the workspace took writes
  EXPECT_EQ(r.out, "write /tmp/" + tag + ": succeeded\n" +
                       "write /root/" + tag + ": succeeded\n" +
                       "write " + host_home + "/x: errno ENOENT\n" +
                       "write /etc/" + tag + ": errno EROFS\n" +
                       "write /usr/" + tag + ": errno EROFS\n" +
                       "write /etc/passwd: errno EACCES\n" +
                       "write written-in-workspace: succeeded\n");
  // The host saw none of it but the workspace's file.
  EXPECT_FALSE(fs::exists("/tmp/" + tag));
  EXPECT_FALSE(fs::exists("/root/" + tag));
  EXPECT_FALSE(fs::exists("/etc/" + tag));
  EXPECT_FALSE(fs::exists("/usr/" + tag));
  EXPECT_EQ(slurp(ws.dir.file("written-in-workspace")), "escaped\n");
  EXPECT_THAT(opens_of(r, "/etc/" + tag), ElementsAre("open /etc/" + tag + " = EROFS"));
  EXPECT_THAT(opens_of(r, "/etc/passwd"), ElementsAre("open /etc/passwd = EACCES"));
  EXPECT_THAT(escape_findings(r),
              IsSupersetOf({HasSubstr("tried to write /etc/" + tag + ", which the sandbox shows read-only."),
                            HasSubstr("tried to write /usr/" + tag + ", which the sandbox shows read-only."),
                            HasSubstr("tried to write /etc/passwd, which the sandbox shows read-only."),
                            HasSubstr("tried to write " + host_home + "/x, in the host's home directories the sandbox hides.")}));
}

TEST(Escape, RemountingEtcIsRefused) {
  REQUIRE_BPF();
  Workspace ws;
  Escape r = run_escape(ws, {}, {kEscape + "remount_etc"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "remount /etc: errno EPERM\nremount /: errno EPERM\nwrite /etc/passwd: errno EACCES\n");
  EXPECT_THAT(opens_of(r, "/etc/passwd"), ElementsAre("open /etc/passwd = EACCES"));
  EXPECT_THAT(system_calls(r), ElementsAre("mount /etc = EPERM", "mount / = EPERM"));
  std::string who = "high remount_etc (pid " + std::to_string(r.report["findings"][0].value("pid", 0)) + ") ";
  EXPECT_THAT(escape_findings(r), UnorderedElementsAre(who + "tried to write /etc/passwd, which the sandbox shows read-only.",
                                                       who + "called mount (/etc), which the sandbox refuses (EPERM, 2 times)."));
}

TEST(Escape, HostHomesAndSshKeysAreNotThere) {
  REQUIRE_BPF();
  Workspace ws;
  std::string home = "/home/agenttrace-escape-" + std::to_string(getpid());
  fs::create_directories(home + "/.ssh");
  { std::ofstream(home + "/.ssh/id_ed25519") << "-----BEGIN OPENSSH PRIVATE KEY-----\n"; }
  Escape r = run_escape(ws, {}, {kEscape + "read_file", home + "/.ssh/id_ed25519", "/root/.bashrc"});
  std::error_code ec;
  fs::remove_all(home, ec);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "read " + home + "/.ssh/id_ed25519: errno ENOENT\nread /root/.bashrc: errno ENOENT\n");
  EXPECT_THAT(opens_of(r, home + "/.ssh/id_ed25519"), ElementsAre("open " + home + "/.ssh/id_ed25519 = ENOENT"));
  EXPECT_THAT(escape_findings(r),
              IsSupersetOf({HasSubstr("tried to read " + home + "/.ssh/id_ed25519, in the host's home directories"),
                            HasSubstr("tried to read /root/.bashrc, in the host's home directories")}));
}

TEST(Escape, HostUnixSocketsAreUnreachable) {
  REQUIRE_BPF();
  Workspace ws;
  std::string path = "/run/agenttrace-escape-" + std::to_string(getpid()) + ".sock";
  std::string abstract = "agenttrace-escape-" + std::to_string(getpid());
  auto listen_on = [](const std::string& name, bool is_abstract) {
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path + is_abstract, name.data(), name.size());
    socklen_t len = offsetof(sockaddr_un, sun_path) + is_abstract + name.size() + !is_abstract;
    EXPECT_EQ(bind(s, reinterpret_cast<sockaddr*>(&sa), len), 0);
    EXPECT_EQ(listen(s, 4), 0);
    return s;
  };
  int on_path = listen_on(path, false), on_name = listen_on(abstract, true);
  chmod(path.c_str(), 0777);  // anyone on the host could connect
  Escape r = run_escape(ws, {}, {kEscape + "unix_connect", path, abstract});
  close(on_path);
  close(on_name);
  unlink(path.c_str());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "connect unix path: errno ENOENT\nconnect unix abstract: errno ECONNREFUSED\n");
  EXPECT_THAT(connects(r), ElementsAre("connect " + path + " = ENOENT", "connect @" + abstract + " = ECONNREFUSED"));
  EXPECT_THAT(escape_findings(r),
              UnorderedElementsAre(HasSubstr(") tried to reach the unix socket " + path + ", which is not in the sandbox (ENOENT)."),
                          HasSubstr(") tried to reach the unix socket @" + abstract + ", which is not in the sandbox (ECONNREFUSED).")));
}

TEST(Escape, OnlyLoopbackExists) {
  REQUIRE_BPF();
  Workspace ws;
  Escape r = run_escape(ws, {}, {kEscape + "net_connect", "192.0.2.1", "80"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "connect 192.0.2.1:80: errno ENETUNREACH\n");
  EXPECT_THAT(connects(r), ElementsAre("connect 192.0.2.1:80 = ENETUNREACH"));
  EXPECT_THAT(escape_findings(r), ElementsAre(HasSubstr("tried to leave the sandbox's network namespace for 192.0.2.1:80.")));
}

TEST(Escape, SetuidRootBinaryGivesNothing) {
  REQUIRE_BPF();
  Workspace ws;
  std::string target = ws.dir.file("show_ids_root");
  fs::copy_file(kEscape + "show_ids", target);
  ASSERT_EQ(chown(target.c_str(), 0, 0), 0);
  ASSERT_EQ(chmod(target.c_str(), 04755), 0);
  Escape r = run_escape(ws, {}, {kEscape + "setuid_exec", target});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  // uid 0 does not exist in the sandbox's user namespace at all.
  EXPECT_EQ(r.out, "uid 65534 euid 65534 suid 65534\nsetuid(0): errno EINVAL\n");
  int execs = 0;
  for (const auto& e : of_kind(r.events, "exec")) execs += e["path"] == target;
  EXPECT_EQ(execs, 1) << "the trace shows the setuid binary run";
  EXPECT_THAT(system_calls(r), ElementsAre("setuid = EINVAL"));
  EXPECT_THAT(escape_findings(r), ElementsAre(HasSubstr(") tried to change its user or group with setuid (EINVAL).")));
}

TEST(Escape, NoNewUserNamespaceNoCapabilities) {
  REQUIRE_BPF();
  Workspace ws;
  Escape r = run_escape(ws, {}, {kEscape + "userns_caps"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "unshare(CLONE_NEWUSER): errno EPERM\nclone(CLONE_NEWUSER): errno EPERM\n");
  EXPECT_THAT(system_calls(r), ElementsAre("unshare = EPERM", "clone = EPERM"));
  EXPECT_THAT(escape_findings(r),
              UnorderedElementsAre(HasSubstr(") tried to create a new user namespace with clone, which the sandbox refuses (EPERM)."),
                          HasSubstr(") tried to create a new user namespace with unshare, which the sandbox refuses (EPERM).")));
  Escape caps = run_escape(ws, {}, {"sh", "-c", "id -u; id -G; grep -E '^Cap(Inh|Prm|Eff|Bnd|Amb)|^NoNewPrivs|^Seccomp:' /proc/self/status"});
  EXPECT_EQ(caps.exit_code, 0) << caps.err;
  EXPECT_EQ(caps.out,
            "65534\n65534\nCapInh:\t0000000000000000\nCapPrm:\t0000000000000000\nCapEff:\t0000000000000000\n"
            "CapBnd:\t0000000000000000\nCapAmb:\t0000000000000000\nNoNewPrivs:\t1\nSeccomp:\t2\n");
}

TEST(Escape, WithoutAUserNamespaceTheCommandStillHasNothing) {
  REQUIRE_BPF();
  Workspace ws;
  const std::string status = "grep -E '^Cap(Prm|Eff|Bnd|Amb)|^NoNewPrivs|^Seccomp:' /proc/self/status";
  Escape r = run_escape(ws, {"--no-user-namespace"}, {"sh", "-c", "id -u; id -G; " + status});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out,
            "65534\n65534\nCapPrm:\t0000000000000000\nCapEff:\t0000000000000000\nCapBnd:\t0000000000000000\n"
            "CapAmb:\t0000000000000000\nNoNewPrivs:\t1\nSeccomp:\t2\n");
  ASSERT_TRUE(r.header.is_object());
  EXPECT_EQ(r.header["options"][2], "--isolation=uid,uid=65534,gid=65534,workspace=rw");
  Escape escape = run_escape(ws, {"--no-user-namespace"}, {kEscape + "bpf_unfilter"});
  EXPECT_EQ(escape.out, "bpf(BPF_MAP_GET_NEXT_ID): errno EPERM\nbpf(BPF_MAP_GET_FD_BY_ID): errno EPERM\n");
  Escape userns = run_escape(ws, {}, {"true"});
  EXPECT_EQ(userns.header["options"][2], "--isolation=user-namespace,uid=65534,gid=65534,workspace=rw");
}

TEST(Escape, AgenttraceCannotBeKilledOrTraced) {
  REQUIRE_BPF();
  Workspace ws;
  // The test is agenttrace's ancestor: a host process the command must not reach.
  Escape r = run_escape(ws, {}, {kEscape + "kill_tracer", std::to_string(getpid())});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "kill agenttrace: errno ESRCH\nptrace agenttrace: errno ESRCH\nptrace init: errno EPERM\n");
  EXPECT_TRUE(r.report.is_object()) << "agenttrace finished its report";
  EXPECT_THAT(system_calls(r), ElementsAre("kill = ESRCH", "ptrace = ESRCH", "ptrace = EPERM"));
  std::string pid = std::to_string(getpid());
  EXPECT_THAT(escape_findings(r),
              UnorderedElementsAre(HasSubstr(") tried to signal process " + pid + ", outside the sandbox (ESRCH)."),
                          HasSubstr(") tried to ptrace process 1 and " + pid + " (ESRCH).")));
}

TEST(Escape, BpfModulesSysctlAnd32BitAbiAreRefused) {
  REQUIRE_BPF();
  Workspace ws;
  Escape bpf = run_escape(ws, {}, {kEscape + "bpf_unfilter"});
  EXPECT_EQ(bpf.out, "bpf(BPF_MAP_GET_NEXT_ID): errno EPERM\nbpf(BPF_MAP_GET_FD_BY_ID): errno EPERM\n");
  EXPECT_EQ(bpf.exit_code, 0) << bpf.err;
  EXPECT_THAT(system_calls(bpf), ElementsAre("bpf = EPERM", "bpf = EPERM"));
  EXPECT_THAT(escape_findings(bpf), ElementsAre(HasSubstr(") called bpf, which the sandbox refuses (EPERM, 2 times).")));
  Escape mod = run_escape(ws, {}, {kEscape + "load_module"});
  EXPECT_EQ(mod.out, "finit_module: errno EPERM\ninit_module: errno EPERM\ndelete_module: errno EPERM\n");
  EXPECT_THAT(system_calls(mod), ElementsAre("finit_module = EPERM", "init_module = EPERM", "delete_module ext4 = EPERM"));
  EXPECT_THAT(escape_findings(mod), UnorderedElementsAre(HasSubstr(") called delete_module (ext4), which the sandbox refuses (EPERM, 1 time)."),
                                                HasSubstr(") called finit_module, which the sandbox refuses (EPERM, 1 time)."),
                                                HasSubstr(") called init_module, which the sandbox refuses (EPERM, 1 time).")));
  Escape sys = run_escape(ws, {}, {kEscape + "write_sysctl"});
  EXPECT_EQ(sys.out,
            "write /proc/sys/kernel/core_pattern: errno EACCES\nwrite /proc/sys/vm/drop_caches: errno EACCES\n"
            "write /proc/sysrq-trigger: errno ENOENT\nwrite /sys/kernel/mm/transparent_hugepage/enabled: errno EROFS\n");
  EXPECT_THAT(opens_of(sys, "/proc/sys/kernel/core_pattern"), ElementsAre("open /proc/sys/kernel/core_pattern = EACCES"));
  EXPECT_THAT(escape_findings(sys), IsSupersetOf({HasSubstr("tried to write /proc/sys/kernel/core_pattern"),
                                                  HasSubstr("tried to write /sys/kernel/mm/transparent_hugepage/enabled")}));
  Escape abi = run_escape(ws, {}, {kEscape + "abi32"});
  EXPECT_EQ(abi.out, "int 0x80 getuid32: errno EPERM\n");
  EXPECT_THAT(system_calls(abi), ElementsAre("ia32 getuid32 = EPERM"));
  EXPECT_THAT(escape_findings(abi),
              ElementsAre(HasSubstr(") used the 32-bit system-call ABI (getuid32), which the sandbox refuses (EPERM).")));
}

TEST(Escape, ForkBombStopsAtTheProcessLimit) {
  REQUIRE_BPF();
  Workspace ws;
  Escape r = run_escape(ws, {"--limit-procs", "40"}, {kEscape + "fork_bomb"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  // 40 processes of uid 65534 in the sandbox's user namespace: its init
  // (which runs as that uid there), the bomb itself and 38 children.
  EXPECT_EQ(r.out, "forked 38\nfork: errno EAGAIN\n");
  int forks = 0;
  for (const auto& e : of_kind(r.events, "fork")) forks += !e["thread"].get<bool>();
  EXPECT_EQ(forks, 38);
  EXPECT_THAT(system_calls(r), ElementsAre("clone = EAGAIN"));
  EXPECT_THAT(escape_findings(r), ElementsAre(HasSubstr(") ran into the sandbox's process limit: 1 clone calls refused (EAGAIN).")));
}

TEST(Escape, FileSizeLimitStopsFillingTheDisk) {
  REQUIRE_BPF();
  Workspace ws;
  Escape r = run_escape(ws, {"--limit-file-size", "1M"}, {kEscape + "fill_disk", "/tmp/fill"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "wrote 1048576\nwrite past the limit: errno EFBIG\n");
}

TEST(Escape, PolicyGatesOnEscapeAttempts) {
  REQUIRE_BPF();
  Workspace ws;
  TempDir policy_dir;
  std::string policy = policy_dir.file("no-escapes.yaml");
  { std::ofstream(policy) << "version: 1\ndeny:\n  findings: [sandbox-escape-attempt]\n"; }
  Escape tried = run_escape(ws, {"--policy", policy}, {kEscape + "net_connect", "192.0.2.1", "443"});
  EXPECT_EQ(tried.exit_code, 3) << tried.err;
  ASSERT_TRUE(tried.report.contains("policy")) << tried.err;
  EXPECT_THAT(tried.report["policy"].dump(), HasSubstr("tried to leave the sandbox's network namespace for 192.0.2.1:443."));
  Escape quiet = run_escape(ws, {"--policy", policy}, {"sh", "-c", "echo hi > in-workspace; cat /etc/hostname"});
  EXPECT_EQ(quiet.exit_code, 0) << quiet.err;
  EXPECT_EQ(quiet.out, "agenttrace-sandbox\n");
  EXPECT_THAT(escape_findings(quiet), ::testing::IsEmpty());
}

TEST(Escape, HomeWorkspaceAndBindsAreWhatWasGivenOnEveryRun) {
  REQUIRE_BPF();
  Workspace ws;
  TempDir seed, extra;
  fs::create_directories(seed.path() + "/.config");
  { std::ofstream(seed.path() + "/.config/settings") << "seeded\n"; }
  chmod((seed.path() + "/.config/settings").c_str(), 0600);  // root's own: the copy is the command's
  { std::ofstream(ws.dir.file("in-workspace")) << "original\n"; }
  { std::ofstream(extra.file("data")) << "extra\n"; }
  chmod(extra.path().c_str(), 0755);
  const std::string script =
      "echo $HOME; cat $HOME/.config/settings; ls $HOME/left-behind 2>&1; touch $HOME/left-behind; "
      "cat in-workspace; echo changed > in-workspace || echo workspace-refused; cat /tmp/extra/data; "
      "echo x > /tmp/extra/new 2>/dev/null || echo bind-refused";
  const std::vector<std::string> args = {"--home-from", seed.path(), "--workspace-mode", "copy",
                                         "--bind", extra.path() + ":/tmp/extra:ro"};
  std::string expected = "/home/agent\nseeded\nls: cannot access '/home/agent/left-behind': No such file or directory\n"
                         "original\nextra\nbind-refused\n";
  for (int run = 0; run < 2; ++run) {
    Escape r = run_escape(ws, args, {"sh", "-c", script});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, expected) << "run " << run + 1 << " sees what the first saw";
  }
  // Nothing went back: the seed, the workspace and the bound directory are as they were.
  EXPECT_FALSE(fs::exists(seed.path() + "/left-behind"));
  EXPECT_EQ(slurp(ws.dir.file("in-workspace")), "original\n");
  EXPECT_FALSE(fs::exists(extra.file("new")));
  // A destination in the read-only host must exist there.
  Escape missing = run_escape(ws, {"--bind", extra.path() + ":/nonexistent-agenttrace/extra"}, {"true"});
  EXPECT_EQ(missing.exit_code, 125);
  EXPECT_THAT(missing.err, HasSubstr("cannot create /nonexistent-agenttrace in the sandbox: Read-only file system "
                                     "(a destination must exist on the host or lie under /tmp, /var/tmp, /run or HOME)"));
  Escape ro = run_escape(ws, {"--workspace-mode", "ro"}, {"sh", "-c", "cat in-workspace; echo x > in-workspace"});
  EXPECT_EQ(ro.out, "original\n");
  EXPECT_THAT(ro.err, HasSubstr("Read-only file system"));
  EXPECT_EQ(slurp(ws.dir.file("in-workspace")), "original\n");
}

TEST(Escape, BadSandboxOptionsFailWithOneSentence) {
  REQUIRE_BPF();
  Workspace ws;
  Escape r = run_escape(ws, {"--limit-file-size", "lots"}, {"true"});
  EXPECT_EQ(r.exit_code, 125);
  EXPECT_THAT(r.err, HasSubstr("--limit-file-size lots: expected a size such as 1G, 512M, 64K or bytes"));
  r = run_escape(ws, {"--bind", "/nonexistent-agenttrace:/x"}, {"true"});
  EXPECT_EQ(r.exit_code, 125);
  EXPECT_THAT(r.err, HasSubstr("--bind /nonexistent-agenttrace:/x: /nonexistent-agenttrace: No such file or directory"));
}

}  // namespace
}  // namespace agenttrace::testing
