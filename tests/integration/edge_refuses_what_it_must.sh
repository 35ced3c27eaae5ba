#!/bin/bash
# The edge answers itself what it must not relay: MESSAGE and SUBSCRIBE
# get 405 with Allow, Max-Forwards 0 gets 483, OPTIONS to the edge gets
# 200, an in-dialog request from a stranger or to a stranger is refused
# (never an open relay), malformed messages get 400 (dropped and counted
# when they lack a Via to answer to), oversized ones are
# dropped and counted, and calls keep succeeding through all of it.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-edge.sh"

edge_config "max_message = 4096"
start_scheduler
start_edge
node "$N1" uas.xml
node "$N2" uas.xml
send() { python3 "$SIPLB_TOP/tests/integration/sipsend.py" 127.0.0.1 "$EDGE_PORT" "$@"; }
msg() {	# METHOD RURI [extra header lines]: a request from 127.0.0.1
	printf '%s %s SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bK-%s;rport\r\nFrom: <sip:a@example.com>;tag=1\r\nTo: <sip:b@example.com>%s\r\nCall-ID: %s@test\r\nCSeq: 1 %s\r\nMax-Forwards: %s\r\n%sContent-Length: 0\r\n\r\n' \
	    "$1" "$2" "$RANDOM$RANDOM" "${TO_TAG:-}" "$RANDOM" "$1" "${MF:-70}" "${3:-}"
}

expect_reply MESSAGE 70 405
[ $? = 0 ] || fail "MESSAGE not answered 405: $(cat "$T/expect.out" | tail -5)"
ok "MESSAGE gets 405"
expect_reply SUBSCRIBE 70 405
[ $? = 0 ] || fail "SUBSCRIBE not answered 405"
ok "SUBSCRIBE gets 405"
assert_match "405 carries Allow" "$(msg MESSAGE sip:x@127.0.0.1 | python3 -c 'import sys,socket; s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.settimeout(2); s.sendto(sys.stdin.buffer.read(),("127.0.0.1",'"$EDGE_PORT"')); print(s.recv(9999).decode())')" 'Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER'
expect_reply INVITE 0 483
[ $? = 0 ] || fail "INVITE with Max-Forwards 0 not answered 483"
ok "Max-Forwards 0 gets 483"
assert_eq "OPTIONS to the edge gets 200" "$(msg OPTIONS "sip:127.0.0.1:$EDGE_PORT" | send)" "SIP/2.0 200 OK"

# in-dialog requests that do not route through us, or go to strangers
got=$(TO_TAG=';tag=x' msg BYE "sip:b@127.0.0.1:$N1" | send)
assert_eq "in-dialog BYE without our Route refused" "$got" "SIP/2.0 403 Not Routed Through Us"
got=$(TO_TAG=';tag=x' msg BYE "sip:b@127.0.0.99:5060" "Route: <sip:127.0.0.1:$EDGE_PORT;lr>\r\n" | send)
assert_eq "in-dialog BYE from a stranger to a stranger refused" "$got" "SIP/2.0 403 Target Is Not Ours"

# hostile input, while 200 calls go on (sipp in the background)
(uac uac.xml 200 40 -d 100; echo "$UAC_OK $UAC_FAILED" > "$T/uac.result") &
UAC_BG=$!
parse0=$(edge_stat dropped parse)
assert_eq "garbage without the lines a reply needs: dropped" "$(printf 'hello there\r\n\r\n' | send --wait 0.5)" ""
assert_eq "... and counted as a parse drop" "$(edge_stat dropped parse)" "$((parse0 + 1))"
got=$(printf 'INVITE sip:x@y SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bKbad1\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:b@c>\r\nCall-ID: bad1\r\nCSeq: x INVITE\r\nContent-Length: 0\r\n\r\n' | send)
assert_match "bad CSeq gets 400" "$got" '^SIP/2.0 400'
got=$(printf 'INVITE sip:x@y SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bKbad2\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:b@c>\r\nCall-ID: bad2\r\nCSeq: 1 INVITE\r\nMax-Forwards: lots\r\nContent-Length: 0\r\n\r\n' | send)
assert_match "bad Max-Forwards gets 400" "$got" '^SIP/2.0 400'
got=$(printf 'INVITE sip:x@y SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bKbad3\r\nFrom: <sip:a@b>;tag=1\r\nCall-ID: bad3\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n' | send)
assert_eq "missing To: 400 (the reply copies the lines it has, RFC 4475 3.3.1)" "$got" "SIP/2.0 400 Missing Required Header"
big=$(head -c 6000 /dev/zero | tr '\0' 'a')
got=$(msg INVITE sip:x@y "X-Big: $big\r\n" | send --wait 0.5)
assert_eq "oversized datagram dropped" "$got" ""
assert_eq "... and counted as too big" "$(edge_stat dropped too_big)" 1
got=$(msg INVITE sip:x@y "X-Big: $big\r\n" | send --tcp --wait 1)
assert_eq "oversized TCP message: connection closed, no reply" "$got" ""
got=$(printf 'INVITE sip:x@y SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:5999;branch=z9hG4bKnolen\r\n\r\n' | send --tcp --wait 1)
assert_eq "TCP message without Content-Length: closed" "$got" ""
# a seeded fuzz: 300 mutated copies of a valid INVITE, none may crash it
python3 - "$EDGE_PORT" <<'PY'
import random, socket, sys
port = int(sys.argv[1])
base = (b"INVITE sip:fuzz@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5998;branch=z9hG4bKfz;rport\r\n"
        b"From: <sip:a@b>;tag=1\r\nTo: <sip:b@c>\r\nCall-ID: fz\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\n"
        b"Route: <sip:127.0.0.1;lr>, <sip:x;lr>\r\nContent-Length: 3\r\n\r\nabc")
