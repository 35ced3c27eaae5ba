#!/bin/bash
# siplb-dialogd stores every dialog an edge publishes, and holds exactly
# the edge's truth after lost messages (gap -> snapshot: what the edge no
# longer has is marked "lost") and after being killed with SIGKILL while
# the edge went on; dialogs older than `lifetime` are ended as "expired"
# and the expiry is published, so a scheduler releases their load.  Run
# against SQLite (the default) and then a private MariaDB.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-mariadb.sh"

printf '[node 1]\nuri = sip:127.0.0.1:5071\ngroup = 1\nresources = pstn=500;vm=100\n\n[node 2]\nuri = sip:127.0.0.1:5072\ngroup = 1\nresources = pstn=500;vm=100\n' > "$T/nodes.conf"

MODE=sqlite
LIFETIME=43200000

write_conf() {
	{
		printf '[general]\nrun_dir = %s\n' "$T"
		printf '[scheduler]\nnodes_file = %s/nodes.conf\nprober_pub =\n' "$T"
		printf 'edge_pubs = ipc://%s/edge.pub\nedge_reps = ipc://%s/edge.rep\n' "$T" "$T"
		printf '[dialogd]\nedge_pubs = ipc://%s/edge.pub\nedge_reps = ipc://%s/edge.rep\n' "$T" "$T"
		printf 'lifetime = %s\n' "$LIFETIME"
		if [ "$MODE" = mysql ]; then
			printf 'store = mysql\ndb_url = %s\n' "$MARIADB_URL"
		else
			printf 'store = sqlite\nsqlite_path = dialogs.db\n'
		fi
	} > "$T/siplb.conf"
}

sql() {
	if [ "$MODE" = mysql ]; then
		mariadb_sql "$1"
	else
		sqlite3 "$T/dialogs.db" "$1"
	fi
}
# "1:5 2:10 3:5": dialogs per state
states() { sql "SELECT state, COUNT(*) FROM siplb_dialogs GROUP BY state ORDER BY state" | tr '\t|' '::' | tr '\n' ' ' | sed 's/ $//'; }
# expect_states WHAT WANT: the store converges on WANT within 3 s
expect_states() {
	wait_eq -i 0.05 3 "$MODE: $1" "$2" states && { ok "$MODE: $1: $2"; return; }
	fail "$MODE: $1: store holds '$WAIT_OUT', want '$2'"
}
field() { sql "SELECT $2 FROM siplb_dialogs WHERE \`key\` = '$1'"; }
# dstat NAME: a counter of dialogd's edge subscriber
dstat() { ctl --json dialogd stats | jq_py "sum(c['value'] for c in d['counters'] if c['name'] == '$1' and c['label'] == 'edge 1')"; }

start_dialogd() {
	local n
	n=$(grep -c 'snapshot of' "$T/dialogd.log" 2>/dev/null)
	"$SIPLB_BIN/siplb-dialogd" -c "$T/siplb.conf" >> "$T/dialogd.log" 2>&1 &
	DLGD_PID=$!
	PIDS+=("$DLGD_PID")
	# ready, and the edge's first snapshot applied
	wait_for_log -p "$DLGD_PID" 10 "$T/dialogd.log" 'snapshot of' "${n:-0}" && return 0
	alive "$DLGD_PID" || fail "siplb-dialogd exited: $(tail -n 5 "$T/dialogd.log")"
	fail "siplb-dialogd got no snapshot from the edge within 10 s"
}
stop_dialogd() {	# SIGNAL
	kill "-$1" "$DLGD_PID" 2>/dev/null
	wait "$DLGD_PID" 2>/dev/null
	return 0
}

start_edge() {
	coproc EDGE { exec "$SIPLB_BIN/fake-edge" "ipc://$T/edge.pub" "ipc://$T/edge.rep" edge:test 2>> "$T/edge.log"; }
	EDGE_PID_NOW=$EDGE_PID
	PIDS+=("$EDGE_PID")
	read -r line <&"${EDGE[0]}"; [ "$line" = ready ] || fail "fake edge: $line"
}
edge() { echo "$*" >&"${EDGE[1]}"; read -r _ <&"${EDGE[0]}"; }
stop_edge() {
	kill -TERM "$EDGE_PID_NOW" 2>/dev/null
	wait "$EDGE_PID_NOW" 2>/dev/null
	return 0
}

loads() {	# "pstn1 pstn2 vm1" as the scheduler counts
	ctl --json nodes | jq_py '" ".join(str(n["resources"][r]["load"]) for n, r in ((d["nodes"][0], "pstn"), (d["nodes"][1], "pstn"), (d["nodes"][0], "vm")))'
}
expect_loads() {	# WHAT WANT SECONDS
	wait_eq -i 0.05 "$3" "$MODE: $1" "$2" loads && { ok "$MODE: $1: scheduler counts $2"; return; }
	fail "$MODE: $1: scheduler counts '$WAIT_OUT', want '$2'"
}

