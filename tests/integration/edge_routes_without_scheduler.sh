#!/bin/bash
# With the scheduler stopped, the edge keeps routing calls from its last copy
# of the node table, says so in its log and counters, and when the
# scheduler comes back its load counters equal the calls in progress.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-edge.sh"

edge_config
start_scheduler
start_edge
node "$N1" uas.xml
node "$N2" uas.xml
uac uac.xml 20 20 -d 100
assert_eq "calls with the scheduler up" "$UAC_OK" 20

stop_scheduler KILL
uac uac.xml 100 50 -d 100
assert_eq "100 calls succeed with the scheduler gone" "$UAC_OK" 100
assert_eq "no call failed" "$UAC_FAILED" 0
fb=$(edge_stat scheduler_fallbacks)
[ "$fb" -ge 100 ] || fail "fallbacks not counted: $fb"
ok "fallbacks counted: $fb"
grep -q 'scheduler did not answer within 250 ms: selecting from the cached node table (2 nodes)' "$T/edge.log" || fail "fallback not logged"
ok "fallback logged once: $(grep -c 'scheduler did not answer' "$T/edge.log") line(s)"
wait_stats "$N1" "$N2"
a=$(node_incoming "$N1"); b=$(node_incoming "$N2")
[ "$a" -ge 40 ] && [ "$b" -ge 40 ] || fail "cached table did not spread calls: $a / $b"
ok "calls spread from the cached table ($a / $b, incl. 20 before)"

# back: long calls in progress are counted again from the edge's snapshot
uac uac.xml 10 20 -d 8000 &
UAC_BG=$!
wait_eq 5 "the 10 long calls up at the edge" 10 edge_stat dialogs
snaps=$(log_count "$T/scheduler.log" ': [0-9]* live dialogs')
tables=$(log_count "$T/edge.log" 'node table from the scheduler')
start_scheduler
wait_for_log 5 "$T/scheduler.log" ': [0-9]* live dialogs' "$snaps"	# the edge's snapshot
wait_for_log 5 "$T/edge.log" 'node table from the scheduler' "$tables"	# and the scheduler's
loads=$(ctl --json nodes | jq_py 'sum(n["resources"]["pstn"]["load"] for n in d["nodes"])')
assert_eq "restarted scheduler counts the 10 calls in progress" "$loads" 10
# the scheduler's snapshot tells the edge it is back: the next call asks it
fb=$(edge_stat scheduler_fallbacks)
uac uac.xml 10 20 -d 100
assert_eq "calls succeed with the scheduler back" "$UAC_OK" 10
assert_eq "none of them selected from the cache" "$(edge_stat scheduler_fallbacks)" "$fb"
grep -q 'scheduler answers again' "$T/edge.log" || fail "recovery not logged"
ok "recovery logged"
wait "$UAC_BG"
load_sum() { ctl --json nodes | jq_py 'sum(n["resources"]["pstn"]["load"] for n in d["nodes"])'; }
wait_eq 3 "the load of the long calls released" 0 load_sum
assert_eq "no load once the long calls ended" "$(ctl --json nodes | jq_py 'sum(n["resources"]["pstn"]["load"] for n in d["nodes"])')" 0
