#!/bin/bash
# siplbctl doctor sends each node an INVITE from the edge's address that
# claims (X-AUTH-IP) to come from 192.0.2.77: a node that challenges it
# (407, as a FreeSWITCH with the edge in apply-proxy-acl only) is right; a
# node that lets it in (180, 200, as one with the edge in
# apply-inbound-acl) gets a WARNING that names it and says what to change,
# and doctor exits 1; a node that does not answer gets "no answer", not a
# warning.  doctor leaves nothing behind: the challenge is ACKed on the
# INVITE's branch, the call it let in is CANCELled, ACKed and hung up
# with a BYE, and the prober keeps both nodes up throughout.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-edge.sh"

command -v sipp > /dev/null || { echo "sipp not installed"; exit 77; }

edge_config
sed -i "s|^prober_pub =\$|prober_pub = ipc://$T/prober.pub\nprober_rep = ipc://$T/prober.rep|" "$T/siplb.conf"
cat >> "$T/siplb.conf" <<CONF
[prober]
pub = ipc://$T/prober.pub
rep = ipc://$T/prober.rep
listen = udp:127.0.0.1:0
interval = 300
timeout = 200
threshold_down = 2
CONF
# node 3 takes datagrams and never answers; on node 4's port nothing listens
N4=$((BASE + 14))
printf '\n[node %d]\nuri = sip:127.0.0.1:%d\ngroup = 1\nset = 1\nresources = pstn=500\n' 3 "$N3" 4 "$N4" >> "$T/nodes.conf"
python3 -c 'import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", int(sys.argv[1])))
time.sleep(300)' "$N3" &
PIDS+=("$!")
sed -i 's/^resources = .*/&\nprobe_mode = 2/' "$T/nodes.conf"

node "$N1" uas-acl-challenge.xml -trace_msg -message_file "$T/msg-$N1.log"
node "$N2" uas-acl-trusting.xml -trace_msg -message_file "$T/msg-$N2.log"
start_scheduler
"$SIPLB_BIN/siplb-prober" -c "$T/siplb.conf" >> "$T/prober.log" 2>&1 &
PIDS+=("$!")
start_edge

health() { ctl --json nodes | jq_py "' '.join(str(n['up']) for n in sorted(d['nodes'], key=lambda n: n['id']))"; }
wait_eq 10 "the prober to see nodes 1 and 2 up, 3 and 4 down" "True True False False" health ||
    fail "nodes not up as expected: $WAIT_OUT"
ok "prober: the two sipp nodes up, the silent ones down"

ctl doctor --sip-timeout 1000 > "$T/doctor.out" 2> "$T/doctor.err"
rc=$?
cat "$T/doctor.out"
assert_eq "doctor exits 1 on a warning" "$rc" 1
assert_eq "one line per node" "$(wc -l < "$T/doctor.out")" 4
l1=$(grep "^node 1 " "$T/doctor.out")
l2=$(grep "^node 2 " "$T/doctor.out")
l3=$(grep "^node 3 " "$T/doctor.out")
l4=$(grep "^node 4 " "$T/doctor.out")
assert_match "the right node's line says it challenged" "$l1" \
    "^node 1 sip:127.0.0.1:$N1: ok: challenged the call as 192\.0\.2\.77 \(407 Proxy Authentication Required\)$"
assert_match "the trusting node gets a warning naming it" "$l2" \
    "^node 2 sip:127.0.0.1:$N2: WARNING: let in a call .*\((180 Ringing|200 OK)\)"
assert_match "the warning says what to change" "$l2" \
    "trusts the edge's 127\.0\.0\.1 in apply-inbound-acl.*list 127\.0\.0\.1 in apply-proxy-acl only, not in apply-inbound-acl$"
assert_eq "only the trusting node is warned about" "$(grep -c WARNING "$T/doctor.out")" 1
assert_eq "the silent node: no answer, not a warning" "$l3" "node 3 sip:127.0.0.1:$N3: no answer within 1000 ms"
assert_eq "the closed port: no answer, not a warning" "$l4" "node 4 sip:127.0.0.1:$N4: no answer: nothing listens there (port unreachable)"

# what the nodes saw: the INVITE from the edge's address with X-AUTH-IP
for p in "$N1" "$N2"; do
	grep -q "^X-AUTH-IP: 192.0.2.77" "$T/msg-$p.log" || fail "node on $p: no X-AUTH-IP in $(cat "$T/msg-$p.log")"
	grep -q "^Via: SIP/2.0/UDP 127.0.0.1:[0-9]*;branch=z9hG4bK" "$T/msg-$p.log" || fail "node on $p: INVITE not from 127.0.0.1"
