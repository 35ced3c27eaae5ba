#!/bin/bash
# The compose lab (docker-compose.yml), really started: a Docker engine in a
# network namespace of its own (scripts/compose-lab), a Debian base image
# made here with mmdebstrap, `docker-compose up --build` of every service.
# Every container gets healthy; a sipp call through the edge container
# reaches a node container and is stored by dialogd in MariaDB; the edge's
# process killed with SIGKILL from the host is restarted by its restart
# policy, healthy again, and calls go through again; `docker-compose down
# -v` leaves nothing.  The engine, its namespace, mounts, cgroups and /run
# dirs are removed on any exit.
. "$(dirname "$0")/lib.sh"

for c in docker-compose dockerd mmdebstrap nsenter sipp curl; do
	command -v "$c" > /dev/null || { echo "$c not installed (scripts/deps.sh)"; exit 77; }
done
[ "$(id -u)" = 0 ] || { echo "needs root (network namespace, dockerd)"; exit 77; }

LAB="$SIPLB_TOP/scripts/compose-lab"
DOCKER=/usr/bin/docker		# docker.io's client, the engine's version
NS=slbdk-$$
PROJ=slbdk$$
DIR=$T/engine
COMPOSE=(docker-compose -f "$SIPLB_TOP/docker-compose.yml" -p "$PROJ")
SERVICES="admin dialogd edge mariadb node1 node2 prober scheduler"
export DOCKER_HOST="unix://$DIR/docker.sock" SIPLB_BASE=siplb-base:bookworm
# the compose file's defaults: ports 5060 and 8080, a random admin token
unset SIPLB_LAB_SIP_PORT SIPLB_LAB_ADMIN_PORT SIPLB_ADMIN_TOKEN
# a developer may keep the rootfs between runs; CI makes it every time
[ -n "${SIPLB_COMPOSE_BASE_TAR:-}" ] && export SIPLB_BASE_TAR=$SIPLB_COMPOSE_BASE_TAR
ENGINE=
trap 'exit 143' TERM INT	# so that the EXIT trap cleans up

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
T_ALL=$(now)

# everything this test made, also when it fails
compose_cleanup() {
	[ -n "$ENGINE" ] || return 0
	if "$DOCKER" version > /dev/null 2>&1; then
		timeout 60 "${COMPOSE[@]}" logs --no-color > "$T/containers.log" 2>&1
		timeout 120 "${COMPOSE[@]}" down -v -t 5 >> "$T/compose.log" 2>&1
	fi
	cp "$DIR/dockerd.log" "$T/dockerd.log" 2>/dev/null
	"$LAB" engine-down "$DIR" >> "$T/engine.log" 2>&1
	[ -z "${SIPLB_COMPOSE_BASE_TAR:-}" ] && rm -f "$DIR/base.tar" "$DIR/base.tar.pkgs"
	ENGINE=
}
CLEANUPS+=("compose_cleanup")

# cid SERVICE: the id of the service's container (a restart keeps it)
declare -A CID
load_cids() {
	local s
	for s in $SERVICES; do
		CID[$s]=$("$DOCKER" ps -aq --filter "label=com.docker.compose.project=$PROJ" \
		    --filter "label=com.docker.compose.service=$s")
		[ -n "${CID[$s]}" ] || fail "no container for $s"
	done
}
cid() { echo "${CID[$1]}"; }
inspect() { "$DOCKER" inspect -f "$2" "$1"; }	# CONTAINER FORMAT
in_ns() { nsenter --net="/run/netns/$NS" "$@"; }

# --- the file itself: Debian's docker-compose reads it (no engine needed)
docker-compose -f "$SIPLB_TOP/docker-compose.yml" config -q > "$T/config.log" 2>&1 \
	|| fail "docker-compose config -q: $(cat "$T/config.log")"
assert_eq "docker-compose config -q passes; services" \
	"$(docker-compose -f "$SIPLB_TOP/docker-compose.yml" config --services | sort | tr '\n' ' ')" "$SERVICES "

# --- the engine, in namespace $NS, state under $DIR
t=$(now)
had_docker0=no
[ -e /sys/class/net/docker0 ] && had_docker0=yes
ENGINE=1	# from here on the cleanup runs engine-down, whatever engine-up did
"$LAB" engine-up "$DIR" "$NS" >> "$T/engine.log" 2>&1 || fail "engine-up: $(tail -n 5 "$T/engine.log")"
ip netns list | grep -q "^$NS\b" || fail "namespace $NS not made"
ok "dockerd answers in namespace $NS ($(since "$t") s)"
[ $had_docker0 = no ] && [ -e /sys/class/net/docker0 ] && fail "docker0 in the host's namespace"

