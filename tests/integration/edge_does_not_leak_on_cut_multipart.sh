#!/bin/bash
# 100,000 MESSAGE requests whose multipart body is cut short, sent to a
# running edge (two sipp nodes behind it) as fast as it answers, leave its
# resident memory where it was: the edge never hands a body to libosip2
# (whose MIME parser, in libosip2 5.3, loses the first Content-Type of a
# part that names it twice: 57 bytes for application/octet-stream, on
# each such message), and a request it answers itself keeps nothing.  Half have the Content-Length of what was
# sent (the MESSAGE rule answers, reply 405), half one past the datagram's
# end (400, RFC 3261 §18.3).
#
# The bound: 57 bytes lost per message would be 5.7 MB over 100,000 (more
# with malloc's own overhead, 64 to 80 bytes a chunk), so growth under
# 4 MB (4096 kB) rules out any per-message leak of that size, and of 42
# bytes or more in general; what the edge itself may grow by (libevent's
# and malloc's arenas, the log) is reached during a warm-up of 10,000
# before the first reading.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-edge.sh"

edge_config
start_scheduler
start_edge
node "$N1" uas.xml
node "$N2" uas.xml

flood() { python3 "$SIPLB_TOP/tests/tools/cut-multipart-flood.py" 127.0.0.1 "$EDGE_PORT" "$@"; }
rss() { sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$EDGE_PID/status"; }
field() { echo "$1" | tr ' ' '\n' | grep -A1 -x "$2" | tail -n 1; }

warm=$(flood 10000 --timeout 30)
echo "warm-up: $warm"
assert_eq "warm-up: every message answered" "$(field "$warm" answered)" 10000
before=$(rss)
r400=$(edge_stat replied 400); r405=$(edge_stat replied 405)
out=$(flood 100000 --timeout 60)
after=$(rss)
echo "flood: $out"
echo "edge VmRSS: $before kB before, $after kB after, $((after - before)) kB more"
answered=$(field "$out" answered)
[ "$answered" -ge 99900 ] || fail "only $answered of 100000 answered: $out"
ok "$answered of 100000 answered within 60 s ($(field "$out" seconds) s)"
[ $((after - before)) -lt 4096 ] ||
    fail "the edge grew by $((after - before)) kB over 100,000 cut multipart messages (bound 4096 kB)"
ok "the edge grew by $((after - before)) kB over 100,000 messages (bound 4096 kB)"
assert_match "the cut multipart with its own length: 405 (route_message)" "$out" '405=(4999[0-9]|50000)'
assert_match "the one cut past its Content-Length: 400" "$out" '400=(4999[0-9]|50000)'
assert_eq "the edge counted the 405s" "$(edge_stat replied 405)" "$((r405 + $(echo "$out" | sed 's/.*405=\([0-9]*\).*/\1/')))"
assert_eq "the edge counted the 400s" "$(edge_stat replied 400)" "$((r400 + $(echo "$out" | sed 's/.*400=\([0-9]*\).*/\1/')))"
kill -0 "$EDGE_PID" || fail "the edge died"
uac uac.xml 20 20 -d 100
assert_eq "20 calls after the flood succeed" "$UAC_OK" 20