done
ok "both INVITEs came from the edge's address with X-AUTH-IP: 192.0.2.77"

# msg_branch FILE METHOD: the Via branch of the METHOD requests received
msg_branch() {
	awk -v m="$2" '/message received/ { inmsg = 1; next } inmsg && NF == 0 { next }
	    inmsg { if ($1 == m) want = 1; inmsg = 0 }
	    want && /^Via:/ { sub(/.*branch=/, ""); sub(/[;, ].*/, ""); print; want = 0 }' "$1"
}
# the challenge is ACKed as RFC 3261 17.1.1.3 says: on the INVITE's branch
inv=$(msg_branch "$T/msg-$N1.log" INVITE | sort -u)
ack=$(msg_branch "$T/msg-$N1.log" ACK | sort -u)
[ -n "$inv" ] || fail "node 1 saw no INVITE"
assert_eq "the 407 is ACKed on the INVITE's branch" "$ack" "$inv"
# the call let in is hung up: CANCEL (after the 180), ACK and BYE
for m in CANCEL ACK BYE; do
	[ -n "$(msg_branch "$T/msg-$N2.log" $m)" ] || fail "node 2 got no $m: $(grep -A1 'message received' "$T/msg-$N2.log")"
done
ok "node 2 got the CANCEL, the ACK of its 200 and the BYE"
# both scenarios ran to their end (ACK, or ACK and BYE answered): no call
# left open on either node, none failed
wait_until 5 "the nodes' sipp calls to end" eval '[ "$(node_calls "$N2")" -ge 1 ] && [ "$(node_calls "$N1")" -ge 1 ]' ||
    fail "calls did not complete"
col() { head -n 1 "$T/node-$1.csv" | tr ';' '\n' | grep -n "^$2\$" | cut -d: -f1; }
node_stat() { tail -n 1 "$T/node-$1.csv" | cut -d';' -f"$(col "$1" "$2")"; }
wait_eq 3 "no call open on the trusting node" 0 node_stat "$N2" 'CurrentCall' || fail "calls open on node 2: $WAIT_OUT"
assert_eq "no failed call on the trusting node" "$(node_stat "$N2" 'FailedCall(C)')" 0
assert_eq "no failed call on the right node" "$(node_stat "$N1" 'FailedCall(C)')" 0
# msg_sent FILE: each message sent, on one line (its lines joined by |)
msg_sent() {
	awk '{ sub(/\r$/, "") } /^-{10,}/ { if (m != "") print m; m = ""; s = 0; next }
	    /message sent/ { s = 1; next } s && NF { m = m $0 "|" }
	    END { if (m != "") print m }' "$1"
}
msg_sent "$T/msg-$N2.log" | grep -q "^SIP/2.0 200 OK|.*|CSeq: 2 BYE|" ||
    fail "node 2 did not answer the BYE: $(msg_sent "$T/msg-$N2.log" | grep -v OPTIONS)"
ok "the BYE was answered: nothing left open"

# one node at a time: the right one alone is all right, the silent one is trouble
ctl doctor --node 1 --sip-timeout 1000 > "$T/doctor-1.out" 2>&1
assert_eq "doctor --node 1 exits 0" "$? $(wc -l < "$T/doctor-1.out")" "0 1"
ctl doctor --node 3 --sip-timeout 500 > "$T/doctor-3.out" 2>&1
assert_eq "doctor --node 3 (no answer) exits 2" "$? $(cat "$T/doctor-3.out")" "2 node 3 sip:127.0.0.1:$N3: no answer within 500 ms"
ctl doctor --node 9 > /dev/null 2>&1
assert_eq "doctor --node 9 (no such node) exits 2" "$?" 2
# (a host that binds foreign addresses, ip_nonlocal_bind, cannot tell)
if [ "$(cat /proc/sys/net/ipv4/ip_nonlocal_bind 2>/dev/null)" != 1 ]; then
	ctl doctor --from 198.51.100.1 --node 1 > "$T/doctor-from.out" 2>&1
	assert_eq "doctor from an address this host lacks exits 2" "$?" 2
	assert_match "and says it cannot bind" "$(cat "$T/doctor-from.out")" "cannot bind"
fi

assert_eq "the prober still sees nodes 1 and 2 up" "$(health)" "True True False False"
