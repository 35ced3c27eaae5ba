#!/bin/bash
# A real MariaDB on a loopback port holds the OpenSIPS load_balancer and
# dispatcher tables, filled with the INSERT statements of a real OpenSIPS
# deployment; siplb-scheduler loads them unchanged, selects from them,
# and writes admin changes back so they survive a restart.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-mariadb.sh"

PORT=$((33100 + RANDOM % 90))
mariadb_start "$T/db" "$PORT" || fail "MariaDB did not start"
CLEANUPS+=("mariadb_stop")
ok "MariaDB $(mariadb_sql 'SELECT VERSION()') on 127.0.0.1:$PORT"

mariadb_sql < "$SIPLB_TOP/deploy/sql/opensips-2.4-tables.sql" || fail "schema"
# copied from the deployment siplb replaces, unchanged
mariadb_sql "INSERT INTO load_balancer (id, group_id, dst_uri, resources, probe_mode, description) VALUES ('1', '1', 'sip:172.16.100.10', 'vm=100;conf=100;transc=100;pstn=500', '1', 'FS1');" || fail "insert FS1"
mariadb_sql "INSERT INTO load_balancer (id, group_id, dst_uri, resources, probe_mode, description) VALUES ('2', '1', 'sip:172.16.100.11', 'vm=100;conf=100;transc=100;pstn=500', '1', 'FS2');" || fail "insert FS2"
mariadb_sql "INSERT INTO dispatcher (setid, destination, state, weight, priority, description) VALUES (1, 'sip:172.16.100.10', 0, '1', 0, 'FS1'), (1, 'sip:172.16.100.11', 0, '1', 0, 'FS2');" || fail "insert dispatcher"

cat > "$T/siplb.conf" <<CONF
[general]
run_dir = $T
[scheduler]
node_source = mysql
db_url = $MARIADB_URL
prober_pub =
dialogd_pub =
edge_pubs =
edge_reps =
CONF
start_scheduler
assert_match "password masked in the log" "$(grep 'nodes loaded' "$T/scheduler.log")" 'mysql://siplb:\*\*\*@127\.0\.0\.1'
grep -q 'siplb-pw' "$T/scheduler.log" && fail "password in the log"

nodes=$(ctl --json nodes)
assert_eq "two nodes loaded" "$(echo "$nodes" | jq_py 'len(d["nodes"])')" 2
n1=$(echo "$nodes" | jq_py '[(n["uri"], n["group"], n["set"], n["probe_mode"], n["description"], {r: c["capacity"] for r, c in n["resources"].items()}) for n in d["nodes"] if n["id"] == 1][0]')
assert_eq "FS1 as OpenSIPS defines it" "$n1" "('sip:172.16.100.10', 1, 1, 1, 'FS1', {'vm': 100, 'conf': 100, 'transc': 100, 'pstn': 500})"

got=$(ctl select --group 1 --resource pstn)
assert_match "least-load selects from the table" "$got" '^sip:172\.16\.100\.1[01]$'
a=$(ctl select --group 1 --algorithm round-robin); b=$(ctl select --group 1 --algorithm round-robin)
[ "$a" != "$b" ] || fail "round-robin over dispatcher set 1 repeated $a"
ok "round-robin over dispatcher set 1 alternates"

# admin changes go back to the database
ctl node disable 2 > /dev/null || fail "disable"
assert_eq "dispatcher.state written" "$(mariadb_sql 'SELECT state FROM dispatcher WHERE destination = "sip:172.16.100.11"')" 1
ctl node resize 1 'pstn=800' > /dev/null || fail "resize"
assert_eq "load_balancer.resources written" "$(mariadb_sql 'SELECT resources FROM load_balancer WHERE id = 1')" "vm=100;conf=100;transc=100;pstn=800"
out=$(ctl node resize 1 'pstn=lots' 2>&1) && fail "a bad capacity was accepted: $out"
assert_eq "a refused resize keeps the whole table" "$(ctl --json nodes | jq_py 'len(d["nodes"])')" 2
assert_eq "and the node's capacity" "$(ctl --json nodes | jq_py '[n["resources"]["pstn"]["capacity"] for n in d["nodes"] if n["id"] == 1][0]')" 800
ctl node add --id 3 --uri sip:172.16.100.12 --group 1 --resources 'pstn=300' --description FS3 > /dev/null || fail "add"
assert_eq "new row inserted" "$(mariadb_sql 'SELECT dst_uri, resources FROM load_balancer WHERE id = 3')" "sip:172.16.100.12	pstn=300"

stop_scheduler KILL
start_scheduler
nodes=$(ctl --json nodes)
assert_eq "three nodes after restart" "$(echo "$nodes" | jq_py 'len(d["nodes"])')" 3
assert_eq "node 2 still disabled" "$(echo "$nodes" | jq_py '[n["enabled"] for n in d["nodes"] if n["id"] == 2][0]')" False
assert_eq "node 1 resized" "$(echo "$nodes" | jq_py '[n["resources"]["pstn"]["capacity"] for n in d["nodes"] if n["id"] == 1][0]')" 800

# a typo in the table stops the load with a clear message
mariadb_sql "UPDATE load_balancer SET resources = 'vm=100;pstn' WHERE id = 3"
out=$(ctl reload 2>&1); rc=$?
assert_eq "bad row refused" "$rc" 1
assert_match "bad row named" "$out" 'load_balancer id 3: resources'
assert_eq "old table kept" "$(ctl --json nodes | jq_py 'len(d["nodes"])')" 3

ctl node remove 3 > /dev/null || fail "remove"
assert_eq "row deleted" "$(mariadb_sql 'SELECT COUNT(*) FROM load_balancer WHERE id = 3')" 0
