#!/usr/bin/env python3
"""Send an out-of-dialog OPTIONS every INTERVAL seconds for DURATION seconds
to a SIP UDP port and report how each was answered, to show a proxy kept
answering (no stall) while something behind it was away.

  sip-ping.py HOST PORT --duration S [--interval S] [--wait S]

Prints one line: sent=N answered=N codes=200:N,... max_rtt_ms=X
(a request is answered by its first final response; --wait is how long
after the last request replies are still awaited).  Exit 0.
"""
import argparse
import random
import select
import socket
import time

ap = argparse.ArgumentParser()
ap.add_argument("host")
ap.add_argument("port", type=int)
ap.add_argument("--duration", type=float, required=True)
ap.add_argument("--interval", type=float, default=0.05)
ap.add_argument("--wait", type=float, default=1.0)
a = ap.parse_args()

s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))
lport = s.getsockname()[1]
tag = "%08x" % random.getrandbits(32)
sent = {}       # branch -> send time
rtt = {}        # branch -> seconds
codes = {}


def request(i):
    br = "z9hG4bK-ping-%s-%d" % (tag, i)
    msg = ("OPTIONS sip:%s:%d SIP/2.0\r\n"
           "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=%s;rport\r\n"
           "Max-Forwards: 70\r\n"
           "From: <sip:ping@127.0.0.1>;tag=%s\r\n"
           "To: <sip:%s:%d>\r\n"
           "Call-ID: ping-%s-%d@127.0.0.1\r\n"
           "CSeq: 1 OPTIONS\r\n"
           "Content-Length: 0\r\n\r\n"
           % (a.host, a.port, lport, br, tag, a.host, a.port, tag, i))
    return br, msg.encode()


def take(data, now):
    lines = data.split(b"\r\n")
    if not lines[0].startswith(b"SIP/2.0 "):
        return
    code = int(lines[0].split()[1])
    if code < 200:
        return
    for ln in lines[1:]:
        if ln.lower().startswith(b"via:"):
            v = ln.decode(errors="replace")
            if "branch=" not in v:
                return
            br = v.split("branch=")[1].split(";")[0].split(",")[0].strip()
            if br in sent and br not in rtt:
                rtt[br] = now - sent[br]
                codes[code] = codes.get(code, 0) + 1
            return


start = time.monotonic()
end = start + a.duration
i = 0
nxt = start
while True:
    now = time.monotonic()
    if now >= end + a.wait or (now >= end and len(rtt) == len(sent)):
        break
    if now >= nxt and now < end:
        br, msg = request(i)
        i += 1
        sent[br] = now
        s.sendto(msg, (a.host, a.port))
        nxt += a.interval
    t = max(0.0, min(nxt, end + a.wait) - time.monotonic())
    r, _, _ = select.select([s], [], [], t)
    if r:
        data = s.recv(65535)
        take(data, time.monotonic())
mx = max(rtt.values()) if rtt else 0.0
print("sent=%d answered=%d codes=%s max_rtt_ms=%d"
      % (len(sent), len(rtt),
         ",".join("%d:%d" % kv for kv in sorted(codes.items())) or "-",
         int(mx * 1000)))
