# Helpers for ESL feedback tests (sourced after lib.sh and lib-edge.sh):
# the edge's config plus a prober, and a fake FreeSWITCH event socket
# (tests/tools/fake-fs-esl.py) beside each sipp node.
E1=$((BASE + 21)); E2=$((BASE + 22))

# esl_config LOAD_MODE: two nodes with esl= attrs, HEARTBEAT every 1 s
esl_config() {
	edge_config
	sed -i "s|^prober_pub =\$|prober_pub = ipc://$T/prober.pub\nprober_rep = ipc://$T/prober.rep\nload_mode = $1|" "$T/siplb.conf"
	cat >> "$T/siplb.conf" <<CONF
[prober]
pub = ipc://$T/prober.pub
rep = ipc://$T/prober.rep
listen = udp:127.0.0.1:0
interval = 1000
timeout = 500
esl_password = s3cret
esl_interval = 1000
CONF
	printf '[node 1]\nuri = sip:127.0.0.1:%d\ngroup = 1\nset = 1\nresources = pstn=40\nattrs = esl=127.0.0.1:%d\n\n[node 2]\nuri = sip:127.0.0.1:%d\ngroup = 1\nset = 1\nresources = pstn=40\nattrs = esl=127.0.0.1:%d;esl_interval=1\n' "$N1" "$E1" "$N2" "$E2" > "$T/nodes.conf"
}

# fake_fs PORT JSON: a FreeSWITCH event socket with these figures
fake_fs() {
	echo "$2" > "$T/fs-$1.json"
	python3 "$SIPLB_TOP/tests/tools/fake-fs-esl.py" --port "$1" --password s3cret \
	    --interval 1 --state "$T/fs-$1.json" --log "$T/fs-$1.log" >> "$T/fs-$1.out" 2>&1 &
	PIDS+=("$!")
	wait_for_log -p "$!" 5 "$T/fs-$1.out" listening || fail "fake FreeSWITCH on $1 did not start"
}

start_prober() {
	"$SIPLB_BIN/siplb-prober" -c "$T/siplb.conf" >> "$T/prober.log" 2>&1 &
	PIDS+=("$!")
}

node_json() { ctl --json nodes | jq_py "[n$2 for n in d[\"nodes\"] if n[\"id\"] == $1][0]"; }

# wait_json ID EXPR WANT: until node ID's EXPR is WANT (10 s)
wait_json() {
	wait_eq 10 "node $1's $2 to be $3" "$3" node_json "$1" "$2" ||
	    fail "node $1 $2: $WAIT_OUT, want $3"
}
