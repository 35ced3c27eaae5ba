#!/bin/bash
# scripts/lab refuses what it does not know (usage, exit 64) instead of
# ignoring it; an empty SIPLB_LAB_NODE_PORTS is refused, not read as the
# default; up --no-nodes starts the suite only, its table pointing at nodes
# already listening; up --nodes N starts N nodes; up ends with the admin
# token path and `scripts/lab env`.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-edge.sh"
command -v sipp > /dev/null || { echo "sipp not installed"; exit 77; }
LAB="$SIPLB_TOP/scripts/lab"
P0=$((BASE + 40))
export SIPLB_LAB_DIR="$T/lab" SIPLB_LAB_SIP_PORT=$((BASE + 20)) \
    SIPLB_LAB_ADMIN_PORT=$((BASE + 23)) SIPLB_LAB_NODE_PORTS="$((P0 + 1)) $((P0 + 2))"
CLEANUPS+=("$LAB down > /dev/null")

for args in "up --bogus" "up --nodes" "up --nodes 0" "up --nodes x" "status extra" "frobnicate"; do
	# shellcheck disable=SC2086
	out=$("$LAB" $args 2>&1); rc=$?
	assert_eq "lab $args refused" "$rc" 64
	assert_match "lab $args prints usage" "$out" '^(lab: .*)?usage: scripts/lab up'
done
[ -e "$T/lab/pids" ] && fail "a refused up started something"
out=$(SIPLB_LAB_NODE_PORTS= "$LAB" up 2>&1); rc=$?
assert_eq "empty SIPLB_LAB_NODE_PORTS refused" "$rc" 64
assert_match "and said why" "$out" 'SIPLB_LAB_NODE_PORTS is set but empty'

# --no-nodes: our own nodes on the node ports, the lab starts none
node $((P0 + 1)) uas.xml
node $((P0 + 2)) uas.xml
"$LAB" up --no-nodes > "$T/up.out" 2>&1 || fail "up --no-nodes: $(tail -n 20 "$T/up.out")"
grep -q '^node-' "$T/lab/pids" && fail "--no-nodes started nodes: $(cat "$T/lab/pids")"
ok "--no-nodes started no node"
tail -n 4 "$T/up.out" | grep -q "$T/lab/admin.token" || fail "the token path is not in up's last lines: $(tail -n 4 "$T/up.out")"
ok "up's last lines name the admin token file"
tail -n 4 "$T/up.out" | grep -q 'scripts/lab env' || fail "scripts/lab env is not in up's last lines"
ok "up's last lines show scripts/lab env"
uris=$("$SIPLB_BIN/siplbctl" -c "$T/lab/siplb.conf" --json nodes | jq_py '" ".join(n["uri"] for n in d["nodes"])')
assert_eq "the table points at the nodes already there" "$uris" "sip:127.0.0.1:$((P0 + 1)) sip:127.0.0.1:$((P0 + 2))"
(cd "$T" && timeout 60 sipp -sf "$SIPP_DIR/uac.xml" "127.0.0.1:$SIPLB_LAB_SIP_PORT" -i 127.0.0.1 \
    -p $((BASE + 30)) -m 4 -r 10 -nostdin -timeout 30 -timeout_error > "$T/calls.out" 2>&1)
assert_eq "calls reach the nodes --no-nodes pointed at" "$(sipp_count "$T/calls.out" Successful)" 4
"$LAB" down > /dev/null
kill -TERM "$(eval echo "\$NODE_PID_$((P0 + 1))")" "$(eval echo "\$NODE_PID_$((P0 + 2))")"

# --nodes 3: three nodes, a new table for the new ports
"$LAB" up --nodes 3 > "$T/up3.out" 2>&1 || fail "up --nodes 3: $(tail -n 20 "$T/up3.out")"
assert_eq "--nodes 3 started three nodes" "$(grep -c '^node-' "$T/lab/pids")" 3
n=$("$SIPLB_BIN/siplbctl" -c "$T/lab/siplb.conf" --json nodes | jq_py 'len(d["nodes"])')
assert_eq "--nodes 3 gives a three-node table" "$n" 3
assert_match "the nodes are listed by status" "$("$LAB" status)" "node-$((P0 + 3)) +[0-9]+ +running"
"$LAB" down > /dev/null

# --esl: every node also has a FreeSWITCH event socket (the stand-in), the
# prober links to each and the scheduler reconciles group 1's load
export SIPLB_LAB_ESL_PORT=$((BASE + 60))
"$LAB" up --esl > "$T/upesl.out" 2>&1 || fail "up --esl: $(tail -n 20 "$T/upesl.out")"
assert_eq "--esl started an event socket per node" "$(grep -c '^esl-' "$T/lab/pids")" 2
grep -q '^load_mode = reconciled$' "$T/lab/siplb.conf" || fail "--esl: load_mode is not reconciled"
linked() { "$SIPLB_BIN/siplbctl" -c "$T/lab/siplb.conf" --json nodes |
    jq_py 'sum(1 for n in d["nodes"] if n.get("feedback", {}).get("have"))'; }
wait_eq 10 "the prober linked to both event sockets, figures in" 2 linked ||
    fail "ESL links: $WAIT_OUT of 2; $(tail -n 5 "$T/lab/log/prober.log")"
ok "both nodes' event sockets linked, their HEARTBEATs reach the scheduler"
echo '{"sessions": 7, "max": 500, "idle": 99.0, "sps": 30, "sps_max": 30}' > "$T/lab/esl-1.json"
sessions() { "$SIPLB_BIN/siplbctl" -c "$T/lab/siplb.conf" --json nodes |
    jq_py '[n["feedback"]["session_count"] for n in d["nodes"] if n["id"] == 1][0]'; }
wait_eq 6 "node 1's reported sessions to follow its state file" 7 sessions ||
    fail "node 1 reports $WAIT_OUT sessions, want 7"
sessions2() { "$SIPLB_BIN/siplbctl" -c "$T/lab/siplb.conf" --json nodes |
    jq_py '[n["feedback"]["session_count"] for n in d["nodes"] if n["id"] == 2][0]'; }
assert_eq "node 2's figures are its own" "$(sessions2)" 0
ok "node 1's FreeSWITCH figures follow the lab's state file"
