#!/usr/bin/env python3
"""Validates agenttrace's JSON report against docs/report-schema.json and its
SARIF report against the official SARIF 2.1.0 schema, for each trace given.

usage: validate_reports.py AGENTTRACE REPORT_SCHEMA SARIF_SCHEMA TRACE...
Exit 0 when every report is valid, 1 when one is not, 77 (skip) when a
schema or the jsonschema module is missing, saying which.
"""
import json
import os
import subprocess
import sys


def main():
    agenttrace, report_schema, sarif_schema, *traces = sys.argv[1:]
    try:
        import jsonschema
    except ImportError:
        print("skip: the python3 jsonschema module is not installed (Debian: python3-jsonschema)")
        return 77
    if not os.path.exists(sarif_schema):
        print(f"skip: {sarif_schema} is missing (scripts/fetch-test-data.sh fetches it)")
        return 77
    with open(report_schema) as f:
        report_validator = jsonschema.Draft7Validator(json.load(f))
    with open(sarif_schema) as f:
        sarif = json.load(f)
    sarif_validator = jsonschema.validators.validator_for(sarif)(sarif)
    failures = 0
    for trace in traces:
        for fmt, validator in (("json", report_validator), ("sarif", sarif_validator)):
            out = subprocess.run([agenttrace, "analyze", "--format", fmt, trace],
                                 capture_output=True, check=True).stdout
            doc = json.loads(out)
            errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.path))
            for e in errors[:10]:
                print(f"{trace} {fmt}: {'/'.join(map(str, e.path))}: {e.message}")
            failures += len(errors)
            if fmt == "json" and not doc["findings"]:
                print(f"{trace}: expected findings in this fixture")
                failures += 1
            if fmt == "sarif" and len(doc["runs"][0]["results"]) == 0:
                print(f"{trace}: expected SARIF results")
                failures += 1
            print(f"{trace} {fmt}: {'valid' if not errors else str(len(errors)) + ' errors'}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
