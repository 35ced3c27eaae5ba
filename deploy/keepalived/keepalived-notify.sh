#!/bin/sh
# keepalived notify hook: log every VRRP transition of the siplb VIP to
# syslog (tag siplb-keepalived, LOCAL0) and, when a file is given first,
# write the instance's current state there (one line: STATE NAME PRIORITY
# UNIX-TIME, replaced atomically) for monitoring.  keepalived appends
# TYPE NAME STATE PRIORITY to the command of its `notify` line, e.g.
#   notify "/usr/local/share/siplb/keepalived-notify.sh /run/siplb/vrrp.state"
# The edge binds the VIP with IP_FREEBIND, so nothing needs restarting
# when the VIP moves.
state_file=
case ${1:-} in /*) state_file=$1; shift ;; esac
msg="VRRP $1 $2 is now $3 (priority ${4:-?})"
logger -t siplb-keepalived -p local0.notice "$msg" 2>/dev/null ||
    echo "siplb-keepalived: $msg" >&2
if [ -n "$state_file" ]; then
	# hooks may overlap: each writes its own file, the rename is atomic
	tmp=$(mktemp "$state_file.XXXXXX" 2>/dev/null) &&
	    printf '%s %s %s %s\n' "$3" "$2" "${4:-?}" "$(date +%s)" > "$tmp" &&
	    mv -f "$tmp" "$state_file" ||
	    { [ -n "${tmp:-}" ] && rm -f "$tmp"; echo "siplb-keepalived: cannot write $state_file" >&2; }
fi
exit 0
