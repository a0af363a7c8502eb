// `agenttrace dump` and `agenttrace analyze` on recorded traces (tests/data/)
// cut short or with a flipped byte: a cut trace is read up to its last whole
// record with one warning and exit 0; damage is one sentence and exit 125;
// never a crash. Offsets are sampled (every record boundary and its
// neighbours): each case starts the binary, so one fixture is enough here.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <fstream>
#include <set>
#include <sstream>

#include "../support/agenttrace_runner.h"

namespace agenttrace::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::MatchesRegex;

uint32_t get_u32(const std::string& s, size_t at) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = v << 8 | static_cast<uint8_t>(s[at + i]);
  return v;
}

// Where each frame of a trace file starts (after the 8-byte magic).
std::vector<size_t> record_starts(const std::string& file) {
  std::vector<size_t> out;
  for (size_t at = 8; at + 12 <= file.size(); at += 12 + get_u32(file, at)) out.push_back(at);
  return out;
}

// Cut and flip points, each case a start of the binary (the reader's own
// tests take every offset): the magic, the header record, and every 8th
// record's boundary, its frame and its payload.
std::set<size_t> sample_offsets(const std::string& file) {
  std::set<size_t> out = {0, 7};
  auto starts = record_starts(file);
  for (size_t i = 0; i < starts.size(); i += 8)
    for (size_t d : {starts[i], starts[i] + 1, starts[i] + 12})
      if (d < file.size()) out.insert(d);
  return out;
}

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// stderr is exactly one line.
void expect_one_line(const std::string& err, const std::string& what) {
  ASSERT_FALSE(err.empty()) << what;
  EXPECT_EQ(err.find('\n'), err.size() - 1) << what << ": " << err;
}

class DamagedTrace : public ::testing::TestWithParam<std::string> {
 protected:
  std::string full() const { return slurp(std::string(TEST_DATA_DIR) + "/" + GetParam()); }
};

TEST_P(DamagedTrace, CutShortReadsToTheLastWholeRecordWithOneWarning) {
  TempDir dir;
  std::string file = full();
  ASSERT_FALSE(file.empty());
  std::string cut_path = dir.file("cut.atrace");
  size_t header_end = record_starts(file).at(1);
  size_t n = 0;
  for (size_t len : sample_offsets(file)) {
    write_file(cut_path, file.substr(0, len));
    CliResult dump = run_cli({"dump", cut_path}, dir);
    std::string what = "cut at " + std::to_string(len);
    expect_one_line(dump.err, what);
    if (len < header_end) {
      EXPECT_EQ(dump.exit_code, 125) << what;
      EXPECT_THAT(dump.err, MatchesRegex("agenttrace: .* (is not an agenttrace trace file|is truncated before the end of its header)\n"))
          << what;
      continue;
    }
    EXPECT_EQ(dump.exit_code, 0) << what << ": " << dump.err;
    EXPECT_THAT(dump.err, HasSubstr("is truncated: it ends after")) << what;
    EXPECT_THAT(dump.out, ::testing::Not(HasSubstr("\"kind\":\"trailer\""))) << what;
    // Every line written is whole JSON.
    std::istringstream lines(dump.out);
    std::string line;
    while (std::getline(lines, line)) EXPECT_FALSE(Json::parse(line, nullptr, false).is_discarded()) << what;
    // The analyzer reads it too, and says what is missing.
    if (++n % 4 == 0) {
      CliResult analyze = run_cli({"analyze", cut_path}, dir);
      EXPECT_EQ(analyze.exit_code, 0) << what << ": " << analyze.err;
      EXPECT_THAT(analyze.out, HasSubstr("no closing record")) << what;
    }
  }
}

TEST_P(DamagedTrace, FlippedByteIsOneSentenceAndExit125) {
  TempDir dir;
  std::string file = full();
  ASSERT_FALSE(file.empty());
  std::string bad_path = dir.file("bad.atrace");
  for (size_t pos : sample_offsets(file)) {
    std::string copy = file;
    copy[pos] = static_cast<char>(copy[pos] ^ 0x5a);
    write_file(bad_path, copy);
    std::string what = "flip at " + std::to_string(pos);
    for (const char* command : {"dump", "analyze"}) {
      if (std::string(command) == "analyze" && pos % 3) continue;
      CliResult r = run_cli({command, bad_path}, dir);
      EXPECT_EQ(r.exit_code, 125) << command << " " << what << ": " << r.err;
      expect_one_line(r.err, what);
      EXPECT_THAT(r.err, MatchesRegex("agenttrace: .* (is corrupt.*|is not an agenttrace trace file)\n"))
          << command << " " << what;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, DamagedTrace,
                         ::testing::Values("zero_width.atrace"),
                         [](const auto& info) { return info.param.substr(0, info.param.find('.')); });

}  // namespace
}  // namespace agenttrace::testing
