# Helpers for the HA tests (sourced after lib.sh): a LAN of network
# namespaces that the test makes and removes itself, as in the deployment
# siplb replaces (two proxy hosts sharing a VIP through keepalived, FreeSWITCH
# nodes behind them, phones in front):
#
#   e1 10.99.0.11, e2 10.99.0.12  the whole suite + keepalived (VIP .32)
#   n1 10.99.0.21, n2 10.99.0.22  sipp answering calls (FreeSWITCH)
#   cli 10.99.0.100                sipp placing calls to the VIP
#
# Each edge host runs edge, scheduler, prober and dialogd with its own
# run_dir; the edges publish their dialog events over tcp:// on the host's
# own address, and the scheduler and dialogd of *both* hosts subscribe to
# both edges, so each host's load table and dialog store hold every call:
# the survivor knows the calls of the host that died.  keepalived runs the
# configuration shipped in deploy/keepalived, addresses adapted.
[ "$(id -u)" = 0 ] || fail "the HA tests need root (network namespaces, keepalived)"
for c in keepalived ip sipp; do
	command -v "$c" > /dev/null || fail "$c missing (scripts/deps.sh)"
done

HA=slbha$$			# namespace prefix, unique per run
VIP=10.99.0.32
SIPP_DIR="$SIPLB_TOP/tests/sipp"
declare -A HOST_IP=([e1]=10.99.0.11 [e2]=10.99.0.12 [n1]=10.99.0.21
    [n2]=10.99.0.22 [cli]=10.99.0.100)
HA_NS=()

ns() { echo "$HA-$1"; }
in_ns() { local n=$1; shift; ip netns exec "$(ns "$n")" "$@"; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }

ns_busy() {
	local n
	for n in "${HA_NS[@]}"; do
		[ -n "$(ip netns pids "$n" 2>/dev/null)" ] && return 0
	done
	return 1
}
ha_cleanup() {
	local n p sig
	# whatever still runs in a namespace of ours (sipp -bg, keepalived
	# children, a stopped edge) goes with it: TERM, then KILL
	for sig in TERM KILL; do
		for n in "${HA_NS[@]}"; do
			for p in $(ip netns pids "$n" 2>/dev/null); do
				kill -CONT "$p" 2>/dev/null
				kill "-$sig" "$p" 2>/dev/null
			done
		done
		wait_while 3 "our namespaces to empty after SIG$sig" ns_busy 2>/dev/null
	done
	for n in "${HA_NS[@]}"; do ip netns del "$n" 2>/dev/null; done
	return 0
}
CLEANUPS+=(ha_cleanup)

# ha_net: the LAN (a bridge in its own namespace) and a veth per host
ha_net() {
	local i=0 h
	ip netns add "$(ns lan)" || fail "ip netns add"
	HA_NS+=("$(ns lan)")
	ip -n "$(ns lan)" link add br0 type bridge
	ip -n "$(ns lan)" link set br0 up
	for h in e1 e2 n1 n2 cli; do
		i=$((i + 1))
		ip netns add "$(ns $h)" || fail "ip netns add $h"
		HA_NS+=("$(ns $h)")
		ip -n "$(ns lan)" link add "p$i" type veth peer name eth0 netns "$(ns $h)"
		ip -n "$(ns lan)" link set "p$i" master br0 up
		ip -n "$(ns $h)" link set lo up
		ip -n "$(ns $h)" addr add "${HOST_IP[$h]}/24" dev eth0
		ip -n "$(ns $h)" link set eth0 up
	done
	ok "network namespaces: ${HA_NS[*]}"
}

# ha_host_config N: siplb.conf of edge host eN
ha_host_config() {
	local n=$1 d="$T/e$1" ip=${HOST_IP[e$1]}
	local pubs="tcp://${HOST_IP[e1]}:7101, tcp://${HOST_IP[e2]}:7101"
	local reps="tcp://${HOST_IP[e1]}:7102, tcp://${HOST_IP[e2]}:7102"
	mkdir -p "$d"
	cat > "$d/siplb.conf" <<CONF
[general]
run_dir = $d
[scheduler]
nodes_file = $T/nodes.conf
edge_pubs = $pubs
edge_reps = $reps
[edge]
id = $n
listen = udp:$VIP:5060
advertise = $VIP
pub = tcp://$ip:7101
rep = tcp://$ip:7102
fr_timeout = 1000
[prober]
listen = udp:$ip:0
interval = 1000
timeout = 500
[dialogd]
edge_pubs = $pubs
edge_reps = $reps
store = sqlite
sqlite_path = dialogs.db
[ctl]
timeout = 500
CONF
}

