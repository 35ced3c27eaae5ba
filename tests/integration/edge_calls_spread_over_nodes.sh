#!/bin/bash
# 1,000 INVITE/ACK/BYE calls through siplb (edge + scheduler) to two sipp
# nodes all succeed, spread across both nodes by load, and leave no load
# behind; the same call flow works over TCP.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-edge.sh"

edge_config
start_scheduler
start_edge
node "$N1" uas.xml
node "$N2" uas.xml

uac uac.xml 1000 200 -d 200
assert_eq "1000 calls succeed" "$UAC_OK" 1000
assert_eq "no call failed" "$UAC_FAILED" 0
wait_stats "$N1" "$N2"	# the nodes' statistics files are written every second
a=$(node_incoming "$N1"); b=$(node_incoming "$N2")
echo "node 1: $a calls, node 2: $b calls"
assert_eq "every call reached a node" "$((a + b))" 1000
[ "$a" -ge 350 ] && [ "$b" -ge 350 ] || fail "calls not spread by load: $a / $b"
ok "spread across both nodes ($a / $b)"
loads() { ctl --json nodes | jq_py '" ".join(str(n["resources"]["pstn"]["load"]) for n in d["nodes"])'; }
wait_eq 3 "the scheduler to count no load" "0 0" loads
loads=$WAIT_OUT
edge_stat dialogs; assert_eq "no load left once every call hung up" "$loads" "0 0"

# the same call flow over TCP (phone side), UDP to the nodes
uac uac.xml 50 25 -d 100 -t t1
assert_eq "50 TCP calls succeed" "$UAC_OK" 50
assert_eq "no TCP call failed" "$UAC_FAILED" 0
