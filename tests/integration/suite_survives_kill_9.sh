#!/bin/bash
# Long calls run through the whole suite while, one at a time, the
# scheduler, the prober, dialogd and the edge are killed with SIGKILL and
# restarted.  After each restart the store holds every dialog that was
# started, the scheduler's load equals the calls in progress, and at the
# end every call hangs up with a BYE that succeeds.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-edge.sh"

[ -x "$SIPLB_BIN/siplb-prober" ] && [ -x "$SIPLB_BIN/siplb-dialogd" ] || {
	echo "siplb-prober or siplb-dialogd not built"; exit 1; }

CALLS=40
cat > "$T/siplb.conf" <<CONF
[general]
run_dir = $T
[scheduler]
nodes_file = nodes.conf
prober_pub = ipc://$T/prober.pub
prober_rep = ipc://$T/prober.rep
dialogd_pub = ipc://$T/dialogd.pub
dialogd_rep = ipc://$T/dialogd.rep
[edge]
listen = udp:127.0.0.1:$EDGE_PORT
dialogd = ipc://$T/dialogd.rep
[prober]
interval = 500
timeout = 300
[dialogd]
store = sqlite
sqlite_path = $T/dialogs.db
CONF
# probe_mode 1 (the deployment's): healthy nodes are not pinged
printf '[node 1]\nuri = sip:127.0.0.1:%d\ngroup = 1\nset = 1\nresources = pstn=500\nprobe_mode = 1\n\n[node 2]\nuri = sip:127.0.0.1:%d\ngroup = 1\nset = 1\nresources = pstn=500\nprobe_mode = 1\n' "$N1" "$N2" > "$T/nodes.conf"

start_bg() {	# NAME BINARY: start (again), record the pid in PID_NAME
	"$SIPLB_BIN/$2" -c "$T/siplb.conf" >> "$T/$1.log" 2>&1 &
	eval "PID_$1=$!"
	PIDS+=("$!")
}
# kill9 NAME: SIGKILL it and check it is gone (the scheduler's pid is
# lib.sh's SCHED_PID, the others' PID_NAME)
kill9() {
	local p
	if [ "$1" = scheduler ]; then p=$SCHED_PID; else p=$(eval echo "\${PID_$1:-}"); fi
	[ -n "$p" ] || fail "no pid recorded for $1"
	kill -KILL "$p" || fail "$1 (pid $p) was not running"
	wait "$p" 2>/dev/null
	! alive "$p" || fail "$1 (pid $p) survived SIGKILL"
	ok "killed $1 (pid $p) with SIGKILL"
}
load_sum() { ctl --json nodes | jq_py 'sum(n["resources"]["pstn"]["load"] for n in d["nodes"])'; }
live() { ctl --json dialogs --state confirmed --limit 10000 | jq_py 'len(d["dialogs"])'; }
# expect_eq WHAT FUNCTION WANT: poll up to 10 s (a subscriber that lost
# its publisher dials again after 3.5 s of silence, then resyncs)
expect_eq() {
	wait_eq 10 "$1" "$3" "$2" && { ok "$1 ($WAIT_OUT)"; return; }
	fail "$1: got '$WAIT_OUT', want '$3'"
}

start_bg dialogd siplb-dialogd
start_scheduler
start_bg prober siplb-prober
start_bg edge siplb-edge
suite_up() { grep -q 'node table from the scheduler' "$T/edge.log" && ctl health; }
wait_until 10 "the suite up (the edge with its node table, siplbctl health)" suite_up ||
    fail "the suite did not come up"
node "$N1" uas.xml
node "$N2" uas.xml

# 40 calls of 25 s, all set up within 2 s
(uac uac.xml "$CALLS" 20 -d 25000; echo "$UAC_OK $UAC_FAILED" > "$T/uac.result") &
UAC_BG=$!
expect_eq "scheduler counts the calls" load_sum "$CALLS"
expect_eq "the store holds every call" live "$CALLS"

kill9 scheduler
start_scheduler
expect_eq "restarted scheduler counts the calls again" load_sum "$CALLS"

kill9 prober
syncs=$(log_count "$T/scheduler.log" 'prober 1: synced at seq')
start_bg prober siplb-prober
wait_for_log 10 "$T/scheduler.log" 'prober 1: synced at seq' "$syncs" ||
    fail "the scheduler did not sync with the restarted prober"
expect_eq "load unchanged across a prober restart" load_sum "$CALLS"
up=$(ctl --json nodes | jq_py 'all(n["up"] for n in d["nodes"])')
assert_eq "nodes still up" "$up" True

kill9 dialogd
start_bg dialogd siplb-dialogd
expect_eq "restarted dialogd holds every call" live "$CALLS"

kill9 edge
restores=$(log_count "$T/edge.log" 'restored from the dialog store')
start_bg edge siplb-edge
wait_for_log 5 "$T/edge.log" 'restored from the dialog store' "$restores"
grep -q "$CALLS live dialogs of edge:1 restored from the dialog store" "$T/edge.log" || fail "edge did not restore its dialogs: $(grep restored "$T/edge.log")"
ok "restarted edge restored $CALLS dialogs"
expect_eq "load right after the edge restart" load_sum "$CALLS"
expect_eq "store right after the edge restart" live "$CALLS"

wait "$UAC_BG"
read -r OK FAILED < "$T/uac.result"
echo "calls: $OK succeeded, $FAILED failed"
assert_eq "every established call ended with a BYE that succeeded" "$OK" "$CALLS"
expect_eq "no load once they hung up" load_sum 0
ended() { ctl --json dialogs --state terminated --limit 10000 | jq_py 'len(d["dialogs"])'; }
expect_eq "the store holds all of them, ended" ended "$CALLS"