# ha_start N PROGRAM: start a program of host eN; its pid in PID_<prog>_eN
ha_start() {
	local n=$1 prog=$2 v
	# ip netns exec execs the program: $! is its pid (not a subshell's)
	ip netns exec "$(ns "e$n")" "$SIPLB_BIN/siplb-$prog" -c "$T/e$n/siplb.conf" >> "$T/e$n-$prog.log" 2>&1 &
	v="PID_${prog}_e$n"
	printf -v "$v" '%s' "$!"
	PIDS+=("$!")
	disown "$!"	# killed on purpose: no job notices from bash
}

ha_ctl() { local n=$1; shift; in_ns "e$n" "$SIPLB_BIN/siplbctl" -c "$T/e$n/siplb.conf" "$@"; }

# ha_suite N: the suite on host eN, up when `siplbctl health` says so
ha_suite_up() { ha_ctl "$1" health && grep -q 'node table from the scheduler' "$T/e$1-edge.log"; }
ha_suite() {
	local n=$1
	ha_start "$n" dialogd
	ha_start "$n" scheduler
	ha_start "$n" prober
	ha_start "$n" edge
	wait_until 10 "the suite on e$n healthy, its edge with a node table" ha_suite_up "$n" && {
		ok "suite up on e$n"; return 0; }
	fail "suite on e$n not healthy within 10 s: $(ha_ctl "$n" health 2>&1)"
}

# ha_keepalived N: the shipped configuration for edge N, in host eN
ha_keepalived() {
	local n=$1 d="$T/e$1" v
	sed -e "s|/usr/local/bin/siplbctl -c /etc/siplb/siplb.conf|$SIPLB_BIN/siplbctl -c $d/siplb.conf|" \
	    -e "s|/usr/local/share/siplb/keepalived-notify.sh|$SIPLB_TOP/deploy/keepalived/keepalived-notify.sh|" \
	    -e "s|172\.16\.100\.32/24|$VIP/24|" \
	    -e "s|/run/siplb/vrrp.state|$d/vrrp.state|" \
	    "$SIPLB_TOP/deploy/keepalived/keepalived-edge$n.conf" > "$d/keepalived.conf"
	grep -q "$VIP/24" "$d/keepalived.conf" || fail "VIP not set in keepalived-edge$n.conf"
	ip netns exec "$(ns "e$n")" keepalived -n -l -D -G -P -f "$d/keepalived.conf" \
	    -p "$d/keepalived.pid" -r "$d/keepalived.vrrp.pid" >> "$T/e$n-keepalived.log" 2>&1 &
	v="PID_keepalived_e$n"
	printf -v "$v" '%s' "$!"
	PIDS+=("$!")
	disown "$!"	# killed on purpose: no job notices from bash
}

# vrrp_state N: eN's state as keepalived's notify hook last wrote it
vrrp_state() { local s; read -r s _ < "$T/e$1/vrrp.state" 2>/dev/null; echo "${s:-none}"; }
# wait_state N STATE: up to 5 s
wait_state() {
	wait_eq 5 "e$1's keepalived notify hook to report $2" "$2" vrrp_state "$1"
	assert_eq "e$1's keepalived notify hook reports $2" "$(vrrp_state "$1")" "$2"
}

has_vip() { ip -n "$(ns "$1")" -4 -o addr show dev eth0 2>/dev/null | grep -q " $VIP/"; }

# wait_vip HOST SECONDS: 0 when HOST holds the VIP within SECONDS (20 ms polls)
wait_vip() { wait_until -i 0.02 "$2" "$1 to hold the VIP" has_vip "$1"; }

