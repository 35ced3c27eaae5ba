#!/bin/bash
# siplb-prober probes the scheduler's nodes with OPTIONS: a node that stops
# answering is down within interval x threshold_down + timeout and never
# selected, and up again once it answers; reply_codes and From take effect;
# two probers with --shard 1/2 and 2/2 probe every node exactly once.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-edge.sh"

command -v sipp > /dev/null || { echo "sipp not installed"; exit 77; }

# prober_config FILE PUBNAME [extra [prober] lines...]
prober_config() {
	local f=$1 pub=$2
	shift 2
	cat > "$f" <<CONF
[general]
run_dir = $T
[scheduler]
nodes_file = nodes.conf
prober_pub = ipc://$T/prober.pub
prober_rep = ipc://$T/prober.rep
dialogd_pub =
[prober]
pub = ipc://$T/$pub.pub
rep = ipc://$T/$pub.rep
listen = udp:127.0.0.1:0
interval = 300
timeout = 200
threshold_down = 2
threshold_up = 1
CONF
	for l in "$@"; do echo "$l" >> "$f"; done
}
prober_config "$T/siplb.conf" prober
for i in 1 2; do
	port=$((N1 + i - 1))
	printf '[node %d]\nuri = sip:127.0.0.1:%d\ngroup = 1\nset = 1\nresources = pstn=500\nprobe_mode = 2\n\n' "$i" "$port"
done > "$T/nodes.conf"
mkdir -p "$T/sipp404"
sed 's/SIP\/2.0 200 OK/SIP\/2.0 404 Not Found/' "$SIPP_DIR/uas-options.xml" > "$T/sipp404/uas-options.xml"
grep -q '404 Not Found' "$T/sipp404/uas-options.xml" || fail "404 scenario not rendered"

# opt_node PORT [SCENARIO]: a sipp node answering OPTIONS, messages logged
opt_node() {
	SIPP_DIR=${2:-$SIPP_DIR} node "$1" uas-options.xml -trace_msg -message_file "$T/msg-$1.log"
}

start_prober() {	# CONFIG LOG [args...]
	local conf=$1 log=$2
	shift 2
	"$SIPLB_BIN/siplb-prober" -c "$conf" "$@" >> "$log" 2>&1 &
	PROBER_PID=$!
	PIDS+=("$PROBER_PID")
	wait_for_log -i 0.05 -p "$PROBER_PID" 5 "$log" 'ready: prober:' && return 0
	alive "$PROBER_PID" || fail "siplb-prober exited: $(tail -n 5 "$log")"
	fail "siplb-prober not ready within 5 s"
}
stop_pid() { kill -TERM "$1" 2>/dev/null; wait "$1" 2>/dev/null; return 0; }

# node_field ID FIELD: a field of one node as the scheduler shows it
node_field() {
	ctl --json nodes | jq_py "[n for n in d['nodes'] if n['id'] == $1][0]['$2']"
}
now_ms() { date +%s%3N; }
has_rtt() { [ "$(node_field "$1" rtt_us)" -gt 0 ]; }	# ID
# wait_field ID FIELD WANT LIMIT_MS: until the field is WANT; prints the ms
wait_field() {
	local rc
	wait_eq -i 0.02 "$(($4 / 1000)).$(printf '%03d' $(($4 % 1000)))" "node $1's $2 to be $3" "$3" node_field "$1" "$2"
	rc=$?
	echo "$WAIT_MS"
	return $rc
}

# --- both nodes answer: up, with a round-trip time
opt_node "$N1"
opt_node "$N2"
start_scheduler
start_prober "$T/siplb.conf" "$T/prober.log"
P1=$PROBER_PID
for id in 1 2; do
	wait_until -i 0.05 3 "node $id to get an rtt" has_rtt "$id"
	rtt=$(node_field $id rtt_us)
	[ "$rtt" -gt 0 ] || fail "node $id: no rtt after 3 s"
	ok "node $id gets an rtt ($rtt us)"
	assert_eq "node $id is up" "$(node_field $id up)" "True"
	assert_eq "node $id last_code" "$(node_field $id last_code)" "200"
