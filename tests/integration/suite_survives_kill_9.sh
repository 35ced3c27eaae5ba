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
kill9() { local p; p=$(eval echo "\$PID_$1"); kill -KILL "$p"; wait "$p" 2>/dev/null; ok "killed $1 with SIGKILL"; }
load_sum() { ctl --json nodes | jq_py 'sum(n["resources"]["pstn"]["load"] for n in d["nodes"])'; }
live() { ctl --json dialogs --state confirmed --limit 10000 | jq_py 'len(d["dialogs"])'; }
# expect_eq WHAT FUNCTION WANT: poll up to 10 s (a subscriber that lost
# its publisher dials again after 3.5 s of silence, then resyncs)
expect_eq() {
	local got
	for _ in $(seq 1 100); do
		got=$($2 2>/dev/null)
		[ "$got" = "$3" ] && { ok "$1 ($got)"; return; }
		sleep 0.1
	done
	fail "$1: got '$got', want '$3'"
}

start_bg dialogd siplb-dialogd
start_scheduler
start_bg prober siplb-prober
start_bg edge siplb-edge
sleep 1
node "$N1" uas.xml
node "$N2" uas.xml

# 40 calls of 25 s, all set up within 2 s
(uac uac.xml "$CALLS" 20 -d 25000; echo "$UAC_OK $UAC_FAILED" > "$T/uac.result") &
UAC_BG=$!
sleep 3
expect_eq "scheduler counts the calls" load_sum "$CALLS"
expect_eq "the store holds every call" live "$CALLS"

kill9 scheduler
start_scheduler
expect_eq "restarted scheduler counts the calls again" load_sum "$CALLS"

kill9 prober
start_bg prober siplb-prober
sleep 1
expect_eq "load unchanged across a prober restart" load_sum "$CALLS"
up=$(ctl --json nodes | jq_py 'all(n["up"] for n in d["nodes"])')
assert_eq "nodes still up" "$up" True

kill9 dialogd
start_bg dialogd siplb-dialogd
expect_eq "restarted dialogd holds every call" live "$CALLS"

kill9 edge
start_bg edge siplb-edge
sleep 1.5
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
