#!/usr/bin/env python3
"""python3 urllib_client.py [--cafile CERT] URL BODY_FILE

Posts BODY_FILE's bytes as JSON with urllib.request, the stdlib HTTP stack
that Python-based agents and their helper scripts use, so agenttrace tests
can check how its traffic (http.client, and ssl for HTTPS) is captured.

Prints "status: <code>" and then the response body; exits 0 on 2xx, 1 on
another status, 2 on usage or network errors.

HTTPS with the stand-in's self-signed certificate: pass --cafile cert.pem
(from make-cert.sh), or set SSL_CERT_FILE=cert.pem, which OpenSSL's default
verify paths honour. Verification is never disabled.

Only loopback hosts are accepted; proxies from the environment (http_proxy,
https_proxy) are ignored so the request cannot leave the machine through
one; every socket operation times out after 10 s.
"""
import argparse
import ipaddress
import ssl
import sys
import urllib.error
import urllib.request
from urllib.parse import urlsplit

TIMEOUT = 10


def is_loopback(host):
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def main():
    ap = argparse.ArgumentParser(description="POST a JSON file with urllib.request.")
    ap.add_argument("--cafile", help="extra trust anchor for https:// (e.g. the stand-in's cert.pem)")
    ap.add_argument("url")
    ap.add_argument("body_file")
    args = ap.parse_args()

    parts = urlsplit(args.url)
    if parts.scheme not in ("http", "https"):
        ap.error("URL must be http:// or https://")
    if not is_loopback(parts.hostname or ""):
        ap.error(f"{parts.hostname} is not a loopback host")

    with open(args.body_file, "rb") as f:
        body = f.read()

    tls = ssl.create_default_context(cafile=args.cafile)
    # An empty ProxyHandler disables the environment's proxy settings.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}),
                                         urllib.request.HTTPSHandler(context=tls))
    req = urllib.request.Request(args.url, data=body, method="POST",
                                 headers={"Content-Type": "application/json"})
    try:
        with opener.open(req, timeout=TIMEOUT) as resp:
            status, text = resp.status, resp.read()
    except urllib.error.HTTPError as err:  # 4xx/5xx still carry a body worth showing
        status, text = err.code, err.read()
    except (urllib.error.URLError, OSError) as err:
        print(f"urllib_client: {getattr(err, 'reason', err)}", file=sys.stderr)
        return 2

    print(f"status: {status}")
    out = text.decode("utf-8", "replace")
    sys.stdout.write(out if out.endswith("\n") else out + "\n")
    return 0 if 200 <= status < 300 else 1


if __name__ == "__main__":
    sys.exit(main())
