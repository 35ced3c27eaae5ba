#!/bin/bash
# Two real phones (baresip) call each other through siplb with Path: they
# register through the edge (add_path = yes) to two Kamailio registrars
# sharing one location store (SQLite, as two FreeSWITCH share MySQL), which
# send calls to a phone back on that Path.  The callee's INVITE comes back
# from the node to the edge, which relays it to the phone (route_from_node)
# instead of selecting a node for it.  Calls both ways, each hung up once by
# its caller and once by its callee; the relayed dialogs count on the node
# that sent them and are gone after each BYE.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-edge.sh"

for b in baresip kamailio sqlite3; do
	command -v "$b" > /dev/null || { echo "skip: $b is not installed (scripts/deps.sh)"; exit 77; }
done
KMOD=/usr/lib/x86_64-linux-gnu/kamailio/modules
[ -f "$KMOD/db_sqlite.so" ] || { echo "skip: kamailio-sqlite-modules is not installed (scripts/deps.sh)"; exit 77; }
[ -f /usr/lib/baresip/modules/ctrl_tcp.so ] || { echo "skip: baresip-core has no ctrl_tcp"; exit 77; }

# baresip binds UDP and TCP on its port and TLS on port+1: two apart
P1=$((BASE + 61)); P2=$((BASE + 63)); C1=$((BASE + 71)); C2=$((BASE + 72))
edge_config "add_path = yes" "route_from_node = relay pstn"
# debug: the edge logs each request it relays from a node
sed -i 's/^\[general\]$/[general]\nlog_level = debug/' "$T/siplb.conf"
start_scheduler
start_edge

# one location store for both registrars (db_mode 3: every save and lookup
# on the database), in WAL mode so that both may read while one writes
sqlite3 "$T/loc.db" < /usr/share/kamailio/db_sqlite/standard-create.sql
sqlite3 "$T/loc.db" < /usr/share/kamailio/db_sqlite/usrloc-create.sql
sqlite3 "$T/loc.db" 'PRAGMA journal_mode=WAL;' > /dev/null

# registrar PORT: a Kamailio on PORT storing Path (path_mode 1, as
# FreeSWITCH's fs_path) and record-routing the calls it relays (a
# FreeSWITCH stays in the call as a B2BUA; a proxy must ask to)
registrar() {
	local port=$1
	mkdir -p "$T/kam-$port"
	cat > "$T/kam-$port/kamailio.cfg" <<CFG
#!KAMAILIO
debug=2
log_stderror=yes
children=2
disable_tcp=yes
listen=udp:127.0.0.1:$port
mpath="$KMOD/"
loadmodule "kex.so"
loadmodule "corex.so"
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "pv.so"
loadmodule "maxfwd.so"
loadmodule "siputils.so"
loadmodule "textops.so"
loadmodule "cfgutils.so"
loadmodule "xlog.so"
loadmodule "db_sqlite.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"
modparam("usrloc", "db_url", "sqlite:///$T/loc.db")
modparam("usrloc", "db_mode", 3)
modparam("registrar", "use_path", 1)
modparam("registrar", "path_mode", 1)
request_route {
	if (!mf_process_maxfwd_header("10")) {
		sl_send_reply("483", "Too Many Hops");
		exit;
	}
	if (has_totag()) {
		if (loose_route()) {
			t_relay();
			exit;
		}
		if (is_method("ACK")) {
			if (t_check_trans())
				t_relay();
			exit;
		}
		sl_send_reply("404", "Not Here");
		exit;
	}
	if (is_method("CANCEL")) {
		if (t_check_trans())
			t_relay();
		exit;
	}
	if (is_method("REGISTER")) {
		# db_sqlite sets no busy timeout: the other registrar may
		# hold the write lock for a moment
		\$var(n) = 0;
		while (\$var(n) < 20) {
			if (save("location", "0x02")) {
				reg_send_reply();
				exit;
			}
			usleep("20000");
			\$var(n) = \$var(n) + 1;
		}
		sl_send_reply("500", "Location Store Busy");
		exit;
	}
	if (!lookup("location")) {
		sl_send_reply("404", "Not Found");
		exit;
	}
	record_route();
	xlog("L_NOTICE", "call \$ci for \$tU: \$ru via \$du\n");
	t_relay();
}
CFG
	kamailio -f "$T/kam-$port/kamailio.cfg" -DD -E -m 32 -M 8 \
	    -Y "$T/kam-$port" -w "$T/kam-$port" >> "$T/kam-$port.log" 2>&1 &
	PIDS+=("$!")
	wait_until -p "$!" 10 "kamailio on $port to answer" kam_answers "$port" ||
	    fail "kamailio on $port did not start: $(tail -n 5 "$T/kam-$port.log")"
}
# kam_answers PORT: an OPTIONS to nobody gets an answer (a 404)
kam_answers() {
	printf 'OPTIONS sip:nobody@127.0.0.1:%d SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;rport;branch=z9hG4bK%s\r\nFrom: <sip:t@lab.test>;tag=1\r\nTo: <sip:nobody@lab.test>\r\nCall-ID: %s@t\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 5\r\nContent-Length: 0\r\n\r\n' \
	    "$1" "$RANDOM" "$RANDOM" | python3 "$SIPLB_TOP/tests/integration/sipsend.py" 127.0.0.1 "$1" --wait 0.3 | grep -q 'SIP/2.0'
}
# one after the other: simultaneous first opens of a WAL file fail
registrar "$N1"
registrar "$N2"

