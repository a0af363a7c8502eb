#!/bin/sh
# clients.sh STANDIN_DEMO SAMPLES_NET_DIR
#
# Real HTTP stacks against the C++ stand-in (sandbox/standin.cpp): Node's
# fetch (undici) trusting the generated certificate through
# NODE_EXTRA_CA_CERTS, Python's urllib with --cafile, and curl --cacert, each
# over https and http, plain JSON and streamed. Every exchange must answer
# 200 with the stand-in's reply, and the stand-in must have recorded each
# request. Exits 0 on success, 1 on a failure, 77 (skipped) without node.
set -eu

if [ $# -ne 2 ]; then
  echo "usage: $0 STANDIN_DEMO SAMPLES_NET_DIR" >&2
  exit 2
fi
demo=$1
net=$2

if ! command -v node >/dev/null 2>&1; then
  echo "clients.sh: skipped: node is not installed (Node's fetch is the stack most agents use)"
  exit 77
fi
for tool in python3 curl; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "clients.sh: $tool is missing" >&2
    exit 1
  fi
done

work=$(mktemp -d "${TMPDIR:-/tmp}/standin-clients.XXXXXX")
demo_pid=
cleanup() {
  if [ -n "$demo_pid" ]; then kill "$demo_pid" 2>/dev/null || true; wait "$demo_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

reply="stand-in says hi"
"$demo" --seconds 60 --reply "$reply" --record-dir "$work/records" >"$work/ready" 2>"$work/demo.log" &
demo_pid=$!
i=0
while ! grep -q '^http=' "$work/ready" 2>/dev/null; do
  i=$((i + 1))
  if [ $i -gt 100 ] || ! kill -0 "$demo_pid" 2>/dev/null; then
    echo "clients.sh: standin_demo did not start:" >&2
    cat "$work/demo.log" >&2
    exit 1
  fi
  sleep 0.1
done
line=$(cat "$work/ready")
http_port=$(echo "$line" | sed -n 's/.*http=\([0-9]*\).*/\1/p')
https_port=$(echo "$line" | sed -n 's/.*https=\([0-9]*\).*/\1/p')
cert=$(echo "$line" | sed -n 's/.*cert=\(.*\)$/\1/p')
echo "clients.sh: $line"

printf '%s' '{"model":"claude-test","max_tokens":16,"messages":[{"role":"user","content":"hello"}]}' >"$work/body.json"

failures=0
requests=0
# check NAME EXPECTED_TEXT COMMAND...: the command must exit 0, print
# "status: 200" (or an HTTP 200 from curl) and the expected text.
check() {
  name=$1
  expected=$2
  shift 2
  requests=$((requests + 1))
  if "$@" >"$work/out" 2>"$work/err" && grep -qE '^(status: 200|http 200)$' "$work/out" && grep -qF -- "$expected" "$work/out"; then
    echo "ok   $name"
  else
    echo "FAIL $name" >&2
    sed 's/^/     stdout: /' "$work/out" >&2
    sed 's/^/     stderr: /' "$work/err" >&2
    failures=$((failures + 1))
  fi
}

for scheme in https http; do
  if [ $scheme = https ]; then port=$https_port; else port=$http_port; fi
  base="$scheme://127.0.0.1:$port"
  for path in /v1/messages /v1/chat/completions /v1/responses /v1beta/models/gemini-test:generateContent; do
    check "node fetch $base$path" "$reply" \
      env NODE_EXTRA_CA_CERTS="$cert" node "$net/fetch_client.mjs" "$base$path" "$work/body.json"
    case $path in *generateContent) continue ;; esac
    check "node fetch --stream $base$path" "$reply" \
      env NODE_EXTRA_CA_CERTS="$cert" node "$net/fetch_client.mjs" --stream "$base$path" "$work/body.json"
  done
  check "node fetch --stream $base (gemini)" "$reply" \
    env NODE_EXTRA_CA_CERTS="$cert" node "$net/fetch_client.mjs" --stream \
    "$base/v1beta/models/gemini-test:streamGenerateContent" "$work/body.json"
  check "python urllib $base/v1/messages" "$reply" \
    python3 "$net/urllib_client.py" --cafile "$cert" "$base/v1/messages" "$work/body.json"
  check "python urllib $base/v1/chat/completions" "$reply" \
    python3 "$net/urllib_client.py" --cafile "$cert" "$base/v1/chat/completions" "$work/body.json"
  check "curl $base/v1/messages" "$reply" \
    curl -sS --max-time 10 --cacert "$cert" -w '\nhttp %{http_code}\n' -H 'Content-Type: application/json' \
    --data-binary "@$work/body.json" "$base/v1/messages"
  check "curl $base/v1/messages (stream)" "message_stop" \
    curl -sS -N --max-time 10 --cacert "$cert" -w '\nhttp %{http_code}\n' -H 'Content-Type: application/json' \
    --data-binary '{"stream":true}' "$base/v1/messages"
done

# Node's fetch (undici) keeps connections alive: of three requests in a row
# at least two share a connection (undici may open a second one while the
# first is being released, with the Python stand-in too); a stream ends its
# connection ("Connection: close") and the requests after it go elsewhere.
cat >"$work/keepalive.mjs" <<'EOF'
const post = async (body) => {
  const res = await fetch(process.argv[2] + '/v1/messages', {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body),
    signal: AbortSignal.timeout(10000) });
  await res.text();
  if (res.status !== 200) throw new Error(`status ${res.status}`);
};
for (const model of ['keepalive-a', 'keepalive-a', 'keepalive-a', 'keepalive-stream',
                     'keepalive-b', 'keepalive-b', 'keepalive-b'])
  await post(model === 'keepalive-stream' ? { model, stream: true } : { model });
