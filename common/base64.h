// Base64 (RFC 4648), standard alphabet with padding, for payload bytes in JSON.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace agenttrace {

std::string base64_encode(std::string_view bytes);
// Accepts the standard and URL-safe alphabets, with or without padding;
// nullopt for anything else.
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace agenttrace
