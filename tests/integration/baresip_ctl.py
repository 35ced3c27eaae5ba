#!/usr/bin/env python3
"""Drive a baresip over its ctrl_tcp module (netstring JSON).

  baresip_ctl.py PORT FIFO LOG

ctrl_tcp serves one connection at a time (a new one closes the last), and
sends its events on it, so this holds the only connection: it connects to
127.0.0.1:PORT (retrying for 10 s), writes "connected" to LOG, then sends
each line read from FIFO as a command ("dial 1002", "hangup": the first
word is the command, the rest its params) and appends every event and
response from baresip to LOG, one JSON object a line, until baresip closes
the connection.
"""
import json
import os
import select
import socket
import sys
import time


def netstring(obj):
    b = json.dumps(obj).encode()
    return str(len(b)).encode() + b":" + b + b","


def connect(port):
    end = time.time() + 10
    while True:
        try:
            return socket.create_connection(("127.0.0.1", port), timeout=1)
        except OSError:
            if time.time() > end:
                raise
            time.sleep(0.05)


def main():
    port, fifo, log = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    s = connect(port)
    s.setblocking(False)
    # read and write: never an EOF when a writer closes
    fd = os.open(fifo, os.O_RDWR | os.O_NONBLOCK)
    out = open(log, "a", buffering=1)
    out.write("connected\n")
    buf, lines, n = b"", b"", 0
    while True:
        r, _, _ = select.select([s, fd], [], [])
        if fd in r:
            lines += os.read(fd, 4096)
            while b"\n" in lines:
                line, lines = lines.split(b"\n", 1)
                words = line.decode().split(None, 1)
                if not words:
                    continue
                n += 1
                cmd = {"command": words[0], "token": "c%d" % n}
                if len(words) > 1:
                    cmd["params"] = words[1]
                s.setblocking(True)
                s.sendall(netstring(cmd))
                s.setblocking(False)
        if s in r:
            chunk = s.recv(65536)
            if not chunk:
                return 0
            buf += chunk
            while b":" in buf:
                head, rest = buf.split(b":", 1)
                size = int(head)
                if len(rest) < size + 1:
                    break
                out.write(json.dumps(json.loads(rest[:size])) + "\n")
                buf = rest[size + 1:]


if __name__ == "__main__":
    sys.exit(main())
