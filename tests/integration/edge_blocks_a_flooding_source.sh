#!/bin/bash
# Floods from one source (issue 13 item 4).  One address, 127.0.0.9,
# sends INVITEs at 20,000/s for 20 s (sip-flood, sendmmsg) while 500 real
# calls at 50/s come from 127.0.0.1: the flooder goes over pike_requests,
# is blocked for pike_block s (everything from it dropped, also a TCP
# connection), counted and logged once when the block starts and once
# when it ends; the calls succeed (>= 99 %); the nodes (127.0.0.2) are
# never limited.  Then TCP: one address gets tcp_max_conns_per_source
# connections and no more (another address still gets its own), and a
# connection trickling a message is closed tcp_msg_timeout after its
# first byte, while a message that comes whole in time is answered.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-edge.sh"

FLOOD_RATE=20000 FLOOD_SECS=20
LIMIT=300	# per 1000 ms: the caller sends ~150 (INVITE, ACK, BYE at 50/s)
BLOCK_S=25	# outlasts the flood: one block
MSG_MS=1500
PER_SOURCE=4
ADMIN_PORT=$((BASE + 97))
edge_config "pike_requests = $LIMIT" "pike_window = 1000" \
    "pike_reaction = block" "pike_block = $BLOCK_S" \
    "tcp_max_conns_per_source = $PER_SOURCE" "tcp_msg_timeout = $MSG_MS" \
    "[admin]" "listen = 127.0.0.1:$ADMIN_PORT" "token_file = $T/admin.token" \
    "metrics_public = yes" "dialogd ="
(umask 077; echo "flood-test-token" > "$T/admin.token")
# the nodes on their own address, so that the caller is limited as any
# source is (a node's address never is); room for the flood's first
# requests, which reach the nodes before the block
NODE_IP=127.0.0.2
printf '[node 1]\nuri = sip:%s:%d\ngroup = 1\nset = 1\nresources = pstn=5000\n\n[node 2]\nuri = sip:%s:%d\ngroup = 1\nset = 1\nresources = pstn=5000\n' \
    "$NODE_IP" "$N1" "$NODE_IP" "$N2" > "$T/nodes.conf"
start_scheduler
start_edge
node "$N1" uas.xml
node "$N2" uas.xml
"$SIPLB_BIN/siplb-admin" -c "$T/siplb.conf" >> "$T/admin.log" 2>&1 &
ADMIN_PID=$!
PIDS+=("$ADMIN_PID")
wait_for_log -p "$ADMIN_PID" 5 "$T/admin.log" ready || fail "siplb-admin not ready"
grep -q "flood: at most $LIMIT requests per 1000 ms per source address, then block" "$T/edge.log" ||
    fail "the edge did not log its flood limit: $(grep -i flood "$T/edge.log")"

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
blocked_re='pike: blocking 127\.0\.0\.9 for'
ended_re='pike: 127\.0\.0\.9 unblocked after'

# --- the flood, and calls through it
cpu0=$(cpu_ticks "$EDGE_PID"); t0=$(date +%s%N)
"$SIPLB_BIN/sip-flood" -b 127.0.0.9 -d "127.0.0.1:$EDGE_PORT" -r "$FLOOD_RATE" \
    -t "$FLOOD_SECS" > "$T/flood.out" 2>&1 &
FLOOD_PID=$!
PIDS+=("$FLOOD_PID")
wait_for_log 3 "$T/edge.log" "$blocked_re" || fail "the flooder was not blocked within 3 s"
ok "the flooder is blocked: $(grep "$blocked_re" "$T/edge.log" | sed 's/.*pike: //')"
assert_eq "one blocked source" "$(edge_stat flood_blocked_sources)" 1

uac uac.xml 500 50 -d 1000
echo "calls during the flood: $UAC_OK ok, $UAC_FAILED failed"
[ "$UAC_OK" -ge 495 ] || fail "only $UAC_OK of 500 calls succeeded during the flood (want >= 99 %)"
ok "$UAC_OK of 500 calls succeed during the flood"
alive "$FLOOD_PID" || fail "the flood ended before the calls did: $(cat "$T/flood.out")"

