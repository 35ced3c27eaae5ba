# Helpers for edge tests (sourced after lib.sh): a scheduler, an edge and
# sipp nodes on loopback, each test in its own folder and ports.
SIPP_DIR="$SIPLB_TOP/tests/sipp"
BASE=$((20000 + (RANDOM % 120) * 100))	# a block of 100 ports for this test (below the kernel's ephemeral ports, 32768 and up)
EDGE_PORT=$BASE
N1=$((BASE + 11)); N2=$((BASE + 12)); N3=$((BASE + 13))

# edge_config [extra [edge] lines...]: siplb.conf and a two-node table
edge_config() {
	cat > "$T/siplb.conf" <<CONF
[general]
run_dir = $T
[scheduler]
nodes_file = nodes.conf
prober_pub =
dialogd_pub =
[edge]
listen = udp:127.0.0.1:$EDGE_PORT, tcp:127.0.0.1:$EDGE_PORT
fr_timeout = 1000
dialogd =
CONF
	for l in "$@"; do echo "$l" >> "$T/siplb.conf"; done
	printf '[node 1]\nuri = sip:127.0.0.1:%d\ngroup = 1\nset = 1\nresources = vm=100;conf=100;transc=100;pstn=500\n\n[node 2]\nuri = sip:127.0.0.1:%d\ngroup = 1\nset = 1\nresources = vm=100;conf=100;transc=100;pstn=500\n' "$N1" "$N2" > "$T/nodes.conf"
}

start_edge() {
	"$SIPLB_BIN/siplb-edge" -c "$T/siplb.conf" >> "$T/edge.log" 2>&1 &
	EDGE_PID=$!
	PIDS+=("$EDGE_PID")
	wait_for_log -i 0.05 -p "$EDGE_PID" 5 "$T/edge.log" 'node table from the scheduler' && return 0
	alive "$EDGE_PID" || fail "siplb-edge exited: $(tail -n 5 "$T/edge.log")"
	fail "siplb-edge got no node table within 5 s"
}

# stop_edge [SIGNAL]: signal the edge (TERM) and wait until it is gone; an
# edge still there 10 s later fails the test, with its threads' stacks
stop_edge() {
	local sig=${1:-TERM}
	kill "-$sig" "$EDGE_PID" 2>/dev/null
	if ! wait_while 10 "siplb-edge (pid $EDGE_PID) to exit after SIG$sig" alive "$EDGE_PID"; then
		gdb -p "$EDGE_PID" -batch -ex 'thread apply all bt' > "$T/edge-stuck.bt" 2>&1
		fail "siplb-edge did not exit within 10 s of SIG$sig: $(grep -c '^Thread' "$T/edge-stuck.bt") threads, stacks in $T/edge-stuck.bt: $(grep -m 3 -E 'nng_close|nng_aio_stop|pthread_join' "$T/edge-stuck.bt")"
	fi
	wait "$EDGE_PID" 2>/dev/null
	return 0
}

# node PORT SCENARIO: a sipp node in the background, with its statistics
# (on NODE_IP, 127.0.0.1 unless set)
node() {
	local port=$1 sc=$2 out pid
	shift 2
	rm -f "$T/node-$port.csv"	# a fresh count for this node
	out=$(cd "$T" && sipp -sf "$SIPP_DIR/$sc" -i "${NODE_IP:-127.0.0.1}" -p "$port" -bg \
	    -trace_stat -stf "$T/node-$port.csv" -fd 1 \
	    -trace_err -error_file "$T/node-$port.err" "$@" 2>&1)
	pid=$(printf '%s\n' "$out" | sed -n 's/.*PID=\[\([0-9]*\)\].*/\1/p')
	[ -n "$pid" ] || fail "sipp node on $port: $out"
	PIDS+=("$pid")
	eval "NODE_PID_$port=$pid"
}

# stop_nodes PORT...: SIGTERM the sipp nodes on PORTs, until they are gone
# (and their ports free for the next node)
stop_nodes() {
	local port pid
	for port in "$@"; do kill "$(eval echo "\$NODE_PID_$port")"; done
	for port in "$@"; do
		pid=$(eval echo "\$NODE_PID_$port")
		wait_while 3 "sipp node on $port (pid $pid) to exit" alive "$pid" ||
		    fail "sipp node on $port still runs 3 s after SIGTERM"
	done
}

