// The stand-in's Python-compatible JSON and text (sandbox/standin_json.h):
// expected strings are what CPython 3's json.dumps and str methods give.
#include "sandbox/standin_json.h"

#include <gtest/gtest.h>

namespace agenttrace::sandbox {
namespace {

std::string py_string(std::string_view s, bool latin1) {
  std::string out;
  append_py_string(out, s, latin1);
  return out;
}

TEST(StandInJson, DumpsSpellsLikePythonInInsertionOrder) {
  Json j = Json::object();
  j["a"] = 1;
  j["b"] = Json::array({true, nullptr, "x"});
  j["c"] = Json::object();
  j["d"] = Json::array();
  j["e"] = -5;
  // json.dumps({"a": 1, "b": [True, None, "x"], "c": {}, "d": [], "e": -5})
  EXPECT_EQ(py_dumps(j), R"({"a": 1, "b": [true, null, "x"], "c": {}, "d": [], "e": -5})");
  EXPECT_EQ(py_dumps(Json(uint64_t{18446744073709551615u})), "18446744073709551615");
}

TEST(StandInJson, StringsAreEscapedToAscii) {
  // json.dumps("é\x01\x7f😀\"\\\n\t\b\f\r/")
  EXPECT_EQ(py_string("\xc3\xa9\x01\x7f\xf0\x9f\x98\x80\"\\\n\t\b\f\r/", false),
            R"("\u00e9\u0001\u007f\ud83d\ude00\"\\\n\t\b\f\r/")");
  // A byte that is not UTF-8 stands for itself; as Latin-1 every byte does.
  EXPECT_EQ(py_string("\xff", false), R"("\u00ff")");
  EXPECT_EQ(py_string("\xc3\xa9", true), R"("\u00c3\u00a9")");
  EXPECT_EQ(py_string("", false), R"("")");
}

TEST(StandInJson, CodePointsAreStrictUtf8OrTheByteItself) {
  size_t len = 0;
  EXPECT_EQ(code_point_at("\xe2\x82\xac", 0, &len), 0x20acu);
  EXPECT_EQ(len, 3u);
  EXPECT_EQ(code_point_at("a\xf0\x9f\x98\x80", 1, &len), 0x1f600u);
  EXPECT_EQ(len, 4u);
  EXPECT_EQ(code_point_at("\xed\xa0\x80", 0, &len), 0xedu);  // a surrogate
  EXPECT_EQ(len, 1u);
  EXPECT_EQ(code_point_at("\xc0\x80", 0, &len), 0xc0u);  // overlong
  EXPECT_EQ(len, 1u);
  EXPECT_EQ(code_point_at("\xe2\x82", 0, &len), 0xe2u);  // truncated
  EXPECT_EQ(len, 1u);
  EXPECT_EQ(latin1_to_utf8("a\xe9\xff"), "a\xc3\xa9\xc3\xbf");
}

TEST(StandInJson, SpaceIsPythonsIsspace) {
  // [chr(c).isspace() for c in ...]
  for (uint32_t cp : {0x09u, 0x0du, 0x1cu, 0x1fu, 0x20u, 0x85u, 0xa0u, 0x2028u, 0x3000u}) {
    EXPECT_TRUE(py_isspace(cp)) << cp;
  }
  for (uint32_t cp : {0x08u, 0x61u, 0x180eu, 0x200bu, 0xfeffu}) EXPECT_FALSE(py_isspace(cp)) << cp;
}

TEST(StandInJson, TruthinessAndStrAreNamedLikePythons) {
  for (const Json& j : {Json(nullptr), Json(false), Json(0), Json(0.0), Json(""), Json::array(), Json::object()}) {
    EXPECT_FALSE(py_truthy(j)) << j.dump();
  }
  for (const Json& j : {Json(true), Json(-1), Json(0.5), Json("0"), Json::array({0}), Json{{"a", nullptr}}}) {
    EXPECT_TRUE(py_truthy(j)) << j.dump();
  }
  EXPECT_EQ(py_str(Json("gpt-x")), "gpt-x");
  EXPECT_EQ(py_str(Json(true)), "True");
  EXPECT_EQ(py_str(Json(false)), "False");
  EXPECT_EQ(py_str(Json(42)), "42");
}

}  // namespace
}  // namespace agenttrace::sandbox
