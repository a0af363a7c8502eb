#!/usr/bin/env python3
"""A tiny UDP DNS server for agenttrace tests.

  dns_stub.py --host 127.0.0.153 --port 53 [--ready-file F] [--timeout 20]
              [--max-queries N]

Answers every A query with 127.0.0.1 and every AAAA query with ::1, so
anything that resolves through it stays on the machine; other types get
NOERROR with no answers. Tests use it to produce DNS traffic with known
contents (binding port 53 needs root; 127.0.0.153 keeps clear of any local
resolver on 127.0.0.1/127.0.0.53).

Wire format by hand with struct (RFC 1035): the reply copies the query's id
and question bytes verbatim (including any 0x20 case mixing), sets QR, keeps
the query's opcode and RD, sets RA, and names the answer with a compression
pointer to the question (0xC00C), like most servers do. Malformed queries get
FORMERR when their header is readable and are dropped otherwise; opcodes
other than QUERY get NOTIMP. EDNS OPT records in the query are ignored (the
reply simply has no OPT, which clients accept).

Only loopback addresses may be served. Exits after --max-queries queries
(0 means no limit) or --timeout seconds, whichever comes first, with status 0.
The port actually bound (useful with --port 0) goes to the ready file, as
"<port>\\n", once the socket is listening.
"""
import argparse
import ipaddress
import os
import socket
import struct
import sys
import time

TYPE_A, TYPE_AAAA, CLASS_IN = 1, 28, 1
ANSWERS = {TYPE_A: socket.inet_pton(socket.AF_INET, "127.0.0.1"),
           TYPE_AAAA: socket.inet_pton(socket.AF_INET6, "::1")}
TTL = 60
FLAG_QR, FLAG_RD, FLAG_RA = 0x8000, 0x0100, 0x0080
RCODE_FORMERR, RCODE_NOTIMP = 1, 4
TYPE_NAMES = {TYPE_A: "A", TYPE_AAAA: "AAAA"}


def parse_question(msg):
    """Returns (end offset of the question, name, qtype, qclass) or None."""
    off, labels = 12, []
    while True:
        if off >= len(msg):
            return None
        n = msg[off]
        off += 1
        if n == 0:
            break
        if n & 0xC0:  # a compression pointer has no business in a question
            return None
        if off + n > len(msg) or sum(len(x) + 1 for x in labels) + n > 253:
            return None
        labels.append(msg[off:off + n].decode("ascii", "replace"))
        off += n
    if off + 4 > len(msg):
        return None
    qtype, qclass = struct.unpack_from("!HH", msg, off)
    return off + 4, ".".join(labels) or ".", qtype, qclass


def answer(query):
    """Builds the reply to one query datagram; returns (reply or None, log line)."""
    if len(query) < 12:
        return None, "runt datagram dropped"
    qid, flags, qdcount = struct.unpack_from("!HHH", query, 0)
    if flags & FLAG_QR:
        return None, "response datagram dropped"
    opcode = (flags >> 11) & 0xF
    reply_flags = FLAG_QR | (flags & 0x7800) | (flags & FLAG_RD) | FLAG_RA
    q = parse_question(query) if qdcount == 1 else None
    if opcode != 0 or q is None:
        rcode = RCODE_NOTIMP if opcode != 0 else RCODE_FORMERR
        # Header only: no question to echo that we could trust.
        return struct.pack("!HHHHHH", qid, reply_flags | rcode, 0, 0, 0, 0), \
            f"id={qid} rcode={rcode}"
    end, name, qtype, qclass = q
    rdata = ANSWERS.get(qtype) if qclass == CLASS_IN else None
    reply = struct.pack("!HHHHHH", qid, reply_flags, 1, 1 if rdata else 0, 0, 0)
    reply += query[12:end]  # the question, byte for byte
    if rdata:
        reply += struct.pack("!HHHIH", 0xC00C, qtype, CLASS_IN, TTL, len(rdata)) + rdata
    shown = socket.inet_ntop(socket.AF_INET if qtype == TYPE_A else socket.AF_INET6, rdata) \
        if rdata else "no answer"
    return reply, f"id={qid} {TYPE_NAMES.get(qtype, qtype)} {name} -> {shown}"


def is_loopback(host):
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def main():
    ap = argparse.ArgumentParser(description="Loopback DNS stub: every A is 127.0.0.1.")
    ap.add_argument("--host", default="127.0.0.153", help="a numeric loopback address")
    ap.add_argument("--port", type=int, default=53, help="0 picks a free port")
    ap.add_argument("--ready-file")
    ap.add_argument("--timeout", type=float, default=20.0)
    ap.add_argument("--max-queries", type=int, default=0, help="0 means no limit")
    args = ap.parse_args()
    if not is_loopback(args.host):
        ap.error(f"--host {args.host} is not a numeric loopback address")

    family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    sock.bind((args.host, args.port))
    port = sock.getsockname()[1]
    if args.ready_file:  # temp file + rename: readers never see a partial number
        with open(args.ready_file + ".tmp", "w") as f:
            f.write(f"{port}\n")
        os.replace(args.ready_file + ".tmp", args.ready_file)
    print(f"dns_stub: listening on {args.host} port {port}", file=sys.stderr)

    deadline = time.monotonic() + args.timeout
    queries = 0
    while not args.max_queries or queries < args.max_queries:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        sock.settimeout(left)  # every wait ends by the overall deadline
        try:
            query, peer = sock.recvfrom(4096)
        except socket.timeout:
            break
        queries += 1
        reply, note = answer(query)
        print(f"dns_stub: #{queries} {note}", file=sys.stderr)
        if reply is not None:
            sock.sendto(reply, peer)
    sock.close()
    print(f"dns_stub: exiting after {queries} quer{'y' if queries == 1 else 'ies'}",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