# ha_nodes: sipp FreeSWITCH stand-ins on n1 and n2, and the node table
ha_nodes() {
	local h out pid i=0
	: > "$T/nodes.conf"
	for h in n1 n2; do
		i=$((i + 1))
		printf '[node %d]\nuri = sip:%s:5060\ngroup = 1\nset = 1\nresources = pstn=500\nprobe_mode = 1\n\n' \
		    "$i" "${HOST_IP[$h]}" >> "$T/nodes.conf"
		out=$(cd "$T" && in_ns "$h" sipp -sf "$SIPP_DIR/uas.xml" -i "${HOST_IP[$h]}" -p 5060 -bg \
		    -trace_stat -stf "$T/$h.csv" -fd 1 -trace_err -error_file "$T/$h.err" 2>&1)
		pid=$(printf '%s\n' "$out" | sed -n 's/.*PID=\[\([0-9]*\)\].*/\1/p')
		[ -n "$pid" ] || fail "sipp node on $h: $out"
		PIDS+=("$pid")
	done
}

# ha_up: everything, with e1 the VRRP master and e2 the backup
ha_up() {
	local t0
	ha_net
	ha_nodes
	ha_host_config 1
	ha_host_config 2
	ha_suite 1
	ha_suite 2
	# both are BACKUP with nopreempt on e1: whoever is master first keeps
	# the VIP, so e1 starts alone and e2 once e1 holds it
	t0=$(now)
	ha_keepalived 1
	wait_vip e1 10 || fail "e1 did not take the VIP: $(tail -n 5 "$T/e1-keepalived.log")"
	ok "e1 holds the VIP $VIP ($(since "$t0") s after keepalived started)"
	wait_state 1 MASTER
	ha_keepalived 2
	wait_for_log 10 "$T/e2-keepalived.log" 'Entering BACKUP STATE'
	grep -q 'Entering BACKUP STATE' "$T/e2-keepalived.log" || fail "e2 never became BACKUP"
	has_vip e2 && fail "both hosts hold the VIP"
	ok "e2 is the VRRP backup"
	wait_state 2 BACKUP
}