done
sleep 1	# not a wait: both must stay up across three probe intervals
assert_eq "node 1 stays up" "$(node_field 1 up)" "True"
assert_eq "node 2 stays up" "$(node_field 2 up)" "True"
grep -q ' is down' "$T/prober.log" && fail "a node was marked down while answering"

# --- node 2 stops answering: down within interval x 2 + timeout + slack
kill -KILL "$(eval echo "\$NODE_PID_$N2")"
ms=$(wait_field 2 up False 2000) || fail "node 2 not down within 2 s ($ms ms)"
ok "node 2 down $ms ms after its sipp was killed (bound 2000 ms; interval 300 x 2 + timeout 200 = 800)"
grep -q "node 2 sip:127.0.0.1:$N2 is down: 2 probes failed (last 408)" "$T/prober.log" \
	|| fail "down transition not logged"
ok "down transition logged once in fixed wording"
assert_eq "node 2 last_code" "$(node_field 2 last_code)" "408"
for i in $(seq 1 10); do
	got=$(ctl select --group 1 --resource pstn)
	[ "$got" = "sip:127.0.0.1:$N1" ] || fail "select $i returned '$got'"
done
ok "10 selections never return node 2"

# --- node 2 answers again: up
opt_node "$N2"
ms=$(wait_field 2 up True 2000) || fail "node 2 not up within 2 s ($ms ms)"
ok "node 2 up again $ms ms after its sipp restarted"
grep -q "node 2 sip:127.0.0.1:$N2 is up: probe answered 200 in " "$T/prober.log" \
	|| fail "up transition not logged"
ok "up transition logged"
assert_eq "one down, one up transition" \
	"$(grep -c 'node 2 .* is \(down\|up\):' "$T/prober.log")" "2"

# --- the From of the probes: sip:siplb-prober@HOSTNAME by default
grep -q "^From: <sip:siplb-prober@$(hostname)>;tag=prb" "$T/msg-$N1.log" \
	|| fail "default From not seen by the node: $(grep -m1 '^From:' "$T/msg-$N1.log")"
ok "default From is sip:siplb-prober@$(hostname)"

# --- a node answering 404: added at run time, down with reply_codes = 200
opt_node "$N3" "$T/sipp404"
ctl node add --id 3 --uri "sip:127.0.0.1:$N3" --group 1 --set 1 --resources 'pstn=500' --probe-mode 2 > /dev/null || fail "node add"
t0=$(now_ms)
wait_for_log -i 0.02 2 "$T/msg-$N3.log" "^OPTIONS sip:127.0.0.1:$N3 SIP/2.0"
first=$(( $(now_ms) - t0 ))
[ "$first" -le 1200 ] || fail "first probe of an added node after $first ms"
ok "an added node is probed within $first ms"
ms=$(wait_field 3 up False 3000) || fail "node 3 (404) not down within 3 s"
ok "node 3 answering 404 is down with reply_codes = 200 ($ms ms after add)"
assert_eq "node 3 last_code" "$(node_field 3 last_code)" "404"
grep -q "node 3 sip:127.0.0.1:$N3 is down: 2 probes failed (last 404)" "$T/prober.log" || fail "404 down not logged"

# --- restart the prober with reply_codes = 200,404 and a From of our own
stop_pid "$P1"
prober_config "$T/siplb.conf" prober "reply_codes = 200, 404" "from = sip:health@probe.example"
"$SIPLB_BIN/siplb-prober" -c "$T/siplb.conf" -t > /dev/null || fail "config check"
: > "$T/msg-$N1.log"
start_prober "$T/siplb.conf" "$T/prober-2.log"
P2=$PROBER_PID
ms=$(wait_field 3 up True 3000) || fail "node 3 (404) not up with reply_codes = 200,404"
ok "node 3 answering 404 is up with reply_codes = 200,404 ($ms ms after the restart)"
assert_eq "node 1 untouched by the restart" "$(node_field 1 up)" "True"
grep -q ' is down' "$T/prober-2.log" && fail "the restarted prober marked a node down"
wait_for_log 3 "$T/msg-$N1.log" '^From: '	# a probe of the restarted prober
grep -q "^From: <sip:health@probe.example>;tag=prb" "$T/msg-$N1.log" \
	|| fail "configured From not seen: $(grep -m1 '^From:' "$T/msg-$N1.log")"
