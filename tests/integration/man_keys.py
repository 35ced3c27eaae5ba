#!/usr/bin/env python3
"""man_keys.py TOP RENDERED: compare the configuration keys the programs
accept (their slb_cfg_key tables in services/*/*.c and the [general] keys
of services/common/cfg.h) with the keys siplb.conf(5) documents, read from
RENDERED (`man -l siplb.conf.5` as plain text, wide enough not to wrap).

A key is documented when a line "       KEY = DEFAULT (...)" stands under
its "[SECTION]" heading; DEFAULT must be the code's default ("(empty)" for
none) and an integer key's "(MIN..MAX)" the code's range.  Prints what
differs and exits 1, or the count and exits 0.
"""
import glob
import os
import re
import sys

TYPES = r"SLB_CFG_(?:STR|ADDR|INT|BOOL|LEVEL|FACILITY)"


def split_fields(body):
    """Top-level comma-separated fields of a C initializer."""
    out, cur, depth, i, in_str = [], "", 0, 0, False
    while i < len(body):
        c = body[i]
        if in_str:
            cur += c
            if c == "\\":
                cur += body[i + 1]
                i += 1
            elif c == '"':
                in_str = False
        elif c == '"':
            in_str = True
            cur += c
        elif c in "([":
            depth += 1
            cur += c
        elif c in ")]":
            depth -= 1
            cur += c
        elif c == "," and depth == 0:
            out.append(cur.strip())
            cur = ""
        else:
            cur += c
        i += 1
    out.append(cur.strip())
    return out


def code_keys(top):
    macros = {}
    for path in glob.glob(top + "/services/*/*.h"):
        for line in open(path):
            m = re.match(r"#define (\w+) (\"[^\"]*\"|\d+)\s*$", line)
            if m:
                macros[m.group(1)] = m.group(2).strip('"')
    keys, entries, tokens = {}, 0, 0
    srcs = sorted(glob.glob(top + "/services/*/*.c")) + [top + "/services/common/cfg.h"]
    for path in srcs:
        if path.endswith("/common/cfg.c"):
            continue	# the reader itself, no table
        src = open(path).read()
        # every type token outside cfg.h's enum belongs to a table entry
        tokens += sum(len(re.findall(r"\b" + TYPES + r"\b", l)) for l in src.splitlines()
                      if not re.match(r"^\s*" + TYPES + r",\s*/\*", l))
        for m in re.finditer(r'\{\s*("[a-z_]+",\s*"[a-z_0-9]+",\s*' + TYPES + r".*?)\s*\}", src, re.S):
            f = split_fields(m.group(1))
            sec, key, typ = f[0].strip('"'), f[1].strip('"'), f[2]
            d = f[5].replace("\\\n", "")
            d = d.strip('"') if d.startswith('"') else macros.get(d, d)
            lo, hi = macros.get(f[3], f[3]), macros.get(f[4], f[4])
            keys.setdefault((sec, key), []).append(
                (os.path.relpath(path, top), d, (lo, hi) if typ == "SLB_CFG_INT" else None))
            entries += 1
    if entries != tokens:
        sys.exit("man_keys: %d table entries read but %d SLB_CFG_ type tokens: an entry "
                 "this reader cannot parse (type not on the line of its section and key?)"
                 % (entries, tokens))
    return keys


def page_keys(text):
    doc, sec = {}, None
    for line in text.splitlines():
        m = re.match(r"^\[([a-z_]+)\]\s*$", line)
        if m:
            sec = m.group(1)
            continue
        if re.match(r"^\S", line):
            sec = None	# another section of the page
            continue
        m = re.match(r"^ {7}([a-z_0-9]+) = (.*)$", line)
        if sec and m:
            doc[(sec, m.group(1))] = m.group(2)
    return doc


def main():
    top, rendered = sys.argv[1], sys.argv[2]
    keys = code_keys(top)
    doc = page_keys(open(rendered).read())
    bad = []
    for (sec, key), defs in sorted(keys.items()):
        if (sec, key) not in doc:
            bad.append("[%s] %s (%s) is not in siplb.conf(5)" % (sec, key, defs[0][0]))
            continue
        line = doc[(sec, key)]
        for src, d, rng in defs:
            want = (d if d else "(empty)") + " ("
            if not line.startswith(want):
                bad.append("[%s] %s: siplb.conf(5) says \"%s\", %s's default is \"%s\""
                           % (sec, key, line, src, d))
            if rng and "(%s..%s)" % rng not in line:
                bad.append("[%s] %s: siplb.conf(5) says \"%s\", %s's range is %s..%s"
                           % (sec, key, line, src, rng[0], rng[1]))
    for sec, key in sorted(set(doc) - set(keys)):
        bad.append("[%s] %s is in siplb.conf(5) but no program accepts it" % (sec, key))
    for b in bad:
        print(b)
    if bad:
        sys.exit(1)
    print("%d keys in %d sections, each documented with its default and range"
          % (len(keys), len({s for s, _ in keys})))


main()
