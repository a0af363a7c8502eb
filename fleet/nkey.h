// NATS nkeys: an Ed25519 key pair written in base32 with a type prefix and a
// CRC-16. The C client signs with a seed file but wants the public key too;
// it follows from the seed, so a user gives only the seed.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace agenttrace::fleet {

// The public key ("U...") of a user seed ("SU..."). Throws agenttrace::Error
// when `seed` is not a well-formed nkey seed.
std::string nkey_public_from_seed(std::string_view seed);

// The seed in a file: the first word that reads as a seed (a bare .nk file,
// or the seed block of a .creds file). Throws agenttrace::Error.
std::string read_nkey_seed_file(const std::string& path);

// A user seed for 32 raw bytes (tests make their own key pairs with it).
std::string nkey_user_seed(const std::array<uint8_t, 32>& raw);

}  // namespace agenttrace::fleet
