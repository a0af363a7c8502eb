"""An ordinary Python helper: proxy settings, the local time zone and the
host name for its own log lines, plus encoded data that is not a hidden
table (a compressed default config, a digest, a key fingerprint)."""
import base64
import hashlib
import json
import os
import socket
import time
import zlib

DEFAULTS = "eJyrVirJzE3NLy1RslIwNtBRUCpKLSnKTC0GcWsBjcQJHA=="
DIGEST = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
KEY_ID = "SHA256:nThbg6kXUpJWGl7E1IGOCspRomTxdCARLviKw6E5SY8"
GREETINGS = {"en": "Hello", "ru": "Привет", "el": "Καλημέρα", "ar": "مرحبا"}


def proxies():
    return {scheme: os.environ.get(f"{scheme.upper()}_PROXY") for scheme in ("http", "https")}


def log_prefix():
    zone = time.tzname[time.daylight]
    return f"[{socket.gethostname()} {zone}]"


def defaults():
    return json.loads(zlib.decompress(base64.b64decode(DEFAULTS)))


def verify(data: bytes) -> bool:
    return hashlib.sha256(data).hexdigest() == DIGEST


if __name__ == "__main__":
    print(log_prefix(), proxies(), defaults())
