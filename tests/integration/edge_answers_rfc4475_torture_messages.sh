#!/bin/bash
# The RFC 4475 torture messages (tests/torture/*.dat, written from the
# RFC's text by tests/torture/make-dat.py) sent to the edge over UDP, with
# two sipp nodes behind it, each get the answer the table below says: the
# status code the edge itself sends, "relayed" (a node answered through the
# edge; INVITEs are then ACKed and hung up with a BYE through it) or
# "dropped" (no answer; counted).  Valid messages with unusual tokens,
# escapes, long values and odd whitespace are processed, not refused;
# invalid ones get 400, 416, 420 (with Unsupported) or 505 (RFC 3261
# §8.2, §16.3, §18.3, §20.14).  What the edge answers itself is sent
# twice: a retransmission of a refused request is answered the same.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-edge.sh"

# tx_linger 0: the RFC's messages reuse Via branches and sent-bys (cparam01
# and cparam02 share both), so sent one after the other from this host
# they would be retransmissions of one transaction while it lingers
edge_config "tx_linger = 0"
# with a prober (every 500 ms), as the lab runs: after the torture the pool
# must still be whole (issue 13: a torture run once took both nodes out)
sed -i "s|^prober_pub =\$|prober_pub = ipc://$T/prober.pub\nprober_rep = ipc://$T/prober.rep|" "$T/siplb.conf"
printf '[prober]\ninterval = 500\ntimeout = 300\npub = ipc://%s/prober.pub\nrep = ipc://%s/prober.rep\n' "$T" "$T" >> "$T/siplb.conf"
start_scheduler
start_edge
node "$N1" uas.xml
node "$N2" uas.xml
"$SIPLB_BIN/siplb-prober" -c "$T/siplb.conf" >> "$T/prober.log" 2>&1 &
PROBER_PID=$!
PIDS+=("$PROBER_PID")
both_up() { [ "$(ctl --json nodes | jq_py 'sum(1 for n in d["nodes"] if n["up"])')" = 2 ]; }
# (nodes start up, and with the table's probe_mode 0 the prober probes a
# node when the scheduler asks it to, ProbeNow, or once it is down: so the
# check below says that no report of the torture took a node out)
wait_until 5 "both nodes up" both_up || fail "nodes not up before the torture"
wait_for_log 5 "$T/scheduler.log" 'prober 1: synced at seq' || fail "the scheduler never heard the prober"

# FILE (tests/torture/SECTION-NAME.dat) and what the edge must do with it.
# Unknown methods go by route_other (default "reply 405", with Allow);
# OPTIONS not for the edge by route_options (default "reply 405"); an
# in-dialog request not routed through the edge gets 403 (never an open
# relay); responses without a transaction are dropped.
cat > "$T/table" <<'TABLE'
3.1.1.1-wsinv 403
3.1.1.2-intmeth 405
3.1.1.3-esc01 relayed
3.1.1.4-escnull relayed
3.1.1.5-esc02 405
3.1.1.6-lwsdisp 405
3.1.1.7-longreq relayed
3.1.1.8-dblreq relayed
3.1.1.9-semiuri 405
3.1.1.10-transports 405
3.1.1.12-unreason dropped
3.1.1.13-noreason dropped
3.1.2.1-badinv01 400
3.1.2.2-clerr 400
3.1.2.3-ncl 400
3.1.2.4-scalar02 400
3.1.2.5-scalarlg dropped
3.1.2.6-quotbal 400
3.1.2.7-ltgtruri 400
3.1.2.8-lwsruri 400
3.1.2.9-lwsstart 400
3.1.2.10-trws 400
3.1.2.11-escruri 400
3.1.2.12-baddate relayed
3.1.2.16-badvers 505
3.1.2.17-mismatch01 400
3.1.2.18-mismatch02 400
3.1.2.19-bigcode dropped
3.2.1-badbranch 405
3.3.1-insuf 400
3.3.2-unkscm 416
3.3.3-novelsc 416
3.3.4-unksm2 relayed
3.3.5-bext01 420
3.3.6-invut relayed
3.3.7-regaut01 relayed
3.3.8-multi01 400
3.3.9-mcl01 400
3.3.10-bcast dropped
3.3.11-zeromf 483
3.3.12-cparam01 relayed
3.3.13-cparam02 relayed
3.3.14-regescrt relayed
3.3.15-sdp01 relayed
3.4.1-inv2543 relayed
TABLE
ndropped=$(grep -c ' dropped$' "$T/table")
[ "$(wc -l < "$T/table")" -eq "$(ls "$SIPLB_TOP"/tests/torture/*.dat | wc -l)" ] ||
    fail "the table does not list every message in tests/torture"

# round 1: every message; round 2: those the edge answers or drops itself
# again (a retransmission of a refused request is refused alike; relayed
# ones would be retransmissions of finished transactions)
for round in 1 2; do
	files=()
	while read -r f want; do
		[ "$round" = 1 ] || [ "$want" != relayed ] || continue
		files+=("$SIPLB_TOP/tests/torture/$f.dat")
	done < "$T/table"
	drops0=$(edge_stat dropped)
	python3 "$SIPLB_TOP/tests/tools/torture-send.py" 127.0.0.1 "$EDGE_PORT" \
	    --wait 2 "${files[@]}" > "$T/got.$round" || fail "torture-send failed"
	cat "$T/got.$round"
	while read -r f want; do
		[ "$round" = 1 ] || [ "$want" != relayed ] || continue
		line=$(grep "^$f.dat " "$T/got.$round")
		got=$(echo "$line" | cut -d' ' -f2)
		assert_eq "round $round: $f: $want" "$got" "$want"
		case $want in
		405) assert_eq "round $round: $f: the 405 carries Allow" \
		    "$(echo "$line" | cut -d' ' -f3-)" 'INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER' ;;
		esac
	done < "$T/table"
	assert_eq "round $round: bext01's 420 lists the Proxy-Require tags in Unsupported" \
	    "$(grep '^3.3.5-bext01.dat ' "$T/got.$round" | cut -d' ' -f3-)" \
	    "noProxiesSupportThis, norDoAnyProxiesSupportThis"
	assert_eq "round $round: each dropped message counted" \
	    "$(edge_stat dropped)" "$((drops0 + ndropped))"
done
kill -0 "$EDGE_PID" || fail "the edge died"
kill -0 "$PROBER_PID" || fail "the prober died during the torture"

# the pool survived: both nodes in rotation within one probe interval,
# and calls still go through
wait_until 0.5 "both nodes up after the torture" both_up ||
    fail "after the torture: $(ctl nodes)"
ok "both nodes in rotation after the torture"
uac uac.xml 100 50 -d 100
assert_eq "100 calls after the torture succeed" "$UAC_OK $UAC_FAILED" "100 0"