console.log('status: 200');
console.log('keep-alive done');
EOF
for scheme in https http; do
  if [ $scheme = https ]; then port=$https_port; else port=$http_port; fi
  check "node fetch keep-alive $scheme" "keep-alive" \
    env NODE_EXTRA_CA_CERTS="$cert" node "$work/keepalive.mjs" "$scheme://127.0.0.1:$port"
  requests=$((requests + 6))
done

# Node trusts nothing extra without NODE_EXTRA_CA_CERTS: the certificate, not
# a disabled check, is what makes https work above.
if env -u NODE_EXTRA_CA_CERTS node "$net/fetch_client.mjs" "https://127.0.0.1:$https_port/v1/messages" \
     "$work/body.json" >"$work/out" 2>"$work/err"; then
  echo "FAIL node fetch without NODE_EXTRA_CA_CERTS succeeded" >&2
  failures=$((failures + 1))
else
  echo "ok   node fetch without NODE_EXTRA_CA_CERTS is refused ($(cat "$work/err"))"
fi

# Bun, when present, is the other JavaScript runtime agents ship in.
if command -v bun >/dev/null 2>&1; then
  check "bun fetch https://127.0.0.1:$https_port/v1/messages" "$reply" \
    env NODE_EXTRA_CA_CERTS="$cert" bun "$net/fetch_client.mjs" "https://127.0.0.1:$https_port/v1/messages" \
    "$work/body.json"
fi

# Stop the stand-in (SIGTERM makes it write its records) and count them.
kill -TERM "$demo_pid"
wait "$demo_pid" || true
demo_pid=
recorded=$(ls "$work/records" 2>/dev/null | grep -c '^request-[0-9]*\.json$' || true)
if [ "$recorded" -ne "$requests" ]; then
  echo "FAIL the stand-in recorded $recorded requests, the clients sent $requests" >&2
  cat "$work/demo.log" >&2
  failures=$((failures + 1))
else
  echo "ok   $recorded requests recorded"
fi

# The keep-alive requests' client addresses, from the records.
if ! python3 - "$work/records" <<'EOF'
import json, os, sys
d = sys.argv[1]
clients = {}
for name in os.listdir(d):
    if name.endswith(".json"):
        meta = json.load(open(os.path.join(d, name)))
        body = open(os.path.join(d, name[:-5] + ".body"), "rb").read()
        try:
            model = json.loads(body).get("model", "")
        except ValueError:
            continue
        if str(model).startswith("keepalive-"):
            clients.setdefault((meta["tls"], model), []).append(meta["client"])
ok = True
for tls in (True, False):
    a, b = clients.get((tls, "keepalive-a"), []), clients.get((tls, "keepalive-b"), [])
    stream = clients.get((tls, "keepalive-stream"), [])
    reused = len(a) == 3 and len(set(a)) < 3 and len(b) == 3 and len(set(b)) < 3
    if not reused or len(stream) != 1 or stream[0] in b:
        print(f"FAIL keep-alive (tls={tls}): connections a={a} stream={stream} b={b}", file=sys.stderr)
        ok = False
    else:
        print(f"ok   keep-alive (tls={tls}): a={a} stream={stream} b={b}")
sys.exit(0 if ok else 1)
EOF
then
  failures=$((failures + 1))
fi

if [ $failures -ne 0 ]; then
  echo "clients.sh: $failures failure(s)" >&2
  exit 1
fi
echo "clients.sh: all clients got their replies"
