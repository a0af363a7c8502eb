// The trace reader, and everything that consumes what it reads: JSON lines
// (`agenttrace dump`), the profile, the rules and the reports (`agenttrace
// analyze`). Half the inputs are raw files; in the other half the input is
// cut into payloads that are framed with correct checksums, so the fuzzer
// reaches the protobuf decoding and the analyzer instead of stopping at the
// CRC.
#include <sys/mman.h>
#include <unistd.h>

#include <string>

#include "analyzer/report.h"
#include "common/crc32c.h"
#include "common/error.h"
#include "fuzz_input.h"
#include "trace/json.h"
#include "trace/reader.h"

namespace {

using agenttrace::trace::TraceReader;

void put_u32(std::string* out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

std::string framed(agenttrace::fuzz::FuzzInput& in) {
  std::string file(agenttrace::trace::kMagic, sizeof(agenttrace::trace::kMagic));
  while (!in.empty()) {
    std::string_view payload = in.piece();
    std::string len;
    put_u32(&len, static_cast<uint32_t>(payload.size()));
    file += len;
    put_u32(&file, agenttrace::crc32c(len.data(), 4));
    put_u32(&file, agenttrace::crc32c(payload.data(), payload.size()));
    file += payload;
  }
  return file;
}

void read_all(const std::string& file) {
  int fd = memfd_create("fuzz.atrace", MFD_CLOEXEC);
  if (fd < 0) return;
  agenttrace::UniqueFd owned(fd);
  if (write(fd, file.data(), file.size()) != static_cast<ssize_t>(file.size())) return;
  lseek(fd, 0, SEEK_SET);
  try {
    TraceReader reader(std::move(owned), "fuzz.atrace");
    static const auto kb = agenttrace::analyzer::KnowledgeBase::builtin();
    agenttrace::analyzer::ProfileBuilder builder(kb);
    builder.on_header(reader.header());
    (void)agenttrace::trace::json_line(agenttrace::trace::header_json(reader.header()));
    agenttrace::trace::Event event;
    TraceReader::Status st;
    while ((st = reader.next(&event)) == TraceReader::Status::kRecord) {
      (void)agenttrace::trace::json_line(agenttrace::trace::event_json(event));
      builder.on_event(event);
    }
    if (st == TraceReader::Status::kCorrupt && reader.error().empty()) __builtin_trap();
    if (reader.has_trailer()) {
      (void)agenttrace::trace::json_line(agenttrace::trace::trailer_json(reader.trailer()));
      builder.on_trailer(reader.trailer());
    }
    agenttrace::analyzer::Analysis a;
    a.profile = std::move(builder.profile());
    a.findings = agenttrace::analyzer::run_rules(a.profile, kb);
    a.truncated = !reader.has_trailer();
    (void)agenttrace::analyzer::report_text(a, kb, false);
    (void)agenttrace::analyzer::report_json(a, kb).dump(
        -1, ' ', false, agenttrace::trace::Json::error_handler_t::replace);
    (void)agenttrace::analyzer::report_sarif(a);
  } catch (const agenttrace::Error& e) {
    if (std::string(e.what()).empty()) __builtin_trap();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  agenttrace::fuzz::FuzzInput in(data, size);
  if (in.byte() & 1)
    read_all(framed(in));
  else
    read_all(std::string(in.rest()));
  return 0;
}
