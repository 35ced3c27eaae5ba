#!/bin/bash
# siplbctl node drain: the drained node gets no new calls, the calls it
# carries go on and end normally (their BYE routes through the edge), and
# siplbctl reports the dialogs left on it until 0; undrain brings it back.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-edge.sh"

edge_config
start_scheduler
start_edge
node_json() { ctl --json nodes | jq_py "[n[\"$2\"] for n in d[\"nodes\"] if n[\"id\"] == $1][0]"; }

node "$N1" uas.xml
node "$N2" uas.xml
# 10 calls of 4 s: both nodes carry some
(cd "$T" && timeout 60 sipp -sf "$SIPP_DIR/uac.xml" "127.0.0.1:$EDGE_PORT" \
    -i 127.0.0.1 -p $((BASE + 91)) -m 10 -r 20 -d 4000 -nostdin \
    -timeout 30 -timeout_error > "$T/long.out" 2>&1) &
LONG=$!
both_carry() { echo "dialogs: $(node_json 1 dialogs) $(node_json 2 dialogs)"; [ "$(node_json 1 dialogs)" -ge 2 ] && [ "$(node_json 2 dialogs)" -ge 2 ]; }
wait_until 4 "both nodes to carry 2 of the long calls" both_carry
before=$(node_json 1 dialogs)
[ "$before" -ge 2 ] || fail "node 1 carries $before calls before the drain"
ok "node 1 carries $before calls when drained"

ctl node drain 1 --wait 30 > "$T/drain.out" 2>&1 &
DRAIN=$!
wait_eq 3 "the scheduler to hold node 1 draining" True node_json 1 draining
assert_eq "drained node shown as draining" "$(node_json 1 draining)" True
assert_eq "drained node stays up and enabled" "$(node_json 1 up) $(node_json 1 enabled)" "True True"
ctl nodes | grep -q "^1 .*draining(" || fail "siplbctl nodes does not show the drain"
ok "siplbctl nodes shows the drain"

# new calls while it drains: all on node 2 (node 1's count from
# statistics written once the drain holds, not up to a second before)
stats_mark
wait_stats "$N1"
in1=$(node_incoming "$N1")
uac uac.xml 6 20 -d 100
assert_eq "new calls during the drain succeed" "$UAC_OK" 6
wait_stats "$N1"
assert_eq "drained node got no new call" "$(node_incoming "$N1")" "$in1"

wait "$LONG"
assert_eq "calls on the drained node ended normally" "$(sipp_count "$T/long.out" Successful)" 10
wait "$DRAIN"; rc=$?
assert_eq "siplbctl node drain returns once no dialog is left" "$rc" 0
grep -Eq "^node 1: draining, [1-9][0-9]* dialogs left$" "$T/drain.out" || fail "no countdown: $(cat "$T/drain.out")"
grep -q "^node 1: drained: no dialogs left$" "$T/drain.out" || fail "no end line: $(cat "$T/drain.out")"
ok "drain reported the dialogs left until 0 ($(grep -c 'dialogs left$' "$T/drain.out") lines)"
assert_eq "no dialog left on node 1" "$(node_json 1 dialogs)" 0
grep -q "node 1 sip:127.0.0.1:$N1: draining: no new calls" "$T/scheduler.log" || fail "drain not logged"

ctl node undrain 1 > /dev/null
assert_eq "undrained" "$(node_json 1 draining)" False
in1=$(node_incoming "$N1")
uac uac.xml 10 20 -d 100
assert_eq "calls after undrain succeed" "$UAC_OK" 10
wait_stats "$N1"
[ "$(node_incoming "$N1")" -gt "$in1" ] || fail "node 1 got no call after undrain"
ok "node 1 takes calls again after undrain"
