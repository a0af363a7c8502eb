#include "collector/dns_wire.h"

#include <arpa/inet.h>

namespace agenttrace::collector {

namespace {

constexpr size_t kMaxRecords = 256;     // questions or answers kept from one message
constexpr int kMaxPointerJumps = 32;    // compression pointers followed for one name
constexpr size_t kMaxNameLength = 255;  // RFC 1035 2.3.4

class Reader {
 public:
  explicit Reader(std::string_view b) : b_(b) {}
  bool u8(uint8_t* v) {
    if (pos_ + 1 > b_.size()) return false;
    *v = static_cast<uint8_t>(b_[pos_++]);
    return true;
  }
  bool u16(uint16_t* v) {
    if (pos_ + 2 > b_.size()) return false;
    *v = static_cast<uint16_t>((uint8_t(b_[pos_]) << 8) | uint8_t(b_[pos_ + 1]));
    pos_ += 2;
    return true;
  }
  bool u32(uint32_t* v) {
    uint16_t hi, lo;
    if (!u16(&hi) || !u16(&lo)) return false;
    *v = (uint32_t(hi) << 16) | lo;
    return true;
  }
  bool skip(size_t n) {
    if (pos_ + n > b_.size()) return false;
    pos_ += n;
    return true;
  }
  // A possibly compressed name starting at the current position.
  bool name(std::string* out, std::string* error) { return name_at(pos_, out, true, error); }
  size_t pos() const { return pos_; }
  std::string_view bytes() const { return b_; }

  bool name_at(size_t start, std::string* out, bool advance, std::string* error) {
    out->clear();
    size_t p = start;
    size_t end_of_name = 0;  // where the reader continues after the name
    int jumps = 0;
    for (;;) {
      if (p >= b_.size()) {
        *error = "name runs past the end of the message";
        return false;
      }
      uint8_t len = static_cast<uint8_t>(b_[p]);
      if ((len & 0xC0) == 0xC0) {
        if (p + 1 >= b_.size()) {
          *error = "compression pointer runs past the end";
          return false;
        }
        size_t target = ((len & 0x3F) << 8) | uint8_t(b_[p + 1]);
        if (!end_of_name) end_of_name = p + 2;
        // A pointer must go backwards; that alone rules out loops, and the
        // jump limit bounds the work.
        if (target >= p || ++jumps > kMaxPointerJumps) {
          *error = "compression pointer loops or points forward";
          return false;
        }
        p = target;
        continue;
      }
      if ((len & 0xC0) != 0) {
        *error = "label has a reserved type";
        return false;
      }
      if (len == 0) {
        if (!end_of_name) end_of_name = p + 1;
        break;
      }
      if (p + 1 + len > b_.size()) {
        *error = "label runs past the end of the message";
        return false;
      }
      if (!out->empty()) *out += '.';
      out->append(b_.substr(p + 1, len));
      if (out->size() > kMaxNameLength) {
        *error = "name longer than 255 bytes";
        return false;
      }
      p += 1 + len;
    }
    if (out->empty()) *out = ".";
    if (advance) pos_ = end_of_name;
    return true;
  }

 private:
  std::string_view b_;
  size_t pos_ = 0;
};

}  // namespace

std::string dns_type_name(uint16_t type) {
  switch (type) {
    case 1: return "A";
    case 2: return "NS";
    case 5: return "CNAME";
    case 6: return "SOA";
    case 12: return "PTR";
    case 15: return "MX";
    case 16: return "TXT";
    case 28: return "AAAA";
    case 33: return "SRV";
    case 41: return "OPT";
    case 64: return "SVCB";
    case 65: return "HTTPS";
    case 255: return "ANY";
    default: return "TYPE" + std::to_string(type);
  }
}

std::optional<DnsMessage> parse_dns(std::string_view bytes, bool tcp, std::string* error) {
  if (tcp) {
    if (bytes.size() < 2) {
      *error = "TCP DNS message shorter than its length prefix";
      return std::nullopt;
    }
    size_t len = (uint8_t(bytes[0]) << 8) | uint8_t(bytes[1]);
    bytes.remove_prefix(2);
    if (len > bytes.size()) {
      *error = "TCP DNS message shorter than its length prefix says";
      return std::nullopt;
    }
    bytes = bytes.substr(0, len);
  }
  Reader r(bytes);
  DnsMessage m;
  uint16_t flags, qd, an, ns, ar;
  if (!r.u16(&m.id) || !r.u16(&flags) || !r.u16(&qd) || !r.u16(&an) || !r.u16(&ns) || !r.u16(&ar)) {
    *error = "shorter than a DNS header";
    return std::nullopt;
  }
  m.response = flags & 0x8000;
  m.opcode = (flags >> 11) & 0xF;
  m.rcode = flags & 0xF;
  if (qd > kMaxRecords || an > kMaxRecords) {
    *error = "implausible record counts";
    return std::nullopt;
  }
  for (uint16_t i = 0; i < qd; ++i) {
    DnsQuestion q;
    if (!r.name(&q.name, error)) return std::nullopt;
    if (!r.u16(&q.type) || !r.u16(&q.klass)) {
      *error = "question cut short";
      return std::nullopt;
    }
    m.questions.push_back(std::move(q));
  }
  for (uint16_t i = 0; i < an; ++i) {
    DnsRecord rec;
    uint16_t klass, rdlen;
    if (!r.name(&rec.name, error)) return std::nullopt;
    if (!r.u16(&rec.type) || !r.u16(&klass) || !r.u32(&rec.ttl) || !r.u16(&rdlen)) {
      *error = "answer cut short";
      return std::nullopt;
    }
    size_t rdata = r.pos();
    if (!r.skip(rdlen)) {
      *error = "answer data runs past the end";
      return std::nullopt;
    }
    char text[INET6_ADDRSTRLEN];
    if (rec.type == 1 && rdlen == 4) {
      inet_ntop(AF_INET, bytes.data() + rdata, text, sizeof(text));
      rec.value = text;
    } else if (rec.type == 28 && rdlen == 16) {
      inet_ntop(AF_INET6, bytes.data() + rdata, text, sizeof(text));
      rec.value = text;
    } else if (rec.type == 5 || rec.type == 2 || rec.type == 12) {
      if (!r.name_at(rdata, &rec.value, false, error)) return std::nullopt;
    }
    m.answers.push_back(std::move(rec));
  }
  // Authority and additional sections are not needed: what was asked and
  // what it resolved to are.
  return m;
}

}  // namespace agenttrace::collector
