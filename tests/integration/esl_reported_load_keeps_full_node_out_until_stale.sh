#!/bin/bash
# load_mode = reported: a node whose FreeSWITCH says Session-Count 50 of
# Max-Sessions 50 gets no new calls while siplb counts none on it; when
# its event socket goes silent it is stale within two HEARTBEAT intervals
# (log line, metric) and siplb falls back to counting; a drain with
# --pause-inbound sends fsctl pause inbound over the event socket.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-edge.sh"
. "$(dirname "$0")/lib-esl.sh"

esl_config reported
fake_fs "$E1" '{"sessions": 50, "max": 50, "idle": 99.0, "sps": 30, "sps_max": 1000}'
fake_fs "$E2" '{"sessions": 0, "max": 50, "idle": 99.0, "sps": 30, "sps_max": 1000}'
# the nodes answer the prober from its first probe (else two missed
# probes mark them down and the first calls find no destination)
node "$N1" uas.xml
node "$N2" uas.xml
start_scheduler
start_prober
start_edge
wait_json 1 '["feedback"]["linked"]' True
wait_json 1 '["load_correction"]' 50
ok "node 1's figures reached the scheduler: 50 sessions, counted 0"
assert_eq "node 1 capacity limited to Max-Sessions x Idle-CPU" "$(node_json 1 '["capacity_limit"]')" 49
grep -q "auth \*\*\*" "$T/fs-$E1.log" && grep -q "^event plain HEARTBEAT$" "$T/fs-$E1.log" && grep -q "^api status$" "$T/fs-$E1.log" || fail "prober did not auth, subscribe and ask status: $(cat "$T/fs-$E1.log")"
ok "prober: auth, event plain HEARTBEAT, api status"

uac uac.xml 10 20 -d 2000
assert_eq "calls succeed" "$UAC_OK" 10
wait_stats "$N1" "$N2"
assert_eq "the full node got no call while siplb counted none on it" "$(node_incoming "$N1")" 0
assert_eq "the other node got them all" "$(node_incoming "$N2")" 10

# the event socket goes silent: stale within two intervals, counted again
sed -i 's/"sps_max": 1000}/"sps_max": 1000, "silent": true}/' "$T/fs-$E1.json"
t0=$(date +%s%N)
wait_json 1 '["feedback"]["stale"]' True
t1=$(date +%s%N)
ms=$(( (t1 - t0) / 1000000 ))
# two 1 s intervals after the last HEARTBEAT, which may be up to one
# interval before the silence began
[ "$ms" -le 3000 ] || fail "stale after $ms ms"
ok "stale $ms ms after the link went silent (interval 1000 ms)"
assert_eq "stale: no load correction" "$(node_json 1 '["load_correction"]')" 0
assert_eq "stale: no capacity limit" "$(node_json 1 '["capacity_limit"]')" 0
grep -q "node 1 sip:127.0.0.1:$N1: ESL feedback stale (no HEARTBEAT for" "$T/scheduler.log" || fail "no stale log line"
ok "scheduler logged the stale feedback"
assert_eq "stale counted" "$(ctl --json stats | jq_py '[c["value"] for c in d["counters"] if c["name"] == "feedback_stale"][0]')" 1
assert_eq "stale counted on the node" "$(node_json 1 '["stale_count"]')" 1
ctl nodes | grep -q "^1 .*esl=127.0.0.1:$E1:stale" || fail "siplbctl nodes does not show stale: $(ctl nodes)"
ok "siplbctl nodes shows the stale link"
uac uac.xml 10 20 -d 100
assert_eq "calls succeed while stale" "$UAC_OK" 10
wait_stats "$N1"
got=$(node_incoming "$N1")
[ "$got" -ge 3 ] || fail "counted again, node 1 should share the calls: got $got"
ok "counted again: node 1 got $got of 10"

# HEARTBEATs again: live, the full node is left out again
sed -i 's/, "silent": true}/}/' "$T/fs-$E1.json"
# (if the silence lasted five intervals the prober dialled again: then the
# link comes back rather than the figures)
fb_live() { ctl --json nodes | jq_py '[n["feedback"]["linked"] and n["feedback"]["have"] and not n["feedback"]["stale"] for n in d["nodes"] if n["id"] == 1][0]'; }
wait_eq 10 "node 1's ESL figures live again" True fb_live || fail "node 1's feedback not live again: $WAIT_OUT"
grep -Eq "ESL feedback live again|ESL link to 127.0.0.1:$E1 back" "$T/scheduler.log" || fail "live again not logged"
ok "feedback live again ($(grep -Eo 'ESL feedback live again|ESL link to [^ ]* back' "$T/scheduler.log" | tail -n 1))"

# drain with --pause-inbound: fsctl over the node's event socket
ctl node drain 2 --no-wait --pause-inbound > /dev/null
wait_for_log 5 "$T/fs-$E2.log" "^api fsctl pause inbound$" || fail "no fsctl pause inbound at the node"
ok "drain --pause-inbound sent fsctl pause inbound"
ctl node undrain 2 > /dev/null
wait_for_log 5 "$T/fs-$E2.log" "^api fsctl resume inbound$" || fail "no fsctl resume inbound at the node"
ok "undrain sent fsctl resume inbound"
