# Shared helpers for integration tests (sourced).  Every test gets its own
# folder and run_dir, starts the real binaries on loopback, and cleans up
# what it started on any exit.
set -u
: "${SIPLB_BIN:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build/bin}"
: "${SIPLB_TOP:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
T=$(mktemp -d /tmp/siplb-it.XXXXXX)
PIDS=()
CLEANUPS=()

cleanup() {
	local rc=$?
	for c in "${CLEANUPS[@]}"; do eval "$c" || true; done
	for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do
		for _ in $(seq 1 30); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$p" 2>/dev/null
	done
	if [ $rc -ne 0 ] && [ $rc -ne 77 ]; then
		echo "--- logs of the failed test ($T)"
		for f in "$T"/*.log; do [ -f "$f" ] && { echo "# $f"; tail -n 30 "$f"; }; done
	else
		rm -rf "$T"
	fi
	exit $rc
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok - $*"; }

# assert_eq WHAT GOT WANT
assert_eq() { [ "$2" = "$3" ] || fail "$1: got '$2', want '$3'"; ok "$1"; }
assert_match() { printf '%s' "$2" | grep -Eq -- "$3" || fail "$1: '$2' does not match /$3/"; ok "$1"; }

ctl() { "$SIPLB_BIN/siplbctl" -c "$T/siplb.conf" "$@"; }

# start_scheduler: start it in the background, wait until it answers
start_scheduler() {
	"$SIPLB_BIN/siplb-scheduler" -c "$T/siplb.conf" >> "$T/scheduler.log" 2>&1 &
	SCHED_PID=$!
	PIDS+=("$SCHED_PID")
	for _ in $(seq 1 100); do
		ctl --timeout 200 nodes > /dev/null 2>&1 && return 0
		kill -0 "$SCHED_PID" 2>/dev/null || fail "siplb-scheduler exited: $(tail -n 5 "$T/scheduler.log")"
		sleep 0.1
	done
	fail "siplb-scheduler did not answer within 10 s"
}

stop_scheduler() {	# SIGNAL
	kill "-${1:-TERM}" "$SCHED_PID" 2>/dev/null
	wait "$SCHED_PID" 2>/dev/null
	return 0
}

# sipp_count FILE WHAT: the last "Successful call" / "Failed call" total
# of a sipp run's screen output
sipp_count() { grep "$2 call" "$1" | tail -n 1 | awk -F'|' '{ gsub(/ /, "", $3); print $3 }'; }

# json QUERY: run python3 over stdin JSON (python3 is on every Debian)
jq_py() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