# a TCP connection from the blocked source is closed unanswered
tcp_probe() {	# SRC: 'answered' or 'closed' for an OPTIONS to the edge over TCP
	python3 - "$1" "$EDGE_PORT" <<'PY'
import socket, sys
src, port = sys.argv[1], int(sys.argv[2])
s = socket.socket(); s.settimeout(3); s.bind((src, 0)); s.connect(("127.0.0.1", port))
m = ("OPTIONS sip:127.0.0.1:%d SIP/2.0\r\nVia: SIP/2.0/TCP %s:%d;branch=z9hG4bKp%d\r\n"
     "From: <sip:p@%s>;tag=1\r\nTo: <sip:127.0.0.1>\r\nCall-ID: probe%d\r\nCSeq: 1 OPTIONS\r\n"
     "Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n") % (port, src, s.getsockname()[1], id(s), src, id(s))
try:
    s.sendall(m.encode())
    print("answered" if s.recv(4096).startswith(b"SIP/2.0 200") else "closed")
except (ConnectionResetError, BrokenPipeError, socket.timeout):
    print("closed")
PY
}
assert_eq "a TCP connection from the blocked source: closed" "$(tcp_probe 127.0.0.9)" closed
assert_eq "... one from another address is answered" "$(tcp_probe 127.0.0.8)" answered

wait "$FLOOD_PID"
cpu1=$(cpu_ticks "$EDGE_PID"); t1=$(date +%s%N)
sent=$(sed -n 's/^sent \([0-9]*\) .*/\1/p' "$T/flood.out")
[ -n "$sent" ] || fail "sip-flood: $(cat "$T/flood.out")"
blocked=$(edge_stat flood_limited blocked)
cpu=$(( (cpu1 - cpu0) * 100 * 1000000000 / $(getconf CLK_TCK) / (t1 - t0) ))
echo "flood: $(cat "$T/flood.out"); edge dropped $blocked from the blocked source;" \
    "edge CPU ${cpu} % of a core over the flood (calls included)"
[ "$sent" -ge $((FLOOD_RATE * FLOOD_SECS * 9 / 10)) ] ||
    fail "the flooder sent $sent, not near $((FLOOD_RATE * FLOOD_SECS))"
# every datagram the kernel handed over past the first LIMIT is dropped
# and counted (a few may have been lost in the socket buffer)
[ "$blocked" -ge $((sent * 9 / 10)) ] && [ "$blocked" -le "$sent" ] ||
    fail "blocked drops $blocked, not >= 90 % of the $sent sent"
ok "the flood is counted: $blocked of $sent dropped as blocked"
assert_eq "one block started" "$(edge_stat flood_blocks_started)" 1
# /metrics shows the same (siplb-admin over the edge's stats)
metric() {	# NAME [LABEL-RE]: the sample's value on /metrics
	curl -s -m 5 "http://127.0.0.1:$ADMIN_PORT/metrics" |
	    grep "^$1{" | grep -- "${2:-}" | awk '{ print $2 }'
}
assert_eq "/metrics: blocked drops" "$(metric siplb_edge_flood_limited_total 'reaction="blocked"')" "$blocked"
assert_eq "/metrics: blocks" "$(metric siplb_edge_flood_blocks_total)" 1
assert_eq "/metrics: blocked sources" "$(metric siplb_edge_flood_blocked_sources)" 1
assert_eq "the block is logged once" "$(log_count "$T/edge.log" "$blocked_re")" 1
# the block ends on time, by the edge's tick (nothing comes from it now)
wait_for_log $((BLOCK_S - FLOOD_SECS + 5)) "$T/edge.log" "$ended_re" ||
    fail "the block did not end $BLOCK_S s after it started"
ok "the block ends: $(grep "$ended_re" "$T/edge.log" | sed 's/.*pike: //')"
assert_eq "... logged once" "$(log_count "$T/edge.log" "$ended_re")" 1
assert_eq "no source blocked now" "$(edge_stat flood_blocked_sources)" 0
assert_eq "127.0.0.9 is answered again" "$(tcp_probe 127.0.0.9)" answered
assert_eq "no block for the caller or the nodes" "$(log_count "$T/edge.log" 'pike: blocking')" 1
assert_eq "nothing dropped or refused short of blocking" \
    "$(edge_stat flood_limited drop) $(edge_stat flood_limited 503)" "0 0"

# --- TCP: connections per source address
python3 - "$EDGE_PORT" "$PER_SOURCE" > "$T/conns.out" <<'PY'
import socket, sys, time
port, per = int(sys.argv[1]), int(sys.argv[2])
def opts(s, src, n):
    m = ("OPTIONS sip:127.0.0.1:%d SIP/2.0\r\nVia: SIP/2.0/TCP %s:%d;branch=z9hG4bKc%d\r\n"
         "From: <sip:c@%s>;tag=1\r\nTo: <sip:127.0.0.1>\r\nCall-ID: conn%d-%s\r\nCSeq: 1 OPTIONS\r\n"
         "Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n") % (port, src, s.getsockname()[1], n, src, n, src)
    try:
        s.sendall(m.encode())
        return "answered" if s.recv(4096).startswith(b"SIP/2.0 200") else "closed"
    except (ConnectionResetError, BrokenPipeError, socket.timeout):
        return "closed"
def conn(src):
    s = socket.socket(); s.settimeout(3); s.bind((src, 0)); s.connect(("127.0.0.1", port))
    return s
