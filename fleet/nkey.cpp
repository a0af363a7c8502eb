#include "fleet/nkey.h"

#include <openssl/evp.h>

#include <cerrno>
#include <fstream>
#include <memory>
#include <sstream>
#include <vector>

#include "common/error.h"

namespace agenttrace::fleet {

namespace {

// Type prefixes of the nkeys encoding (nats-io/nkeys): the first 5 bits of
// the first byte.
constexpr uint8_t kPrefixSeed = 18 << 3;  // 'S'
constexpr uint8_t kPrefixUser = 20 << 3;  // 'U'

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

// CRC-16/XMODEM, as nkeys checks its keys.
uint16_t crc16(const uint8_t* data, size_t n) {
  uint16_t crc = 0;
  for (size_t i = 0; i < n; ++i) {
    crc ^= static_cast<uint16_t>(data[i]) << 8;
    for (int b = 0; b < 8; ++b) crc = (crc & 0x8000) ? static_cast<uint16_t>((crc << 1) ^ 0x1021) : static_cast<uint16_t>(crc << 1);
  }
  return crc;
}

std::string base32_encode(const std::vector<uint8_t>& in) {
  std::string out;
  uint32_t buffer = 0;
  int bits = 0;
  for (uint8_t byte : in) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += kAlphabet[(buffer >> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += kAlphabet[(buffer << (5 - bits)) & 31];
  return out;
}

bool base32_decode(std::string_view in, std::vector<uint8_t>* out) {
  uint32_t buffer = 0;
  int bits = 0;
  for (char c : in) {
    int v;
    if (c >= 'A' && c <= 'Z') v = c - 'A';
    else if (c >= '2' && c <= '7') v = c - '2' + 26;
    else return false;
    buffer = (buffer << 5) | static_cast<uint32_t>(v);
    bits += 5;
    if (bits >= 8) {
      out->push_back(static_cast<uint8_t>(buffer >> (bits - 8)));
      bits -= 8;
    }
  }
  return true;
}

// The encoded form: payload, then its CRC-16 little-endian.
std::string encode_checked(std::vector<uint8_t> raw) {
  uint16_t crc = crc16(raw.data(), raw.size());
  raw.push_back(static_cast<uint8_t>(crc & 0xff));
  raw.push_back(static_cast<uint8_t>(crc >> 8));
  return base32_encode(raw);
}

}  // namespace

std::string nkey_public_from_seed(std::string_view seed) {
  std::vector<uint8_t> raw;
  if (!base32_decode(seed, &raw) || raw.size() != 2 + 32 + 2)
    throw Error("the nkey seed is not well formed (expected 58 characters of base32 starting with SU)");
  uint16_t crc = static_cast<uint16_t>(raw[34] | (raw[35] << 8));
  if (crc16(raw.data(), 34) != crc) throw Error("the nkey seed fails its checksum");
  if ((raw[0] & 0xf8) != kPrefixSeed) throw Error("the nkey given is not a seed (it should start with S)");
  uint8_t type = static_cast<uint8_t>(((raw[0] & 7) << 5) | ((raw[1] & 0xf8) >> 3));
  if (type != kPrefixUser) throw Error("the nkey seed is not a user seed (it should start with SU)");

  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(
      EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, raw.data() + 2, 32), EVP_PKEY_free);
  uint8_t pub[32];
  size_t pub_len = sizeof(pub);
  if (!key || EVP_PKEY_get_raw_public_key(key.get(), pub, &pub_len) != 1 || pub_len != 32)
    throw Error("cannot derive the public key of the nkey seed (OpenSSL has no Ed25519?)");
  std::vector<uint8_t> out{kPrefixUser};
  out.insert(out.end(), pub, pub + 32);
  return encode_checked(out);
}

std::string nkey_user_seed(const std::array<uint8_t, 32>& raw) {
  std::vector<uint8_t> out{static_cast<uint8_t>(kPrefixSeed | (kPrefixUser >> 5)),
                           static_cast<uint8_t>((kPrefixUser & 31) << 3)};
  out.insert(out.end(), raw.begin(), raw.end());
  return encode_checked(out);
}

std::string read_nkey_seed_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw Error("cannot read the NATS nkey seed file " + path + ": " + errno_text(errno));
  std::string word;
  while (in >> word)
    if (word.size() == 58 && word[0] == 'S' && word[1] == 'U') return word;
  throw Error(path + " holds no nkey user seed (a word of 58 characters starting with SU)");
}

}  // namespace agenttrace::fleet
