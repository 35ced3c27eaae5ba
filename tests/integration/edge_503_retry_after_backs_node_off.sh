#!/bin/bash
# A node answering "503 Maximum Calls In Progress" with Retry-After: 300
# (FreeSWITCH when full) is backed off for backoff_max (3 s here, not
# 300 s), the call fails over at once, the node is never marked down, and
# after the backoff it gets calls again.  Shown in siplbctl nodes, logged.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-edge.sh"

edge_config
sed -i 's/^\[scheduler\]$/[scheduler]\nbackoff_max = 3000/' "$T/siplb.conf"
start_scheduler
start_edge
node_json() { ctl --json nodes | jq_py "[n[\"$2\"] for n in d[\"nodes\"] if n[\"id\"] == $1][0]"; }

node "$N1" uas-503-retry.xml
node "$N2" uas.xml
t0=$(date +%s%N)
uac uac.xml 10 10 -d 100
t1=$(date +%s%N)
assert_eq "503 Retry-After: all 10 calls succeed" "$UAC_OK" 10
wait_stats "$N1" "$N2"
assert_eq "the full node was offered one call, then backed off" "$(node_incoming "$N1")" 1
assert_eq "the other node answered every call" "$(node_incoming "$N2")" 10
[ $(( (t1 - t0) / 1000000 )) -lt 3000 ] || fail "calls waited: $(( (t1 - t0) / 1000000 )) ms"
ok "fail over at once: 10 calls in $(( (t1 - t0) / 1000000 )) ms"
assert_eq "never marked down" "$(node_json 1 up)" True
assert_eq "one backoff counted" "$(node_json 1 backoffs)" 1
b=$(node_json 1 backoff_ms)
[ "$b" -gt 0 ] && [ "$b" -le 3000 ] || fail "backoff_ms $b: want 1..3000 (bounded by backoff_max, not 300 s)"
ok "backoff bounded by backoff_max: ${b} ms left"
ctl nodes | grep -E "^1 .*backoff=[0-9.]+s backoffs=1" > /dev/null || fail "siplbctl nodes does not show the backoff: $(ctl nodes)"
ok "siplbctl nodes shows the backoff"
grep -q "node 1 sip:127.0.0.1:$N1: 503 with Retry-After 300 s: no new calls for 3000 ms" "$T/scheduler.log" || fail "backoff not logged"
ok "backoff logged"
grep -q "is down" "$T/scheduler.log" && fail "a node was marked down"
ok "no node marked down"

# the backoff ends: the node is offered calls again (now it answers)
stop_nodes "$N1"
node "$N1" uas.xml
wait_eq 4 "node 1's backoff to end" 0 node_json 1 backoff_ms
assert_eq "backoff over" "$(node_json 1 backoff_ms)" 0
grep -q "node 1 sip:127.0.0.1:$N1: Retry-After backoff over" "$T/scheduler.log" || fail "end of backoff not logged"
uac uac.xml 10 10 -d 100
assert_eq "after the backoff: all 10 calls succeed" "$UAC_OK" 10
wait_stats "$N1"
got=$(node_incoming "$N1")
[ "$got" -ge 3 ] || fail "node 1 got $got of 10 calls after its backoff"
ok "node 1 takes calls again after the backoff ($got of 10)"
assert_eq "scheduler counted it" "$(ctl --json stats | jq_py '[c["value"] for c in d["counters"] if c["name"] == "backoffs"][0]')" 1
