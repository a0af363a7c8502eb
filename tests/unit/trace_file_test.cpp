#include <gtest/gtest.h>

#include "common/output_file.h"
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <iterator>

#include "../support/temp_dir.h"
#include "common/error.h"
#include "trace/reader.h"
#include "trace/writer.h"

namespace agenttrace::trace {
namespace {

using testing::TempDir;

Header sample_header() {
  Header h;
  h.set_format_version(kFormatVersion);
  h.set_agenttrace_version("test");
  h.set_hostname("host-a");
  h.set_start_wall_ns(1);
  h.add_command("bash");
  h.set_mode("run");
  return h;
}

std::vector<Event> sample_events(int n) {
  std::vector<Event> out;
  for (int i = 0; i < n; ++i) {
    Event e;
    e.set_id(i + 1);
    e.set_pid(100 + i);
    e.set_tid(100 + i);
    e.set_comm("proc" + std::to_string(i));
    e.set_mono_ns(1000 * (i + 1));
    if (i % 2) {
      auto* o = e.mutable_open();
      o->set_path("/etc/file" + std::to_string(i));
      o->set_result(3);
    } else {
      auto* g = e.mutable_getenv();
      g->set_name("VAR" + std::to_string(i));
      g->set_found(i % 3 == 0);
    }
    out.push_back(e);
  }
  return out;
}

std::string write_trace(const std::string& path, const std::vector<Event>& events, bool trailer) {
  TraceWriter w(path);
  w.write_header(sample_header());
  for (const auto& e : events) w.write_event(e);
  if (trailer) {
    Trailer t;
    t.set_events(events.size());
    w.write_trailer(t);
  }
  w.close();
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

TEST(TraceFile, RoundTripKeepsEveryRecord) {
  TempDir dir;
  auto events = sample_events(50);
  write_trace(dir.file("t.atrace"), events, true);
  TraceReader r(dir.file("t.atrace"));
  EXPECT_EQ(r.header().hostname(), "host-a");
  EXPECT_EQ(r.header().command(0), "bash");
  Event e;
  size_t i = 0;
  while (r.next(&e) == TraceReader::Status::kRecord) {
    ASSERT_LT(i, events.size());
    EXPECT_EQ(e.SerializeAsString(), events[i].SerializeAsString()) << "event " << i;
    ++i;
  }
  EXPECT_EQ(i, events.size());
  EXPECT_TRUE(r.has_trailer());
  EXPECT_EQ(r.trailer().events(), 50u);
  EXPECT_EQ(r.next(&e), TraceReader::Status::kEnd);
}

TEST(TraceFile, CreatedReadableByOwnerOnly) {
  TempDir dir;
  std::string path = dir.file("t.atrace");
  write_bytes(path, "old contents");
  chmod(path.c_str(), 0644);
  // An existing file is not replaced (issue "The agent runs as you")...
  EXPECT_THROW(write_trace(path, sample_events(1), true), Error);
  // ... unless --force; the new file is 0600 whatever the old one was.
  set_replace_outputs(true);
  write_trace(path, sample_events(1), true);
  set_replace_outputs(false);
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

// A reader over bytes in memory (a memfd), so every cut and flip of a file
// is read without touching the disk.
TraceReader reader_of(const std::string& bytes, const std::string& name) {
  int fd = memfd_create(name.c_str(), MFD_CLOEXEC);
  if (fd < 0) throw std::runtime_error("memfd_create failed");
  UniqueFd owned(fd);
  if (write(fd, bytes.data(), bytes.size()) != static_cast<ssize_t>(bytes.size()))
    throw std::runtime_error("write to memfd failed");
  lseek(fd, 0, SEEK_SET);
  return TraceReader(std::move(owned), name);
}

// Offsets at which each record of a good trace ends, header first, and its
// events.
struct Layout {
  std::vector<uint64_t> ends;
  std::vector<std::string> events;  // serialized
};

Layout layout_of(const std::string& full) {
  Layout l;
  TraceReader r = reader_of(full, "full");
  l.ends.push_back(r.offset());
  Event e;
  while (r.next(&e) == TraceReader::Status::kRecord) {
    l.ends.push_back(r.offset());
    l.events.push_back(e.SerializeAsString());
  }
  EXPECT_TRUE(r.has_trailer());
  return l;
}

// A file cut at any byte reads up to its last whole record, never further,
// and says it was cut: kTruncated inside a record, kEnd without a trailer at
// a record boundary.
void expect_every_cut_reads_to_last_whole_record(const std::string& full) {
  Layout l = layout_of(full);
  for (size_t len = 0; len < full.size(); ++len) {
    std::string cut = full.substr(0, len);
    if (len < l.ends[0]) {
      try {
        reader_of(cut, "cut");
        ADD_FAILURE() << "a file cut at " << len << " bytes opened";
      } catch (const Error& err) {
        std::string msg = err.what();
        EXPECT_TRUE(msg.find("truncated before the end of its header") != std::string::npos ||
                    msg.find("not an agenttrace trace file") != std::string::npos)
            << msg;
      }
      continue;
    }
    TraceReader r = reader_of(cut, "cut");
    Event e;
    size_t n = 0;
    TraceReader::Status st;
    while ((st = r.next(&e)) == TraceReader::Status::kRecord) {
      ASSERT_LT(n, l.events.size());
      EXPECT_EQ(e.SerializeAsString(), l.events[n]) << "cut at " << len;
      ++n;
    }
    size_t whole = 0;
    while (whole + 1 < l.ends.size() && l.ends[whole + 1] <= len) ++whole;
    EXPECT_EQ(n, std::min(whole, l.events.size())) << "cut at " << len;
    EXPECT_FALSE(r.has_trailer()) << "cut at " << len;
    bool at_boundary = std::find(l.ends.begin(), l.ends.end(), len) != l.ends.end();
    EXPECT_EQ(st, at_boundary ? TraceReader::Status::kEnd : TraceReader::Status::kTruncated)
        << "cut at " << len;
  }
}

// Any single flipped byte is reported as damage (or a foreign file), never
// read as good data and never a crash: the events before the damage are the
// good ones, then one error with its sentence.
void expect_every_flip_is_one_error(const std::string& full) {
  Layout l = layout_of(full);
  for (size_t pos = 0; pos < full.size(); ++pos) {
    std::string copy = full;
    copy[pos] = static_cast<char>(copy[pos] ^ 0x5a);
    try {
      TraceReader r = reader_of(copy, "bad");
      Event e;
      TraceReader::Status st;
      size_t n = 0;
      while ((st = r.next(&e)) == TraceReader::Status::kRecord) {
        ASSERT_LT(n, l.events.size()) << "flip at " << pos;
        EXPECT_EQ(e.SerializeAsString(), l.events[n]) << "flip at " << pos;
        ++n;
      }
      EXPECT_EQ(st, TraceReader::Status::kCorrupt) << "flip at " << pos;
      EXPECT_FALSE(r.error().empty());
      EXPECT_EQ(r.error().find('\n'), std::string::npos) << r.error();
    } catch (const Error& err) {
      // Damage in the magic or the header record is found at open.
      std::string msg = err.what();
      EXPECT_TRUE(msg.find("not an agenttrace trace file") != std::string::npos ||
                  msg.find("corrupt") != std::string::npos)
          << "flip at " << pos << ": " << msg;
    }
  }
}

TEST(TraceFile, CutAtEveryByteReadsUpToLastWholeRecord) {
  TempDir dir;
  expect_every_cut_reads_to_last_whole_record(write_trace(dir.file("full.atrace"), sample_events(6), true));
}

TEST(TraceFile, FlippedByteIsAnErrorNeverGoodData) {
  TempDir dir;
  expect_every_flip_is_one_error(write_trace(dir.file("full.atrace"), sample_events(4), true));
}

// The same over traces agenttrace recorded from real programs (tests/data/):
// every byte offset cut, every byte flipped.
class RecordedTrace : public ::testing::TestWithParam<std::string> {
 protected:
  std::string bytes() const { return slurp(std::string(TEST_DATA_DIR) + "/" + GetParam()); }
};

TEST_P(RecordedTrace, CutAtEveryByteReadsUpToLastWholeRecord) {
  std::string full = bytes();
  ASSERT_GT(full.size(), 1000u);
  expect_every_cut_reads_to_last_whole_record(full);
}

TEST_P(RecordedTrace, FlippedByteAnywhereIsOneError) {
  std::string full = bytes();
  ASSERT_GT(full.size(), 1000u);
  expect_every_flip_is_one_error(full);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, RecordedTrace,
                         ::testing::Values("zero_width.atrace", "hidden.atrace", "base64_field.atrace"),
                         [](const auto& info) { return info.param.substr(0, info.param.find('.')); });

TEST(TraceFile, ForeignAndMissingFiles) {
  TempDir dir;
  write_bytes(dir.file("x.txt"), "hello, this is not a trace at all");
  EXPECT_THROW(
      {
        try {
          TraceReader r(dir.file("x.txt"));
        } catch (const Error& e) {
          EXPECT_NE(std::string(e.what()).find("is not an agenttrace trace file"), std::string::npos);
          throw;
        }
      },
      Error);
  EXPECT_THROW(TraceReader r(dir.file("missing.atrace")), Error);
}

TEST(TraceFile, NewerFormatVersionIsRefused) {
  TempDir dir;
  {
    TraceWriter w(dir.file("v.atrace"));
    Header h = sample_header();
    h.set_format_version(kFormatVersion + 1);
    w.write_header(h);
    w.close();
  }
  try {
    TraceReader r(dir.file("v.atrace"));
    FAIL() << "opened a newer format";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("reads versions up to"), std::string::npos);
  }
}

TEST(TraceFile, DataAfterTrailerIsCorrupt) {
  TempDir dir;
  std::string full = write_trace(dir.file("t.atrace"), sample_events(2), true);
  write_bytes(dir.file("t2.atrace"), full + "garbage");
  TraceReader r(dir.file("t2.atrace"));
  Event e;
  while (r.next(&e) == TraceReader::Status::kRecord) {
  }
  EXPECT_NE(r.error().find("data follows the closing record"), std::string::npos);
}

}  // namespace
}  // namespace agenttrace::trace
