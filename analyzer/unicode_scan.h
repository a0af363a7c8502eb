// Hidden characters in outgoing payload text: invisible and format code
// points (zero-width characters, bidi controls, tag characters, variation
// selectors, ...) and look-alike letters standing in for ASCII inside Latin
// words. An agent that smuggles facts inside its own prompt has to put them
// somewhere a reader will not see; these are the usual places.
//
// Input is bytes that should be UTF-8 but may be anything: invalid sequences
// are counted and skipped, never fatal. Character properties, confusables and
// names come from ICU, so the tables follow the Unicode version ICU ships.
//
// What is deliberately not reported (see unicode_scan.cpp for the rules):
//   * ZWJ, VS15 and VS16 where they sit inside a well-formed emoji sequence
//     (family emoji, "❤️", keycaps "1️⃣"), and the tag characters of the
//     three RGI flag tag sequences (England, Scotland, Wales). The same code
//     points anywhere else are reported.
//   * ZWJ and ZWNJ where the script needs them (after a virama, and ZWNJ in
//     Arabic-script joining context), as IDNA (RFC 5892, Appendix A) allows.
//   * Whole words written in another script ("привет", "καλημέρα"): only
//     stand-ins inside otherwise Latin words, and foreign digits inside ASCII
//     numbers, are look-alikes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace agenttrace::analyzer {

struct HiddenChar {
  enum class Kind {
    kInvisible,          // general category Cf or Default_Ignorable_Code_Point
    kBidi,               // Bidi_Control: can reorder what a reader sees
    kTag,                // U+E0000-U+E007F: can carry a whole ASCII message
    kVariationSelector,  // U+FE00-U+FE0F, U+E0100-U+E01EF, Mongolian FVS
    kLookalike,          // confusable with the ASCII in `imitates`
  };

  uint64_t offset = 0;  // byte offset of the code point in the scanned buffer
  uint32_t code_point = 0;
  // ICU name: "ZERO WIDTH SPACE", "CYRILLIC SMALL LETTER A"; for unassigned
  // code points ICU's extended name, "<unassigned-2065>".
  std::string name;
  Kind kind = Kind::kInvisible;
  std::string imitates;  // kLookalike only: the ASCII it looks like ("a")
};

struct ScanResult {
  std::vector<HiddenChar> chars;  // in offset order
  // Bytes that are not part of well-formed UTF-8 (bad leads, stray or missing
  // continuation bytes, overlongs, surrogates, > U+10FFFF), up to where the
  // scan stopped.
  uint64_t invalid_utf8_bytes = 0;
  bool truncated = false;  // stopped at max_findings
};

// Scans `utf8` for hidden and look-alike code points. Never throws on any
// input; stops after `max_findings` findings and sets `truncated`.
ScanResult scan_hidden_chars(std::string_view utf8, size_t max_findings = 10000);

// Text around a byte offset, for evidence: up to `radius` code points on each
// side plus the one at `offset`. Hidden code points (anything the scan could
// report as invisible, bidi, tag or variation selector), C1 controls and line
// separators are shown as <U+200B>; \n \r \t as such; other control and
// invalid bytes as \xNN. Always valid UTF-8 and one line. It is for a human
// to read, not to be parsed back: a literal backslash is left as it is.
std::string context_around(std::string_view utf8, uint64_t offset, size_t radius = 24);

// The ASCII message carried by the run of tag characters that contains the
// code point at `offset` (U+E0020-U+E007E map to ASCII 0x20-0x7E; LANGUAGE
// TAG, CANCEL TAG and unassigned tags are skipped). Empty when there is no tag
// character at `offset`.
std::string decode_tag_run(std::string_view utf8, uint64_t offset);

// The UTS #39 skeleton of a code point (ICU's spoof checker): two code
// points are confusable when their skeletons are equal. Empty should ICU's
// checker be unavailable (its data is linked in), so nothing is confusable.
std::u16string confusable_skeleton(uint32_t cp);

// "U+200B ZERO WIDTH SPACE"; for code points without a name, ICU's extended
// name: "U+2065 <unassigned-2065>".
std::string code_point_label(uint32_t cp);

// "invisible", "bidi", "tag", "variation-selector", "lookalike".
const char* kind_name(HiddenChar::Kind kind);

}  // namespace agenttrace::analyzer