# ha_uac NAME CALLS RATE PAUSE_MS [sipp args]: calls from cli to the VIP
# in the background; ha_uac_wait NAME then sets OK and FAILED.  A call
# whose INVITE the dying edge had answered with 100 but never forwarded
# waits for a final answer that will not come: after 12 s without a
# message it counts as failed (a phone gives up too), not as neither.
ha_uac() {
	local name=$1 n=$2 rate=$3 pause=$4 port
	shift 4
	case $name in long) port=5070 ;; *) port=5080 ;; esac
	mkdir -p "$T/uac-$name"	# sipp writes its -trace_rtt file here
	(cd "$T/uac-$name" && timeout 200 ip netns exec "$(ns cli)" sipp -sf "$SIPP_DIR/uac.xml" "$VIP:5060" \
	    -i "${HOST_IP[cli]}" -p "$port" -m "$n" -r "$rate" -d "$pause" -l 500 -nostdin \
	    -timeout 150 -timeout_error -recv_timeout 12000 \
	    -trace_err -error_file "$T/uac-$name.err" \
	    -trace_rtt -rtt_freq 1 "$@" \
	    > "$T/uac-$name.out" 2>&1) &
	printf -v "UAC_BG_$name" '%s' "$!"
}
ha_uac_wait() {
	local name=$1 v="UAC_BG_$1"
	wait "${!v}"
	OK=$(sipp_count "$T/uac-$name.out" Successful)
	FAILED=$(sipp_count "$T/uac-$name.out" Failed)
	[ -n "$OK" ] || fail "sipp ($name) printed no statistics: $(tail -n 5 "$T/uac-$name.out")"
}
# setup_times NAME: "the slowest INVITE-to-200 in ms, and how many took
# over a second", from sipp's -trace_rtt file (Date_ms;response_time;rtd_no)
setup_times() {
	cat "$T/uac-$1"/*_rtt.csv 2>/dev/null | awk -F';' '$2 ~ /^[0-9.]+$/ {
		if ($2 > m) m = $2; if ($2 > 1000) s++ }
		END { printf "slowest call setup %.0f ms, %d calls set up in over 1 s", m, s }'
}

# dialogs N ARGS: the JSON of `siplbctl dialogs` on host eN
dialogs() { local n=$1; shift; ha_ctl "$n" --json dialogs --limit 10000 "$@"; }
long_calls_up() { dialogs 2 --state confirmed --edge edge:1 | jq_py 'len(d["dialogs"])'; }
live_on() { dialogs "$1" | jq_py 'sum(1 for x in d["dialogs"] if x["state"] != "terminated")'; }
load_on() { ha_ctl "$1" --json nodes | jq_py 'sum(n["resources"]["pstn"]["load"] for n in d["nodes"])'; }

# ha_failover HOW: the scenario every HA test runs, HOW being what happens
# to the active edge host e1:
#   host-crash   its link goes down and every process on it is SIGKILLed
#   edge-hung    the edge process is stopped (SIGSTOP); keepalived runs on
#   edge-killed  the edge process is SIGKILLed; keepalived runs on
# Long calls are established through e1 before, a stream of short calls
# runs across the failover; the test reports the failover time and the
# failed calls and bounds both.
ha_failover() {
	local how=$1 bound=$2 t0 took keys dt p n
	ha_up

	# 30 calls of 14 s, all up through e1 (and in both stores) before the kill
	long_t0=$(now)
	ha_uac long 30 30 14000
	wait_eq 5 "the 30 long calls up through e1 in e2's store" 30 long_calls_up
	keys=$(dialogs 2 --state confirmed --edge edge:1 | jq_py '" ".join(sorted(x["key"] for x in d["dialogs"]))')
	assert_eq "the 30 long calls are up through e1, in e2's store too" "$(echo "$keys" | wc -w)" 30
	wait_eq 5 "e2's scheduler to count e1's calls" 30 load_on 2
	assert_eq "e2's scheduler counts e1's calls" "$(load_on 2)" 30

	# a stream of short calls across the failover: 10 a second for 12 s
	ha_uac stream 120 10 1000
	sleep 3	# not a wait: the stream runs for 3 s before the failure
	t0=$(now)
	case $how in
	host-crash)
		ip -n "$(ns e1)" link set eth0 down
		for p in $(ip netns pids "$(ns e1)"); do kill -KILL "$p" 2>/dev/null; done
		;;
	edge-hung) kill -STOP "$PID_edge_e1" ;;
	edge-killed) kill -KILL "$PID_edge_e1" ;;
	esac
	ok "e1: $how"
	wait_vip e2 15 || fail "the VIP did not move to e2 within 15 s"
	took=$(since "$t0")
	# the long calls hang up 14 s after they began: after the failover
	awk -v t="$(since "$long_t0")" 'BEGIN { exit !(t < 13) }' ||
	    fail "the failover ended $(since "$long_t0") s after the long calls began: their BYEs may have gone through e1"
	if [ "$how" != host-crash ]; then
		# e1 sends priority 0, then removes the VIP: both may hold it
		# for a moment (a crashed host keeps it on its dead link)
		wait_while -i 0.02 1 "e1 to drop the VIP" has_vip e1
		has_vip e1 && fail "e1 still holds the VIP 1 s after the failover"
	fi
	echo "failover ($how): the VIP was on e2 $took s after the failure"
	awk -v t="$took" -v b="$bound" 'BEGIN { exit !(t <= b) }' ||
	    fail "failover took $took s, more than $bound s"
	ok "failover within $bound s"
	wait_state 2 MASTER
	[ "$how" = host-crash ] || wait_state 1 FAULT

	ha_uac_wait stream
	SFAILED=$FAILED
	echo "stream of calls across the failover: $OK succeeded, $FAILED failed; $(setup_times stream)"
	[ "$((OK + FAILED))" -eq 120 ] || fail "stream: $OK + $FAILED calls, want 120"
	[ "$FAILED" -le 6 ] || fail "$FAILED of 120 calls failed across the failover (bound 6)"
	ok "at most 6 of 120 calls failed across the failover ($FAILED)"

	ha_uac_wait long
	echo "long calls: $OK succeeded, $FAILED failed"
	assert_eq "every call established through e1 ended with a BYE that succeeded through e2" "$OK" 30

	# new calls after the failover are served by e2 alone
	ha_uac after 20 20 200
	ha_uac_wait after
	assert_eq "new calls after the failover succeed" "$OK/$FAILED" "20/0"

	# the store lost nothing: e2's holds every long call, ended by its BYE
	wait_eq 5 "no live dialog left in e2's store" 0 live_on 2
	assert_eq "no live dialog left in e2's store" "$(live_on 2)" 0
	# a row's edge is the edge of its latest event: the BYE's
	dt=$(dialogs 2 --state terminated | jq_py "sum(1 for x in d['dialogs'] if x['key'] in set('$keys'.split()) and x['reason'] == 'bye' and x['edge'] == 'edge:2')")
	assert_eq "e2's store ended each of e1's 30 calls with a BYE relayed by e2" "$dt" 30
	dt=$(dialogs 2 --state terminated | jq_py 'len(d["dialogs"])')
	[ "$dt" -ge $((30 + 120 - SFAILED + 20)) ] ||
	    fail "e2's store has $dt ended dialogs, fewer than the calls that succeeded"
	ok "e2's store holds every call that succeeded ($dt ended dialogs)"
	assert_eq "e2's scheduler load back to 0" "$(load_on 2)" 0

	if [ "$how" = edge-hung ]; then
		# the hung edge wakes up with the calls of before in its table:
		# they ended meanwhile, and must not come back as load when the
		# schedulers resync from its snapshot
		local s1 s2 d1 d2
		s1=$(grep -c 'edge 1: synced at seq' "$T/e1-scheduler.log")
		s2=$(grep -c 'edge 1: synced at seq' "$T/e2-scheduler.log")
		d1=$(log_count "$T/e1-dialogd.log" 'edge 1: synced at seq')
		d2=$(log_count "$T/e2-dialogd.log" 'edge 1: synced at seq')
		kill -CONT "$PID_edge_e1"
		ok "e1's edge resumed (SIGCONT)"
		# both schedulers take e1's snapshot again (they asked while it
		# was stopped): that is where ended calls would come back
		resynced() {	# LOG-PREFIX COUNT1 COUNT2: both hosts' LOGs synced again
			[ "$(log_count "$T/e1-$1.log" 'edge 1: synced at seq')" -gt "$2" ] &&
			    [ "$(log_count "$T/e2-$1.log" 'edge 1: synced at seq')" -gt "$3" ]
		}
		wait_until 10 "both schedulers to resync from e1's edge" resynced scheduler "$s1" "$s2"
		[ "$(grep -c 'edge 1: synced at seq' "$T/e1-scheduler.log")" -gt "$s1" ] &&
		    [ "$(grep -c 'edge 1: synced at seq' "$T/e2-scheduler.log")" -gt "$s2" ] ||
		    fail "the schedulers did not resync from e1's edge within 10 s of its resume"
		ok "both schedulers resynced from the resumed edge's snapshot"
		wait_until 10 "both dialog stores to resync from e1's edge" resynced dialogd "$d1" "$d2"
		assert_eq "e1's scheduler load after the edge resumed" "$(load_on 1)" 0
		assert_eq "e2's scheduler load after the edge resumed" "$(load_on 2)" 0
		assert_eq "no live dialog in e2's store after the edge resumed" "$(live_on 2)" 0
		assert_eq "no live dialog in e1's store after the edge resumed" "$(live_on 1)" 0
		n=$(ha_ctl 1 --json edge stats | jq_py 'sum(c["value"] for c in d["counters"] if c["name"] == "dialogs_ended_elsewhere")')
		[ "$n" -ge 30 ] || fail "e1's edge forgot $n dialogs ended elsewhere, want >= 30"
		ok "e1's edge checked its table against the store after the stall: $n dialogs ended elsewhere, ended there too"
		# INVITEs that queued up while it hung are still being refused
		# (the VIP it would send from is gone): wait for the last one
		e1_dialogs() { ha_ctl 1 --json edge stats | jq_py 'sum(c["value"] for c in d["counters"] if c["name"] == "dialogs")'; }
		wait_eq 5 "e1's edge to hold no dialog" 0 e1_dialogs
		assert_eq "e1's edge holds no dialog" "$(e1_dialogs)" 0
		wait_state 1 BACKUP	# its check passes again
		has_vip e2 || fail "the VIP left e2 when e1's edge resumed"
		ok "the VIP stays on e2 (nopreempt)"
	fi
}
