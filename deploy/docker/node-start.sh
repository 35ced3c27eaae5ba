#!/bin/sh
# siplb-lab-node: a simulated FreeSWITCH node of the compose lab, in the
# foreground: one sipp UAS (deploy/docker/node.xml) that answers calls and
# the prober's OPTIONS on port NODE_PORT (5060) of the container's address.
# The messages it sees go to $NODE_DIR/messages.log (rotated at 2 MB, one
# old file kept), its errors to errors.log.
set -eu
ip=${NODE_IP:-$(hostname -i | cut -d' ' -f1)}
dir=${NODE_DIR:-/var/lib/siplb/node}
mkdir -p "$dir"
cd "$dir"
# sipp redraws its screen every second: not for the container's log
exec sipp -sf /usr/local/share/siplb/docker/node.xml -i "$ip" \
    -p "${NODE_PORT:-5060}" -nostdin \
    -trace_msg -message_file "$dir/messages.log" \
    -trace_err -error_file "$dir/errors.log" \
    -ringbuffer_size 2000000 -ringbuffer_files 1 > /dev/null
