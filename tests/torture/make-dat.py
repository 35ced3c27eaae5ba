#!/usr/bin/env python3
"""Write the RFC 4475 test messages of rfc4475.txt as .dat files, one per
message, named SECTION-NAME.dat (3.1.1.2-intmeth.dat), converting the
RFC's conventions (its §2): every line ends in CRLF; the lines between
<allOneLine> and </allOneLine> are one line; <hex>..</hex> is those octets;
<repeat count=N>text</repeat> is text N times.  In rfc4475.txt a message
starts after a line "=== SECTION NAME" and ends before the next one (its
last line, empty for a message without a body, is the RFC's last line).
Run again after editing rfc4475.txt; the .dat files are committed.

  make-dat.py [DIR]      (default: this script's folder)
"""
import os
import re
import sys

here = os.path.dirname(os.path.abspath(__file__))
out = sys.argv[1] if len(sys.argv) > 1 else here


def expand(line):
    line = re.sub(r"<repeat count=(\d+)>(.*?)</repeat>",
                  lambda m: m.group(2) * int(m.group(1)), line)
    parts = re.split(r"<hex>([0-9A-Fa-f]*)</hex>", line)
    b = b""
    for i, p in enumerate(parts):
        b += bytes.fromhex(p) if i % 2 else p.encode("utf-8")
    return b


def messages(text):
    name, lines = None, []
    for line in text.split("\n"):
        if line.startswith("=== "):
            if name:
                yield name, lines
            sec, nm = line[4:].split()
            name, lines = "%s-%s" % (sec, nm), []
        elif name:
            lines.append(line)
    if name:
        yield name, lines


def convert(lines):
    msg, one = b"", None
    for line in lines:
        if line == "<allOneLine>":
            one = b""
        elif line == "</allOneLine>":
            msg += one + b"\r\n"
            one = None
        elif one is not None:
            one += expand(line)
        else:
            msg += expand(line) + b"\r\n"
    return msg


with open(os.path.join(here, "rfc4475.txt"), encoding="utf-8") as f:
    src = f.read()
if src.endswith("\n"):
    src = src[:-1]  # the file's last newline is no line of a message
n = 0
for name, lines in messages(src):
    with open(os.path.join(out, name + ".dat"), "wb") as f:
        f.write(convert(lines))
    n += 1
print("%d messages" % n)
