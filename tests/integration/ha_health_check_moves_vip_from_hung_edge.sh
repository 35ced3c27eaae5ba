#!/bin/bash
# The active edge process hangs (SIGSTOP) while its host and keepalived
# stay up: the vrrp_script (`siplbctl health`) fails, keepalived enters
# FAULT and gives the VIP up, and the other host takes over; calls behave
# as after a host crash.  Reports the failover time and the failed calls.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-ha.sh"
# fall 2 at interval 1 plus the check's own timeout, then the peer's skew
ha_failover edge-hung 6
