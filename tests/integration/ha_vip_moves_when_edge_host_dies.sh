#!/bin/bash
# Two edge hosts share a VIP through keepalived (network namespaces the
# test makes).  The active edge host dies (link down, every process
# SIGKILLed): the VIP moves to the other host within the VRRP timeout, new
# calls succeed there, the calls established through the dead host end
# with BYEs that succeed through the survivor, and the survivor's dialog
# store holds every call.  Reports the failover time and the failed calls.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-ha.sh"
# VRRP: 3 adverts missed + skew (3.6 s at priority 100), measured 2.4-3.6 s
ha_failover host-crash 5
