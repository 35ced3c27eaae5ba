#!/bin/bash
# The edge never waits on the dialog store with its SIP loop.  dialogd is
# frozen with SIGSTOP (it holds its sockets but answers nothing) while
# long calls are up; then
#  1. the edge itself stands still for 3 s (SIGSTOP, SIGCONT): on waking
#     it asks the store which dialogs ended elsewhere meanwhile, and while
#     that question waits (store_timeout, 3 s here) OPTIONS and new calls
#     are answered at once; unanswered, it keeps its dialogs as they are;
#  2. the edge restarts: its question for the dialogs of its previous run
#     waits the same way, and again OPTIONS and calls are answered
#     meanwhile; unanswered, it starts without them.
# A loop that blocked on the store would hold every OPTIONS sent during
# the question for up to store_timeout.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-edge.sh"

[ -x "$SIPLB_BIN/siplb-dialogd" ] || { echo "siplb-dialogd not built"; exit 1; }

LONG=10		# calls up across both phases
CALLS=10	# calls made during each question
MAX_RTT=300	# ms; the store's question waits 3000
cat > "$T/siplb.conf" <<CONF
[general]
run_dir = $T
[scheduler]
nodes_file = nodes.conf
prober_pub =
dialogd_pub = ipc://$T/dialogd.pub
dialogd_rep = ipc://$T/dialogd.rep
[edge]
listen = udp:127.0.0.1:$EDGE_PORT
dialogd = ipc://$T/dialogd.rep
store_timeout = 3000
[dialogd]
store = sqlite
sqlite_path = $T/dialogs.db
CONF
printf '[node 1]\nuri = sip:127.0.0.1:%d\ngroup = 1\nset = 1\nresources = pstn=500\n\n[node 2]\nuri = sip:127.0.0.1:%d\ngroup = 1\nset = 1\nresources = pstn=500\n' "$N1" "$N2" > "$T/nodes.conf"

"$SIPLB_BIN/siplb-dialogd" -c "$T/siplb.conf" >> "$T/dialogd.log" 2>&1 &
DIALOGD_PID=$!
PIDS+=("$DIALOGD_PID")
CLEANUPS+=('kill -CONT "$DIALOGD_PID" "$EDGE_PID" 2>/dev/null')
start_scheduler
start_edge
node "$N1" uas.xml
node "$N2" uas.xml

load_sum() { ctl --json nodes | jq_py 'sum(n["resources"]["pstn"]["load"] for n in d["nodes"])'; }
live() { ctl --json dialogs --state confirmed --limit 10000 | jq_py 'len(d["dialogs"])'; }
# caller NAME PORT CALLS RATE [sipp args]: a sipp caller of its own, in
# the foreground; prints "OK FAILED"
caller() {
	local name=$1 port=$2 n=$3 rate=$4
	shift 4
	(cd "$T" && timeout 120 sipp -sf "$SIPP_DIR/uac.xml" "127.0.0.1:$EDGE_PORT" \
	    -i 127.0.0.1 -p "$port" -m "$n" -r "$rate" -l 200 -nostdin \
	    -timeout 60 -timeout_error -trace_err -error_file "$T/$name.err" \
	    "$@" > "$T/$name.out" 2>&1)
	echo "$(sipp_count "$T/$name.out" Successful) $(sipp_count "$T/$name.out" Failed)"
}
# during NAME PORT: OPTIONS to the edge every 50 ms for 2.5 s, and CALLS calls
# at 10/s, side by side; checks both were answered
during() {
	local got ok failed
	python3 "$SIPLB_TOP/tests/tools/sip-ping.py" 127.0.0.1 "$EDGE_PORT" \
	    --duration 2.5 --interval 0.05 > "$T/ping-$1.out" &
	local ping=$!
	read -r ok failed <<< "$(caller "calls-$1" "$2" "$CALLS" 10)"
	wait "$ping"
	got=$(cat "$T/ping-$1.out")
	echo "$1: OPTIONS $got; calls: $ok succeeded, $failed failed"
	assert_match "$1: every OPTIONS answered 200" "$got" \
	    '^sent=([0-9]+) answered=\1 codes=200:\1 '
	local rtt=${got##*max_rtt_ms=}
	[ "$rtt" -lt "$MAX_RTT" ] || fail "$1: an OPTIONS waited $rtt ms (>= $MAX_RTT): the loop blocked"
	ok "$1: slowest OPTIONS answered in $rtt ms"
	assert_eq "$1: every call made meanwhile succeeded" "$ok $failed" "$CALLS 0"
}
waiting_on_store() { [ "$(edge_stat store_waiting)" = 1 ]; }

(caller long $((BASE + 41)) "$LONG" 20 -d 30000 > "$T/long.result") &
LONG_BG=$!
wait_eq 10 "the scheduler to count the long calls" "$LONG" load_sum ||
    fail "long calls: load $WAIT_OUT, want $LONG"
wait_eq 10 "the store to hold the long calls" "$LONG" live ||
    fail "long calls: store holds $WAIT_OUT, want $LONG"
ok "$LONG long calls up, counted and stored"

kill -STOP "$DIALOGD_PID" || fail "could not stop dialogd"
ok "dialogd stopped (SIGSTOP)"

# 1. a stall of the edge, then its reconcile against the frozen store
stalls=$(log_count "$T/edge.log" 'the loop stood still')
kept=$(log_count "$T/edge.log" 'keeping the dialogs as they are')
kill -STOP "$EDGE_PID"
sleep 3	# not a wait: the stall itself, 3 s of it
kill -CONT "$EDGE_PID"
wait_for_log 3 "$T/edge.log" 'the loop stood still' "$stalls" ||
    fail "the edge did not notice its stall"
wait_until 2 "the edge's reconcile waiting on the store" waiting_on_store ||
    fail "store_waiting is not 1 after the stall"
ok "the edge asks the frozen store (store_waiting 1)"
during reconcile $((BASE + 42))
wait_for_log 5 "$T/edge.log" 'keeping the dialogs as they are' "$kept" ||
    fail "the reconcile did not give up on the frozen store"
ok "unanswered, the reconcile kept the dialogs as they are"
# the scheduler resyncs from the edge's snapshot, which waited for the
# store's answer: the calls made meanwhile are released once it comes
wait_eq 3 "the scheduler to count the long calls alone" "$LONG" load_sum ||
    fail "after the reconcile: load $WAIT_OUT, want $LONG"
ok "the long calls still counted, the ones made meanwhile released"

# 2. an edge restart: its restore waits on the frozen store
stop_edge
without=$(log_count "$T/edge.log" 'starting without the dialogs of a previous run')
start_edge
wait_until 2 "the restarted edge's restore waiting on the store" waiting_on_store ||
    fail "store_waiting is not 1 after the restart"
ok "the restarted edge asks the frozen store (store_waiting 1)"
during restart $((BASE + 43))
wait_for_log 5 "$T/edge.log" 'no answer: starting without the dialogs of a previous run' "$without" ||
    fail "the restore did not give up on the frozen store"
ok "unanswered, the restarted edge started without its previous dialogs"
[ "$(edge_stat store_waiting)" = 0 ] || fail "store_waiting still 1"

kill -CONT "$DIALOGD_PID"
ok "dialogd resumed"
wait "$LONG_BG"
read -r OK FAILED < "$T/long.result"
echo "long calls: $OK succeeded, $FAILED failed"
assert_eq "the long calls ended with BYEs relayed by the restarted edge" "$OK $FAILED" "$LONG 0"
