#include "analyzer/knowledge_base.h"

#include <gtest/gtest.h>

#include <fstream>

#include "../support/temp_dir.h"
#include "common/error.h"

namespace agenttrace::analyzer {
namespace {

std::string parse_error(const std::string& yaml) {
  try {
    KnowledgeBase::parse(yaml, "test.yaml");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

bool in(const KnowledgeBase& kb, CategorySet set, const char* id) {
  int i = kb.index_of(id);
  return i >= 0 && (set & (CategorySet{1} << i));
}

TEST(KnowledgeBase, BuiltinClassifiesTheUsualSuspects) {
  auto kb = KnowledgeBase::builtin();
  EXPECT_TRUE(in(kb, kb.classify_env("TZ"), "timezone"));
  EXPECT_TRUE(in(kb, kb.classify_env("LC_TIME"), "locale"));
  EXPECT_TRUE(in(kb, kb.classify_env("HTTPS_PROXY"), "proxy"));
  EXPECT_TRUE(in(kb, kb.classify_env("ANTHROPIC_BASE_URL"), "api_endpoint"));
  EXPECT_TRUE(in(kb, kb.classify_env("GITHUB_TOKEN"), "credentials"));
  EXPECT_TRUE(in(kb, kb.classify_env("GITHUB_ACTIONS"), "ci"));
  EXPECT_EQ(kb.classify_env("EDITOR"), 0u);
  EXPECT_TRUE(in(kb, kb.classify_path("/etc/localtime"), "timezone"));
  EXPECT_TRUE(in(kb, kb.classify_path("/usr/share/zoneinfo/Asia/Shanghai"), "timezone"));
  EXPECT_TRUE(in(kb, kb.classify_path("/etc/machine-id"), "host_identity"));
  EXPECT_TRUE(in(kb, kb.classify_path("/proc/self/cgroup"), "host_identity"));
  EXPECT_TRUE(in(kb, kb.classify_path("/sys/class/dmi/id/product_uuid"), "host_identity"));
  EXPECT_TRUE(in(kb, kb.classify_path("/root/.ssh/id_ed25519"), "credentials"));
  EXPECT_TRUE(in(kb, kb.classify_path("/home/dev/.aws/credentials"), "credentials"));
  EXPECT_TRUE(in(kb, kb.classify_path("/proc/1234/environ"), "environment_block"));
  EXPECT_TRUE(in(kb, kb.classify_path("/etc/resolv.conf"), "network_config"));
  EXPECT_EQ(kb.classify_path("/usr/lib/x86_64-linux-gnu/libc.so.6"), 0u);
  EXPECT_TRUE(in(kb, kb.classify_syscall("uname"), "host_identity"));
}

// What the published agents that scripts/fetch-agents.sh brings were seen to
// read beyond the first knowledge base (Qwen Code 0.15 in a sandbox).
TEST(KnowledgeBase, WhatRealAgentsRead) {
  auto kb = KnowledgeBase::builtin();
  EXPECT_TRUE(in(kb, kb.classify_env("NODE_EXTRA_CA_CERTS"), "proxy"));
  EXPECT_TRUE(in(kb, kb.classify_env("REQUESTS_CA_BUNDLE"), "proxy"));
  EXPECT_TRUE(in(kb, kb.classify_env("RES_OPTIONS"), "network_config"));
  EXPECT_TRUE(in(kb, kb.classify_env("RESOLV_MULTI"), "network_config"));
  EXPECT_TRUE(in(kb, kb.classify_path("/etc/svc.conf"), "network_config"));
  EXPECT_TRUE(in(kb, kb.classify_path("/sys/fs/cgroup/memory/memory.limit_in_bytes"), "hardware"));
  EXPECT_TRUE(in(kb, kb.classify_env("TERM_PROGRAM"), "terminal"));
  EXPECT_TRUE(in(kb, kb.classify_env("VSCODE_PID"), "terminal"));
  EXPECT_TRUE(in(kb, kb.classify_env("SSH_CONNECTION"), "terminal"));
  EXPECT_TRUE(in(kb, kb.classify_path("/usr/local/bin/cursor"), "terminal"));
  EXPECT_TRUE(in(kb, kb.classify_path("/bin/zed"), "terminal"));
  EXPECT_EQ(kb.classify_env("TERM"), 0u);  // every curses program asks
  EXPECT_TRUE(in(kb, kb.classify_path("/home/agent/.qwen/installation_id"), "install_id"));
  EXPECT_TRUE(in(kb, kb.classify_path("/root/.gemini/installation_id"), "install_id"));
  EXPECT_TRUE(in(kb, kb.classify_path("/proc/45/cmdline"), "process_list"));
  EXPECT_FALSE(in(kb, kb.classify_path("/proc/self/status"), "process_list"));
  // What runtimes read on their own stays theirs.
  EXPECT_NE(kb.runtime_reading({"node"}, "NODE_EXTRA_CA_CERTS"), nullptr);
  EXPECT_NE(kb.runtime_reading({"node"}, "/sys/fs/cgroup/memory/memory.limit_in_bytes"), nullptr);
  EXPECT_NE(kb.runtime_reading({"python3"}, "RES_OPTIONS"), nullptr);  // glibc's resolver
  EXPECT_EQ(kb.runtime_reading({"python3"}, "NODE_EXTRA_CA_CERTS"), nullptr);
  EXPECT_EQ(kb.runtime_reading({"node"}, "TERM_PROGRAM"), nullptr);
}

TEST(KnowledgeBase, HomeExpansion) {
  EXPECT_EQ(expand_home("~/.netrc"), (std::vector<std::string>{"/root/.netrc", "/home/*/.netrc"}));
  EXPECT_EQ(expand_home("/etc/hosts"), (std::vector<std::string>{"/etc/hosts"}));
}

TEST(KnowledgeBase, BadFilesGiveOneSentenceWithTheLine) {
  EXPECT_NE(parse_error("categories: [").find("test.yaml: line"), std::string::npos);
  EXPECT_NE(parse_error("- a\n- b\n").find("not a knowledge-base file"), std::string::npos);
  EXPECT_NE(parse_error("categories: 3\n").find("`categories` must be a list"), std::string::npos);
  EXPECT_NE(parse_error("categories:\n  - title: x\n").find("line 2: a category needs an `id`"), std::string::npos);
  EXPECT_NE(parse_error("categories:\n  - id: x\n    env: TZ\n").find("env must be a list"), std::string::npos);
  EXPECT_NE(parse_error("categories:\n  - id: x\n    paths: [etc/hosts]\n").find("must start with /, ~/ or **"),
            std::string::npos);
  EXPECT_NE(parse_error("categories:\n  - id: x\n    colour: red\n").find("unknown key `colour`"), std::string::npos);
  EXPECT_NE(parse_error("categories:\n  - id: x\n  - id: x\n").find("appears twice"), std::string::npos);
  EXPECT_NE(parse_error("version: 2\ncategories: []\n").find("version must be 1"), std::string::npos);
  EXPECT_NE(parse_error("categories:\n  - id: x\n    fingerprint: maybe\n").find("true or false"), std::string::npos);
}

TEST(KnowledgeBase, UserFileExtendsAndAdds) {
  testing::TempDir dir;
  std::ofstream(dir.file("kb.yaml")) << "categories:\n"
                                        "  - id: timezone\n"
                                        "    env: [MY_TZ]\n"
                                        "  - id: vpn\n"
                                        "    title: VPN configuration\n"
                                        "    fingerprint: true\n"
                                        "    paths: [/etc/openvpn/**]\n";
  auto kb = KnowledgeBase::builtin();
  size_t before = kb.categories().size();
  kb.extend_from_file(dir.file("kb.yaml"));
  EXPECT_EQ(kb.categories().size(), before + 1);
  EXPECT_TRUE(in(kb, kb.classify_env("MY_TZ"), "timezone"));
  EXPECT_TRUE(in(kb, kb.classify_env("TZ"), "timezone"));
  EXPECT_TRUE(in(kb, kb.classify_path("/etc/openvpn/client.conf"), "vpn"));
  EXPECT_TRUE(kb.categories()[kb.index_of("vpn")].fingerprint);
  EXPECT_THROW(kb.extend_from_file(dir.file("missing.yaml")), Error);
}

}  // namespace
}  // namespace agenttrace::analyzer
