// The HTML report: analyzer/html/report.html (compiled in, see
// cmake/report_html.cpp.in) with the JSON report embedded as data. The page's
// script draws everything from that JSON, so the HTML says exactly what the
// JSON says; nothing here formats findings a second time.
#include <unicode/uchar.h>
#include <unicode/utf8.h>

#include <cstdint>
#include <cstdio>
#include <string_view>

#include "analyzer/report.h"
#include "common/strings.h"

namespace agenttrace::analyzer {

extern const char kReportHtmlTemplate[];

namespace {

// Code points a reader cannot see: controls, format characters (zero-width,
// bidi controls, tags), line and paragraph separators and default-ignorables
// (variation selectors, fillers). The page's script uses the same classes.
bool invisible(UChar32 c) {
  if (c < 0x20 || c == 0x7f) return true;
  switch (u_charType(c)) {
    case U_CONTROL_CHAR:
    case U_FORMAT_CHAR:
    case U_LINE_SEPARATOR:
    case U_PARAGRAPH_SEPARATOR:
      return true;
    default:
      return u_hasBinaryProperty(c, UCHAR_DEFAULT_IGNORABLE_CODE_POINT);
  }
}

void append_u16_escape(std::string& out, uint32_t unit) {
  char buf[8];
  snprintf(buf, sizeof(buf), "\\u%04x", unit);
  out += buf;
}

// Visits each code point with its UTF-8 bytes; ill-formed bytes arrive as
// U+FFFD (and its bytes).
template <typename F>
void for_each_code_point(std::string_view text, F&& f) {
  int32_t i = 0;
  const int32_t n = static_cast<int32_t>(text.size());
  const auto* s = reinterpret_cast<const uint8_t*>(text.data());
  while (i < n) {
    int32_t start = i;
    UChar32 c;
    U8_NEXT(s, i, n, c);
    if (c < 0) f(0xFFFD, std::string_view("\xEF\xBF\xBD"));
    else f(c, text.substr(start, i - start));
  }
}

// The JSON text made safe inside <script type="application/json">: a '<'
// becomes \u003c (so neither "</script" nor "<!--" can occur) except where it
// opens a <U+XXXX> label, which stays readable in the raw view; invisible code
// points, U+2028 and U+2029 among them, become \u escapes. Outside strings
// JSON text is ASCII without '<', so every rewrite lands inside a string,
// where JSON.parse turns it back into the same character.
std::string json_for_script(std::string_view json) {
  std::string out;
  out.reserve(json.size() + json.size() / 16);
  for (size_t i = 0; i < json.size();) {
    unsigned char b = static_cast<unsigned char>(json[i]);
    if (b < 0x80) {
      if (b == '<' && json.substr(i + 1, 2) != "U+") out += "\\u003c";
      else if (b == 0x7f) out += "\\u007f";
      else out += static_cast<char>(b);
      i++;
      continue;
    }
    size_t end = i + 1;
    while (end < json.size() && (static_cast<unsigned char>(json[end]) & 0xC0) == 0x80) end++;
    for_each_code_point(json.substr(i, end - i), [&](UChar32 c, std::string_view bytes) {
      if (!invisible(c)) {
        out += bytes;
      } else if (c > 0xFFFF) {
        append_u16_escape(out, 0xD800 + ((c - 0x10000) >> 10));
        append_u16_escape(out, 0xDC00 + ((c - 0x10000) & 0x3FF));
      } else {
        append_u16_escape(out, static_cast<uint32_t>(c));
      }
    });
    i = end;
  }
  return out;
}

// Text for an HTML text node or attribute: markup characters as references,
// invisible code points as <U+XXXX> labels, at most `max_chars` code points.
std::string html_text(std::string_view text, size_t max_chars) {
  std::string out;
  size_t count = 0;
  for_each_code_point(text, [&](UChar32 c, std::string_view bytes) {
    if (++count > max_chars) {
      if (count == max_chars + 1) out += "\xE2\x80\xA6";  // …
      return;
    }
    if (c == '&') out += "&amp;";
    else if (c == '<') out += "&lt;";
    else if (c == '>') out += "&gt;";
    else if (c == '"') out += "&quot;";
    else if (c == '\'') out += "&#39;";
    else if (invisible(c)) {
      char buf[24];
      snprintf(buf, sizeof(buf), "&lt;U+%04X&gt;", static_cast<unsigned>(c));
      out += buf;
    } else {
      out += bytes;
    }
  });
  return out;
}

}  // namespace

std::string report_html(const Analysis& a, const KnowledgeBase& kb) {
  std::string json = json_for_script(report_json(a, kb).dump(1, ' ', false, trace::Json::error_handler_t::replace));

  std::vector<std::string> cmd;
  for (const auto& c : a.profile.header.command()) cmd.push_back(shell_quote(c));
  std::string title = "agenttrace: " + (cmd.empty() ? (a.source.empty() ? std::string("report") : a.source) : join(cmd, " "));

  static const std::string_view kTemplate(kReportHtmlTemplate);
  static constexpr std::string_view kTitleMark = "{{TITLE}}", kJsonMark = "{{REPORT_JSON}}";
  size_t title_at = kTemplate.find(kTitleMark);
  size_t json_at = kTemplate.find(kJsonMark);
  std::string out;
  out.reserve(kTemplate.size() + json.size() + title.size());
  if (title_at == std::string_view::npos || json_at == std::string_view::npos || title_at > json_at) {
    // A broken template is a build defect; still give the reader the data.
    out = "<!doctype html><meta charset=utf-8><title>agenttrace report</title><pre>" + html_text(json, SIZE_MAX) + "</pre>\n";
    return out;
  }
  out.append(kTemplate.substr(0, title_at));
  out += html_text(title, 160);
  out.append(kTemplate.substr(title_at + kTitleMark.size(), json_at - title_at - kTitleMark.size()));
  out += json;
  out.append(kTemplate.substr(json_at + kJsonMark.size()));
  return out;
}

}  // namespace agenttrace::analyzer