t=$(now)
timeout 400 "$LAB" base-image "$DIR" "$SIPLB_BASE" >> "$T/engine.log" 2>&1 \
	|| fail "base-image: $(tail -n 5 "$T/engine.log")"
ok "base image $SIPLB_BASE made ($(since "$t") s: $(grep -E 'mmdebstrap:|rootfs|import:' "$T/engine.log" | sed 's/compose-lab: //' | tr '\n' ' '))"

# --- up --build: the images from the local base, every container
t=$(now)
timeout 400 "${COMPOSE[@]}" up --build -d > "$T/compose.log" 2>&1 \
	|| fail "docker-compose up --build: $(tail -n 15 "$T/compose.log")"
# the mariadb, builder and siplb stages each found every package in the base
[ "$(grep -c 'install-packages: all [0-9]* packages already installed' "$T/compose.log")" = 3 ] &&
    ! grep -q 'install-packages: installing' "$T/compose.log" \
	|| fail "a stage installed packages (the base holds them all): $(grep 'install-packages:' "$T/compose.log")"
grep -q 'LD .*siplb-edge' "$T/compose.log" || fail "make all did not run in the builder"
ok "docker-compose up --build -d ($(since "$t") s; make all in the builder, no package installed)"
load_cids
t_up=$(now)

# every service healthy (bounded)
healthy_services() {
	local s c healthy=""
	for s in $SERVICES; do
		c=$(cid "$s")
		[ -n "$c" ] && [ "$(inspect "$c" '{{.State.Health.Status}}')" = healthy ] && healthy="$healthy $s"
	done
	echo "$healthy"
}
wait_eq -i 0.5 60 "every service healthy" " $SERVICES" healthy_services
healthy=$WAIT_OUT
[ "$healthy" = " $SERVICES" ] || {
	"$DOCKER" ps -a > "$T/ps.log" 2>&1
	fail "not every service healthy after 60 s; healthy:$healthy"
}
ok "all 8 services healthy ($(since "$t_up") s after up returned, $(since "$t") s from up --build)"

for s in $SERVICES; do
	c=$(cid "$s")
	got="$(inspect "$c" '{{.HostConfig.RestartPolicy.Name}} {{.Config.User}} {{len .Config.Healthcheck.Test}}')"
	want_user=siplb
	[ "$s" = mariadb ] && want_user=mysql
	[ "$got" = "unless-stopped $want_user 3" ] || fail "$s: restart policy, user, health check: '$got'"
done
ok "every container: restart unless-stopped, a health check, not root (siplb, mysql)"
assert_eq "edge publishes SIP on the engine host's 127.0.0.1 only" \
	"$(inspect "$(cid edge)" '{{range $p, $b := .HostConfig.PortBindings}}{{$p}}={{(index $b 0).HostIp}}:{{(index $b 0).HostPort}} {{end}}')" \
	"5060/tcp=127.0.0.1:5060 5060/udp=127.0.0.1:5060 "

GW=$("$DOCKER" network inspect -f '{{(index .IPAM.Config 0).Gateway}}' "${PROJ}_lab")
EDGE_IP=$(inspect "$(cid edge)" "{{(index .NetworkSettings.Networks \"${PROJ}_lab\").IPAddress}}")
[ -n "$GW" ] && [ -n "$EDGE_IP" ] || fail "no lab network addresses (gateway '$GW', edge '$EDGE_IP')"

