#!/usr/bin/env bash
# The HTML report as a browser draws it: writes the report of the committed
# trace tests/data/hidden.atrace (tag characters spelling host facts into a
# prompt) with `agenttrace analyze --format html`, renders it in headless
# Chromium (--dump-dom: the document after its script ran) and checks the
# drawn page against the JSON report of the same trace: every finding's
# message, one timeline circle per timeline point, an ev-N anchor for every
# evidence event and every #ev-N link, the decoded tag text, and no invisible
# character put on the page as it is.
#
#   tests/html/render.sh AGENTTRACE_BINARY OUT_DIR
#
# Exits 77 (skipped, saying why) when no Chromium or python3 is installed;
# scripts/install-deps.sh installs both.
set -euo pipefail

if [ $# -ne 2 ]; then
  echo "usage: $0 AGENTTRACE_BINARY OUT_DIR" >&2
  exit 2
fi
bin=$1
mkdir -p "$2"
out=$(cd "$2" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
trace=$here/../data/hidden.atrace

browser=
for b in chromium chromium-browser google-chrome-stable google-chrome; do
  if command -v "$b" >/dev/null 2>&1; then browser=$(command -v "$b"); break; fi
done
if [ -z "$browser" ]; then
  echo "SKIPPED: no headless browser: none of chromium, chromium-browser, google-chrome is installed (scripts/install-deps.sh installs chromium)"
  exit 77
fi
if ! command -v python3 >/dev/null 2>&1; then
  echo "SKIPPED: python3, which checks the rendered page, is not installed"
  exit 77
fi

# The reports of an earlier run of this test are its own to replace.
rm -f "$out/hidden.html" "$out/hidden.json"
"$bin" analyze --format html -o "$out/hidden.html" "$trace"
"$bin" analyze --format json -o "$out/hidden.json" "$trace"

profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
# No network, no first-run work; --no-sandbox because CI runs as root.
if ! timeout 120 "$browser" --headless --no-sandbox --disable-gpu --disable-background-networking \
    --disable-component-update --disable-sync --disable-extensions --no-first-run --no-default-browser-check \
    --user-data-dir="$profile" --dump-dom "file://$out/hidden.html" >"$out/hidden.dom.html" 2>"$out/chromium.log"; then
  echo "FAIL: $browser could not render $out/hidden.html; its output is in $out/chromium.log"
  tail -n 20 "$out/chromium.log"
  exit 1
fi

python3 - "$out/hidden.json" "$out/hidden.dom.html" <<'PY'
import json
import re
import sys
import unicodedata
from html.parser import HTMLParser

report = json.load(open(sys.argv[1], encoding="utf-8"))
dom = open(sys.argv[2], encoding="utf-8").read()

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class Page(HTMLParser):
    """Ids, links, timeline circles, evidence items, and the text a reader sees."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack = []          # (tag, attrs) of open elements
        self.ids = {}            # id -> tag
        self.links = []          # href of <a href="#...">
        self.circles = []        # data-event of circles in #tl-chart
        self.evidence = []       # data-event of li.ev
        self.text = []           # visible text
        self.decoded = []        # text inside .decoded
        self.problems = []       # text of .problem boxes

    def _inside(self, pred):
        return any(pred(tag, a) for tag, a in self.stack)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a:
            self.ids[a["id"]] = tag
        if tag == "a" and (a.get("href") or "").startswith("#"):
            self.links.append(a["href"])
        if tag == "circle" and self._inside(lambda t, x: x.get("id") == "tl-chart"):
            self.circles.append(a.get("data-event"))
        if tag == "li" and "ev" in (a.get("class") or "").split():
            self.evidence.append(a.get("data-event"))
        if tag not in VOID:
            self.stack.append((tag, a))

    def handle_endtag(self, tag):
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i][0] == tag:
                del self.stack[i:]
                break

    def handle_data(self, data):
        if self._inside(lambda t, x: t in ("script", "style", "title")):
            return
        self.text.append(data)
        if self._inside(lambda t, x: "decoded" in (x.get("class") or "").split()):
            self.decoded.append(data)
        if self._inside(lambda t, x: "problem" in (x.get("class") or "").split()):
            self.problems.append(data)


page = Page()
page.feed(dom)
text = re.sub(r"\s+", " ", "".join(page.text))
failures = []


def check(ok, what):
    if not ok:
        failures.append(what)


check(not page.problems, "the page reports a problem: " + " ".join(page.problems))

findings = report["findings"]
check(len(findings) > 0, "the fixture should have findings")
for f in findings:
    msg = re.sub(r"\s+", " ", f["message"])
    check(msg in text, "finding message not on the page: " + msg)
    check(("finding-" + f["id"]) in page.ids, "no element for finding " + f["id"])

timeline = report["timeline"]
check(len(page.circles) == len(timeline),
      "%d timeline circles for %d timeline points" % (len(page.circles), len(timeline)))
check(sorted(page.circles, key=str) == sorted((str(p["event"]) for p in timeline), key=str),
      "timeline circles are not the timeline's events")
for p in timeline:
    check(page.ids.get("ev-%d" % p["event"]) == "circle", "timeline event %d has no ev- anchor on its circle" % p["event"])

evidence = [e for f in findings for e in f["evidence"]]
check(len(page.evidence) == len(evidence), "%d evidence items drawn for %d in the JSON" % (len(page.evidence), len(evidence)))
for e in evidence:
    if e.get("event"):
        check(("ev-%d" % e["event"]) in page.ids, "no ev- anchor for evidence event %d" % e["event"])
        check(("#ev-%d" % e["event"]) in page.links, "no #ev- link for evidence event %d" % e["event"])
for href in page.links:
    check(href[1:] in page.ids, "link %s leads nowhere" % href)

decoded = [e["decoded"] for e in evidence if e.get("decoded")]
check(len(decoded) > 0, "the fixture should decode tag characters")
shown = "".join(page.decoded)
for d in decoded:
    check(d in shown, "decoded tag text not shown: " + d)
for e in evidence:
    for c in e.get("code_points", []):
        check(c["code_point"] in text and c["name"] in text, "code point not listed: %s %s" % (c["code_point"], c["name"]))

hidden = sorted({"U+%04X" % ord(ch) for ch in "".join(page.text)
                 if unicodedata.category(ch) in ("Cf", "Zl", "Zp") or 0xE0000 <= ord(ch) <= 0xE007F})
check(not hidden, "invisible characters drawn as they are: " + ", ".join(hidden))

if failures:
    print("FAIL: the rendered HTML report (%s):" % sys.argv[2])
    for f in failures:
        print("  " + f)
    sys.exit(1)
print("ok: %d findings, %d timeline circles, %d evidence items with their ev- anchors, decoded %s"
      % (len(findings), len(page.circles), len(page.evidence), ", ".join(repr(d) for d in decoded)))
PY
