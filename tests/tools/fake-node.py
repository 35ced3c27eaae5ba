#!/usr/bin/env python3
"""A SIP node on UDP for integration tests: answers OPTIONS 200 and normal
calls (INVITE: 100, 200 with the Record-Route copied; ACK; BYE: 200), but
never answers an INVITE whose Request-URI (or To) user is --ignore-user
("torture": a caller's odd requests that the nodes ignore, RFC 4475).
OPTIONS go unanswered while the file --options-off exists (the node looks
dead to the prober, calls still work).  Counters go to --stats as JSON
after every request.

  fake-node.py --port P [--host 127.0.0.1] [--ignore-user torture]
               [--options-off FILE] [--stats FILE]
"""
import argparse
import json
import os
import re
import socket

ap = argparse.ArgumentParser()
ap.add_argument("--host", default="127.0.0.1")
ap.add_argument("--port", type=int, required=True)
ap.add_argument("--ignore-user", default="torture")
ap.add_argument("--options-off", default="")
ap.add_argument("--stats", default="")
a = ap.parse_args()

stats = {"options": 0, "options_ignored": 0, "invite": 0, "ignored": 0,
         "bye": 0, "ack": 0, "other": 0}
answered = {}   # Call-ID -> 200 we sent (INVITE retransmissions)


def write_stats():
    if not a.stats:
        return
    tmp = a.stats + ".tmp"
    with open(tmp, "w") as f:
        json.dump(stats, f)
    os.replace(tmp, a.stats)


def headers(lines, name, short=None):
    out = []
    for l in lines:
        k, _, v = l.partition(":")
        k = k.strip().lower()
        if k == name.lower() or (short and k == short):
            out.append(l)
    return out


def user_of(uri):
    m = re.search(r"sips?:([^@;>]+)@", uri)
    return m.group(1) if m else ""


def reply(req_lines, code, reason, extra=(), to_tag=None, body=""):
    vias = headers(req_lines, "Via", "v")
    out = ["SIP/2.0 %d %s" % (code, reason)] + vias
    for h, s in (("From", "f"), ("Call-ID", "i"), ("CSeq", None)):
        out += headers(req_lines, h, s)
    to = headers(req_lines, "To", "t")
    if to:
        t = to[0]
        if to_tag and ";tag=" not in t:
            t += ";tag=" + to_tag
        out.append(t)
    out += list(extra)
    out.append("Content-Length: %d" % len(body))
    return ("\r\n".join(out) + "\r\n\r\n" + body).encode()


s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((a.host, a.port))
write_stats()
contact = "Contact: <sip:node@%s:%d>" % (a.host, a.port)
while True:
    data, peer = s.recvfrom(65535)
    text = data.decode(errors="replace")
    head = text.split("\r\n\r\n", 1)[0]
    lines = head.split("\r\n")
    if not lines or lines[0].startswith("SIP/2.0"):
        continue    # responses (to nothing we sent)
    parts = lines[0].split()
    if len(parts) < 3:
        continue
    method, ruri = parts[0], parts[1]
    callid = "".join(headers(lines[1:], "Call-ID", "i"))
    if method == "OPTIONS":
        if a.options_off and os.path.exists(a.options_off):
            stats["options_ignored"] += 1
        else:
            stats["options"] += 1
            s.sendto(reply(lines[1:], 200, "OK", [contact, "Allow: INVITE, ACK, BYE, CANCEL, OPTIONS"]), peer)
    elif method == "INVITE":
        to = "".join(headers(lines[1:], "To", "t"))
        if a.ignore_user and (user_of(ruri) == a.ignore_user or user_of(to) == a.ignore_user):
            stats["ignored"] += 1
        elif callid in answered:
            s.sendto(answered[callid], peer)    # a retransmission
        else:
            stats["invite"] += 1
            s.sendto(reply(lines[1:], 100, "Trying"), peer)
            sdp = ("v=0\r\no=node 1 1 IN IP4 %s\r\ns=-\r\nc=IN IP4 %s\r\n"
                   "t=0 0\r\nm=audio 40000 RTP/AVP 0\r\n" % (a.host, a.host))
            ok = reply(lines[1:], 200, "OK",
                       headers(lines[1:], "Record-Route") +
                       [contact, "Content-Type: application/sdp"],
                       to_tag="n%d" % (len(answered) + 1), body=sdp)
            answered[callid] = ok
            if len(answered) > 10000:
                answered.clear()
            s.sendto(ok, peer)
    elif method == "ACK":
        stats["ack"] += 1
    elif method == "BYE":
        stats["bye"] += 1
        answered.pop(callid, None)
        s.sendto(reply(lines[1:], 200, "OK", [contact]), peer)
    else:
        stats["other"] += 1
        s.sendto(reply(lines[1:], 200 if method == "CANCEL" else 501,
                       "OK" if method == "CANCEL" else "Not Implemented"), peer)
    write_stats()
