#!/bin/bash
# The active edge process hangs (SIGSTOP) while its host and keepalived
# stay up: the vrrp_script (`siplbctl health`) fails, keepalived enters
# FAULT and gives the VIP up, and the other host takes over; calls behave
# as after a host crash.  Reports the failover time and the failed calls.
# Then the hung edge resumes with the calls of before in its table: it
# checks them against the dialog store, so the calls that ended meanwhile
# through the other edge do not come back as load on any scheduler, and
# keepalived goes back to BACKUP without taking the VIP back.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-ha.sh"
# fall 2 at interval 1 plus the check's own timeout, then the peer's skew
ha_failover edge-hung 6
