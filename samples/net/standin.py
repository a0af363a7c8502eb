#!/usr/bin/env python3
"""A stand-in for an LLM HTTP API, used as a tracing target and test fixture.

Agent CLIs are pointed at this server (via their base-URL settings) so that
agenttrace can observe real HTTP traffic without leaving the machine. It
answers the four request shapes the common agents use, with minimal but
realistic replies, and records every request so a test can compare what the
tracer saw with what actually arrived.

  standin.py --port P [--host 127.0.0.1] --record-dir DIR
             [--tls-cert CERT --tls-key KEY] [--ready-file FILE]
             [--max-requests N] [--timeout SECONDS] [--reply TEXT]

Routes (POST only; everything else is 404 with a JSON error):
  /v1/messages                                 Anthropic Messages
  /v1/chat/completions                         OpenAI Chat Completions
  /v1/responses                                OpenAI Responses
  /v1beta/models/<model>:generateContent       Gemini
  /v1beta/models/<model>:streamGenerateContent Gemini, streamed: server-sent
      events with ?alt=sse (what the SDKs ask for), otherwise a JSON array of
      chunks, like the real API.
The first three stream server-sent events when the request JSON has
"stream": true. Streams end with "Connection: close" (no Content-Length), the
one framing every HTTP/1.1 client understands; all other replies carry a
Content-Length so keep-alive connections carry on.

Recording: request number n (from 1, in arrival order) produces
DIR/request-<n>.body (the body bytes; for a chunked upload, the de-chunked
bytes) and then DIR/request-<n>.json (method, path, headers, body length,
...). The .json file is renamed into place last, so once it exists the .body
file is complete. Requests the HTTP parser itself rejects (a malformed
request line, a method other than GET/HEAD/POST/PUT/PATCH/DELETE/OPTIONS) get
the base class's 400/501 page and are neither recorded nor counted.

Safety: only loopback addresses may be served. The process exits by itself
after --max-requests requests or --timeout seconds, whichever comes first
(exit status 0 either way; a summary goes to stderr). Output is deterministic:
ids are derived from the request number and timestamps are fixed.
"""
import argparse
import ipaddress
import json
import os
import re
import socket
import ssl
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

# A fixed creation time keeps replies byte-for-byte reproducible.
CREATED = 1700000000
# Per-connection socket timeout: bounds every read/write of a handler thread,
# including idle keep-alive connections and slow TLS handshakes.
SOCKET_TIMEOUT = 10
# Refuse absurd uploads rather than buffering them in memory.
MAX_BODY = 256 * 1024 * 1024

GEMINI_RE = re.compile(r"^/v1beta/models/([^/:]+):(generateContent|streamGenerateContent)$")


def is_loopback(host):
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def write_atomic(path, data):
    """Write via a temporary file and rename, so readers never see a partial file."""
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def text_pieces(text):
    """Split the reply into word-sized deltas so streams have several events."""
    return re.findall(r"\S+\s*|\s+", text) or [""]


