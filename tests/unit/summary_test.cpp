#include "analyzer/summary.h"

#include <fcntl.h>
#include <gtest/gtest.h>

namespace agenttrace::analyzer {
namespace {

trace::Event ev(uint32_t pid) {
  trace::Event e;
  e.set_pid(pid);
  e.set_tid(pid);
  e.set_comm("agent");
  return e;
}

TEST(Summary, CountsProcessesFilesEnvAndTimeZoneFacts) {
  auto kb = KnowledgeBase::builtin();
  SummaryBuilder s(kb);
  trace::Header h;
  h.set_root_pid(10);
  h.add_command("agent");
  s.on_header(h);

  auto exec = ev(10);
  exec.mutable_exec()->set_path("/usr/bin/agent");
  s.on_event(exec);
  auto fork = ev(10);
  fork.mutable_fork()->set_child_pid(11);
  s.on_event(fork);
  auto thread = ev(10);
  thread.mutable_fork()->set_child_pid(10);
  thread.mutable_fork()->set_thread(true);
  s.on_event(thread);

  auto tz = ev(11);
  tz.mutable_getenv()->set_name("TZ");
  s.on_event(tz);
  auto lang = ev(11);
  lang.mutable_getenv()->set_name("LANG");
  lang.mutable_getenv()->set_found(true);
  s.on_event(lang);
  s.on_event(lang);

  auto open = ev(11);
  open.mutable_open()->set_path("/etc/localtime");
  open.mutable_open()->set_flags(O_RDONLY);
  open.mutable_open()->set_result(3);
  s.on_event(open);
  auto lib = ev(11);
  lib.mutable_open()->set_path("/lib/x86_64-linux-gnu/libc.so.6");
  lib.mutable_open()->set_result(3);
  s.on_event(lib);
  auto write_only = ev(11);
  write_only.mutable_open()->set_path("/tmp/out");
  write_only.mutable_open()->set_flags(O_WRONLY | O_CREAT);
  write_only.mutable_open()->set_result(4);
  s.on_event(write_only);
  auto link = ev(11);
  link.mutable_readlink()->set_path("/etc/localtime");
  link.mutable_readlink()->set_target("/usr/share/zoneinfo/Etc/UTC");
  link.mutable_readlink()->set_result(27);
  s.on_event(link);

  trace::Trailer t;
  auto* k = t.add_kinds();
  k->set_kind("open");
  k->set_dropped(2);
  s.on_trailer(t);

  EXPECT_EQ(s.process_count(), 2u);
  EXPECT_EQ(s.kind_counts().at("getenv"), 3u);
  EXPECT_EQ(s.kind_counts().at("fork"), 2u);
  EXPECT_EQ(s.files_read(), std::vector<std::string>{"/etc/localtime"});
  EXPECT_EQ(s.env_names().size(), 2u);
  EXPECT_FALSE(s.env_names().at("TZ"));
  EXPECT_TRUE(s.env_names().at("LANG"));
  EXPECT_EQ(s.timezone_facts(), (std::vector<std::string>{
                                    "getenv TZ (unset)", "read /etc/localtime",
                                    "readlink /etc/localtime -> /usr/share/zoneinfo/Etc/UTC"}));
  EXPECT_EQ(s.dropped(), 2u);
  std::string text = s.render("x.atrace");
  EXPECT_NE(text.find("2 processes"), std::string::npos);
  EXPECT_NE(text.find("drops: open 2 dropped"), std::string::npos);
  EXPECT_NE(text.find("and 1 shared libraries"), std::string::npos);
  EXPECT_NE(text.find("trace: x.atrace"), std::string::npos);
}

TEST(Summary, SaysWhenTheTraceHasNoClosingRecord) {
  auto kb = KnowledgeBase::builtin();
  SummaryBuilder s(kb);
  s.on_header(trace::Header());
  EXPECT_NE(s.render("").find("no closing record"), std::string::npos);
}

}  // namespace
}  // namespace agenttrace::analyzer
