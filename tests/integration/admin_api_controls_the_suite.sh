#!/bin/bash
# siplb-admin drives the suite over HTTP: every endpoint answers with the
# right status and JSON; a node added through the API gets calls and a
# node disabled through it gets none; changes outlive a scheduler restart;
# the token is required; bad input gets 400 with a clear message; /healthz
# turns 503 when the edge dies; siplbctl health says the same.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-edge.sh"
. "$(dirname "$0")/lib-admin.sh"

[ -x "$SIPLB_BIN/siplb-admin" ] || { echo "siplb-admin not built"; exit 1; }
command -v curl > /dev/null || { echo "curl not installed"; exit 77; }

admin_config

# no token, no start
mv "$T/admin.token" "$T/admin.token.keep"
"$SIPLB_BIN/siplb-admin" -c "$T/siplb.conf" > "$T/notoken.log" 2>&1; rc=$?
assert_eq "admin refuses to start without a token file (exit)" "$rc" 78
grep -q "token_file $T/admin.token: cannot read" "$T/notoken.log" || fail "no clear message: $(cat "$T/notoken.log")"
ok "says why: $(head -n 1 "$T/notoken.log")"
: > "$T/admin.token"
"$SIPLB_BIN/siplb-admin" -c "$T/siplb.conf" > "$T/notoken.log" 2>&1; rc=$?
assert_eq "admin refuses an empty token" "$rc" 78
mv "$T/admin.token.keep" "$T/admin.token"

start_suite
node "$N1" uas.xml
node "$N2" uas.xml

# health and token
expect_api "healthz without a token" 200 GET /healthz "" ""
assert_eq "healthz status" "$(rj 'd["status"]')" ok
assert_eq "healthz scheduler, dialogd, edge" "$(rj '[d["scheduler"], d["dialogd"], d["edges"][0]["up"]]')" "[True, True, True]"
expect_api "nodes without a token" 401 GET /api/v1/nodes "" ""
assert_match "401 says why" "$RESP" '"error": "missing or wrong bearer token'
expect_api "nodes with a wrong token" 401 GET /api/v1/nodes "" "x$TOKEN"
expect_api "metrics without a token" 401 GET /metrics "" ""
ctl health > /dev/null || fail "siplbctl health failed with everything up"
ok "siplbctl health: 0 with everything up"

# reads
expect_api "list nodes" 200 GET /api/v1/nodes
assert_eq "two nodes" "$(rj 'len(d["nodes"])')" 2
expect_api "one node" 200 GET /api/v1/nodes/2
assert_eq "node 2 uri" "$(rj 'd["uri"]')" "sip:127.0.0.1:$N2"
expect_api "unknown node" 404 GET /api/v1/nodes/99
assert_match "404 says which" "$RESP" 'node 99 does not exist'
expect_api "unknown path" 404 GET /api/v1/nope
expect_api "wrong method" 405 PUT /api/v1/nodes '{}'
expect_api "stats" 200 GET /api/v1/stats
assert_eq "stats has nodes and the edge" "$(rj '[len(d["nodes"]), d["edges"][0]["up"], "requests_received" in d["edges"][0]["counters"]]')" "[2, True, True]"

# bad input
expect_api "bad JSON" 400 POST /api/v1/nodes '{"uri": '
assert_match "bad JSON says so" "$RESP" 'bad JSON'
expect_api "resources without a value" 400 POST /api/v1/nodes "{\"uri\": \"sip:127.0.0.1:$N3\", \"group\": 1, \"resources\": \"pstn\"}"
assert_match "resources message" "$RESP" 'resources.{1,2}: resource .{1,2}pstn.* must have a value'
expect_api "weight 0" 400 POST /api/v1/nodes "{\"uri\": \"sip:127.0.0.1:$N3\", \"group\": 1, \"weight\": 0}"
assert_match "weight message" "$RESP" 'weight.{1,2} must be an integer 1..1000000'
expect_api "weight of the wrong type" 400 POST /api/v1/nodes "{\"uri\": \"sip:127.0.0.1:$N3\", \"group\": 1, \"weight\": \"5\"}"
expect_api "enabled of the wrong type" 400 PATCH /api/v1/nodes/1 '{"enabled": "no"}'
assert_match "enabled message" "$RESP" 'enabled.{1,2} must be true or false'
expect_api "unknown field" 400 POST /api/v1/nodes "{\"uri\": \"sip:127.0.0.1:$N3\", \"group\": 1, \"colour\": 1}"
assert_match "unknown field message" "$RESP" 'unknown field .{1,2}colour'
expect_api "not an object" 400 POST /api/v1/nodes '[1]'
expect_api "no uri" 400 POST /api/v1/nodes '{"group": 1}'
expect_api "neither group nor set (scheduler refuses)" 400 POST /api/v1/nodes "{\"uri\": \"sip:127.0.0.1:$N3\"}"
assert_match "scheduler's reason" "$RESP" 'group'
expect_api "empty PATCH" 400 PATCH /api/v1/nodes/1 '{}'
expect_api "PATCH of an unknown node" 404 PATCH /api/v1/nodes/99 '{"weight": 2}'
big=$(head -c 70000 /dev/zero | tr '\0' 'a')
expect_api "body too large" 413 POST /api/v1/nodes "{\"uri\": \"$big\"}"

