# Shared helpers for integration tests (sourced).  Every test gets its own
# folder and run_dir, starts the real binaries on loopback, and cleans up
# what it started on any exit.
#
#   fail MSG, ok MSG, assert_eq WHAT GOT WANT, assert_match WHAT GOT REGEX
#   ctl ARGS             siplbctl on this test's siplb.conf
#   start_scheduler      siplb-scheduler in the background, answering
#   sipp_count FILE WHAT sipp's last Successful/Failed call total
#   jq_py EXPR           a Python expression over JSON on stdin (d)
#   alive PID            the process runs (a zombie does not count)
#   log_count FILE RE    lines of FILE matching the grep RE (0 if no file)
#
# Waiting: never a bare `sleep` for something to happen.  Every wait is
# bounded by a wall-clock timeout in seconds and polls every 0.1 s (-i to
# change it); -p PID gives up as soon as PID exits.  On timeout a wait
# prints on stderr what it waited for, how long, and the last output (and
# stderr) of its command, and returns 1: follow it with `|| fail ...` or
# with the assertion it waits for (which then fails with the values).
# WAIT_OUT holds the command's last output, WAIT_MS the time waited.
# The command runs in a subshell: variables it sets do not come back.
#   wait_until [-i S] [-p PID] SECONDS WHAT CMD...       until CMD succeeds
#   wait_while [-i S] [-p PID] SECONDS WHAT CMD...       until CMD fails
#   wait_eq [-i S] [-p PID] SECONDS WHAT WANT CMD...     until CMD prints WANT
#   wait_for_log [-i S] [-p PID] SECONDS FILE RE [AFTER] until FILE has more
#                        than AFTER (default 0) lines matching the grep RE
# A fixed sleep stays only where the time is the point (a timer let run,
# traffic paced, "nothing happens for a second"), with a comment saying so:
#   sleep 1	# not a wait: ...
# WAIT_TRACE=1 prints how long every successful wait took.
# The waits, alive and log_count live in lib-wait.sh (sourced here), which
# a script can source alone.  Waits over sipp's statistics files (every
# second, -trace_stat -fd 1): wait_stats and wait_calls in lib-edge.sh.
set -u
: "${SIPLB_BIN:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build/bin}"
: "${SIPLB_TOP:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
T=$(mktemp -d /tmp/siplb-it.XXXXXX)
PIDS=()
CLEANUPS=()
. "$(dirname "${BASH_SOURCE[0]}")/lib-wait.sh"

cleanup() {
	local rc=$?
	for c in "${CLEANUPS[@]}"; do eval "$c" || true; done
	for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do
		wait_while 3 "pid $p to exit after SIGTERM" alive "$p" 2>/dev/null ||
		    kill -KILL "$p" 2>/dev/null
	done
	if [ $rc -ne 0 ] && [ $rc -ne 77 ]; then
		echo "--- logs of the failed test ($T)"
		for f in "$T"/*.log "$T"/*/log/*.log; do [ -f "$f" ] && { echo "# $f"; tail -n 30 "$f"; }; done
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
	wait_until -p "$SCHED_PID" 10 "siplb-scheduler to answer" ctl --timeout 200 nodes && return 0
	alive "$SCHED_PID" || fail "siplb-scheduler exited: $(tail -n 5 "$T/scheduler.log")"
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

