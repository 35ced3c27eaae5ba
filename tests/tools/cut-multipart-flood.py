#!/usr/bin/env python3
"""Send COUNT MESSAGE requests whose multipart body is cut short (the
datagram ends inside the second part, as a phone's did) to a SIP UDP port,
as fast as it answers: at most WINDOW unanswered at a time, each with its
own branch and Call-ID.  Every other one has the Content-Length of what
was sent (the multipart is cut, the framing is not: the edge answers by
its MESSAGE rule), the others the Content-Length of the whole body (cut
past the datagram: 400).  Bounded by COUNT and by --timeout seconds; an
answer that does not come within 1 s is counted lost.  Prints one line:

  sent N answered N lost N codes CODE=N,... seconds S

  cut-multipart-flood.py HOST PORT COUNT [--window N] [--timeout S]
"""
import re
import socket
import sys
import time

args = sys.argv[1:]
window, timeout = 32, 60.0
if "--window" in args:
    i = args.index("--window")
    window = int(args[i + 1])
    del args[i:i + 2]
if "--timeout" in args:
    i = args.index("--timeout")
    timeout = float(args[i + 1])
    del args[i:i + 2]
host, port, count = args[0], int(args[1]), int(args[2])

s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
s.bind(("127.0.0.1", 0))
me = s.getsockname()[1]

# the first part names its type twice (libosip2 5.3's MIME parser then
# loses the first osip_content_type_t: 57 bytes), the second is cut
BODY = (b"--7a9cbec02ceef655\r\n"
        b"Content-Type: application/octet-stream\r\n"
        b"Content-Type: application/octet-stream\r\n"
        b"Content-Transfer-Encoding: binary\r\n\r\n"
        + bytes(range(256)) + b"\r\n"
        b"--7a9cbec02ceef655\r\nContent-Type: text/plain\r\n"
        b"Content-Transfer-Encoding: binary\r\n\r\n"
        b"Hello\r\n--7a9cbec02ceef655--\r\n")
CUT = BODY[:-30]     # ends inside the second part


def message(i):
    cl = len(CUT) if i % 2 == 0 else len(BODY)
    head = ("MESSAGE sip:kumiko@example.org SIP/2.0\r\n"
            "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bKcut%d;rport\r\n"
            "Max-Forwards: 70\r\n"
            "To: <sip:kumiko@example.org>\r\n"
            "From: <sip:fluffy@example.com>;tag=2fb0dcc9\r\n"
            "Call-ID: cut%d@flood\r\n"
            "CSeq: 1 MESSAGE\r\n"
            "Content-Transfer-Encoding: binary\r\n"
            "Content-Type: multipart/mixed;boundary=7a9cbec02ceef655\r\n"
            "Content-Length: %d\r\n\r\n" % (me, i, i, cl))
    return head.encode() + CUT


start = time.time()
sent = answered = lost = 0
codes = {}
outstanding = 0
code_re = re.compile(rb"^SIP/2\.0 (\d{3})")
while (sent < count or outstanding > 0) and time.time() - start < timeout:
    while sent < count and outstanding < window:
        s.sendto(message(sent), (host, port))
        sent += 1
        outstanding += 1
    s.settimeout(1.0)
    try:
        data = s.recv(65535)
    except socket.timeout:
        lost += outstanding
        outstanding = 0
        continue
    m = code_re.match(data)
    code = m.group(1).decode() if m else "?"
    codes[code] = codes.get(code, 0) + 1
    answered += 1
    outstanding = max(0, outstanding - 1)
print("sent %d answered %d lost %d codes %s seconds %.1f" % (
    sent, answered, lost,
    ",".join("%s=%d" % kv for kv in sorted(codes.items())) or "-",
    time.time() - start))
