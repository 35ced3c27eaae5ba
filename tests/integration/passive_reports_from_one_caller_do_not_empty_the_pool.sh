#!/bin/bash
# Passive health (issue 13 item 3): the edge, the scheduler and a prober on
# loopback with two fake nodes (tests/tools/fake-node.py) that answer
# OPTIONS and calls but ignore INVITEs to the user "torture".
#  1. one caller's burst of those INVITEs (each times out at the edge on
#     both nodes) leaves both nodes in rotation: one caller's reports only
#     ask the prober for a probe, which the nodes answer; 100 calls succeed.
#  2. a node that really dies: one report each from two callers suspects
#     it, the probe asked at once fails, it is down before the prober's own
#     thresholds would have it, and calls go to the other node.
#  3. every node down (OPTIONS unanswered, calls still answered): with
#     all_down = refuse a call gets 503; with all_down = last_resort it goes
#     through, logged once per episode, counted in the scheduler's stats
#     and siplb-admin's /metrics.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-edge.sh"

command -v sipp > /dev/null || { echo "sipp not installed"; exit 77; }
command -v curl > /dev/null || { echo "curl not installed"; exit 77; }
TOOLS="$SIPLB_TOP/tests/tools"
ADMIN_PORT=$((BASE + 97))

# suite_config ALL_DOWN: the prober probes every second (probe_mode 2) and
# takes 4 misses for down, so that only the passive path can be quick;
# least-load ties go to node 1 (tie_first), so calls try it first
suite_config() {
	cat > "$T/siplb.conf" <<CONF
[general]
run_dir = $T
[scheduler]
nodes_file = nodes.conf
prober_pub = ipc://$T/prober.pub
prober_rep = ipc://$T/prober.rep
dialogd_pub =
tie_first = yes
passive_threshold = 2
passive_window = 30000
all_down = $1
[edge]
listen = udp:127.0.0.1:$EDGE_PORT
fr_timeout = 500
dialogd =
[prober]
pub = ipc://$T/prober.pub
rep = ipc://$T/prober.rep
listen = udp:127.0.0.1:0
interval = 1000
timeout = 300
threshold_down = 4
threshold_up = 1
[admin]
listen = 127.0.0.1:$ADMIN_PORT
token_file = $T/admin.token
metrics_public = yes
dialogd =
CONF
}
suite_config refuse
printf '[node 1]\nuri = sip:127.0.0.1:%d\ngroup = 1\nset = 1\nresources = pstn=500\nprobe_mode = 2\n\n[node 2]\nuri = sip:127.0.0.1:%d\ngroup = 1\nset = 1\nresources = pstn=500\nprobe_mode = 2\n' "$N1" "$N2" > "$T/nodes.conf"
echo "t0ken-for-this-test-only" > "$T/admin.token"
chmod 600 "$T/admin.token"

fake_node() {	# PORT: a fake node, its pid in FAKE_<PORT>
	python3 "$TOOLS/fake-node.py" --port "$1" --stats "$T/fake-$1.json" \
	    --options-off "$T/options-off-$1" >> "$T/fake-$1.log" 2>&1 &
	eval "FAKE_$1=$!"
	PIDS+=("$!")
	wait_until 3 "fake node on $1 to start" test -s "$T/fake-$1.json"
}
fake_stat() { jq_py "d['$2']" < "$T/fake-$1.json"; }	# PORT FIELD
start_prober() {
	"$SIPLB_BIN/siplb-prober" -c "$T/siplb.conf" >> "$T/prober.log" 2>&1 &
	PROBER_PID=$!
	PIDS+=("$PROBER_PID")
	wait_for_log -i 0.05 -p "$PROBER_PID" 5 "$T/prober.log" 'ready: prober:' ||
	    fail "siplb-prober not ready"
}
node_field() { ctl --json nodes | jq_py "[n for n in d['nodes'] if n['id'] == $1][0]['$2']"; }
both_up() { echo "$(node_field 1 up) $(node_field 2 up)"; }
sched_stat() { ctl --json stats | jq_py "sum(c['value'] for c in d['counters'] if c['name'] == '$1')"; }
# caller BIND USER CALLS [PARALLEL]: sip-caller.py; its "CODE COUNT" lines
caller() {
	python3 "$TOOLS/sip-caller.py" 127.0.0.1 "$EDGE_PORT" --bind "$1" \
	    --user "$2" --calls "$3" --parallel "${4:-1}" --wait 10 2>> "$T/caller.err"
}
restart_scheduler() {
	stop_scheduler
	start_scheduler
	wait_eq 5 "both nodes up in the restarted scheduler" "True True" both_up
}

