#!/bin/sh
# keepalived notify hook: log every VRRP transition of the siplb VIP
# (keepalived calls it with: TYPE NAME STATE PRIORITY).  The edge binds the
# VIP with IP_FREEBIND, so nothing needs restarting when the VIP moves.
logger -t siplb-keepalived -p local0.notice \
    "VRRP $1 $2 is now $3 (priority ${4:-?})" 2>/dev/null ||
    echo "siplb-keepalived: VRRP $1 $2 is now $3 (priority ${4:-?})" >&2
exit 0