# a third node through the API gets calls
node "$N3" uas.xml
expect_api "add node 3" 201 POST /api/v1/nodes "{\"uri\": \"sip:127.0.0.1:$N3\", \"group\": 1, \"set\": 1, \"resources\": \"pstn=500\", \"description\": \"added by the API\", \"probe_mode\": 1}"
NEW=$(rj 'd["id"]')
assert_eq "new node enabled, pstn 500" "$(rj '[d["enabled"], d["resources"]["pstn"]["capacity"]]')" "[True, 500]"
expect_api "get node $NEW" 200 GET "/api/v1/nodes/$NEW"
wait_eq 5 "the edge to get node $NEW from the scheduler's PUB" 3 edge_stat nodes_known ||
    fail "the edge did not learn of node $NEW"
uac uac.xml 60 30 -d 100
assert_eq "60 calls succeed" "$UAC_OK" 60
wait_stats "$N1" "$N2" "$N3"
n3=$(node_incoming "$N3")
[ "$n3" -gt 0 ] || fail "node $NEW got no calls"
ok "node $NEW added through the API got $n3 of 60 calls"

# a node disabled through it gets none
expect_api "disable node 1" 200 PATCH /api/v1/nodes/1 '{"enabled": false}'
assert_eq "node 1 disabled" "$(rj 'd["enabled"]')" False
# the edge asks the scheduler for every call: that one must have it disabled
node1_enabled() { ctl --json nodes | jq_py '[n["enabled"] for n in d["nodes"] if n["id"] == 1][0]'; }
wait_eq 5 "the scheduler to hold node 1 disabled" False node1_enabled ||
    fail "the scheduler does not hold node 1 disabled"
before=$(node_incoming "$N1")
uac uac.xml 60 30 -d 100
assert_eq "60 more calls succeed" "$UAC_OK" 60
wait_stats "$N1" "$N2" "$N3"
assert_eq "disabled node 1 got no call" "$(node_incoming "$N1")" "$before"

# capacities, weight, priority
expect_api "resize and re-weight node $NEW" 200 PATCH "/api/v1/nodes/$NEW" '{"resources": "pstn=800", "weight": 5, "priority": 2}'
assert_eq "node $NEW changed" "$(rj '[d["resources"]["pstn"]["capacity"], d["weight"], d["priority"]]')" "[800, 5, 2]"

# still there after a scheduler restart
stop_scheduler TERM
start_scheduler
expect_api "nodes after a scheduler restart" 200 GET /api/v1/nodes
assert_eq "the changes outlived the restart" "$(rj '[(n["id"], n["enabled"], n["resources"]["pstn"]["capacity"], n["weight"], n["priority"]) for n in d["nodes"]]')" "[(1, False, 500, 1, 0), (2, True, 500, 1, 0), ($NEW, True, 800, 5, 2)]"

# dialogs
expect_api "ended dialogs" 200 GET "/api/v1/dialogs?state=terminated&limit=5"
assert_eq "five of them" "$(rj 'len(d["dialogs"])')" 5
KEY=$(rj 'd["dialogs"][0]["key"]')
expect_api "one dialog" 200 GET "/api/v1/dialogs/$KEY"
assert_eq "its key and state" "$(rj '[d["key"], d["state"]]')" "['$KEY', 'terminated']"
expect_api "dialogs of node $NEW" 200 GET "/api/v1/dialogs?node=$NEW&limit=1000"
assert_eq "node $NEW's dialogs" "$(rj 'len(d["dialogs"]) > 0 and all(x["node_id"] == '"$NEW"' for x in d["dialogs"])')" True
expect_api "unknown dialog" 404 GET /api/v1/dialogs/nosuchkey
expect_api "dialog counts" 200 GET "/api/v1/dialogs?counts=1"
expect_api "bad state" 400 GET "/api/v1/dialogs?state=ringing"
assert_match "state message" "$RESP" 'created, confirmed or terminated'
expect_api "bad node" 400 GET "/api/v1/dialogs?node=x"

# reload and delete
expect_api "reload" 200 POST /api/v1/reload
assert_eq "reload keeps three nodes" "$(rj 'len(d["nodes"])')" 3
expect_api "reload reset" 200 POST /api/v1/reload '{"reset": true}'
expect_api "reload with a bad reset" 400 POST /api/v1/reload '{"reset": "yes"}'
expect_api "delete node $NEW" 200 DELETE "/api/v1/nodes/$NEW"
expect_api "node $NEW is gone" 404 GET "/api/v1/nodes/$NEW"
expect_api "enable node 1 again" 200 PATCH /api/v1/nodes/1 '{"enabled": true}'

expect_api "metrics with the token" 200 GET /metrics
assert_match "metrics have siplb_up" "$RESP" 'siplb_up\{service="edge",address="ipc://[^"]*edge.rep"\} 1'

# the edge dies: degraded
stop_edge KILL
expect_api "healthz without the edge" 503 GET /healthz "" ""
assert_eq "healthz says degraded, edge down" "$(rj '[d["status"], d["scheduler"], d["edges"][0]["up"]]')" "['degraded', True, False]"
ctl --timeout 300 health > "$T/health.out" 2>&1; rc=$?
assert_eq "siplbctl health fails without the edge" "$rc" 1
assert_match "and says why" "$(cat "$T/health.out")" 'the edge at .* did not answer'
