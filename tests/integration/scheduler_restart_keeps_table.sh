#!/bin/bash
# A real siplb-scheduler: nodes added, changed and chosen with siplbctl;
# restarted, it has the same table; unreachable, siplbctl says so.
. "$(dirname "$0")/lib.sh"

cat > "$T/siplb.conf" <<CONF
[general]
run_dir = $T
[scheduler]
nodes_file = nodes.conf
prober_pub =
dialogd_pub =
edge_pubs =
edge_reps =
CONF

out=$(ctl --timeout 300 nodes 2>&1); rc=$?
assert_eq "siplbctl exit status with no scheduler" "$rc" 69
assert_match "siplbctl says the scheduler did not answer" "$out" "did not answer within 300 ms"

start_scheduler
assert_match "scheduler logs ready" "$(cat "$T/scheduler.log")" "ready: rep ipc://$T/scheduler.rep"

ctl node add --uri sip:127.0.0.1:5071 --group 1 --set 1 --resources 'vm=100;conf=100;transc=100;pstn=500' --description FS1 > /dev/null || fail "add FS1"
ctl node add --uri sip:127.0.0.1:5072 --group 1 --set 1 --resources 'vm=100;conf=100;transc=100;pstn=500' --description FS2 --weight 3 > /dev/null || fail "add FS2"
ctl node add --id 7 --uri sip:127.0.0.1:5073 --group 2 --resources 'pstn=0' > /dev/null || fail "add node 7"

out=$(ctl node add --uri sip:127.0.0.1:5074 --group 1 --resources 'pstn' 2>&1); rc=$?
assert_eq "bad resources refused" "$rc" 1
assert_match "bad resources message" "$out" 'must have a value'
out=$(ctl node add --id 7 --uri sip:127.0.0.1:5075 --group 1 2>&1); rc=$?
assert_eq "duplicate id refused" "$rc" 1
assert_match "duplicate id message" "$out" 'node id 7 already exists'

got=$(ctl select --group 1 --resource pstn)
assert_match "select prints a node URI" "$got" '^sip:127\.0\.0\.1:507[12]$'
got=$(ctl select --group 1 --resource pstn --exclude 1)
assert_eq "exclude honoured" "$got" "sip:127.0.0.1:5072"
got=$(ctl select --group 1 --algorithm round-robin --max 2 | wc -l)
assert_eq "max results" "$got" 2
got=$(ctl select --group 1 --algorithm 4 | head -n 1)
assert_match "OpenSIPS number 4 accepted" "$got" '^sip:'

out=$(ctl select --group 2 --resource pstn 2>&1); rc=$?
assert_eq "full node: exit 2" "$rc" 2
assert_match "full node: no capacity" "$out" 'no capacity'
out=$(ctl select --group 1 --resource transcoding 2>&1); rc=$?
assert_eq "unknown resource: exit 2" "$rc" 2
assert_match "unknown resource: no destination" "$out" 'no destination'
out=$(ctl select --group 1 --algorithm 9 2>&1); rc=$?
assert_eq "unknown algorithm refused" "$rc" 1
assert_match "unknown algorithm message" "$out" 'unknown algorithm "9"'

ctl node disable 1 > /dev/null || fail "disable"
for i in 1 2 3 4 5; do
	got=$(ctl select --group 1 --resource pstn)
	[ "$got" = "sip:127.0.0.1:5072" ] || fail "disabled node 1 was chosen"
done
ok "disabled node never chosen"
ctl node resize 2 'pstn=800;fax=10' > /dev/null || fail "resize"
ctl node set 2 --priority 5 > /dev/null || fail "set priority"
out=$(ctl node enable 99 2>&1); rc=$?
assert_eq "unknown node refused" "$rc" 1
assert_match "unknown node message" "$out" 'node 99 does not exist'

# reservations count at once
ctl select --group 1 --resource pstn --reserve --key call-1@test > /dev/null
load=$(ctl --json nodes | jq_py '[n for n in d["nodes"] if n["id"]==2][0]["resources"]["pstn"]["load"]')
assert_eq "reserved load counted" "$load" 1

# the table is kept, not its load (a reservation, and the dialogs it counts)
strip='json.dumps([{k:v for k,v in n.items() if k not in ("selected", "dialogs")} | {"resources":{r:c["capacity"] for r,c in n["resources"].items()}} for n in d["nodes"]], sort_keys=True)'
before=$(ctl --json nodes | jq_py "$strip")
stop_scheduler TERM
start_scheduler
after=$(ctl --json nodes | jq_py "$strip")
assert_eq "same table after a restart" "$after" "$before"
assert_match "table has the changes" "$after" '"enabled": false.*"id": 1|"id": 1.*"enabled": false'
assert_match "resize kept" "$after" '"fax": 10'

stop_scheduler KILL
start_scheduler
after=$(ctl --json nodes | jq_py "$strip")
assert_eq "same table after kill -9" "$after" "$before"

ctl node remove 7 > /dev/null || fail "remove"
ctl reload > /dev/null || fail "reload"
got=$(ctl --json nodes | jq_py 'len(d["nodes"])')
assert_eq "reload from file" "$got" 2

# a bad configuration is refused with file:line and exit 78
printf '[scheduler]\nreserve_ttl = 5\n' > "$T/bad.conf"
out=$("$SIPLB_BIN/siplb-scheduler" -c "$T/bad.conf" -t 2>&1); rc=$?
assert_eq "bad config exit status" "$rc" 78
assert_match "bad config message" "$out" "bad.conf:2: \[scheduler\] reserve_ttl: must be 1000\.\.600000"
out=$("$SIPLB_BIN/siplb-scheduler" -c "$T/siplb.conf" -t 2>&1); rc=$?
assert_eq "good config -t" "$rc" 0
assert_match "good config message" "$out" "configuration OK"
