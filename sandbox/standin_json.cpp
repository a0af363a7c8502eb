#include "sandbox/standin_json.h"

#include <cstdio>

#include "common/utf8.h"

namespace agenttrace::sandbox {
namespace {

void append_py_json(std::string& out, const Json& j) {
  switch (j.type()) {
    case Json::value_t::null: out += "null"; return;
    case Json::value_t::boolean: out += j.get<bool>() ? "true" : "false"; return;
    case Json::value_t::number_integer: out += std::to_string(j.get<int64_t>()); return;
    case Json::value_t::number_unsigned: out += std::to_string(j.get<uint64_t>()); return;
    case Json::value_t::string: append_py_string(out, j.get_ref<const std::string&>(), false); return;
    case Json::value_t::array: {
      out += '[';
      bool first = true;
      for (const auto& item : j) {
        if (!first) out += ", ";
        append_py_json(out, item);
        first = false;
      }
      out += ']';
      return;
    }
    case Json::value_t::object: {
      out += '{';
      bool first = true;
      for (const auto& [key, item] : j.items()) {
        if (!first) out += ", ";
        append_py_string(out, key, false);
        out += ": ";
        append_py_json(out, item);
        first = false;
      }
      out += '}';
      return;
    }
    default:
      // Floats and binary never occur in the replies; nlohmann's spelling is
      // close enough should one appear.
      out += j.dump();
      return;
  }
}

}  // namespace

uint32_t code_point_at(std::string_view s, size_t i, size_t* len) {
  Utf8Decoded d = decode_utf8_at(reinterpret_cast<const unsigned char*>(s.data()), s.size(), i);
  if (d.len == 0) {
    *len = 1;
    return static_cast<unsigned char>(s[i]);
  }
  *len = d.len;
  return d.cp;
}

std::string latin1_to_utf8(std::string_view s) {
  std::string out;
  for (char ch : s) append_utf8(out, static_cast<unsigned char>(ch));
  return out;
}

bool py_isspace(uint32_t cp) {
  return (cp >= 0x09 && cp <= 0x0d) || (cp >= 0x1c && cp <= 0x20) || cp == 0x85 || cp == 0xa0 || cp == 0x1680 ||
         (cp >= 0x2000 && cp <= 0x200a) || cp == 0x2028 || cp == 0x2029 || cp == 0x202f || cp == 0x205f ||
         cp == 0x3000;
}

void append_py_string(std::string& out, std::string_view s, bool latin1) {
  out += '"';
  char buf[16];
  for (size_t i = 0; i < s.size();) {
    size_t len = 1;
    uint32_t cp = latin1 ? static_cast<unsigned char>(s[i]) : code_point_at(s, i, &len);
    i += len;
    switch (cp) {
      case '"': out += "\\\""; continue;
      case '\\': out += "\\\\"; continue;
      case '\b': out += "\\b"; continue;
      case '\f': out += "\\f"; continue;
      case '\n': out += "\\n"; continue;
      case '\r': out += "\\r"; continue;
      case '\t': out += "\\t"; continue;
      default: break;
    }
    if (cp >= 0x20 && cp < 0x7f) {
      out += static_cast<char>(cp);
    } else if (cp < 0x10000) {
      std::snprintf(buf, sizeof buf, "\\u%04x", cp);
      out += buf;
    } else {
      uint32_t v = cp - 0x10000;
      std::snprintf(buf, sizeof buf, "\\u%04x\\u%04x", 0xd800 + (v >> 10), 0xdc00 + (v & 0x3ff));
      out += buf;
    }
  }
  out += '"';
}

std::string py_dumps(const Json& j) {
  std::string out;
  append_py_json(out, j);
  return out;
}

bool py_truthy(const Json& j) {
  switch (j.type()) {
    case Json::value_t::null: return false;
    case Json::value_t::boolean: return j.get<bool>();
    case Json::value_t::number_integer: return j.get<int64_t>() != 0;
    case Json::value_t::number_unsigned: return j.get<uint64_t>() != 0;
    case Json::value_t::number_float: return j.get<double>() != 0.0;
    // nlohmann's empty() is false for every string, "" included.
    case Json::value_t::string: return !j.get_ref<const std::string&>().empty();
    case Json::value_t::array:
    case Json::value_t::object: return !j.empty();
    default: return true;
  }
}

std::string py_str(const Json& j) {
  if (j.is_string()) return j.get<std::string>();
  if (j.is_boolean()) return j.get<bool>() ? "True" : "False";
  return j.dump();
}

}  // namespace agenttrace::sandbox
