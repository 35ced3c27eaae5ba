#!/bin/bash
# The active edge process is SIGKILLed while its host and keepalived stay
# up: the vrrp_script (`siplbctl health`) fails, keepalived enters FAULT
# and gives the VIP up, and the other host takes over.  Reports the
# failover time and the failed calls.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-ha.sh"
ha_failover edge-killed 6