ok "configured From is sent"
stop_pid "$P2"

# --- bad values are refused with exit 78
prober_config "$T/bad.conf" prober "reply_codes = 200, 99"
"$SIPLB_BIN/siplb-prober" -c "$T/bad.conf" -t > "$T/bad.out" 2>&1; rc=$?
assert_eq "reply_codes 99 refused" "$rc" "78"
prober_config "$T/bad.conf" prober "mode = sometimes"
"$SIPLB_BIN/siplb-prober" -c "$T/bad.conf" -t > "$T/bad.out" 2>&1; rc=$?
assert_eq "unknown mode refused" "$rc" "78"
prober_config "$T/bad.conf" prober "colour = blue"
"$SIPLB_BIN/siplb-prober" -c "$T/bad.conf" -t > "$T/bad.out" 2>&1; rc=$?
assert_eq "unknown key refused" "$rc" "78"

# --- two shards: every node probed by exactly one prober
prober_config "$T/siplb.conf" prober "reply_codes = 200, 404"
prober_config "$T/shard2.conf" prober2 "reply_codes = 200, 404" "shard = 1/1"
for p in $N1 $N2 $N3; do : > "$T/msg-$p.log"; done
start_prober "$T/siplb.conf" "$T/prober-s1.log" --shard 1/2
S1=$PROBER_PID
start_prober "$T/shard2.conf" "$T/prober-s2.log" --shard=2/2
S2=$PROBER_PID
sleep 1.6	# not a wait: the probes of 1.6 s are counted below
stop_pid "$S1"
stop_pid "$S2"
sleep 0.2	# not a wait: probes sent before the stop may still reach the nodes' logs (nothing to observe)
# node id % 2 == i - 1: node 2 belongs to 1/2, nodes 1 and 3 to 2/2
for spec in "1:$N1:2" "2:$N2:1" "3:$N3:2"; do
	IFS=: read -r id port mine <<< "$spec"
	other=$((3 - mine))
	got=$(grep -c "^OPTIONS sip:127.0.0.1:$port SIP/2.0" "$T/msg-$port.log")
	by_mine=$(grep -c "^Call-ID: prb-${mine}of2-$id-" "$T/msg-$port.log")
	by_other=$(grep -c "^Call-ID: prb-${other}of2-" "$T/msg-$port.log")
	[ "$got" -ge 3 ] || fail "node $id: $got probes in 1.6 s"
	[ "$by_mine" -gt 0 ] || fail "node $id: none from shard $mine/2"
	assert_eq "node $id probed by shard $mine/2 only ($got probes)" "$by_other" "0"
done
grep -q 'ready: prober:2/2' "$T/prober-s2.log" || fail "--shard did not win over shard = 1/1"
ok "--shard wins over the config"

# --- a node removed from the table is forgotten: no more probes
start_prober "$T/siplb.conf" "$T/prober-3.log"
P3=$PROBER_PID
wait_for_log 3 "$T/prober-3.log" 'node table from the scheduler: 3 nodes' ||
    fail "the prober did not get the node table"
ctl node remove 3 > /dev/null || fail "node remove"
wait_for_log -i 0.02 1 "$T/prober-3.log" "node 3 sip:127.0.0.1:$N3: removed from the table; forgotten"
grep -q "node 3 sip:127.0.0.1:$N3: removed from the table; forgotten" "$T/prober-3.log" || fail "removal not seen"
sleep 0.3	# not a wait: a probe already in flight may still arrive (nothing to observe)
before=$(grep -c "^OPTIONS sip:" "$T/msg-$N3.log")
sleep 1	# not a wait: no probe may come for a second
assert_eq "no probe to a removed node" "$(grep -c "^OPTIONS sip:" "$T/msg-$N3.log")" "$before"
stop_pid "$P3"