# Max-Forwards 0: what still parses is answered 483 here, never relayed
# (twice, so that one mutation rarely makes a relayable request)
base = base.replace(b"Max-Forwards: 70", b"Max-Forwards: 0").replace(
    b"INVITE sip:fuzz@127.0.0.1 SIP/2.0\r\n",
    b"INVITE sip:fuzz@127.0.0.1 SIP/2.0\r\nMax-Forwards: 0\r\n")
r = random.Random(7)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(300):
    m = bytearray(base)
    for _ in range(r.randint(1, 8)):
        op = r.randint(0, 2)
        p = r.randrange(len(m))
        if op == 0: m[p] = r.randrange(256)
        elif op == 1: del m[p:p + r.randint(1, 20)]
        else: m[p:p] = bytes(r.randrange(256) for _ in range(r.randint(1, 20)))
    s.sendto(bytes(m).replace(b"z9hG4bKfz", b"z9hG4bKfz%d" % i), ("127.0.0.1", port))
PY
# the edge reads its socket in order: an OPTIONS answered after the fuzz
# means it has been through every mutated copy
options_to_edge() { msg OPTIONS "sip:127.0.0.1:$EDGE_PORT" | send; }
wait_eq 5 "the edge to answer an OPTIONS sent after the fuzz" "SIP/2.0 200 OK" options_to_edge
kill -0 "$EDGE_PID" || fail "the edge died under fuzzing"
ok "300 mutated INVITEs: the edge lives"
dropped=$(edge_stat dropped); replied=$(edge_stat replied 400)
[ "$dropped" -ge 3 ] || fail "drops not counted ($dropped)"
ok "drops counted ($dropped dropped, $replied answered 400)"

wait "$UAC_BG"
read -r UAC_OK UAC_FAILED < "$T/uac.result"
assert_eq "200 calls during the abuse all succeed" "$UAC_OK" 200

# an edge that has no node table yet (no scheduler ever answered) cannot
# tell a stranger from a node: a retryable 503, not a final 403
P2=$((BASE + 60))
cat > "$T/notable.conf" <<CONF
[general]
run_dir = $T
[edge]
id = notable
listen = udp:127.0.0.1:$P2
scheduler = ipc://$T/nobody.rep
scheduler_pub = ipc://$T/nobody.pub
pub = ipc://$T/notable.pub
rep = ipc://$T/notable.rep
dialogd =
CONF
"$SIPLB_BIN/siplb-edge" -c "$T/notable.conf" >> "$T/notable.log" 2>&1 &
PIDS+=("$!")
wait_for_log 5 "$T/notable.log" 'ready'
grep -q 'ready' "$T/notable.log" || fail "the edge without a scheduler did not start: $(tail -n 3 "$T/notable.log")"
got=$(TO_TAG=';tag=x' msg BYE "sip:b@127.0.0.99:5060" "Route: <sip:127.0.0.1:$P2;lr>\r\n" | python3 "$SIPLB_TOP/tests/integration/sipsend.py" 127.0.0.1 "$P2")
assert_eq "in-dialog BYE before the edge has a node table: retry later" "$got" "SIP/2.0 503 Node Table Not Loaded Yet"
assert_match "the 503 says when to retry" "$(TO_TAG=';tag=x' msg BYE "sip:b@127.0.0.99:5060" "Route: <sip:127.0.0.1:$P2;lr>\r\n" | python3 -c 'import sys,socket; s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.settimeout(2); s.sendto(sys.stdin.buffer.read(),("127.0.0.1",'"$P2"')); print(s.recv(9999).decode())')" 'Retry-After: 1'
