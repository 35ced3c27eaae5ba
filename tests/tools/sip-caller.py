#!/usr/bin/env python3
"""A caller for integration tests: N INVITEs to sip:USER@HOST:PORT from a
socket bound to --bind (the caller's address: 127.0.0.2 is another caller
than 127.0.0.1 on loopback), --parallel at a time; every final response is
ACKed (>= 300) or ACKed and ended with a BYE (2xx, via the Record-Route).
Prints one line "CODE COUNT" per final code, and "none COUNT" for calls
that got no final response within --wait seconds.

  sip-caller.py HOST PORT --user torture --calls 10 [--bind 127.0.0.2]
                [--parallel 10] [--wait 20]
"""
import argparse
import collections
import random
import re
import socket
import time

ap = argparse.ArgumentParser()
ap.add_argument("host")
ap.add_argument("port", type=int)
ap.add_argument("--user", default="caller")
ap.add_argument("--calls", type=int, default=1)
ap.add_argument("--bind", default="127.0.0.1")
ap.add_argument("--parallel", type=int, default=10)
ap.add_argument("--wait", type=float, default=20.0)
a = ap.parse_args()

s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((a.bind, 0))
me = "%s:%d" % s.getsockname()
dst = (a.host, a.port)
tag = "%08x" % random.getrandbits(32)
calls = {}      # call-id -> dict(state)
finals = collections.Counter()


def hdr(lines, name, short=None):
    out = []
    for l in lines:
        k, _, v = l.partition(":")
        k = k.strip().lower()
        if k == name.lower() or (short and k == short):
            out.append(v.strip())
    return out


def invite(i):
    cid = "c%s-%d@%s" % (tag, i, a.bind)
    br = "z9hG4bK%s%d" % (tag, i)
    msg = ("INVITE sip:%s@%s:%d SIP/2.0\r\n"
           "Via: SIP/2.0/UDP %s;branch=%s;rport\r\n"
           "Max-Forwards: 70\r\n"
           "From: <sip:caller@%s>;tag=%s%d\r\n"
           "To: <sip:%s@%s:%d>\r\n"
           "Call-ID: %s\r\n"
           "CSeq: 1 INVITE\r\n"
           "Contact: <sip:caller@%s>\r\n"
           "Content-Length: 0\r\n\r\n" % (
               a.user, a.host, a.port, me, br, a.bind, tag, i, a.user,
               a.host, a.port, cid, me))
    calls[cid] = {"i": i, "branch": br, "msg": msg.encode(), "sent": time.time(),
                  "done": False, "start": time.time()}
    s.sendto(calls[cid]["msg"], dst)


def ack_and_bye(c, lines, code):
    to = hdr(lines, "To", "t")[0]
    frm = hdr(lines, "From", "f")[0]
    cid = hdr(lines, "Call-ID", "i")[0]
    if code >= 300:
        # ACK for a non-2xx: same branch, same R-URI, hop by hop
        ack = ("ACK sip:%s@%s:%d SIP/2.0\r\nVia: SIP/2.0/UDP %s;branch=%s;rport\r\n"
               "Max-Forwards: 70\r\nFrom: %s\r\nTo: %s\r\nCall-ID: %s\r\n"
               "CSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n" % (
                   a.user, a.host, a.port, me, c["branch"], frm, to, cid))
        s.sendto(ack.encode(), dst)
        return
    rr = []
    for v in hdr(lines, "Record-Route"):
        rr += [x.strip() for x in v.split(",")]
    route = "".join("Route: %s\r\n" % r for r in reversed(rr))
    target = re.search(r"<([^>]+)>", hdr(lines, "Contact", "m")[0]).group(1)
    for method, cseq in (("ACK", 1), ("BYE", 2)):
        m = ("%s %s SIP/2.0\r\nVia: SIP/2.0/UDP %s;branch=z9hG4bK%s%s%d;rport\r\n"
             "Max-Forwards: 70\r\n%sFrom: %s\r\nTo: %s\r\nCall-ID: %s\r\n"
             "CSeq: %d %s\r\nContent-Length: 0\r\n\r\n" % (
                 method, target, me, method.lower(), tag, c["i"], route, frm,
                 to, cid, cseq, method))
        s.sendto(m.encode(), dst)


nxt = 0
s.settimeout(0.05)
end = None
while True:
    live = [c for c in calls.values() if not c["done"]]
    while nxt < a.calls and len(live) < a.parallel:
        invite(nxt)
        nxt += 1
        live = [c for c in calls.values() if not c["done"]]
    if nxt >= a.calls and not live:
        break
    if end is None and nxt >= a.calls:
        end = time.time() + a.wait
    if end is not None and time.time() > end:
        break
    now = time.time()
    for c in live:      # Timer A-ish: resend every 0.5 s until a response
        if not c.get("heard") and now - c["sent"] > 0.5:
            s.sendto(c["msg"], dst)
            c["sent"] = now
    try:
        data, _ = s.recvfrom(65535)
    except socket.timeout:
        continue
    lines = data.decode(errors="replace").split("\r\n\r\n", 1)[0].split("\r\n")
    if not lines[0].startswith("SIP/2.0 "):
        continue
    code = int(lines[0].split()[1])
    cids = hdr(lines[1:], "Call-ID", "i")
    cseq = hdr(lines[1:], "CSeq")
    if not cids or cids[0] not in calls or not cseq or "INVITE" not in cseq[0]:
        continue
    c = calls[cids[0]]
    c["heard"] = True
    if code < 200:
        continue
    ack_and_bye(c, lines[1:], code)
    if not c["done"]:
        c["done"] = True
        finals[str(code)] += 1
for c in calls.values():
    if not c["done"]:
        finals["none"] += 1
for k in sorted(finals):
    print(k, finals[k])
