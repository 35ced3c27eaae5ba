#!/bin/sh
# Write the bus decoder's seed corpus (tests/fuzz/corpus/fuzz_bus_decode)
# from protobuf text format: one file per message type, the first byte
# being the type index fuzz_bus_decode.c gives it.  Run again after the
# proto changes; the files are committed.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
out="$top/tests/fuzz/corpus/fuzz_bus_decode"
mkdir -p "$out"
seed() {	# INDEX TYPE NAME TEXT
	{ printf "\\$(printf '%03o' "$1")"
	  printf '%s\n' "$4" | protoc-c --proto_path="$top/proto" \
	      --encode="siplb.v1.$2" "$top/proto/siplb.proto"; } > "$out/$3"
}
NODE='id: 1 group: 1 set: 1 uri: "sip:127.0.0.1:5071" resources { name: "pstn" capacity: 500 load: 3 } weight: 50 probe_mode: 1 enabled: true up: true description: "FS1" attrs: "esl=127.0.0.1:8021"'
DLG='key: "1:abc@host:1a2b" state: DIALOG_CONFIRMED node_id: 1 resources: "pstn" edge: "edge:1" call_id: "abc@host" from_tag: "ft" to_tag: "tt" created_us: 1 updated_us: 2 reason: "bye" group: 1'
SEL='algorithm: "least-load" group: 1 resources: "pstn" key: "k1" hash_key: "abc@host" exclude: 2 max_results: 2 reserve: true edge: "edge:1"'
seed 0 BusMessage bus-table "version: 1 stream: \"scheduler\" epoch: 5 seq: 7 table { nodes { $NODE } }"
seed 0 BusMessage bus-dialog "version: 1 stream: \"edge:1\" epoch: 5 seq: 8 dialog { $DLG }"
seed 0 BusMessage bus-dialogs "version: 1 stream: \"edge:1\" epoch: 5 seq: 9 dialogs { events { $DLG } events { key: \"k2\" state: DIALOG_CREATED } }"
seed 1 DialogdReply dialogd-reply "version: 1 status: STATUS_OK dialogs { $DLG }"
seed 2 DialogdRequest dialogd-query "version: 1 query { node_id: 1 state: DIALOG_CONFIRMED limit: 100 after_key: \"a\" updated_after: 5 }"
seed 4 EdgeRequest edge-stats "version: 1 stats: true"
seed 6 ReplayCall replay-call "version: 1 replay { epoch: 5 after_seq: 3 upto_seq: 9 }"
seed 7 SchedReply sched-snapshot "version: 1 status: STATUS_OK snapshot { stream: \"scheduler\" epoch: 1 seq: 2 table { nodes { $NODE } } }"
seed 8 SchedRequest sched-select "version: 1 select { $SEL }"
seed 8 SchedRequest sched-batch "version: 1 select_batch { requests { $SEL } requests { algorithm: \"4\" group: 1 } }"
seed 8 SchedRequest sched-add "version: 1 admin { op: OP_ADD node { uri: \"sip:10.0.0.1:5060\" group: 1 set: 1 resources: \"pstn=500;vm=100\" weight: 10 } }"
seed 8 SchedRequest sched-resize "version: 1 admin { op: OP_RESIZE node_id: 1 resources: \"pstn=800\" }"
seed 9 SnapshotAnswer snapshot-dialogs "version: 1 status: STATUS_OK snapshot { stream: \"edge:1\" epoch: 3 seq: 4 dialogs { dialogs { $DLG } } }"
seed 10 SnapshotCall snapshot-call "version: 1 snapshot { stream: \"edge:1\" }"