# node_calls PORT: calls the node completed (its last statistics line)
node_calls() {
	local f="$T/node-$1.csv" col
	[ -f "$f" ] || { echo 0; return; }
	col=$(head -n 1 "$f" | tr ';' '\n' | grep -n '^SuccessfulCall(C)$' | cut -d: -f1)
	tail -n 1 "$f" | cut -d';' -f"$col"
}
node_incoming() {
	local f="$T/node-$1.csv" col
	[ -f "$f" ] || { echo 0; return; }
	col=$(head -n 1 "$f" | tr ';' '\n' | grep -n '^IncomingCall(C)$' | cut -d: -f1)
	tail -n 1 "$f" | cut -d';' -f"$col"
}

# uac SCENARIO CALLS RATE [sipp args...]: run the caller; sets UAC_OK and
# UAC_FAILED from its final statistics
uac() {
	local sc=$1 n=$2 rate=$3 port
	shift 3
	port=$((BASE + 50 + RANDOM % 40))
	(cd "$T" && timeout 300 sipp -sf "$SIPP_DIR/$sc" "127.0.0.1:$EDGE_PORT" \
	    -i 127.0.0.1 -p "$port" -m "$n" -r "$rate" -l 200 -nostdin \
	    -timeout 120 -timeout_error -trace_stat -stf "$T/uac.csv" \
	    -trace_err -error_file "$T/uac.err" "$@" > "$T/uac.out" 2>&1)
	UAC_RC=$?
	stats_mark	# for wait_stats
	UAC_OK=$(sipp_count "$T/uac.out" Successful)
	UAC_FAILED=$(sipp_count "$T/uac.out" Failed)
}

# render a uac-expect template: expect_reply METHOD MF CODE
expect_reply() {
	sed "s/@METHOD@/$1/g; s/@MF@/$2/g; s/@CODE@/$3/g" "$SIPP_DIR/uac-expect.xml.in" > "$T/expect-$1-$3.xml"
	(cd "$T" && timeout 30 sipp -sf "$T/expect-$1-$3.xml" "127.0.0.1:$EDGE_PORT" \
	    -i 127.0.0.1 -p $((BASE + 95)) -m 1 -nostdin -timeout 10 -timeout_error \
	    -trace_err -error_file "$T/expect.err" > "$T/expect.out" 2>&1)
}

edge_stat() {	# NAME [LABEL]: a counter from the edge's REP
	"$SIPLB_BIN/siplbctl" -c "$T/siplb.conf" --json edge stats | jq_py "sum(c[\"value\"] for c in d[\"counters\"] if c[\"name\"] == \"$1\" and (\"${2:-}\" == \"\" or c[\"label\"] == \"${2:-}\"))"
}

# wait_calls WANT PORT...: until the nodes' completed calls add up to WANT
# (their statistics are written every second, after each call's timewait)
nodes_calls() { local p got=0; for p in "$@"; do got=$((got + $(node_calls "$p"))); done; echo "$got"; }
_calls_at_least() { local want=$1 got; shift; got=$(nodes_calls "$@"); echo "$got"; [ "$got" -ge "$want" ]; }
wait_calls() {
	local want=$1
	shift
	wait_until 6 "the nodes on $* to complete $want calls" _calls_at_least "$want" "$@"
	echo "$WAIT_OUT"
}

# wait_stats PORT...: until every node's statistics file was written after
# the last stats_mark, so that it counts every call it received until then
# (sipp writes it every second: -fd 1).  uac marks its end; a test that
# runs a caller of its own (sipp straight to a node, in the background)
# calls stats_mark once that is over, or where it wants a count of now.
stats_mark() { touch "$T/uac.ended"; }
_stats_fresh() {
	local p
	for p in "$@"; do
		[ "$T/node-$p.csv" -nt "$T/uac.ended" ] || { echo "node $p: not written since"; return 1; }
	done
}
wait_stats() { wait_until 3 "the statistics of the nodes on $* written after stats_mark (the end of the last caller)" _stats_fresh "$@"; }