class StandinServer(ThreadingHTTPServer):
    # Handler threads are daemons so an idle keep-alive connection never
    # keeps the process alive past its exit condition.
    daemon_threads = True

    def __init__(self, addr, handler, args, tls_context):
        if ":" in addr[0]:
            self.address_family = socket.AF_INET6
        super().__init__(addr, handler)
        self.args = args
        self.tls_context = tls_context
        self.lock = threading.Lock()
        self.arrived = 0   # requests numbered so far
        self.finished = 0  # requests fully answered
        self.done = threading.Event()

    def finish_request(self, request, client_address):
        # TLS is layered on here, in the per-connection thread, instead of on
        # the listening socket: a client that stalls in the handshake then
        # blocks only its own thread, not the accept loop.
        if self.tls_context is None:
            return super().finish_request(request, client_address)
        request.settimeout(SOCKET_TIMEOUT)
        # wrap_socket takes over the descriptor (the plain socket object is
        # detached), so the TLS socket is the one to shut down and close.
        tls_sock = self.tls_context.wrap_socket(request, server_side=True)
        try:
            super().finish_request(tls_sock, client_address)
        finally:
            self.shutdown_request(tls_sock)

    def handle_error(self, request, client_address):
        # One line instead of a traceback (e.g. a client rejecting our cert).
        exc = sys.exc_info()[1]
        print(f"standin: connection from {client_address[0]}: {exc!r}", file=sys.stderr)

    def next_number(self):
        with self.lock:
            self.arrived += 1
            return self.arrived

    def request_finished(self):
        with self.lock:
            self.finished += 1
            if self.args.max_requests and self.finished >= self.args.max_requests:
                self.done.set()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive; Expect: 100-continue handled by the base class
    timeout = SOCKET_TIMEOUT

    def version_string(self):
        return "standin/1"  # the Server header; no Python version noise

    # Every method goes through the same path so unknown ones are recorded too.
    def do_POST(self):
        self.handle_any()

    do_GET = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = do_POST

    def log_request(self, code="-", size="-"):
        pass  # replaced by the one deterministic line in handle_any(); errors still log

    # ---- request side -----------------------------------------------------

    def read_body(self):
        """Returns (body bytes, complete?, chunked?)."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self.read_chunked() + (True,)
        length = int(self.headers.get("Content-Length") or 0)
        if length < 0 or length > MAX_BODY:
            raise ValueError(f"bad Content-Length {length}")
        body = self.rfile.read(length)  # loops until length bytes or EOF/timeout
        return body, len(body) == length, False

    def read_chunked(self):
        parts, total = [], 0
        while True:
            size_line = self.rfile.readline(1024)
            if not size_line:
                return b"".join(parts), False
            size = int(size_line.split(b";")[0].strip() or b"0", 16)
            if size == 0:
                # Skip trailers up to the empty line that ends the message.
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(parts), True
            total += size
            if total > MAX_BODY:
                raise ValueError("chunked body too large")
            chunk = self.rfile.read(size)
            parts.append(chunk)
            self.rfile.readline(1024)  # CRLF after the chunk data
            if len(chunk) != size:
                return b"".join(parts), False

    def record(self, n, body, complete, chunked):
        headers = {}
        for name, value in self.headers.items():  # keeps the client's case and order
            headers[name] = headers[name] + ", " + value if name in headers else value
        meta = {
            "n": n,
            "method": self.command,
            "path": self.path,
            "http_version": self.request_version,
            "headers": headers,
            "body_length": len(body),
            "body_complete": complete,
            "chunked": chunked,
            "tls": self.server.tls_context is not None,
            "client": f"{self.client_address[0]}:{self.client_address[1]}",
        }
        d = self.server.args.record_dir
        write_atomic(os.path.join(d, f"request-{n}.body"), body)
        write_atomic(os.path.join(d, f"request-{n}.json"),
                     (json.dumps(meta, indent=2) + "\n").encode())

    def handle_any(self):
        n = self.server.next_number()
        status = 0
        try:
            body, complete, chunked = self.read_body()
            self.record(n, body, complete, chunked)
            if not complete:
                self.close_connection = True
                return
            status = self.route(n, body)
        finally:
            print(f"standin: #{n} {self.command} {self.path} -> {status or '-'}", file=sys.stderr)
            self.server.request_finished()

    # ---- response side ----------------------------------------------------

    def send_json(self, status, obj, n):
        data = (json.dumps(obj) + "\n").encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-request-id", f"req_standin_{n:06d}")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        return status

    def send_sse(self, events, n):
        """events: list of (event name or None, JSON-able data or raw str)."""
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.send_header("x-request-id", f"req_standin_{n:06d}")
        self.end_headers()
        self.close_connection = True
        for name, data in events:
            payload = data if isinstance(data, str) else json.dumps(data)
            frame = (f"event: {name}\n" if name else "") + f"data: {payload}\n\n"
            # One write per event (wfile is unbuffered), like a real stream.
            self.wfile.write(frame.encode())
        return 200

    def route(self, n, body):
        url = urlsplit(self.path)
        gemini = GEMINI_RE.match(url.path)
        if self.command != "POST" or not (
                url.path in ("/v1/messages", "/v1/chat/completions", "/v1/responses") or gemini):
            return self.send_json(404, {"type": "error", "error": {
                "type": "not_found_error",
                "message": f"standin: no route for {self.command} {url.path}"}}, n)
        try:
            req = json.loads(body) if body else {}
        except ValueError:
            req = {}  # lenient: a fixture should answer whatever it is sent
        if not isinstance(req, dict):
            req = {}
        ctx = {
            "n": n,
            "text": self.server.args.reply,
            "model": str(req.get("model") or (gemini.group(1) if gemini else "standin-model")),
            "in_tokens": max(1, len(body) // 4),  # a deterministic guess
            "out_tokens": len(text_pieces(self.server.args.reply)),
            "stream": req.get("stream") is True,
            "req": req,
        }
        if gemini:
            if gemini.group(2) == "generateContent":
                return self.send_json(200, gemini_reply(ctx), n)
            chunks = gemini_chunks(ctx)
            if parse_qs(url.query).get("alt") == ["sse"]:
                return self.send_sse([(None, c) for c in chunks], n)
            return self.send_json(200, chunks, n)
        kind = {"/v1/messages": "anthropic", "/v1/chat/completions": "chat",
                "/v1/responses": "responses"}[url.path]
        if ctx["stream"]:
            return self.send_sse(STREAMS[kind](ctx), n)
        return self.send_json(200, REPLIES[kind](ctx), n)


# ---- reply shapes -------------------------------------------------------------

def anthropic_reply(c):
    return {
        "id": f"msg_standin_{c['n']:06d}", "type": "message", "role": "assistant",
        "model": c["model"], "content": [{"type": "text", "text": c["text"]}],
        "stop_reason": "end_turn", "stop_sequence": None,
        "usage": {"input_tokens": c["in_tokens"], "output_tokens": c["out_tokens"],
                  "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0},
    }


def anthropic_stream(c):
    start = dict(anthropic_reply(c), content=[], stop_reason=None)
    start["usage"] = dict(start["usage"], output_tokens=1)
    ev = [("message_start", {"type": "message_start", "message": start}),
          ("content_block_start", {"type": "content_block_start", "index": 0,
                                   "content_block": {"type": "text", "text": ""}}),
          ("ping", {"type": "ping"})]
    for piece in text_pieces(c["text"]):
        ev.append(("content_block_delta", {"type": "content_block_delta", "index": 0,
                                           "delta": {"type": "text_delta", "text": piece}}))
    ev += [("content_block_stop", {"type": "content_block_stop", "index": 0}),
           ("message_delta", {"type": "message_delta",
                              "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                              "usage": {"output_tokens": c["out_tokens"]}}),
           ("message_stop", {"type": "message_stop"})]
    return ev


def chat_usage(c):
    return {"prompt_tokens": c["in_tokens"], "completion_tokens": c["out_tokens"],
            "total_tokens": c["in_tokens"] + c["out_tokens"]}


def chat_reply(c):
    return {
        "id": f"chatcmpl-standin-{c['n']:06d}", "object": "chat.completion",
        "created": CREATED, "model": c["model"], "system_fingerprint": "fp_standin",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": c["text"],
                                             "refusal": None},
                     "logprobs": None, "finish_reason": "stop"}],
        "usage": chat_usage(c),
    }


def chat_stream(c):
    def chunk(delta, finish=None):
        return (None, {"id": f"chatcmpl-standin-{c['n']:06d}", "object": "chat.completion.chunk",
                       "created": CREATED, "model": c["model"], "system_fingerprint": "fp_standin",
                       "choices": [{"index": 0, "delta": delta, "logprobs": None,
                                    "finish_reason": finish}]})
    ev = [chunk({"role": "assistant", "content": ""})]
    ev += [chunk({"content": p}) for p in text_pieces(c["text"])]
    ev.append(chunk({}, "stop"))
    opts = c["req"].get("stream_options")
    if isinstance(opts, dict) and opts.get("include_usage"):
        last = chunk({})[1]
        last.update(choices=[], usage=chat_usage(c))
        ev.append((None, last))
    ev.append((None, "[DONE]"))
    return ev


def responses_message(c, status="completed", text=None):
    content = [] if text is None else [{"type": "output_text", "text": text, "annotations": []}]
    return {"id": f"msg_standin_{c['n']:06d}", "type": "message", "status": status,
            "role": "assistant", "content": content}


def responses_reply(c, status="completed"):
    done = status == "completed"
    return {
        "id": f"resp_standin_{c['n']:06d}", "object": "response", "created_at": CREATED,
        "status": status, "error": None, "incomplete_details": None, "instructions": None,
        "model": c["model"],
        "output": [responses_message(c, text=c["text"])] if done else [],
        "parallel_tool_calls": True, "tool_choice": "auto", "tools": [],
        "usage": {"input_tokens": c["in_tokens"], "input_tokens_details": {"cached_tokens": 0},
                  "output_tokens": c["out_tokens"],
                  "output_tokens_details": {"reasoning_tokens": 0},
                  "total_tokens": c["in_tokens"] + c["out_tokens"]} if done else None,
    }


def responses_stream(c):
    item_id = f"msg_standin_{c['n']:06d}"
    part = {"type": "output_text", "text": c["text"], "annotations": []}
    ev = [("response.created", {"response": responses_reply(c, "in_progress")}),
          ("response.in_progress", {"response": responses_reply(c, "in_progress")}),
          ("response.output_item.added", {"output_index": 0,
                                          "item": responses_message(c, "in_progress")}),
          ("response.content_part.added", {"item_id": item_id, "output_index": 0,
                                           "content_index": 0,
                                           "part": dict(part, text="")})]
    for piece in text_pieces(c["text"]):
        ev.append(("response.output_text.delta", {"item_id": item_id, "output_index": 0,
                                                  "content_index": 0, "delta": piece}))
    ev += [("response.output_text.done", {"item_id": item_id, "output_index": 0,
                                          "content_index": 0, "text": c["text"]}),
           ("response.content_part.done", {"item_id": item_id, "output_index": 0,
                                           "content_index": 0, "part": part}),
           ("response.output_item.done", {"output_index": 0,
                                          "item": responses_message(c, text=c["text"])}),
           ("response.completed", {"response": responses_reply(c)})]
    # Every Responses event repeats its type and carries a sequence number.
    return [(name, dict({"type": name, "sequence_number": i}, **data))
            for i, (name, data) in enumerate(ev)]


def gemini_usage(c):
    return {"promptTokenCount": c["in_tokens"], "candidatesTokenCount": c["out_tokens"],
            "totalTokenCount": c["in_tokens"] + c["out_tokens"]}


def gemini_reply(c):
    return {"candidates": [{"content": {"parts": [{"text": c["text"]}], "role": "model"},
                            "finishReason": "STOP", "index": 0}],
            "usageMetadata": gemini_usage(c), "modelVersion": c["model"],
            "responseId": f"standin-{c['n']:06d}"}


def gemini_chunks(c):
    pieces = text_pieces(c["text"])
    out = []
    for i, piece in enumerate(pieces):
        cand = {"content": {"parts": [{"text": piece}], "role": "model"}, "index": 0}
        chunk = {"candidates": [cand], "modelVersion": c["model"],
                 "responseId": f"standin-{c['n']:06d}"}
        if i == len(pieces) - 1:  # the last chunk says why it stopped and what it cost
            cand["finishReason"] = "STOP"
            chunk["usageMetadata"] = gemini_usage(c)
        out.append(chunk)
    return out


REPLIES = {"anthropic": anthropic_reply, "chat": chat_reply, "responses": responses_reply}
STREAMS = {"anthropic": anthropic_stream, "chat": chat_stream, "responses": responses_stream}


def main():
    ap = argparse.ArgumentParser(description="Loopback stand-in for an LLM HTTP API.")
    ap.add_argument("--port", type=int, required=True, help="0 picks a free port")
    ap.add_argument("--host", default="127.0.0.1", help="a loopback address")
    ap.add_argument("--record-dir", required=True)
    ap.add_argument("--tls-cert")
    ap.add_argument("--tls-key")
    ap.add_argument("--ready-file", help="receives the port number once listening")
    ap.add_argument("--max-requests", type=int, default=0, help="0 means no limit")
    ap.add_argument("--timeout", type=float, default=30.0)
    ap.add_argument("--reply", default="hi")
    args = ap.parse_args()

    if not is_loopback(args.host):
        ap.error(f"--host {args.host} is not a loopback address")
    if bool(args.tls_cert) != bool(args.tls_key):
        ap.error("--tls-cert and --tls-key go together")
    os.makedirs(args.record_dir, exist_ok=True)

    tls = None
    if args.tls_cert:
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(args.tls_cert, args.tls_key)
        # Only HTTP/1.1: clients such as curl would otherwise try h2.
        tls.set_alpn_protocols(["http/1.1"])

    server = StandinServer((args.host, args.port), Handler, args, tls)
    port = server.server_address[1]
    if args.ready_file:
        write_atomic(args.ready_file, f"{port}\n".encode())
    scheme = "https" if tls else "http"
    print(f"standin: listening on {scheme}://{args.host}:{port}", file=sys.stderr)

    # serve_forever runs in a helper thread; the main thread waits for the exit
    # condition (request budget or timeout), then stops the loop.
    loop = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                            daemon=True)
    loop.start()
    hit_limit = server.done.wait(args.timeout)
    server.shutdown()
    server.server_close()
    why = "request limit reached" if hit_limit else f"timeout after {args.timeout:g}s"
    print(f"standin: exiting, {why}, {server.finished} request(s) served", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
