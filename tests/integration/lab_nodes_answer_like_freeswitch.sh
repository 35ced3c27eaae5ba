#!/bin/bash
# The simulated FreeSWITCH node (tests/sipp/uas.xml, run by scripts/lab and
# by the tests) answers what mod_sofia answers: OPTIONS 200 with Allow and
# Supported, REGISTER 200, INVITE 180/200, a re-INVITE and in-dialog
# OPTIONS, BYE, CANCEL of a ringing call (200, 487); a CANCEL or BYE of
# nothing 481; other methods 405.  Then the lab: its node answers OPTIONS,
# and a node the edge marked down (passive reports) comes back up through
# the prober once it answers again.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-edge.sh"

command -v sipp > /dev/null || { echo "sipp not installed"; exit 77; }

# to_node PORT SCENARIO [sipp args...]: one call from a sipp UAC straight to
# the node on PORT; sets RC, OK_CALLS and FAILED from its statistics
to_node() {
	local port=$1 sc=$2
	shift 2
	(cd "$T" && timeout 60 sipp -sf "$sc" "127.0.0.1:$port" -i 127.0.0.1 \
	    -p $((BASE + 60 + RANDOM % 30)) -m 1 -nostdin -timeout 20 -timeout_error \
	    -trace_err -error_file "$T/to-node.err" "$@" > "$T/to-node.out" 2>&1)
	RC=$?
	OK_CALLS=$(sipp_count "$T/to-node.out" Successful)
	FAILED=$(sipp_count "$T/to-node.out" Failed)
}
# expect_from_node PORT METHOD CODE [sipp args]: METHOD out of a dialog gets CODE
expect_from_node() {
	local port=$1 m=$2 code=$3
	shift 3
	sed "s/@METHOD@/$m/g; s/@MF@/70/g; s/@CODE@/$code/g" "$SIPP_DIR/uac-expect.xml.in" > "$T/expect-$m-$code.xml"
	to_node "$port" "$T/expect-$m-$code.xml" "$@"
	[ "$RC" = 0 ] && [ "$OK_CALLS" = 1 ] || fail "$m to the node: want $code (sipp rc $RC): $(tail -n 5 "$T/to-node.err" 2>/dev/null)"
	ok "$m out of a dialog: $code"
}

# --- one node, straight
node "$N1" uas.xml -trace_msg -message_file "$T/node-msg.log"
expect_from_node "$N1" OPTIONS 200 -trace_msg -message_file "$T/options.msg"
reply=$(awk '/SIP\/2.0 200 OK/,/Content-Length/' "$T/options.msg")
assert_match "OPTIONS 200 has Allow with the methods" "$reply" 'Allow: INVITE, ACK, BYE, CANCEL, OPTIONS'
assert_match "OPTIONS 200 has Supported" "$reply" 'Supported: timer, path, replaces'
assert_match "OPTIONS 200 has Accept" "$reply" 'Accept: application/sdp'
to_node "$N1" "$SIPP_DIR/uac-register.xml" -s alice
[ "$RC" = 0 ] && [ "$OK_CALLS" = 1 ] || fail "REGISTER: sipp rc $RC, $OK_CALLS ok"
ok "REGISTER answered 200"
to_node "$N1" "$SIPP_DIR/uac.xml"
[ "$RC" = 0 ] && [ "$OK_CALLS" = 1 ] || fail "INVITE/ACK/BYE: sipp rc $RC, $OK_CALLS ok"
ok "INVITE 180/200, ACK, BYE 200"
to_node "$N1" "$SIPP_DIR/uac-reinvite.xml"
[ "$RC" = 0 ] && [ "$OK_CALLS" = 1 ] || fail "re-INVITE call: sipp rc $RC, $OK_CALLS ok: $(tail -n 5 "$T/to-node.err")"
ok "re-INVITE 200 with SDP, ACK, in-dialog OPTIONS 200, BYE 200"
grep -q 'a=sendonly' "$T/node-msg.log" || fail "the node did not see the re-INVITE's SDP"
to_node "$N1" "$SIPP_DIR/uac-cancel.xml"
[ "$RC" = 0 ] && [ "$OK_CALLS" = 1 ] || fail "CANCEL of a ringing call: sipp rc $RC, $OK_CALLS ok"
ok "INVITE: 180, CANCEL 200, INVITE 487, ACK"
expect_from_node "$N1" CANCEL 481
expect_from_node "$N1" BYE 481
expect_from_node "$N1" SUBSCRIBE 405
stats_mark	# the last caller ended: the node's next statistics count it all
wait_stats "$N1"
failed=$(awk -F';' 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "FailedCall(C)") c = i } END { print $c }' "$T/node-$N1.csv")
assert_eq "the node failed none of its transactions" "$failed" 0
kill -TERM "$(eval echo "\$NODE_PID_$N1")"

