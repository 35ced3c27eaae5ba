#!/usr/bin/env python3
"""Send raw bytes to a SIP UDP or TCP port and print the status lines of the
answers that come back within a timeout (for hostile-input tests).

  sipsend.py HOST PORT [--tcp] [--wait S] < message
"""
import socket
import sys

host, port = sys.argv[1], int(sys.argv[2])
tcp = "--tcp" in sys.argv
wait = float(sys.argv[sys.argv.index("--wait") + 1]) if "--wait" in sys.argv else 1.0
data = sys.stdin.buffer.read()
if tcp:
    s = socket.create_connection((host, port), timeout=wait)
    s.sendall(data)
else:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.sendto(data, (host, port))
s.settimeout(wait)
got = b""
try:
    while True:
        chunk = s.recv(65535)
        if not chunk:
            break
        got += chunk
        if not tcp:
            break
except socket.timeout:
    pass
for line in got.split(b"\r\n"):
    if line.startswith(b"SIP/2.0 "):
        print(line.decode(errors="replace"))
