#!/bin/bash
# Two scheduler replicas follow one edge's numbered dialog events: their
# load counters stay equal to the dialogs really in progress, across a lost
# message (gap -> snapshot), an edge restart (new epoch) and a replica
# killed with SIGKILL and restarted (snapshot at start).
. "$(dirname "$0")/lib.sh"

for r in a b; do
	mkdir -p "$T/$r"
	cat > "$T/$r/siplb.conf" <<CONF
[general]
run_dir = $T/$r
[scheduler]
nodes_file = $T/nodes.conf
prober_pub =
dialogd_pub =
edge_pubs = ipc://$T/edge.pub
edge_reps = ipc://$T/edge.rep
CONF
done
printf '[node 1]\nuri = sip:127.0.0.1:5071\ngroup = 1\nresources = pstn=500;vm=100\n\n[node 2]\nuri = sip:127.0.0.1:5072\ngroup = 1\nresources = pstn=500;vm=100\n' > "$T/nodes.conf"

coproc EDGE { exec "$SIPLB_BIN/fake-edge" "ipc://$T/edge.pub" "ipc://$T/edge.rep" edge:test 2>> "$T/edge.log"; }
PIDS+=("$EDGE_PID")
read -r line <&"${EDGE[0]}"; [ "$line" = ready ] || fail "fake edge: $line"
edge() { echo "$*" >&"${EDGE[1]}"; read -r _ <&"${EDGE[0]}"; }

start_replica() {	# a|b
	"$SIPLB_BIN/siplb-scheduler" -c "$T/$1/siplb.conf" >> "$T/sched-$1.log" 2>&1 &
	eval "PID_$1=$!"
	PIDS+=("$!")
	wait_until 10 "replica $1 to answer" "$SIPLB_BIN/siplbctl" -c "$T/$1/siplb.conf" --timeout 200 nodes
	# wait for the first snapshot from the edge
	wait_for_log 5 "$T/sched-$1.log" 'edge:test: .* live dialogs' && return
	fail "replica $1 got no snapshot from the edge"
}
loads() {	# a|b -> "pstn1 pstn2 vm1"
	"$SIPLB_BIN/siplbctl" -c "$T/$1/siplb.conf" --json nodes | jq_py '" ".join(str(n["resources"][r]["load"]) for n, r in ((d["nodes"][0], "pstn"), (d["nodes"][1], "pstn"), (d["nodes"][0], "vm")))'
}
# expect WHAT "p1 p2 v1": both replicas converge on it within 3 s
both_loads() { echo "a: $(loads a), b: $(loads b)"; }
expect() {
	wait_eq -i 0.05 3 "$1" "a: $2, b: $2" both_loads && { ok "$1: both replicas count $2"; return; }
	fail "$1: replica a counts '$(loads a)', b counts '$(loads b)', want '$2'"
}

start_replica a
start_replica b
expect "no dialogs" "0 0 0"

for i in $(seq 1 10); do edge create call-$i 1 pstn,vm; done
for i in $(seq 11 16); do edge create call-$i 2 pstn; done
for i in $(seq 1 10); do edge confirm call-$i; done
expect "16 dialogs created" "10 6 10"

for i in 1 2 3; do edge end call-$i; done
edge end call-11
expect "4 ended" "7 5 7"

# a reservation made by one replica is not counted twice by it
"$SIPLB_BIN/siplbctl" -c "$T/a/siplb.conf" select --group 1 --resource pstn --exclude 2 --reserve --key call-99 > /dev/null
[ "$(loads a)" = "8 5 7" ] || fail "reservation not counted at once: $(loads a)"
ok "reservation counted at once by the replica that chose"
edge create call-99 1 pstn
expect "reserved dialog created" "8 5 7"

# three events lost: the next one shows the gap, the snapshot heals it
edge lose 3
edge end call-4
edge end call-5
edge create call-20 2 pstn
edge end call-12
expect "after a lost-message gap" "6 5 5"
grep -q 'sequence gap, asking for a snapshot' "$T/sched-a.log" || fail "gap not logged"
ok "gap logged"

# the edge restarts (new epoch) and has forgotten call-6 meanwhile
edge restart
edge end call-6
edge create call-30 2 pstn
expect "after an edge restart" "5 6 4"

# a replica killed and restarted gets the truth from the edge's snapshot
kill -KILL "$PID_b"; wait "$PID_b" 2>/dev/null
edge end call-7
edge create call-31 1 pstn,vm
start_replica b
expect "after kill -9 of replica b" "5 6 4"