fake_node "$N1"
fake_node "$N2"
start_scheduler
start_prober
start_edge
for id in 1 2; do
	wait_until 5 "node $id to be probed (an rtt)" test "$(node_field $id rtt_us)" -gt 0 2>/dev/null
	[ "$(node_field $id rtt_us)" -gt 0 ] || fail "node $id not probed"
done
assert_eq "both nodes up" "$(both_up)" "True True"
grep -q "no prober to ask" "$T/scheduler.log" && fail "the scheduler says it has no prober"

# --- 1. one caller, 20 INVITEs the nodes ignore
got=$(caller 127.0.0.2 torture 20 20)
echo "$got" | sed 's/^/#   torture caller got: /'
echo "$got" | grep -q '^200 ' && fail "a torture INVITE was answered 200: $got"
[ "$(echo "$got" | awk '{ n += $2 } END { print n }')" = 20 ] || fail "not 20 final answers: $got"
ok "20 torture INVITEs got their final non-2xx answers"
ignored=$(( $(fake_stat "$N1" ignored) + $(fake_stat "$N2" ignored) ))
[ "$ignored" -ge 40 ] || fail "the nodes ignored only $ignored INVITEs (want both tried for each: 40)"
ok "the nodes ignored $ignored INVITEs: each tried on both, timed out, failed over"
reports=$(sched_stat passive_reports)
[ "$reports" -ge 40 ] || fail "the scheduler counted $reports passive reports, want >= 40"
ok "the scheduler got $reports passive reports, all from 127.0.0.2"
grep -q 'edge reported 408 (1 of 2), caller 127.0.0.2' "$T/scheduler.log" || fail "per-caller count not logged"
wait_for_log 3 "$T/scheduler.log" 'answered the probe (200): stays in rotation' ||
    fail "no probe answered for one caller's reports"
grep -q 'suspected (edge reported 408: one caller, 127.0.0.2)' "$T/scheduler.log" ||
    fail "the probe was not asked for one caller's reports"
ok "one caller's reports asked for probes; the nodes answered them ($(sched_stat passive_probe_up) times)"
grep -q 'probing it now, as the scheduler asks' "$T/prober.log" || fail "the prober did not log the probe asked"
grep -Eq 'node [12] .* is down' "$T/scheduler.log" && fail "a node was marked down: $(grep ' is down' "$T/scheduler.log")"
assert_eq "no node was marked down" "$(sched_stat passive_probe_down) $(sched_stat passive_unconfirmed)" "0 0"
wait_eq 1 "both nodes in rotation (siplbctl nodes)" "True True" both_up
ok "both nodes in rotation after the burst"
ctl nodes > "$T/nodes.out"
[ "$(grep -c ' up ' "$T/nodes.out")" = 2 ] || fail "siplbctl nodes does not show both up: $(cat "$T/nodes.out")"
ok "siplbctl nodes shows both up"
uac uac.xml 100 50
assert_eq "100 normal calls succeed" "$UAC_OK" 100
assert_eq "no normal call failed" "$UAC_FAILED" 0

# --- 2. node 1 dies: a report from each of two callers, the probe fails
restart_scheduler		# no reports of phase 1 left
kill -KILL "$(eval echo "\$FAKE_$N1")"
wait "$(eval echo "\$FAKE_$N1")" 2>/dev/null
t0=$(date +%s%3N)
got=$(caller 127.0.0.3 call 1)
assert_eq "caller 127.0.0.3: answered by node 2 after failing over" "$got" "200 1"
assert_eq "one caller's report: node 1 still up" "$(node_field 1 up)" True
got=$(caller 127.0.0.4 call 1)
assert_eq "caller 127.0.0.4: answered by node 2 after failing over" "$got" "200 1"
wait_eq -i 0.05 2 "node 1 down" False node_field 1 up || fail "node 1 not down"
ms=$(( $(date +%s%3N) - t0 ))
ok "node 1 down $ms ms after it died (the prober alone: >= 3 x interval 1000 + timeout 300)"
[ "$ms" -lt 3300 ] || fail "node 1 down only after $ms ms: not by the passive path"
grep -q "node 1 sip:127.0.0.1:$N1 is down (edge reported 408: 2 callers; the probe failed: 408)" "$T/scheduler.log" ||
    fail "not marked down by two callers' reports and the probe: $(grep 'node 1' "$T/scheduler.log" | tail -n 3)"
