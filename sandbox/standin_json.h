// The stand-in's JSON and text as Python writes and reads them: its replies
// and records must be byte for byte those of the Python stand-in it was
// ported from (json.dumps with ensure_ascii, http.server's Latin-1 request
// lines and headers, str.isspace), which nlohmann's dump() does not give.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace agenttrace::sandbox {

// Keys in insertion order, like a Python dict.
using Json = nlohmann::ordered_json;

// The code point at s[i] and, in *len, its length: strict UTF-8
// (common/utf8.h), and a byte that does not start a well-formed sequence is
// itself the code point (as Latin-1), one byte long.
uint32_t code_point_at(std::string_view s, size_t i, size_t* len);

// Each byte as the code point of the same value, in UTF-8: how http.server
// decodes a request line into a str.
std::string latin1_to_utf8(std::string_view s);

// str.isspace(), which is what \s matches in a Python str pattern.
bool py_isspace(uint32_t cp);

// Appends s as a JSON string the way json.dumps writes it (ensure_ascii):
// the short escapes, \u00XX for other control characters and everything from
// DEL up, surrogate pairs above the BMP. `latin1`: the bytes are code points
// (request lines and headers), else UTF-8 as code_point_at() reads it.
void append_py_string(std::string& out, std::string_view s, bool latin1);

// json.dumps(value): separators ", " and ": ", keys in insertion order.
std::string py_dumps(const Json& j);

// Python truthiness of a JSON value: null, false, 0, "" and empty
// containers are false.
bool py_truthy(const Json& j);

// str(value), exact for strings, integers and booleans (what clients send
// as a model name).
std::string py_str(const Json& j);

}  // namespace agenttrace::sandbox
