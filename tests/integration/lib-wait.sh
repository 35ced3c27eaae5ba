# The waits of lib.sh (described at its top) and what they need: alive,
# log_count.  Sourced by lib.sh; free of side effects (no trap, no folder),
# so that lib-mariadb.sh can source it alone when a script that is not a
# test uses it (scripts/bench).  A wait keeps its command's stderr in $T,
# or in $TMPDIR or /tmp when there is no $T.

# alive PID: the process exists and is not a zombie (sipp -bg daemons are
# reparented to a PID 1 that may never reap them)
alive() {
	local st
	kill -0 "$1" 2>/dev/null || return 1
	read -r st < "/proc/$1/stat" 2>/dev/null || return 1
	st=${st##*) }
	[ "${st%% *}" != Z ]
}

# log_count FILE RE: how many lines of FILE match RE (0 when FILE is missing)
log_count() { local n; n=$(grep -c -- "$2" "$1" 2>/dev/null); echo "${n:-0}"; }

# _wait_now: microseconds since the epoch, in WAIT_NOW (no fork)
_wait_now() { WAIT_NOW=${EPOCHREALTIME//[.,]/}; }

# _wait MODE [-i INTERVAL] [-p PID] SECONDS WHAT [WANT] CMD...: see the top
_wait() {
	local mode=$1 every=0.1 pid="" secs what want="" rc sec frac t0 end err shown
	shift
	while [ $# -gt 0 ]; do
		case $1 in
		-i) every=$2; shift 2 ;;
		-p) pid=$2; shift 2 ;;
		*) break ;;
		esac
	done
	secs=$1 what=$2
	shift 2
	if [ "$mode" = eq ]; then want=$1; shift; fi
	sec=${secs%%.*} frac=
	[ "$sec" = "$secs" ] || frac=${secs#*.}
	frac=${frac}000000
	_wait_now
	t0=$WAIT_NOW
	end=$((t0 + ${sec:-0} * 1000000 + 10#${frac:0:6}))
	err="${T:-${TMPDIR:-/tmp}}/wait.$BASHPID.err"
	while :; do
		WAIT_OUT=$("$@" 2> "$err")
		rc=$?
		case $mode in
		until) [ "$rc" = 0 ] && break ;;
		while) [ "$rc" != 0 ] && break ;;
		eq) [ "$WAIT_OUT" = "$want" ] && break ;;
		esac
		_wait_now
		if [ "$WAIT_NOW" -ge "$end" ] || { [ -n "$pid" ] && ! alive "$pid"; }; then
			WAIT_MS=$(((WAIT_NOW - t0) / 1000))
			shown=${WAIT_OUT:0:400}
			[ "$shown" = "$WAIT_OUT" ] || shown="$shown..."
			if [ -n "$pid" ] && ! alive "$pid"; then
				echo "wait: $what: gave up after $WAIT_MS ms, pid $pid exited" >&2
			else
				echo "wait: $what: not within $secs s (waited $WAIT_MS ms)" >&2
			fi
			case $mode in
			eq) echo "wait:   last output '$shown', want '$want'" >&2 ;;
			*) echo "wait:   last output '$shown' (exit $rc) of: $*" >&2 ;;
			esac
			[ -s "$err" ] && echo "wait:   last stderr: $(tail -n 3 "$err")" >&2
			rm -f "$err"
			return 1
		fi
		sleep "$every"
	done
	_wait_now
	WAIT_MS=$(((WAIT_NOW - t0) / 1000))
	rm -f "$err"
	[ -n "${WAIT_TRACE:-}" ] && echo "wait: $what: $WAIT_MS ms" >&2
	return 0
}
wait_until() { _wait until "$@"; }
wait_while() { _wait while "$@"; }
wait_eq() { _wait eq "$@"; }

# _log_more FILE RE AFTER: true when FILE has more than AFTER lines matching
# RE; prints the count and FILE's last line (what a timeout shows)
_log_more() {
	local n
	n=$(log_count "$1" "$2")
	echo "$n lines match /$2/ in $1; its last line: $(tail -n 1 "$1" 2>/dev/null)"
	[ "$n" -gt "$3" ]
}
wait_for_log() {
	local opts=()
	while [ $# -gt 0 ]; do
		case $1 in -i|-p) opts+=("$1" "$2"); shift 2 ;; *) break ;; esac
	done
	_wait until "${opts[@]}" "$1" "a line matching /$3/ in $(basename "$2")" _log_more "$2" "$3" "${4:-0}"
}