held = [conn("127.0.0.7") for _ in range(per)]
print("held", " ".join(opts(s, "127.0.0.7", i) for i, s in enumerate(held)))
extra = conn("127.0.0.7")
print("extra", opts(extra, "127.0.0.7", 100))
print("other", opts(conn("127.0.0.8"), "127.0.0.8", 101))
held.pop().close()
time.sleep(0.3)	# the edge sees the close
print("again", opts(conn("127.0.0.7"), "127.0.0.7", 102))
PY
cat "$T/conns.out"
held=$(printf 'answered %.0s' $(seq "$PER_SOURCE"))
assert_eq "$PER_SOURCE connections from one address are served" "$(sed -n 's/^held //p' "$T/conns.out") " "$held"
assert_eq "the next one from it is refused" "$(sed -n 's/^extra //p' "$T/conns.out")" closed
assert_eq "another address is not limited by it" "$(sed -n 's/^other //p' "$T/conns.out")" answered
assert_eq "one closed: a new one from it is served" "$(sed -n 's/^again //p' "$T/conns.out")" answered
assert_eq "refusals counted per source" "$(edge_stat tcp_refused per_source)" 1
assert_eq "none refused by tcp_max_conns" "$(edge_stat tcp_refused max_conns)" 0
assert_eq "/metrics: refused per source" "$(metric siplb_edge_tcp_refused_total 'reason="per_source"')" 1

# --- TCP: a message trickling in (slowloris), and one whole in time
python3 - "$EDGE_PORT" "$MSG_MS" > "$T/slow.out" <<'PY'
import socket, sys, time
port, limit = int(sys.argv[1]), int(sys.argv[2]) / 1000.0
msg = ("OPTIONS sip:127.0.0.1:%d SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.6:5999;branch=z9hG4bKslow\r\n"
       "From: <sip:s@x>;tag=1\r\nTo: <sip:127.0.0.1>\r\nCall-ID: slow\r\nCSeq: 1 OPTIONS\r\n"
       "Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n" % port).encode()
s = socket.socket(); s.bind(("127.0.0.6", 0)); s.connect(("127.0.0.1", port))
# a piece every 100 ms: the whole would take 20 s
t0 = time.monotonic(); closed = None
for i in range(200):
    try:
        s.sendall(msg[i:i + 1])
        s.settimeout(0.1)
        if s.recv(4096) == b"":
            closed = time.monotonic() - t0; break
    except socket.timeout:
        continue
    except (ConnectionResetError, BrokenPipeError):
        closed = time.monotonic() - t0; break
print("slow", "closed after %.2f s" % closed if closed else "never closed")
# three pieces over 0.6 s: answered, and the connection stays past the limit
s = socket.socket(); s.settimeout(3); s.bind(("127.0.0.6", 0)); s.connect(("127.0.0.1", port))
third = len(msg) // 3
for k in range(3):
    s.sendall(msg[k * third:] if k == 2 else msg[k * third:(k + 1) * third])
    if k < 2: time.sleep(0.3)
print("whole", "answered" if s.recv(4096).startswith(b"SIP/2.0 200") else "no answer")
time.sleep(limit + 0.5)
try:
    s.sendall(msg.replace(b"CSeq: 1", b"CSeq: 2"))
    print("after", "answered" if s.recv(4096).startswith(b"SIP/2.0 200") else "closed")
except (ConnectionResetError, BrokenPipeError, socket.timeout):
    print("after", "closed")
PY
cat "$T/slow.out"
took=$(sed -n 's/^slow closed after \([0-9.]*\) s/\1/p' "$T/slow.out")
[ -n "$took" ] || fail "the trickling connection was not closed: $(cat "$T/slow.out")"
python3 -c "import sys; t=float(sys.argv[1]); sys.exit(0 if $MSG_MS/1000 - 0.05 <= t <= $MSG_MS/1000 + 1 else 1)" "$took" ||
    fail "the trickling connection was closed after $took s, not $MSG_MS ms after its first byte"
ok "the trickling connection is closed after $took s (tcp_msg_timeout $MSG_MS ms)"
assert_eq "counted" "$(edge_stat tcp_slow_closed)" 1
assert_eq "/metrics: slow closed" "$(metric siplb_edge_tcp_slow_closed_total)" 1
assert_eq "logged" "$(log_count "$T/edge.log" "message not whole $MSG_MS ms after its first byte")" 1
assert_eq "a message whole within the limit is answered" "$(sed -n 's/^whole //p' "$T/slow.out")" answered
assert_eq "... and its connection outlives the limit" "$(sed -n 's/^after //p' "$T/slow.out")" answered
assert_eq "the caller never went over the limit" "$(log_count "$T/edge.log" 'blocking 127.0.0.1 ')" 0
