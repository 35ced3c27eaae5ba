#!/bin/bash
# siplb-admin's /metrics follows the calls: scraped before, during and after
# 200 calls of 3 s, the calls routed per node grow by the calls, the edge's
# requests grow, the load is above 0 while the calls last and 0 after; the
# text is valid Prometheus exposition format 0.0.4.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-edge.sh"
. "$(dirname "$0")/lib-admin.sh"

[ -x "$SIPLB_BIN/siplb-admin" ] || { echo "siplb-admin not built"; exit 1; }
command -v curl > /dev/null || { echo "curl not installed"; exit 77; }

CALLS=200
admin_config "metrics_public = no"
start_suite
node "$N1" uas.xml
node "$N2" uas.xml

scrape() {	# FILE
	api GET /metrics
	[ "$CODE" = 200 ] || fail "/metrics: HTTP $CODE: $RESP"
	printf '%s\n' "$RESP" > "$1"
}
# metric FILE NAME [LABEL-REGEX]: sum of the samples
metric() {
	python3 - "$@" <<'PY'
import re, sys
f, name = sys.argv[1], sys.argv[2]
want = re.compile(sys.argv[3]) if len(sys.argv) > 3 else None
total = 0
for line in open(f):
    m = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)$', line.rstrip('\n'))
    if m and m.group(1) == name and (want is None or want.search(m.group(2) or '')):
        total += float(m.group(3))
print(int(total) if total == int(total) else total)
PY
}
# valid FILE: every sample belongs to a family declared once with HELP and
# TYPE before it, names and label syntax per the format
valid() {
	python3 - "$1" <<'PY'
import re, sys
types, helps, seen_samples, last = {}, {}, set(), None
ok = True
for n, line in enumerate(open(sys.argv[1]), 1):
    line = line.rstrip('\n')
    if not line:
        continue
    if line.startswith('# HELP '):
        name = line.split(' ')[2]
        if name in helps: print('line %d: HELP twice for %s' % (n, name)); ok = False
        helps[name] = 1; last = name
        continue
    if line.startswith('# TYPE '):
        _, _, name, t = line.split(' ')
        if name in types: print('line %d: TYPE twice for %s' % (n, name)); ok = False
        if t not in ('counter', 'gauge'): print('line %d: type %s' % (n, t)); ok = False
        if t == 'counter' and not name.endswith('_total'): print('line %d: counter %s without _total' % (n, name)); ok = False
        types[name] = t; last = name
        continue
    m = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="(\\.|[^"\\])*"(,[a-zA-Z_][a-zA-Z0-9_]*="(\\.|[^"\\])*")*)\})? (-?[0-9.e+]+|NaN)$', line)
    if not m: print('line %d: bad sample: %s' % (n, line)); ok = False; continue
    if m.group(1) != last or last not in types or last not in helps:
        print('line %d: %s outside its family' % (n, m.group(1))); ok = False
    key = (m.group(1), m.group(2))
    if key in seen_samples: print('line %d: duplicate series %s' % (n, line)); ok = False
    seen_samples.add(key)
sys.exit(0 if ok else 1)
PY
}

scrape "$T/m0"
valid "$T/m0" || fail "/metrics is not valid exposition format"
ok "/metrics is valid exposition format 0.0.4"
for m in siplb_up siplb_node_load siplb_node_capacity siplb_node_up siplb_node_enabled \
    siplb_node_selected_total siplb_edge_requests_received_total siplb_edge_responses_sent_total \
    siplb_edge_dropped_total siplb_edge_replied_total siplb_edge_failovers_total \
    siplb_edge_scheduler_fallbacks_total siplb_edge_transactions siplb_edge_dialogs \
    siplb_bus_gaps_total siplb_bus_resyncs_total siplb_scheduler_selections_total; do
	grep -q "^# TYPE $m " "$T/m0" || fail "no family $m"
done
ok "every family is there"
assert_eq "every service scraped" "$(metric "$T/m0" siplb_up)" 3
assert_eq "capacity of both nodes" "$(metric "$T/m0" siplb_node_capacity 'resource="pstn"')" 1000
grep -q 'siplb_bus_resyncs_total{service="scheduler",address="[^"]*",subscriber="edge 1"}' "$T/m0" || fail "no bus counters for the edge subscriber"
ok "bus counters per subscriber"
sel0=$(metric "$T/m0" siplb_node_selected_total)
req0=$(metric "$T/m0" siplb_edge_requests_received_total)

# 200 calls of 3 s at 100/s: all in progress at once for about a second
(uac uac.xml "$CALLS" 100 -d 3000; echo "$UAC_OK $UAC_FAILED" > "$T/uac.result") &
UAC_BG=$!
sleep 2.5	# not a wait: the scrape falls where every call is up (2 s to 3 s)
scrape "$T/m1"
valid "$T/m1" || fail "/metrics during calls is not valid"
load1=$(metric "$T/m1" siplb_node_load 'resource="pstn"')
[ "$load1" -gt 0 ] || fail "no load while calls are in progress"
ok "load during the calls: $load1"
dlg1=$(metric "$T/m1" siplb_edge_dialogs)
[ "$dlg1" -gt 0 ] || fail "the edge holds no dialog during calls"
ok "edge dialogs during the calls: $dlg1"
wait "$UAC_BG"
read -r OK FAILED < "$T/uac.result"
assert_eq "every call succeeded" "$OK" "$CALLS"

load_now() { scrape "$T/m2" && metric "$T/m2" siplb_node_load; }
wait_eq 5 "/metrics to show no load after the calls" 0 load_now
valid "$T/m2" || fail "/metrics after calls is not valid"
assert_eq "load after the calls" "$(metric "$T/m2" siplb_node_load)" 0
sel2=$(metric "$T/m2" siplb_node_selected_total)
assert_eq "calls routed per node grew by the calls" "$((sel2 - sel0))" "$CALLS"
req2=$(metric "$T/m2" siplb_edge_requests_received_total)
[ "$((req2 - req0))" -ge $((3 * CALLS)) ] || fail "edge requests grew by $((req2 - req0)), want >= $((3 * CALLS)) (INVITE, ACK, BYE)"
ok "edge requests received grew by $((req2 - req0))"
r2xx=$(metric "$T/m2" siplb_edge_responses_sent_total 'class="2xx"')
[ "$r2xx" -ge $((2 * CALLS)) ] || fail "2xx responses sent: $r2xx"
ok "2xx responses sent: $r2xx"
assert_eq "selections counted by the scheduler" "$(( $(metric "$T/m2" siplb_scheduler_selections_total) >= CALLS ))" 1
# every call's CREATED, CONFIRMED and TERMINATED reached dialogd
ev2=$(metric "$T/m2" siplb_dialogd_events_total)
[ "$ev2" -ge $((3 * CALLS)) ] || fail "dialogd events: $ev2, want >= $((3 * CALLS))"
ok "dialogd counted $ev2 dialog events"
[ "$(metric "$T/m2" siplb_bus_received_total 'service="dialogd"')" -gt 0 ] || fail "dialogd's subscriber not in /metrics"
assert_eq "no history lost on dialogd's subscriber" "$(metric "$T/m2" siplb_bus_history_lost_total 'service="dialogd"')" 0

# metrics_public = yes: no token needed
kill -TERM "$PID_admin"; wait "$PID_admin" 2>/dev/null
echo "metrics_public = yes" >> "$T/siplb.conf"
: > "$T/admin.log"
start_admin
expect_api "public metrics without a token" 200 GET /metrics "" ""
expect_api "the API still needs it" 401 GET /api/v1/nodes "" ""
