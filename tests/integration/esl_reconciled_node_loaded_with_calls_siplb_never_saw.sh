#!/bin/bash
# load_mode = reconciled: a node whose FreeSWITCH reports 30 calls siplb
# never relayed (it placed them itself) is loaded with them: new calls
# go to the other node until it is as loaded; when the node then says its
# calls are gone (a restart), siplb's count is corrected back.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-edge.sh"
. "$(dirname "$0")/lib-esl.sh"

esl_config reconciled
fake_fs "$E1" '{"sessions": 30, "max": 1000, "idle": 99.0, "sps": 30, "sps_max": 1000}'
fake_fs "$E2" '{"sessions": 0, "max": 1000, "idle": 99.0, "sps": 30, "sps_max": 1000}'
# the nodes answer the prober from its first probe (else two missed
# probes mark them down and the first calls find no destination)
node "$N1" uas.xml
node "$N2" uas.xml
start_scheduler
start_prober
start_edge
wait_json 1 '["load_correction"]' 30
ok "node 1 loaded with the 30 calls it reports and siplb never saw"
assert_eq "capacity stays as configured" "$(node_json 1 '["capacity_limit"]')" 0
grep -q "node 1 sip:127.0.0.1:$N1: reconciled: node has 30 calls (30 sessions), siplb counts 0: load +30" "$T/scheduler.log" || fail "correction not logged"
ok "correction logged"

# 20 calls of 3 s: node 2 takes them until it carries as many as node 1
uac uac.xml 20 40 -d 3000
assert_eq "calls succeed" "$UAC_OK" 20
wait_stats "$N1" "$N2"
in1=$(node_incoming "$N1"); in2=$(node_incoming "$N2")
[ "$in1" -le 5 ] || fail "node 1 (30 own calls of 40) got $in1 of 20"
ok "the loaded node got $in1 of 20 calls, the other $in2"

# the node restarted: its calls are gone, siplb's count follows it
echo '{"sessions": 0, "max": 1000, "idle": 99.0, "sps": 30, "sps_max": 1000}' > "$T/fs-$E1.json"
wait_json 1 '["load_correction"]' 0
ok "correction gone once the node reports no calls of its own"
assert_eq "corrections counted" "$(ctl --json stats | jq_py '[c["value"] for c in d["counters"] if c["name"] == "feedback_corrections"][0] >= 1')" True
