#!/usr/bin/env python3
"""Send SIP messages (files, as they are) to a UDP port one by one, each
from its own socket, and print what became of each:

  FILE RESULT [HEADER]

RESULT is the status code of the final response the edge itself sent, or
"relayed" when the final response came from a node behind it (a sipp node
of tests/sipp/uas.xml: its To tag says SIPpTag, or it adds X-Node), or
"dropped" when nothing but at most a 100 Trying came back within --wait
seconds.  A relayed INVITE's 2xx is acknowledged and the call ended with a
BYE through the edge (its Record-Route), which must get a 200 from the
node, else RESULT is "relayed-bye-<code>".  HEADER is the value of the
reply's Allow or Unsupported header, if any ("-" else).

  torture-send.py HOST PORT [--wait S] FILE...
"""
import re
import socket
import sys
import time

args = sys.argv[1:]
wait = 2.0
if "--wait" in args:
    i = args.index("--wait")
    wait = float(args[i + 1])
    del args[i:i + 2]
host, port, files = args[0], int(args[1]), args[2:]


def header(msg, *names):
    """The first value of a header (long or compact name), unfolded."""
    head = msg.split(b"\r\n\r\n", 1)[0].decode("utf-8", "replace")
    head = re.sub(r"\r\n[ \t]+", " ", head)
    for line in head.split("\r\n")[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() in names:
            return value.strip()
    return None


def headers(msg, *names):
    head = msg.split(b"\r\n\r\n", 1)[0].decode("utf-8", "replace")
    head = re.sub(r"\r\n[ \t]+", " ", head)
    out = []
    for line in head.split("\r\n")[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() in names:
            out.append(value.strip())
    return out


def status(msg):
    m = re.match(rb"SIP/2\.0 (\d{3})", msg)
    return int(m.group(1)) if m else None


def finals(s, until, method=None):
    """Responses until a final one (to method) or the deadline."""
    while time.time() < until:
        s.settimeout(max(0.01, until - time.time()))
        try:
            data = s.recv(65535)
        except socket.timeout:
            return None
        code = status(data)
        cseq = (header(data, "cseq") or " ").split()
        if method and (len(cseq) < 2 or cseq[1] != method):
            continue
        if code is not None and code >= 200:
            return data
    return None


def in_dialog(s, invite, ok, method, cseq, branch):
    """ACK or BYE for the dialog ok set up, through the edge (§12.2.1.1)."""
    rr = headers(ok, "record-route")
    routes = [r for v in rr for r in re.findall(r"<[^>]*>", v)]
    routes.reverse()
    # hops listed before the edge (inv2543 comes with a Record-Route of
    # its own) are those between us and it: none here, as if they had
    # popped their Route
    ours = [i for i, r in enumerate(routes) if "%s:%d" % (host, port) in r]
    if ours:
        routes = routes[ours[0]:]
    target = re.search(r"<([^>]*)>", header(ok, "contact", "m")).group(1)
    lines = ["%s %s SIP/2.0" % (method, target),
             "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK%s;rport"
             % (s.getsockname()[1], branch),
             "Max-Forwards: 70",
             "From: " + header(invite, "from", "f"),
             "To: " + header(ok, "to", "t"),
             "Call-ID: " + header(invite, "call-id", "i"),
             "CSeq: %d %s" % (cseq, method)]
    if routes:
        lines.append("Route: " + ", ".join(routes))
    lines += ["Content-Length: 0", "", ""]
    s.sendto("\r\n".join(lines).encode(), (host, port))


def end_call(s, invite, ok):
    num = int(header(invite, "cseq").split()[0])
    in_dialog(s, invite, ok, "ACK", num, "ack%d" % num)
    in_dialog(s, invite, ok, "BYE", num + 1, "bye%d" % num)
    got = finals(s, time.time() + wait, "BYE")
    return status(got) if got else None


def one(path):
    with open(path, "rb") as f:
        msg = f.read()
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.sendto(msg, (host, port))
    got = finals(s, time.time() + wait)
    if got is None:
        return "dropped", "-"
    code = status(got)
    to = header(got, "to", "t") or ""
    extra = header(got, "unsupported") or header(got, "allow") or "-"
    if "SIPpTag" not in to and header(got, "x-node") is None:
        return str(code), extra
    if msg.startswith(b"INVITE ") and 200 <= code < 300:
        bye = end_call(s, msg, got)
        if bye != 200:
            return "relayed-bye-%s" % bye, extra
    return "relayed", extra


for path in files:
    result, extra = one(path)
    print("%s %s %s" % (path.rsplit("/", 1)[-1], result, extra))
    sys.stdout.flush()
