# Helpers for siplb-admin tests (sourced after lib.sh and lib-edge.sh): the
# whole suite on loopback (dialogd, scheduler, edge) plus siplb-admin with a
# token file, and curl wrappers.
ADMIN_PORT=$((BASE + 97))
URL="http://127.0.0.1:$ADMIN_PORT"
TOKEN=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')

admin_config() {	# [extra lines...]: siplb.conf for the suite and admin
	cat > "$T/siplb.conf" <<CONF
[general]
run_dir = $T
[scheduler]
nodes_file = nodes.conf
prober_pub =
dialogd_pub = ipc://$T/dialogd.pub
dialogd_rep = ipc://$T/dialogd.rep
[edge]
listen = udp:127.0.0.1:$EDGE_PORT
dialogd = ipc://$T/dialogd.rep
[dialogd]
store = sqlite
sqlite_path = $T/dialogs.db
[admin]
listen = 127.0.0.1:$ADMIN_PORT
token_file = $T/admin.token
CONF
	for l in "$@"; do echo "$l" >> "$T/siplb.conf"; done
	printf '[node 1]\nuri = sip:127.0.0.1:%d\ngroup = 1\nset = 1\nresources = pstn=500\nprobe_mode = 1\n\n[node 2]\nuri = sip:127.0.0.1:%d\ngroup = 1\nset = 1\nresources = pstn=500\nprobe_mode = 1\n' "$N1" "$N2" > "$T/nodes.conf"
	(umask 077; echo "$TOKEN" > "$T/admin.token")
}

start_bg() {	# NAME BINARY: start (again), record the pid in PID_NAME
	"$SIPLB_BIN/$2" -c "$T/siplb.conf" >> "$T/$1.log" 2>&1 &
	eval "PID_$1=$!"
	PIDS+=("$!")
}

start_admin() {
	start_bg admin siplb-admin
	wait_for_log -i 0.05 -p "$PID_admin" 5 "$T/admin.log" 'ready' && return 0
	alive "$PID_admin" || fail "siplb-admin exited: $(tail -n 5 "$T/admin.log")"
	fail "siplb-admin not ready within 5 s"
}

start_suite() {
	start_bg dialogd siplb-dialogd
	start_scheduler
	start_edge
	start_admin
}

# api METHOD PATH [BODY] [TOKEN]: sets CODE and RESP
api() {
	local tok=${4-$TOKEN} args=()
	[ -n "$tok" ] && args+=(-H "Authorization: Bearer $tok")
	[ -n "${3-}" ] && args+=(-H 'Content-Type: application/json' --data-binary "$3")
	CODE=$(curl -s -m 10 -o "$T/resp" -w '%{http_code}' -X "$1" "${args[@]}" "$URL$2")
	RESP=$(cat "$T/resp")
}
# expect_api WHAT WANT-CODE METHOD PATH [BODY] [TOKEN]
expect_api() {
	local what=$1 want=$2
	shift 2
	api "$@"
	[ "$CODE" = "$want" ] || fail "$what: HTTP $CODE, want $want: $RESP"
	ok "$what ($CODE)"
}
# rj PY-EXPR: evaluate over the last response (d)
rj() { printf '%s' "$RESP" | jq_py "$1"; }
