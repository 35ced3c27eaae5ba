#!/bin/bash
# Failover, CANCEL and REGISTER through the edge:
# a node answering 503 still completes the call on the other; a silent node
# fails over after the no-provisional timer and is reported down; CANCEL
# before the answer gives 487 and reaches the node; REGISTERs alternate.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-edge.sh"

edge_config "add_path = yes"
start_scheduler
start_edge
loads() { ctl --json nodes | jq_py '" ".join(str(n["resources"]["pstn"]["load"]) for n in d["nodes"])'; }

# node 1 refuses with 503, node 2 answers: every call completes on node 2
node "$N1" uas-503.xml
node "$N2" uas.xml
uac uac.xml 20 10 -d 100
assert_eq "503 node: all 20 calls succeed" "$UAC_OK" 20
wait_stats "$N1" "$N2"
refused=$(node_incoming "$N1"); answered=$(node_incoming "$N2")
assert_eq "503 node: every call answered by the other node" "$answered" 20
[ "$refused" -ge 1 ] || fail "no call was offered to the 503 node"
ok "503 node was tried $refused times and failed over"
assert_eq "failovers counted" "$(edge_stat failovers)" "$refused"
assert_eq "failovers counted on the node they left" "$(ctl --json nodes | jq_py '[n["failed_over"] for n in d["nodes"] if n["id"] == 1][0]')" "$refused"
wait_eq 3 "the load of the calls that failed over released" "0 0" loads
assert_eq "calls that failed over hold no load once over" "$(loads)" "0 0"
stop_nodes "$N1" "$N2"

# CANCEL while node rings: 200 to CANCEL, 487 to the caller, CANCEL at node
node "$N1" uas-ring.xml
node "$N2" uas-ring.xml
uac uac-cancel.xml 10 10
assert_eq "CANCEL: 10 calls got 200 and 487" "$UAC_OK" 10
got=$(wait_calls 10 "$N1" "$N2")
assert_eq "CANCEL reached the nodes, which answered 487 and got the ACK" "$got" 10
wait_eq 3 "the load of the cancelled calls released" "0 0" loads
assert_eq "cancelled calls hold no load" "$(loads)" "0 0"
stop_nodes "$N1" "$N2"

# REGISTER: round-robin over dispatcher set 1, Path added
node "$N1" uas-register.xml -trace_msg -message_file "$T/reg-$N1.msg"
node "$N2" uas-register.xml -trace_msg -message_file "$T/reg-$N2.msg"
uac uac-register.xml 10 20
assert_eq "10 REGISTERs answered" "$UAC_OK" 10
wait_calls 10 "$N1" "$N2" > /dev/null
assert_eq "REGISTERs alternate: 5 on node 1" "$(node_calls "$N1")" 5
assert_eq "REGISTERs alternate: 5 on node 2" "$(node_calls "$N2")" 5
grep -q "^Path: <sip:127.0.0.1:$EDGE_PORT;lr>" "$T/reg-$N1.msg" || fail "no Path header at the registrar"
ok "Path header added (RFC 3327)"
stop_nodes "$N1" "$N2"

# node 1 silent (nothing listens): fail over after fr_timeout (1 s).  Calls
# of 1 s pile up on node 2, so least-load offers node 1 again while the
# first try on it still waits: two failure reports, whatever the tie-breaks
node "$N2" uas.xml
t0=$(date +%s%N)
uac uac.xml 10 10 -d 1000
t1=$(date +%s%N)
assert_eq "silent node: all 10 calls succeed" "$UAC_OK" 10
ok "silent node: 10 calls took $(( (t1 - t0) / 1000000 )) ms"
node1_up() { ctl --json nodes | jq_py '[n["up"] for n in d["nodes"] if n["id"] == 1][0]'; }
wait_eq 2 "the scheduler to hold node 1 down" False node1_up
up=$WAIT_OUT
assert_eq "silent node reported down to the scheduler" "$up" False
grep -q "node 1 sip:127.0.0.1:$N1 is down (edge reported 408)" "$T/scheduler.log" || fail "down not logged"
grep -q "node 1 sip:127.0.0.1:$N1: edge reported 408 (1 of 2)" "$T/scheduler.log" || fail "first report not logged"
ok "scheduler logged the passive health report"
# once down, no new call is offered to it: no delay
t0=$(date +%s%N); uac uac.xml 4 4 -d 100; t1=$(date +%s%N)
assert_eq "calls after the report succeed" "$UAC_OK" 4
[ $(( (t1 - t0) / 1000000 )) -lt 2500 ] || fail "calls still wait for the silent node"
ok "no timer wait once the node is down"
stop_nodes "$N2"
wait_eq 3 "the load of the failed-over calls released" "0 0" loads
assert_eq "failed-over calls hold no load" "$(loads)" "0 0"

