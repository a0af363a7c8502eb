#include "common/hex.h"

namespace agenttrace {

bool hex_decode_pairs(std::string_view digits, std::string& out) {
  out.clear();
  for (size_t k = 0; k + 1 < digits.size(); k += 2) {
    int hi = hex_digit_value(static_cast<unsigned char>(digits[k]));
    int lo = hex_digit_value(static_cast<unsigned char>(digits[k + 1]));
    if (hi < 0 || lo < 0) return false;
    out += static_cast<char>(hi << 4 | lo);
  }
  return digits.size() % 2 == 0 || hex_digit_value(static_cast<unsigned char>(digits.back())) >= 0;
}

void append_hex_byte(std::string& out, unsigned char b, bool upper) {
  const char* digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
  out += digits[b >> 4];
  out += digits[b & 15];
}

}  // namespace agenttrace
