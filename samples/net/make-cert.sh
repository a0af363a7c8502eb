#!/bin/sh
# make-cert.sh DIR: a self-signed certificate for the HTTPS stand-in.
#
# Writes DIR/cert.pem and DIR/key.pem for "localhost", 127.0.0.1 and ::1
# (all as subjectAltName: clients match names against SANs, not the CN).
# Clients trust it by using cert.pem as their CA file, e.g.
#   NODE_EXTRA_CA_CERTS=DIR/cert.pem, curl --cacert, Python's cafile=.
#
# Idempotent: an existing pair that is still valid for a day is kept, so
# tests can call this unconditionally. A new pair is generated into
# temporary files and renamed into place, so an interrupted run never leaves
# a half-written certificate behind.
set -eu

if [ $# -ne 1 ]; then
  echo "usage: $0 DIR" >&2
  exit 2
fi
dir=$1
cert=$dir/cert.pem
key=$dir/key.pem

mkdir -p "$dir"
if [ -s "$cert" ] && [ -s "$key" ] &&
   openssl x509 -in "$cert" -noout -checkend 86400 >/dev/null 2>&1; then
  echo "make-cert: $cert already present"
  exit 0
fi

tmp_cert=$cert.tmp.$$
tmp_key=$key.tmp.$$
trap 'rm -f "$tmp_cert" "$tmp_key"' EXIT
umask 077  # the private key is nobody else's business

# CA:TRUE lets the certificate act as its own trust anchor; keyUsage and
# extendedKeyUsage are what strict TLS stacks check for a server leaf.
openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 3650 \
  -subj "/CN=localhost" \
  -addext "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1" \
  -addext "basicConstraints=critical,CA:TRUE" \
  -addext "keyUsage=critical,digitalSignature,keyEncipherment,keyCertSign" \
  -addext "extendedKeyUsage=serverAuth" \
  -keyout "$tmp_key" -out "$tmp_cert" 2>/dev/null
chmod 644 "$tmp_cert"
mv -f "$tmp_key" "$key"
mv -f "$tmp_cert" "$cert"
echo "make-cert: wrote $cert and $key"
