#include "trace/json.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

namespace agenttrace::trace {
namespace {

Event base(uint64_t id) {
  Event e;
  e.set_id(id);
  e.set_wall_ns(1795468032123456789);  // 2026-11-23T21:07:12.123456789Z
  e.set_mono_ns(55);
  e.set_pid(10);
  e.set_tid(11);
  e.set_ppid(1);
  e.set_comm("agent");
  return e;
}

// Found by the recorder fuzzer: a result no syscall returns (INT64_MIN, from a
// damaged record or trace) was negated to name its errno, which overflows.
TEST(Json, ResultOutsideTheErrnoRangeIsItsNumber) {
  Event e = base(1);
  e.mutable_open()->set_path("/x");
  e.mutable_open()->set_result(INT64_MIN);
  Json j = event_json(e);
  EXPECT_EQ(j["error"], "-9223372036854775808");
  e.mutable_open()->set_result(-2);
  EXPECT_EQ(event_json(e)["error"], "ENOENT");
}

TEST(Json, CommonFieldsInOrder) {
  Event e = base(3);
  e.mutable_uname()->set_nodename("vm");
  e.mutable_uname()->set_release("6.18");
  EXPECT_EQ(json_line(event_json(e)),
            R"({"id":3,"kind":"uname","ts":"2026-11-23T21:07:12.123456789Z","mono_ns":55,"pid":10,"tid":11,"ppid":1,"comm":"agent","nodename":"vm","release":"6.18","result":0})");
}

TEST(Json, OpenWithErrorAndRequestedPath) {
  Event e = base(1);
  auto* o = e.mutable_open();
  o->set_syscall(SYSCALL_OPENAT);
  o->set_path("/etc/hosts");
  o->set_requested("hosts");
  o->set_flags(O_RDONLY | O_CLOEXEC);
  o->set_result(-2);
  auto j = event_json(e);
  EXPECT_EQ(j["kind"], "open");
  EXPECT_EQ(j["syscall"], "openat");
  EXPECT_EQ(j["path"], "/etc/hosts");
  EXPECT_EQ(j["requested"], "hosts");
  EXPECT_EQ(j["flags"], "O_RDONLY|O_CLOEXEC");
  EXPECT_EQ(j["result"], -2);
  EXPECT_EQ(j["error"], "ENOENT");
  EXPECT_FALSE(j.contains("mode"));
}

TEST(Json, ExecFields) {
  Event e = base(1);
  auto* x = e.mutable_exec();
  x->set_path("/usr/bin/cat");
  x->set_exe("/usr/bin/cat");
  x->set_cwd("/tmp");
  x->add_argv("cat");
  x->add_argv("/etc/machine-id");
  auto j = event_json(e);
  EXPECT_EQ(j["argv"], Json::array({"cat", "/etc/machine-id"}));
  EXPECT_EQ(j["argv_truncated"], false);
  EXPECT_EQ(j["cwd"], "/tmp");
}

TEST(Json, GetenvValueOnlyWhenCaptured) {
  Event e = base(1);
  e.mutable_getenv()->set_function(SYSCALL_GETENV);
  e.mutable_getenv()->set_name("TZ");
  e.mutable_getenv()->set_found(true);
  auto j = event_json(e);
  EXPECT_EQ(j["name"], "TZ");
  EXPECT_EQ(j["found"], true);
  EXPECT_EQ(j["function"], "getenv");
  EXPECT_FALSE(j.contains("value"));
  e.mutable_getenv()->set_value("UTC");
  e.mutable_getenv()->set_value_captured(true);
  EXPECT_EQ(event_json(e)["value"], "UTC");
}

TEST(Json, ExitBySignal) {
  Event e = base(1);
  e.mutable_exit()->set_signal(SIGKILL);
  auto j = event_json(e);
  EXPECT_EQ(j["signal"], SIGKILL);
  EXPECT_EQ(j["signal_name"], "SIGKILL");
  EXPECT_FALSE(j.contains("code"));
}

TEST(Json, InvalidUtf8IsReplacedNotFatal) {
  Event e = base(1);
  e.mutable_open()->set_path(std::string("/tmp/\xff\xfe", 7));
  std::string line = json_line(event_json(e));
  EXPECT_NE(line.find("/tmp/"), std::string::npos);
}

TEST(Json, FlagTexts) {
  EXPECT_EQ(open_flags_text(O_WRONLY | O_CREAT | O_TRUNC), "O_WRONLY|O_CREAT|O_TRUNC");
  EXPECT_EQ(open_flags_text(O_RDWR | O_TMPFILE), "O_RDWR|O_TMPFILE");
  EXPECT_EQ(open_flags_text(O_RDONLY | O_DIRECTORY), "O_RDONLY|O_DIRECTORY");
  EXPECT_EQ(open_flags_text(O_RDONLY | 0100000 | O_CLOEXEC), "O_RDONLY|O_LARGEFILE|O_CLOEXEC");
  EXPECT_EQ(access_mode_text(F_OK), "F_OK");
  EXPECT_EQ(access_mode_text(R_OK | X_OK), "R_OK|X_OK");
}

TEST(Json, TrailerTotalsDrops) {
  Trailer t;
  auto* k = t.add_kinds();
  k->set_kind("open");
  k->set_dropped(3);
  k->set_recorded(10);
  auto j = trailer_json(t);
  EXPECT_EQ(j["dropped"], 3);
  EXPECT_EQ(j["kinds"]["open"]["recorded"], 10);
}

}  // namespace
}  // namespace agenttrace::trace