suite() {
	: > "$T/dialogd.log"
	LIFETIME=43200000
	write_conf
	start_edge
	start_dialogd
	expect_states "empty store" ""

	for i in $(seq 1 10); do edge create d$i 1 pstn,vm; done
	for i in $(seq 11 20); do edge create d$i 2 pstn; done
	for i in $(seq 1 10); do edge confirm d$i; done
	for i in $(seq 16 20); do edge end d$i; done
	expect_states "20 dialogs: 5 created, 10 confirmed, 5 ended" "1:5 2:10 3:5"
	assert_eq "$MODE: resources joined with ';'" "$(field d1 resources)" "pstn;vm"
	assert_eq "$MODE: edge of a dialog" "$(field d1 edge)" "edge:test"
	assert_eq "$MODE: node of a dialog" "$(field d12 node_id)" "2"
	got=$(ctl --json dialogs --counts | jq_py '" ".join("%d/%s=%d" % (c["node_id"], c["resource"], c["count"]) for c in d["counts"])')
	assert_eq "$MODE: live counts per node and resource" "$got" "1/pstn=10 1/vm=10 2/pstn=5"
	got=$(ctl --json dialogs --key d17 | jq_py 'd["dialogs"][0]["state"]')
	assert_eq "$MODE: an ended dialog stays as history" "$got" "terminated"

	# three events lost: the next one reveals the gap, the snapshot heals
	edge lose 3
	edge end d1
	edge end d2
	edge confirm d11
	edge create d21 1 pstn
	expect_states "after a lost-message gap" "1:5 2:9 3:7"
	assert_eq "$MODE: a dialog whose end was lost is marked lost" "$(field d1 reason)" "lost"
	assert_eq "$MODE: a lost confirmation is recovered" "$(field d11 state)" "2"
	grep -q 'sequence gap, asking for a snapshot' "$T/dialogd.log" || fail "gap not logged"
	ok "$MODE: gap logged"
	# the lost messages were never in the edge's ring: a hole, counted
	assert_eq "$MODE: the hole is counted" "$(dstat bus_history_lost)" 1

	# dialogd killed; the edge goes on; the restarted dialogd catches up:
	# what it missed is replayed from the edge's ring before the snapshot,
	# so the ends it did not hear are stored as they happened, not "lost"
	stop_dialogd KILL
	edge end d3
	edge end d4
	for i in 22 23 24; do edge create d$i 2 pstn; done
	start_dialogd
	expect_states "after kill -9 of dialogd" "1:8 2:7 3:9"
	assert_eq "$MODE: ended while dialogd was down, replayed" "$(field d4 state)/$(field d4 reason)" "3/bye"
	for i in 25 26; do edge create d$i 1 pstn; edge end d$i; done
	stop_dialogd KILL
	for i in 27 28; do edge create d$i 1 pstn; edge end d$i; done
	start_dialogd
	expect_states "calls that began and ended while dialogd was down are stored" "1:8 2:7 3:13"
	assert_eq "$MODE: a call that came and went while dialogd was down" "$(field d28 state)/$(field d28 reason)" "3/bye"
	[ "$(dstat bus_replayed)" -ge 4 ] || fail "$MODE: dialogd replayed $(dstat bus_replayed) messages, want >= 4"
	ok "$MODE: dialogd counts what it had replayed ($(dstat bus_replayed))"
	assert_eq "$MODE: created while dialogd was down" "$(field d24 state)" "1"

	# expiry: no live dialog left at the edge, a scheduler that follows
	# the edge and dialogd, then dialogd with a 2 s lifetime
	for i in $(seq 1 28); do edge end d$i; done
	expect_states "every dialog ended" "3:28"
	stop_dialogd TERM
	LIFETIME=2000
	write_conf
	: > "$T/scheduler.log"
	start_scheduler
	wait_for_log 5 "$T/scheduler.log" 'edge:test: .* live dialogs' || fail "scheduler got no snapshot from the edge"
	start_dialogd
	wait_for_log 5 "$T/scheduler.log" 'dialogd: synced at seq'
	grep -q 'dialogd: synced at seq' "$T/scheduler.log" || fail "scheduler did not sync with dialogd"
	edge create e1 1 pstn,vm
	edge create e2 1 pstn
	edge create e3 2 pstn
	edge confirm e3
	expect_states "3 new dialogs" "1:2 2:1 3:28"
	expect_loads "3 calls in progress" "2 1 1" 2
	expect_loads "their lifetime is over" "0 0 0" 6
	expect_states "expired dialogs are ended" "3:31"
	assert_eq "$MODE: expiry reason" "$(field e3 reason)" "expired"
	grep -q '3 dialogs expired' "$T/dialogd.log" || fail "expiry not logged"
	ok "$MODE: expiry logged"

	stop_scheduler TERM
	stop_dialogd TERM
	stop_edge
	grep -q 'ready: store' "$T/dialogd.log" || fail "no ready line"
	if [ "$MODE" = mysql ]; then
		grep -q "$MARIADB_PASSWORD" "$T/dialogd.log" && fail "the DB password is in the log"
		ok "mysql: password masked in logs"
	fi
}

suite

MODE=mysql
if ! command -v mariadbd > /dev/null; then
	echo "ok - # SKIP mysql part: mariadbd is not installed"
	exit 0
fi
mariadb_start "$T/db" $((20000 + RANDOM % 20000)) || fail "cannot start MariaDB"
CLEANUPS+=("mariadb_stop")
suite
