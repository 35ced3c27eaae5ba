#!/usr/bin/env python3
"""A FreeSWITCH event socket stand-in (mod_event_socket), for tests.

It speaks what mod_event_socket writes: "Content-Type: auth/request" on
connect, "command/reply" with Reply-Text "+OK accepted" / "-ERR invalid"
(then text/disconnect-notice), "+OK event listener enabled plain",
"api/response" with Content-Length for `api status` and `api fsctl ...`,
and HEARTBEAT events as text/event-plain with url-encoded values and the
header names switch_core.c send_heartbeat uses.

Figures come from a JSON state file, re-read before every HEARTBEAT:
  {"sessions": 48, "max": 50, "idle": 98.5, "sps": 30, "sps_max": 30,
   "silent": false}
"silent": true stops the HEARTBEATs but keeps the connection (a hung
node).  Every command received is appended to --log (passwords masked).

usage: fake-fs-esl.py --port P [--host 127.0.0.1] [--password ClueCon]
                      [--interval 1] --state FILE [--log FILE]
"""
import argparse
import json
import socket
import threading
import time
import urllib.parse
import uuid

ap = argparse.ArgumentParser()
ap.add_argument("--host", default="127.0.0.1")
ap.add_argument("--port", type=int, required=True)
ap.add_argument("--password", default="ClueCon")
ap.add_argument("--interval", type=float, default=1.0)
ap.add_argument("--state", required=True)
ap.add_argument("--log", default=None)
ap.add_argument("--hostname", default="fake-fs")
args = ap.parse_args()
CORE_UUID = str(uuid.uuid4())
START = time.time()
lock = threading.Lock()


def log(line):
    if args.log:
        with lock, open(args.log, "a") as f:
            f.write(line + "\n")


def state():
    try:
        with open(args.state) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def heartbeat(st):
    up = int((time.time() - START) * 1000)
    hdrs = [
        ("Event-Name", "HEARTBEAT"),
        ("Core-UUID", CORE_UUID),
        ("FreeSWITCH-Hostname", args.hostname),
        ("FreeSWITCH-Switchname", args.hostname),
        ("FreeSWITCH-IPv4", args.host),
        ("Event-Date-Local", time.strftime("%Y-%m-%d %H:%M:%S")),
        ("Event-Date-GMT", time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime())),
        ("Event-Date-Timestamp", str(int(time.time() * 1e6))),
        ("Event-Calling-File", "switch_core.c"),
        ("Event-Calling-Function", "send_heartbeat"),
        ("Event-Calling-Line-Number", "74"),
        ("Event-Sequence", "1"),
        ("Event-Info", "System Ready"),
        ("Up-Time", "0 years, 0 days, 0 hours, 0 minutes, %d seconds" % (up // 1000)),
        ("FreeSWITCH-Version", "1.10.12-release~64bit"),
        ("Uptime-msec", str(up)),
        ("Session-Count", str(st.get("sessions", 0))),
        ("Max-Sessions", str(st.get("max", 1000))),
        ("Session-Per-Sec", str(st.get("sps", 30))),
        ("Session-Per-Sec-Last", "0"),
        ("Session-Per-Sec-Max", "0"),
        ("Session-Per-Sec-FiveMin", "0"),
        ("Session-Since-Startup", "0"),
        ("Session-Peak-Max", "0"),
        ("Session-Peak-FiveMin", "0"),
        ("Idle-CPU", "%f" % st.get("idle", 99.0)),
    ]
    # switch_event_serialize: "Name: url-encoded value\n", then "\n"
    body = "".join("%s: %s\n" % (k, urllib.parse.quote(v, safe=""))
                   for k, v in hdrs) + "\n"
    return ("Content-Length: %d\nContent-Type: text/event-plain\n\n%s"
            % (len(body.encode()), body)).encode()


def api(cmd, st):
    if cmd == "status":
        return ("UP 0 years, 0 days, 0 hours, 0 minutes, 1 second, 0 milliseconds, 0 microseconds\n"
                "FreeSWITCH (Version 1.10.12-release 64bit) is ready\n"
                "0 session(s) since startup\n"
                "%d session(s) - peak 0, last 5min 0 \n"
                "0 session(s) per Sec out of max %d, peak 0, last 5min 0 \n"
                "%d session(s) max\n"
                "min idle cpu 0.00/%.2f\n"
                % (st.get("sessions", 0), st.get("sps_max", 30),
                   st.get("max", 1000), st.get("idle", 99.0)))
    if cmd in ("fsctl pause inbound", "fsctl resume inbound"):
        return "+OK\n"
    return "-ERR %s Command not found!\n" % cmd.split(" ")[0]


def serve(conn):
    f = conn.makefile("rb")
    wl = threading.Lock()

    def send(b):
        with wl:
            conn.sendall(b)

    def reply(text):
        send(("Content-Type: command/reply\nReply-Text: %s\n\n" % text).encode())

    send(b"Content-Type: auth/request\n\n")
    authed = False
    events = False
    stop = threading.Event()

    def beat():
        while not stop.wait(args.interval):
            st = state()
            if events and not st.get("silent"):
                try:
                    send(heartbeat(st))
                except OSError:
                    return

    threading.Thread(target=beat, daemon=True).start()
    try:
        while True:
            lines = []
            while True:
                line = f.readline()
                if not line:
                    return
                line = line.decode(errors="replace").rstrip("\r\n")
                if line == "":
                    if lines:
                        break
                    continue
                lines.append(line)
            cmd = lines[0]
            log("auth ***" if cmd.startswith("auth ") else cmd)
            if not authed:
                if cmd.startswith("auth ") and cmd[5:] == args.password:
                    authed = True
                    reply("+OK accepted")
                    continue
                reply("-ERR invalid")
                msg = "Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n"
                send(("Content-Type: text/disconnect-notice\nContent-Length: %d\n\n%s"
                      % (len(msg), msg)).encode())
                return
            if cmd.startswith("event plain"):
                events = True
                reply("+OK event listener enabled plain")
            elif cmd.startswith("api "):
                body = api(cmd[4:], state()).encode()
                send(b"Content-Type: api/response\nContent-Length: %d\n\n" % len(body) + body)
            elif cmd == "exit":
                reply("+OK bye")
                return
            else:
                reply("-ERR command not found")
    except OSError:
        pass
    finally:
        stop.set()
        conn.close()


s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((args.host, args.port))
s.listen(8)
print("listening", flush=True)
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