ok "down on two callers' reports confirmed by the probe asked at once"
grep -q "node 1 sip:127.0.0.1:$N1 is down: the probe the scheduler asked for (passive reports) failed (408)" "$T/prober.log" ||
    fail "the prober did not log the failed probe"
assert_eq "probe failed counted" "$(sched_stat passive_probe_down)" 1
before=$(fake_stat "$N2" invite)
got=$(caller 127.0.0.3 call 20 5)
assert_eq "20 calls after node 1 died all succeed" "$got" "200 20"
assert_eq "... all on node 2" "$(( $(fake_stat "$N2" invite) - before ))" 20
ok "calls go to the other node"

# --- 3. every node down: refuse, then last_resort
fake_node "$N1"
wait_eq 4 "node 1 up again (probe)" True node_field 1 up || fail "node 1 not up again"
touch "$T/options-off-$N1" "$T/options-off-$N2"
wait_eq 8 "both nodes down (OPTIONS unanswered)" "False False" both_up || fail "not both down"
ok "both nodes down by the prober while their calls still work"
got=$(caller 127.0.0.5 call 3)
assert_eq "all_down = refuse: 3 calls get 503" "$got" "503 3"
assert_eq "refused calls counted" "$(sched_stat all_down_refused)" 3
assert_eq "one episode logged" "$(log_count "$T/scheduler.log" 'every node is down: all_down = refuse')" 1
suite_config last_resort
restart_scheduler_down() {
	stop_scheduler
	start_scheduler
	wait_eq 8 "the prober's word (both down) in the restarted scheduler" "False False" both_up
}
restart_scheduler_down
got=$(caller 127.0.0.5 call 3)
assert_eq "all_down = last_resort: 3 calls go through anyway" "$got" "200 3"
assert_eq "last-resort calls counted" "$(sched_stat all_down_last_resort)" 3
assert_eq "one episode logged (not one per call)" "$(log_count "$T/scheduler.log" 'every node is down: all_down = last_resort')" 1
assert_eq "none refused" "$(sched_stat all_down_refused)" 0
"$SIPLB_BIN/siplb-admin" -c "$T/siplb.conf" >> "$T/admin.log" 2>&1 &
PIDS+=("$!")
wait_until 5 "siplb-admin to answer /metrics" curl -sf -o "$T/metrics" "http://127.0.0.1:$ADMIN_PORT/metrics"
grep -q '^siplb_scheduler_all_down_last_resort_total{[^}]*} 3$' "$T/metrics" ||
    grep -q '^siplb_scheduler_all_down_last_resort_total 3$' "$T/metrics" ||
    fail "/metrics: $(grep all_down "$T/metrics")"
ok "/metrics counts the last-resort calls"
# a node answers OPTIONS again: the episode ends, calls go to it normally
rm -f "$T/options-off-$N2"
wait_eq 4 "node 2 up again" True node_field 2 up || fail "node 2 not up"
got=$(caller 127.0.0.5 call 2)
assert_eq "calls after the episode" "$got" "200 2"
wait_for_log 2 "$T/scheduler.log" 'the all-down episode is over' || fail "end of the episode not logged"
assert_eq "no more last-resort calls" "$(sched_stat all_down_last_resort)" 3
# the config check refuses a bad value
suite_config sometimes
"$SIPLB_BIN/siplb-scheduler" -c "$T/siplb.conf" -t > "$T/bad.out" 2>&1; rc=$?
assert_eq "all_down = sometimes refused" "$rc" 78
grep -q 'all_down: must be refuse or last_resort' "$T/bad.out" || fail "no reason given: $(cat "$T/bad.out")"