# --- the lab: its node answers OPTIONS; a node marked down comes back
LAB_SIP=$((BASE + 20)); LAB_N1=$((BASE + 21)); LAB_N2=$((BASE + 22))
export SIPLB_LAB_DIR="$T/lab" SIPLB_LAB_SIP_PORT=$LAB_SIP \
    SIPLB_LAB_NODE_PORTS="$LAB_N1 $LAB_N2" SIPLB_LAB_ADMIN_PORT=$((BASE + 23))
CLEANUPS+=("$SIPLB_TOP/scripts/lab down > /dev/null")
"$SIPLB_TOP/scripts/lab" up > "$T/lab-up.log" 2>&1 || fail "lab up: $(tail -n 20 "$T/lab-up.log")"
# the prober probes a node that is down every 5 s by default: faster here
printf '[prober]\ninterval = 500\ntimeout = 300\n' >> "$T/lab/siplb.conf"
pid=$(awk '$1 == "prober" { print $2 }' "$T/lab/pids" | tail -n 1)
kill -TERM "$pid"
wait_while 5 "the lab's prober (pid $pid) to exit" alive "$pid" || fail "the lab's prober still runs 5 s after SIGTERM"
setsid "$SIPLB_BIN/siplb-prober" -c "$T/lab/siplb.conf" >> "$T/lab/log/prober.log" 2>&1 < /dev/null &
echo "prober $!" >> "$T/lab/pids"
expect_from_node "$LAB_N1" OPTIONS 200 -trace_msg -message_file "$T/lab-options.msg"
assert_match "the lab's node says Allow" "$(cat "$T/lab-options.msg")" 'Allow: INVITE'

lctl() { "$SIPLB_BIN/siplbctl" -c "$T/lab/siplb.conf" "$@"; }
up_of() { lctl --json nodes | jq_py "[n['up'] for n in d['nodes'] if n['id'] == $1][0]"; }
# node 1 goes silent: the edge's calls to it fail, the scheduler marks it down
kill -KILL "$(awk -v p="node-$LAB_N1" '$1 == p { print $2 }' "$T/lab/pids")"
# one call at a time until it is (ties between idle nodes are random, and a
# call being failed over holds its load on node 1 for fr_timeout: a burst may
# never try node 1 twice); passive_threshold is 2, so at most a few dozen
lab_calls=0 lab_ok=0
while [ $lab_calls -lt 30 ] && [ "$(up_of 1)" != False ]; do
	(cd "$T" && timeout 60 sipp -sf "$SIPP_DIR/uac.xml" "127.0.0.1:$LAB_SIP" -i 127.0.0.1 \
	    -p $((BASE + 30)) -m 1 -nostdin -timeout 30 > "$T/lab-calls.out" 2>&1)
	lab_calls=$((lab_calls + 1))
	lab_ok=$((lab_ok + $(sipp_count "$T/lab-calls.out" Successful)))
done
wait_eq 5 "the scheduler to hold node 1 down" False up_of 1
assert_eq "the edge's reports marked the silent node down" "$(up_of 1)" False
grep -q "node 1 sip:127.0.0.1:$LAB_N1 is down (edge" "$T/lab/log/scheduler.log" || fail "not marked down by the edge: $(grep 'node 1' "$T/lab/log/scheduler.log")"
ok "marked down by the edge's passive reports (after $lab_calls calls)"
assert_eq "every one of those calls was answered (by node 2, failed over)" "$lab_ok" "$lab_calls"
# a FreeSWITCH-like node answers on that port again: the prober's OPTIONS bring it up
node "$LAB_N1" uas.xml
wait_eq 10 "the prober to bring node 1 up again" True up_of 1
assert_eq "the node is up again" "$(up_of 1)" True
grep -q "node 1 sip:127.0.0.1:$LAB_N1 is up (probe 200)" "$T/lab/log/scheduler.log" || fail "not brought up by a probe: $(grep 'node 1' "$T/lab/log/scheduler.log")"
ok "brought back up by the prober's OPTIONS (probe 200)"
(cd "$T" && timeout 60 sipp -sf "$SIPP_DIR/uac.xml" "127.0.0.1:$LAB_SIP" -i 127.0.0.1 \
    -p $((BASE + 31)) -m 10 -r 20 -nostdin -timeout 30 -timeout_error > "$T/lab-calls2.out" 2>&1)
assert_eq "10 calls through the lab after the node came back" "$(sipp_count "$T/lab-calls2.out" Successful)" 10