# --- the admin API through its published port; the prober reaches the nodes
TOKEN=$("$DOCKER" exec "$(cid admin)" cat /var/lib/siplb/admin.token)
[ ${#TOKEN} -ge 32 ] || fail "admin token '$TOKEN'"
api() {	# PATH [TOKEN]: the admin API from the engine's namespace; sets CODE, RESP
	local auth=()
	[ -n "${2:-}" ] && auth=(-H "Authorization: Bearer $2")
	CODE=$(in_ns curl -s -m 5 -o "$T/resp" -w '%{http_code}' "${auth[@]}" \
	    "http://127.0.0.1:8080$1")
	RESP=$(cat "$T/resp")
}
api /healthz
assert_eq "GET /healthz on 127.0.0.1:8080" "$CODE $(printf '%s' "$RESP" | jq_py 'd["status"]')" "200 ok"
api /api/v1/nodes
assert_eq "no token: 401" "$CODE" 401
nodes_up() {
	api /api/v1/nodes "$TOKEN"
	printf '%s' "$RESP" | jq_py '" ".join("%d=%s:%s:%s" % (n["id"], n["uri"], n["up"], n["last_code"]) for n in sorted(d["nodes"], key=lambda n: n["id"]))'
}
N1_IP=$(inspect "$(cid node1)" "{{(index .NetworkSettings.Networks \"${PROJ}_lab\").IPAddress}}")
N2_IP=$(inspect "$(cid node2)" "{{(index .NetworkSettings.Networks \"${PROJ}_lab\").IPAddress}}")
want="1=sip:$N1_IP:5060:True:200 2=sip:$N2_IP:5060:True:200"
wait_eq -i 0.25 10 "the prober to find both nodes up" "$want" nodes_up
assert_eq "the scheduler's nodes from MariaDB's load_balancer, probed up by the prober" "$(nodes_up)" "$want"

# synced_since SINCE: dialogd has logged its sync with the edge after SINCE
synced_since() { "$DOCKER" logs --since "$1" "$(cid dialogd)" 2>&1 | grep -q 'edge 1: synced at seq'; }
# dialogd_synced SINCE WHAT: until dialogd logs that it follows the edge
# (synced with its publisher) after SINCE.  Calls placed before that are
# stored too (replayed from the edge's ring when dialogd syncs), only later
dialogd_synced() {
	wait_until 10 "dialogd to log that it synced with the edge" synced_since "$1"
	"$DOCKER" logs --since "$1" "$(cid dialogd)" 2>&1 | grep -q 'edge 1: synced at seq' \
		|| fail "$2: dialogd not synced with the edge within 10 s"
}
dialogd_synced 0 "after up"

# --- calls from the engine's namespace through the edge container
SIPP_DIR="$SIPLB_TOP/tests/sipp"
n_uac=0
# call N: N calls (500 ms each) to the edge; sets CALL_IDS, UAC_OK, UAC_FAILED
call() {
	n_uac=$((n_uac + 1))
	local out="$T/uac-$n_uac"
	(cd "$T" && timeout 60 nsenter --net="/run/netns/$NS" sipp -sf "$SIPP_DIR/uac.xml" \
	    "$EDGE_IP:5060" -i "$GW" -p $((45000 + n_uac)) -m "$1" -r 10 -d 500 -nostdin \
	    -timeout 30 -timeout_error -trace_msg -message_file "$out.msg" \
	    -trace_err -error_file "$out.err" > "$out.log" 2>&1)
	UAC_OK=$(sipp_count "$out.log" Successful)
	UAC_FAILED=$(sipp_count "$out.log" Failed)
	CALL_IDS=$(sed -n 's/^Call-ID: //p' "$out.msg" | tr -d '\r' | sort -u)
}
# node_of CALL-ID: which node container saw the INVITE (its sipp's trace)
node_of() {
	local s hit=""
	for s in node1 node2; do
		"$DOCKER" exec "$(cid "$s")" grep -q -F "Call-ID: $1"$'\r' \
		    /var/lib/siplb/node/messages.log 2>/dev/null && hit="$hit$s"
	done
	echo "${hit:-none}"
}
# stored CALL-ID: the dialog as siplb-dialogd wrote it into MariaDB
stored() {
	"$DOCKER" exec -e MYSQL_PWD=siplb-lab-pw "$(cid mariadb)" mariadb --no-defaults \
	    -h 127.0.0.1 -u siplb -N -B siplb \
	    -e "SELECT node_id, state, reason FROM siplb_dialogs WHERE call_id = '$1'" 2>/dev/null | tr '\t' ' '
}
# check_calls WHAT: every call of the last run reached one node container
# and is stored, ended by BYE, with that node's id
check_calls() {
	local id node want got n=0
	for id in $CALL_IDS; do
		n=$((n + 1))
		node=$(node_of "$id")
		case $node in node1) want="1 3 bye" ;; node2) want="2 3 bye" ;;
		*) fail "$1: call $id seen by node containers: $node" ;; esac
		wait_eq 15 "dialogd to store call $id" "$want" stored "$id"
		got=$WAIT_OUT
		[ "$got" = "$want" ] || fail "$1: call $id at $node, stored as '$got', want '$want'"
		eval "seen_$node=\$((\${seen_$node:-0} + 1))"
	done
	[ "$n" = "$2" ] || fail "$1: $n Call-IDs in the caller's trace, want $2"
}

t=$(now)
call 4
assert_eq "4 calls through the edge container ($EDGE_IP) succeed" "$UAC_OK/$UAC_FAILED" "4/0"
check_calls "first calls" 4
ok "each call reached a node container and is in MariaDB with its node id, ended by BYE (node1 ${seen_node1:-0}, node2 ${seen_node2:-0}; $(since "$t") s)"

# the edge's SIP port published on the namespace's 127.0.0.1 answers too
sed "s/@METHOD@/OPTIONS/g; s/@MF@/70/g; s/@CODE@/405/g" "$SIPP_DIR/uac-expect.xml.in" > "$T/options-405.xml"
(cd "$T" && timeout 30 nsenter --net="/run/netns/$NS" sipp -sf "$T/options-405.xml" 127.0.0.1:5060 \
    -i 127.0.0.1 -p 45099 -m 1 -nostdin -timeout 10 -timeout_error > "$T/published.log" 2>&1) \
	|| fail "no 405 through 127.0.0.1:5060/udp: $(grep -v '^ *$' "$T/published.log" | head -n 5)"
