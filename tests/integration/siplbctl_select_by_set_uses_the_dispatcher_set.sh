#!/bin/bash
# siplbctl select --set S chooses in dispatcher set S, as the edge's
# "ds S ALG" rule does; --group G still chooses in load_balancer group G;
# --set together with --group, or with least-load (which works on groups),
# is refused with the usage and exit 64 instead of meaning something else.
# Groups and sets are laid out crosswise so that a pool read as the
# other kind would give other nodes.
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
start_scheduler

# group 1 = nodes 1 and 2; dispatcher set 1 = nodes 3 and 4; set 2 = node 1
ctl node add --id 1 --uri sip:127.0.0.1:5071 --group 1 --set 2 --resources 'pstn=500' > /dev/null || fail "add 1"
ctl node add --id 2 --uri sip:127.0.0.1:5072 --group 1 --resources 'pstn=500' > /dev/null || fail "add 2"
ctl node add --id 3 --uri sip:127.0.0.1:5073 --set 1 > /dev/null || fail "add 3"
ctl node add --id 4 --uri sip:127.0.0.1:5074 --set 1 > /dev/null || fail "add 4"

# round-robin over set 1 alternates between its two nodes
seq=""
for _ in 1 2 3 4 5 6; do
	got=$(ctl --json select --set 1 --algorithm round-robin) || fail "select --set 1: exit $?"
	seq="$seq$(echo "$got" | jq_py 'd["choices"][0]["node_id"]')"
done
assert_match "select --set 1 --algorithm round-robin alternates over set 1" "$seq" '^(34){3}$|^(43){3}$'
got=$(ctl select --set 1 --algorithm round-robin --max 2 | sort | tr '\n' ' ')
assert_eq "--max 2 in set 1 gives both of its nodes" "$got" "sip:127.0.0.1:5073 sip:127.0.0.1:5074 "
got=$(ctl select --set 1)
assert_match "--set without --algorithm: round-robin in the set" "$got" '^sip:127\.0\.0\.1:507[34]$'
for _ in 1 2 3; do
	assert_eq "select --set 2 --algorithm 4 (OpenSIPS number) gives set 2's node" \
		"$(ctl select --set 2 --algorithm 4)" "sip:127.0.0.1:5071"
done
out=$(ctl select --set 3 --algorithm round-robin 2>&1); rc=$?
assert_eq "an empty set: no destination, exit 2" "$rc" 2
assert_match "an empty set says so" "$out" 'no destination'

# --group G still chooses in load_balancer group G
seen=""
for _ in 1 2 3 4 5 6 7 8; do
	got=$(ctl --json select --group 1 --resource pstn) || fail "select --group 1: exit $?"
	seen="$seen $(echo "$got" | jq_py 'd["choices"][0]["node_id"]')"
done
assert_match "select --group 1 --resource pstn picks nodes of group 1 only" "$seen" '^( [12])+$'
out=$(ctl select --group 2 --resource pstn 2>&1); rc=$?
assert_eq "group 2 (set 2's node is not in it) has no destination" "$rc" 2

# wrong combinations: usage, exit 64, nothing asked of the scheduler
before=$(ctl --json stats | jq_py '[c["value"] for c in d["counters"] if c["name"] == "selects"][0]')
out=$(ctl select --group 1 --set 1 --algorithm round-robin 2>&1); rc=$?
assert_eq "--group with --set: exit 64" "$rc" 64
assert_match "--group with --set: says why" "$out" 'not both'
assert_match "--group with --set: prints the usage" "$out" 'usage: siplbctl'
out=$(ctl select --set 1 --algorithm least-load --resource pstn 2>&1); rc=$?
assert_eq "--set with least-load: exit 64" "$rc" 64
assert_match "--set with least-load: says why" "$out" 'least-load works on load_balancer groups'
assert_match "--set with least-load: prints the usage" "$out" 'usage: siplbctl'
out=$(ctl select --set 1 --resource pstn 2>&1); rc=$?
assert_eq "--set with a resource and no algorithm (least-load by default): exit 64" "$rc" 64
out=$(ctl select --set 0 --group 1 --resource pstn 2>&1); rc=$?
assert_eq "--set 0 with --group is refused too" "$rc" 64
after=$(ctl --json stats | jq_py '[c["value"] for c in d["counters"] if c["name"] == "selects"][0]')
assert_eq "refused selections never reached the scheduler" "$after" "$before"