# phone USER PORT CTRL: a baresip registering USER@lab.test through the edge
# (its outbound proxy), answering calls itself, playing a sine
phone() {
	local user=$1 port=$2 ctrl=$3 d="$T/phone-$1"
	mkdir -p "$d"
	cat > "$d/config" <<CFG
poll_method epoll
sip_listen 127.0.0.1:$port
net_interface 127.0.0.1
audio_source ausine,440
ausrc_srate 48000
ausrc_channels 2
module_path /usr/lib/baresip/modules
module g711.so
module ausine.so
module_app account.so
module_app menu.so
module_app ctrl_tcp.so
ctrl_tcp_listen 127.0.0.1:$ctrl
CFG
	printf '<sip:%s@lab.test>;outbound="sip:127.0.0.1:%d";regint=60;answermode=auto\n' \
	    "$user" "$EDGE_PORT" > "$d/accounts"
	baresip -f "$d" >> "$T/phone-$user.log" 2>&1 < /dev/null &
	PIDS+=("$!")
	# ctrl_tcp serves one connection: baresip_ctl.py holds it, sends
	# what is written to the FIFO and logs every event and response
	mkfifo "$T/ctl-$user"
	python3 "$SIPLB_TOP/tests/integration/baresip_ctl.py" "$ctrl" "$T/ctl-$user" "$T/events-$user" \
	    >> "$T/phone-$user.ctl.log" 2>&1 &
	PIDS+=("$!")
	wait_for_log -p "$!" 10 "$T/events-$user" '^connected$' ||
	    fail "baresip $user: no ctrl_tcp: $(tail -n 5 "$T/phone-$user.log" "$T/phone-$user.ctl.log")"
}
# say USER COMMAND...: a ctrl_tcp command to USER's phone
say() { local u=$1; shift; echo "$*" > "$T/ctl-$u"; }
phone 1001 "$P1" "$C1"
phone 1002 "$P2" "$C2"

registered() { sqlite3 "$T/loc.db" "SELECT count(*) FROM location WHERE username IN ('1001', '1002') AND path LIKE '%127.0.0.1:$EDGE_PORT;lr%';"; }
wait_eq 10 "both phones registered with the edge's Path" 2 registered
assert_eq "both phones registered, each with the edge's Path" "$WAIT_OUT" 2
ok "registrations: $(sqlite3 "$T/loc.db" 'SELECT username || " " || path FROM location;' | tr '\n' ' ')"

loads() { ctl --json nodes | jq_py '" ".join(str(n["resources"]["pstn"]["load"]) for n in d["nodes"])'; }
events() { log_count "$T/events-$1" "\"type\": \"$2\""; }

# call CALLER CALLEE HANGER: CALLER dials CALLEE, both see the call
# established, the load shows both dialogs, HANGER hangs up, both see it
# closed and the load is back to none
calls=0
call() {
	local from=$1 to=$2 hanger=$3 est_from est_to closed_from closed_to
	est_from=$(events "$from" CALL_ESTABLISHED); est_to=$(events "$to" CALL_ESTABLISHED)
	closed_from=$(events "$from" CALL_CLOSED); closed_to=$(events "$to" CALL_CLOSED)
	say "$from" dial "$to"
	wait_for_log 10 "$T/events-$from" '"type": "CALL_ESTABLISHED"' "$est_from" ||
	    fail "$from -> $to: not established at the caller"
	wait_for_log 5 "$T/events-$to" '"type": "CALL_ESTABLISHED"' "$est_to" ||
	    fail "$from -> $to: not established at the callee"
	calls=$((calls + 1))
	ok "$from -> $to: established at both phones"
	# two dialogs, both on the node that took the call: the caller's,
	# selected, and the callee's, relayed from that node
	wait_until 3 "both dialogs counted on one node" _loads_one_node 2 ||
	    fail "$from -> $to: load '$(loads)', want 2 on one node; edge: $(ctl --json edge stats | tr -d ' \n' | grep -o '"name":"\(relayed_from_node\|dialogs\)"[^}]*' | tr '\n' ' ')"
	ok "$from -> $to: load $(loads): the relayed dialog counts on the node that sent it"
	say "$hanger" hangup
	wait_for_log 5 "$T/events-$from" '"type": "CALL_CLOSED"' "$closed_from" ||
	    fail "$from -> $to: the caller never saw the call end"
	wait_for_log 5 "$T/events-$to" '"type": "CALL_CLOSED"' "$closed_to" ||
	    fail "$from -> $to: the callee never saw the call end"
	wait_eq 3 "the load of the call released" "0 0" loads
	assert_eq "$from -> $to hung up by $hanger: both phones saw it end, no load left" "$(loads)" "0 0"
}
_loads_one_node() { local l; l=$(loads); echo "$l"; [ "$l" = "$1 0" ] || [ "$l" = "0 $1" ]; }

call 1001 1002 1001
call 1001 1002 1002
call 1002 1001 1002
call 1002 1001 1001
assert_eq "calls established" "$calls" 4

# every callee's INVITE came back from a registrar and was relayed, never
# selected: 4 relayed; 4 selections (the callers' INVITEs) besides
assert_eq "the callee's INVITE relayed from the node, 4 times" "$(edge_stat relayed_from_node)" 4
relayed=$(log_count "$T/edge.log" 'relay: INVITE .* from node [12] relayed to "sip:100[12]-[^"]*@127.0.0.1:\('"$P1\|$P2"'\)')
assert_eq "the edge logged 4 INVITEs from a node relayed to a phone's contact" "$relayed" 4
assert_eq "no 4xx on the way (no 404 from a registrar)" "$(edge_stat responses_sent_by_class 4xx)" 0
kam=$(cat "$T"/kam-*.log | grep -c "call .* via sip:127.0.0.1:$EDGE_PORT;lr")
assert_eq "the registrars sent the 4 calls on the Path (to the edge)" "$kam" 4
assert_eq "no dialog left at the edge" "$(edge_stat dialogs)" 0
