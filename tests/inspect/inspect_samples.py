#!/usr/bin/env python3
"""`agenttrace inspect` end to end on samples/triage/:

  inspect_samples.py AGENTTRACE SAMPLES_TRIAGE_DIR

* agent-bundle.js is exactly what make-bundle.py writes;
* inspecting it exits 3, and the JSON report decodes its hidden host list
  with the key and encoding chain make-bundle.py used (XOR 0x5a, then
  base64), in the text report as well, and with -o into a 0600 file;
* the clean bundle and the clean Python file exit 0;
* make-spellings.py's covert date stamp exits 3 in each spelling with its
  chooser, separator switch and host list, and its clean markdown bundle 0;
* an unreadable file exits 125 with one sentence on stderr.
"""
import json
import os
import subprocess
import sys
import tempfile

HOSTS = [
    "api.anthropic.com",
    "statsig.anthropic.com",
    "o1137031.ingest.sentry.io",
    "collector.agent-metrics.io",
    "edge.fp-sync.net",
]

failures = []


def check(ok, what):
    print(("ok    " if ok else "FAIL  ") + what)
    if not ok:
        failures.append(what)


def main():
    agenttrace, samples = sys.argv[1], sys.argv[2]
    bundle = os.path.join(samples, "agent-bundle.js")

    def inspect(*args):
        return subprocess.run([agenttrace, "inspect", *args], capture_output=True, text=True, timeout=120)

    generated = subprocess.run([sys.executable, os.path.join(samples, "make-bundle.py")],
                               capture_output=True, text=True, check=True).stdout
    with open(bundle, encoding="utf-8") as f:
        check(generated == f.read(), "agent-bundle.js is what make-bundle.py writes")

    r = inspect(bundle, "--format", "json")
    check(r.returncode == 3, f"agent-bundle.js exits 3 (got {r.returncode}: {r.stderr.strip()})")
    doc = json.loads(r.stdout)
    check(doc["suspicious"] is True and doc["exit_status"] == 3, "the JSON says suspicious, exit 3")
    hosts = [t for t in doc["encoded_tables"] if t["kind"] == "hosts"]
    check(len(hosts) == 1, "one hidden host table")
    if hosts:
        t = hosts[0]
        check(t["items"] == HOSTS, f"the hosts are decoded: {t['items']}")
        check(t["key"] == "0x5a", f"with key 0x5a (got {t['key']})")
        check(t["encoding"] == "base64 -> xor 0x5a", f"chain base64 -> xor 0x5a (got {t['encoding']})")
        with open(bundle, encoding="utf-8") as f:
            text = f.read()
        check(t["offset"] == text.index('"OyozdD') + 1, f"at the blob's offset ({t['offset']})")
    check(any(c["reason"] == "invisible pair" for c in doc["lookalike_choices"]),
          "the U+200B/U+200C ternary is a look-alike choice")

    r = inspect(bundle)
    check(r.returncode == 3 and "base64 -> xor 0x5a, key 0x5a, 5 hosts" in r.stdout and HOSTS[0] in r.stdout,
          "the text report names the chain, key and hosts")

    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "report.json")
        r = inspect(bundle, "--format", "json", "-o", out)
        check(r.returncode == 3 and r.stdout == "", "-o writes the report to the file, not stdout")
        check(os.stat(out).st_mode & 0o777 == 0o600, "the report file is 0600")
        with open(out, encoding="utf-8") as f:
            check(json.load(f)["encoded_tables"][0]["key"] == "0x5a", "the file holds the JSON report")

    for name in ("clean-bundle.js", "clean.py"):
        r = inspect(os.path.join(samples, name), "--format", "json")
        doc = json.loads(r.stdout) if r.stdout else {}
        check(r.returncode == 0 and doc.get("suspicious") is False,
              f"{name} exits 0 (got {r.returncode}: {r.stderr.strip()})")
        check(doc.get("fingerprint_sources", {}).get("total", 0) > 0, f"{name} still lists its fingerprint sources")

    # make-spellings.py's samples, each spelling through the binary.
    for spelling in ("raw", "escaped", "min"):
        r = inspect(os.path.join(samples, f"covert-stamp.{spelling}.js"), "--format", "json")
        doc = json.loads(r.stdout) if r.stdout else {}
        shapes = [c["shape"] for c in doc.get("lookalike_choices", [])]
        check(r.returncode == 3 and shapes == ["returns", "replace"] and len(doc.get("encoded_tables", [])) == 1,
              f"covert-stamp.{spelling}.js: the apostrophe chooser, the separator switch and the host list, exit 3 "
              f"(got {r.returncode}, {shapes})")
        if shapes:
            cps = [c["code_points"][0]["code_point"] for c in doc["lookalike_choices"][0]["candidates"]]
            check(cps == ["U+0027", "U+2019", "U+02BC", "U+02B9"], f"covert-stamp.{spelling}.js: four apostrophes ({cps})")
        r = inspect(os.path.join(samples, f"clean-markdown.{spelling}.js"))
        check(r.returncode == 0 and "verdict: nothing hidden found" in r.stdout,
              f"clean-markdown.{spelling}.js exits 0 (got {r.returncode})")

    r = inspect(os.path.join(samples, "no-such-file.js"))
    lines = r.stderr.strip().splitlines()
    check(r.returncode == 125 and len(lines) == 1 and "cannot read" in lines[0] and "No such file" in lines[0],
          f"a missing file exits 125 with one sentence (got {r.returncode}: {r.stderr.strip()})")
    r = inspect(bundle, "--format", "yaml")
    check(r.returncode == 125, f"an unknown format exits 125 (got {r.returncode})")

    if failures:
        print(f"{len(failures)} check(s) failed", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