ok "127.0.0.1:5060/udp reaches the edge (an OPTIONS for elsewhere gets its 405)"

# --- a crash: the edge's process killed from the host, restarted by policy
EDGE=$(cid edge)
pid0=$(inspect "$EDGE" '{{.State.Pid}}')
rc0=$(inspect "$EDGE" '{{.RestartCount}}')
assert_eq "edge container's main process" "$(ps -o comm= -p "$pid0")" "siplb-edge"
others0=$(for s in $SERVICES; do [ "$s" = edge ] || inspect "$(cid "$s")" '{{.RestartCount}}'; done | tr '\n' ' ')
t=$(now)
kill_ts=$(date -u +%Y-%m-%dT%H:%M:%S.%NZ)
kill -KILL "$pid0"
restarted() {	# prints the edge container's state; true once restarted and healthy
	local state n st hl pid
	state=$(inspect "$EDGE" '{{.RestartCount}} {{.State.Status}} {{.State.Health.Status}} {{.State.Pid}}')
	echo "$state"
	read -r n st hl pid <<< "$state"
	[ "${n:-0}" -gt "$rc0" ] && [ "$st" = running ] && [ "$hl" = healthy ] && [ "$pid" != "$pid0" ]
}
wait_until -i 0.25 30 "the edge container restarted and healthy" restarted
state=$WAIT_OUT
read -r n st hl pid <<< "$state"
[ "$n" = $((rc0 + 1)) ] && [ "$st" = running ] && [ "$hl" = healthy ] \
	|| fail "after SIGKILL of pid $pid0: restart count, status, health, pid: $state"
ok "SIGKILL of siplb-edge (pid $pid0): restarted by its policy (RestartCount $rc0 -> $n, pid $pid) and healthy in $(since "$t") s"
assert_eq "no other container restarted" \
	"$(for s in $SERVICES; do [ "$s" = edge ] || inspect "$(cid "$s")" '{{.RestartCount}}'; done | tr '\n' ' ')" "$others0"

# calls at once, without waiting for dialogd to hear the new edge (its TCP
# redial to the restarted container's address can take seconds): calls
# that come and go before it syncs are replayed from the edge's ring, so
# they are stored either way (which of the two happened is printed below;
# dialogd_stores_every_dialog shows the replay deterministically)
t=$(now)
call 2
assert_eq "2 calls right after the restart succeed" "$UAC_OK/$UAC_FAILED" "2/0"
check_calls "calls right after the restart" 2
ok "they reached node containers and are stored ($(since "$t") s)"
dialogd_synced "$kill_ts" "after the restart"
if "$DOCKER" logs --since "$kill_ts" "$(cid dialogd)" 2>&1 | grep -q 'edge 1: [0-9]* missed messages replayed'; then
	ok "dialogd replayed what it missed from the restarted edge: $("$DOCKER" logs --since "$kill_ts" "$(cid dialogd)" 2>&1 | grep -o '[0-9]* missed messages replayed.*' | tail -n 1)"
else
	ok "dialogd heard the restarted edge before the calls (nothing to replay)"
fi

# --- down: nothing of the lab is left in the engine
t=$(now)
timeout 120 "${COMPOSE[@]}" down -v -t 5 >> "$T/compose.log" 2>&1 || fail "docker-compose down -v: $(tail -n 5 "$T/compose.log")"
assert_eq "no container left" "$("$DOCKER" ps -aq | wc -l)" 0
assert_eq "no volume left" "$("$DOCKER" volume ls -q | wc -l)" 0
assert_eq "only the default networks left" "$("$DOCKER" network ls --format '{{.Name}}' | sort | tr '\n' ' ')" "bridge host none "
ok "docker-compose down -v ($(since "$t") s)"

# --- the engine down: nothing of it is left on the host
t=$(now)
compose_cleanup
ip netns list | grep -q "^$NS\b" && fail "namespace $NS left"
grep -q " $DIR/" /proc/self/mountinfo && fail "mounts left under $DIR"
for c in /sys/fs/cgroup/*/"$NS"; do [ -e "$c" ] && fail "cgroup $c left"; done
left=$(ps -eo pid=,args= | grep -F -e "$DIR" -e "-namespace $NS " | grep -v grep)
[ -z "$left" ] || fail "processes left: $left"
[ -e "$DIR/root" ] && fail "$DIR/root left"
ok "engine down: no process, mount, cgroup or namespace left ($(since "$t") s)"
ok "whole test: $(since "$T_ALL") s"
