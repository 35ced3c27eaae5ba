#!/bin/sh
# siplb-lab-health SERVICE: the compose lab's health checks (exit 0 healthy).
#   scheduler  the scheduler answers a statistics request on its REP
#   dialogd    dialogd answers a dialog count (so its store is open)
#   edge       siplbctl health: the edge and the scheduler answer
#   prober     the prober's REP listener is open (no client speaks to it)
#   admin      GET /healthz is 200: the scheduler, dialogd and edge answer
#   node       the node's sipp answers an OPTIONS with 200
#   mariadb    the scheduler's user reads the OpenSIPS load_balancer table
conf=${SIPLB_CONF:-/etc/siplb/siplb.conf}
ctl() { siplbctl -c "$conf" --timeout 1500 "$@" > /dev/null; }
# key SECTION KEY: a value of the config file
key() {
	sed -n "/^\[$1\]/,/^\[/ s/^$2[[:space:]]*=[[:space:]]*//p" "$conf" | tail -n 1
}

case "${1:-}" in
scheduler) ctl stats ;;
dialogd) ctl dialogs --counts ;;
edge) ctl health ;;
prober)
	port=$(key prober rep | sed -n 's/^tcp:\/\/.*:\([0-9]*\)$/\1/p')
	[ -n "$port" ] || { echo "[prober] rep is not tcp://HOST:PORT" >&2; exit 1; }
	hex=$(printf ':%04X ' "$port")
	# state 0A: LISTEN
	grep -q "^ *[0-9]*: [0-9A-F]*${hex}[0-9A-F:]* 0A " /proc/net/tcp /proc/net/tcp6 2>/dev/null
	;;
admin)
	listen=$(key admin listen)
	curl -fsS -m 3 -o /dev/null "http://127.0.0.1:${listen##*:}/healthz"
	;;
node)
	# the node's sipp holds its address only (as siplb-lab-node runs it);
	# the ping comes from a port of its own, as sipp would take 5060 too
	ip=${NODE_IP:-$(hostname -i | cut -d' ' -f1)}
	sipp -sf /usr/local/share/siplb/docker/options-ping.xml \
	    "$ip:${NODE_PORT:-5060}" -i "$ip" -p 5099 -m 1 -nostdin \
	    -timeout 3 -timeout_error > /dev/null 2>&1
	;;
mariadb)
	MYSQL_PWD=opensipsrw mariadb --no-defaults -h 127.0.0.1 -u opensips \
	    -e 'SELECT COUNT(*) FROM load_balancer' opensips > /dev/null
	;;
*)
	echo "usage: siplb-lab-health scheduler|dialogd|edge|prober|admin|node|mariadb" >&2
	exit 2
	;;
esac
