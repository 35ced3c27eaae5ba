#!/bin/bash
# On a real MariaDB whose `opensips` database is CHARACTER SET gbk (as the
# replaced deployment's `opensipsdbctl create` made it), siplbctl node add
# writes a node into load_balancer only when it has a group and resources
# and into dispatcher only when it has a set: the blog's
# `opensipsctl dispatcher addgw 1 sip:172.16.100.10 5060 0 50 'FS1' '节点1'`
# as `siplbctl node add ... --set 1` gives one dispatcher row, with 节点1
# intact in gbk, and no load_balancer row.  Nothing else is added to the
# OpenSIPS tables, an OpenSIPS reading load_balancer finds no group 0 or
# empty resources, what the tables cannot give back as added is refused,
# and after a restart every node has the id, group and set it had.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-mariadb.sh"

PORT=$((33200 + RANDOM % 90))
MARIADB_CHARSET=gbk mariadb_start "$T/db" "$PORT" || fail "MariaDB did not start"
CLEANUPS+=("mariadb_stop")
ok "MariaDB $(mariadb_sql 'SELECT VERSION()') on 127.0.0.1:$PORT"
assert_eq "database opensips is gbk" \
	"$(mariadb_sql "SELECT DEFAULT_CHARACTER_SET_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'opensips'")" gbk
mariadb_sql < "$SIPLB_TOP/deploy/sql/opensips-2.4-tables.sql" || fail "schema"
assert_eq "dispatcher.description is a gbk column" \
	"$(mariadb_sql "SELECT CHARACTER_SET_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = 'opensips' AND TABLE_NAME = 'dispatcher' AND COLUMN_NAME = 'description'")" gbk

# a client that talks gbk, as the deployment's tools did
mariadb_gbk() {
	MYSQL_PWD=$MARIADB_PASSWORD mariadb --no-defaults --default-character-set=gbk \
		-h127.0.0.1 -P"$MARIADB_PORT" -u"$MARIADB_USER" --batch --skip-column-names \
		"$MARIADB_DB" -e "$1"
}
columns() { mariadb_sql "SELECT TABLE_NAME, COLUMN_NAME, COLUMN_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = 'opensips' AND TABLE_NAME IN ('load_balancer', 'dispatcher', 'version') ORDER BY TABLE_NAME, ORDINAL_POSITION"; }
lb_rows() { mariadb_sql 'SELECT id, group_id, dst_uri, resources, probe_mode FROM load_balancer ORDER BY id'; }
ds_rows() { mariadb_sql 'SELECT id, setid, destination, state, weight, priority, attrs FROM dispatcher ORDER BY id'; }
node_list() { ctl --json nodes | jq_py '"\n".join("%d %d %d %s %s" % (n["id"], n["group"], n["set"], n["uri"], n["description"]) for n in sorted(d["nodes"], key=lambda n: n["id"]))'; }
cols_before=$(columns)
version_before=$(mariadb_sql 'SELECT * FROM version ORDER BY table_name')

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

# --- a dispatcher-only node, as the blog's addgw
out=$(ctl --json node add --uri sip:172.16.100.10:5060 --set 1 --weight 50 --attrs FS1 --description '节点1') || fail "add the dispatcher-only node"
ds1=$(echo "$out" | jq_py 'd["nodes"][0]["id"]')
assert_eq "a dispatcher-only node has id 1000000 + its dispatcher row's id" "$ds1" 1000001
assert_eq "exactly one dispatcher row" "$(ds_rows)" "1	1	sip:172.16.100.10:5060	0	50	0	FS1"
assert_eq "no load_balancer row for it" "$(mariadb_sql 'SELECT COUNT(*) FROM load_balancer')" 0
want_hex=$(python3 -c 'print("节点1".encode("gbk").hex().upper())')
assert_eq "description stored as gbk bytes" "$(mariadb_sql 'SELECT HEX(description) FROM dispatcher WHERE id = 1')" "$want_hex"
got=$(mariadb_gbk 'SELECT description FROM dispatcher WHERE id = 1' | python3 -c 'import sys; print(sys.stdin.buffer.read().decode("gbk").strip())')
assert_eq "description read through a gbk connection" "$got" "节点1"
assert_eq "description through siplbctl --json" \
	"$(ctl --json nodes | jq_py "[n['description'] for n in d['nodes'] if n['id'] == $ds1][0]")" "节点1"

# --- a load_balancer-only node (group and resources, no set)
out=$(ctl --json node add --uri sip:172.16.100.11 --group 1 --resources 'vm=100;conf=100;transc=100;pstn=500' --probe-mode 1 --description FS2) || fail "add the load_balancer-only node"
lb1=$(echo "$out" | jq_py 'd["nodes"][0]["id"]')
assert_eq "a node with a load_balancer row takes an id below 1000000" "$lb1" 1
assert_eq "one load_balancer row" "$(lb_rows)" "1	1	sip:172.16.100.11	vm=100;conf=100;transc=100;pstn=500	1"
assert_eq "no new dispatcher row" "$(mariadb_sql 'SELECT COUNT(*) FROM dispatcher')" 1

# --- a node with both a group (and resources) and a set
out=$(ctl --json node add --uri sip:172.16.100.12 --group 1 --set 1 --resources 'pstn=500' --description '节点3') || fail "add the node in both tables"
both=$(echo "$out" | jq_py 'd["nodes"][0]["id"]')
assert_eq "its id" "$both" 2
assert_eq "its load_balancer row" "$(mariadb_sql 'SELECT id, group_id, dst_uri, resources FROM load_balancer WHERE id = 2')" "2	1	sip:172.16.100.12	pstn=500"
assert_eq "its dispatcher row" "$(mariadb_sql "SELECT setid, destination FROM dispatcher WHERE destination = 'sip:172.16.100.12'")" "1	sip:172.16.100.12"

# --- a dispatcher-only node with the uri of the load_balancer-only node:
# the load matches the two tables by uri, so siplb's state table keeps it
# a node of its own
out=$(ctl --json node add --uri sip:172.16.100.11 --set 2 --description FS2-ds) || fail "add a dispatcher-only node with node 1's uri"
ds2=$(echo "$out" | jq_py 'd["nodes"][0]["id"]')
assert_eq "its id follows the dispatcher ids" "$ds2" 1000003
assert_eq "dispatcher rows" "$(ds_rows)" "1	1	sip:172.16.100.10:5060	0	50	0	FS1
2	1	sip:172.16.100.12	0	1	0	
3	2	sip:172.16.100.11	0	1	0	"

# --- what the tables cannot give back as it was added is refused
lb_before=$(lb_rows); ds_before=$(ds_rows)
out=$(ctl node add --uri sip:172.16.100.13 --group 1 --set 1 2>&1); rc=$?
assert_eq "a group without resources: refused" "$rc" 1
assert_match "a group without resources: why" "$out" 'load_balancer row needs them'
out=$(ctl node add --uri sip:172.16.100.13 --set 1 --resources 'pstn=10' 2>&1); rc=$?
assert_eq "resources without a group: refused" "$rc" 1
assert_match "resources without a group: why" "$out" 'resources without a group'
out=$(ctl node add --id 5 --uri sip:172.16.100.13 --set 1 2>&1); rc=$?
assert_eq "a dispatcher-only node with an id it would not get back: refused" "$rc" 1
assert_match "the id rule is named" "$out" 'id 5: a node in dispatcher only has id 1000000'
out=$(ctl node add --uri sip:172.16.100.11 --group 2 --set 3 --resources 'pstn=1' 2>&1); rc=$?
assert_eq "a node whose dispatcher row the next load would give to node 1: refused" "$rc" 1
assert_match "the clash is named" "$out" "would be read as node $lb1's"
out=$(ctl node resize "$ds1" 'pstn=10' 2>&1); rc=$?
assert_eq "resources for a dispatcher-only node: refused" "$rc" 1
assert_match "resize refusal: why" "$out" 'no column for resources'
out=$(ctl node add --uri sip:172.16.100.13 --set 1 --description 'FS 😀' 2>&1); rc=$?
assert_eq "a description gbk cannot hold: refused" "$rc" 1
assert_match "the server's reason is given" "$out" 'Incorrect string value'
assert_eq "load_balancer unchanged by the refusals" "$(lb_rows)" "$lb_before"
assert_eq "dispatcher unchanged by the refusals" "$(ds_rows)" "$ds_before"
assert_eq "the scheduler kept its four nodes" "$(ctl --json nodes | jq_py 'len(d["nodes"])')" 4
assert_eq "the refused resize was undone in memory" \
	"$(ctl --json nodes | jq_py "[len(n['resources']) for n in d['nodes'] if n['id'] == $ds1][0]")" 0

# --- admin changes of a dispatcher-only node stay in dispatcher
ctl node disable "$ds1" > /dev/null || fail "disable $ds1"
assert_eq "dispatcher.state written" "$(mariadb_sql 'SELECT state FROM dispatcher WHERE id = 1')" 1
ctl node set "$ds1" --weight 40 > /dev/null || fail "set weight"
assert_eq "dispatcher.weight written" "$(mariadb_sql 'SELECT weight FROM dispatcher WHERE id = 1')" 40
assert_eq "still no load_balancer row for it" "$(mariadb_sql "SELECT COUNT(*) FROM load_balancer WHERE dst_uri = 'sip:172.16.100.10:5060'")" 0

# --- what an OpenSIPS sharing the database reads
assert_eq "OpenSIPS load_balancer query: no group 0, no empty resources" \
	"$(mariadb_sql "SELECT id, group_id, dst_uri, resources, probe_mode, description FROM load_balancer WHERE group_id = 0 OR resources = '' OR resources IS NULL")" ""
assert_eq "OpenSIPS load_balancer query: the two nodes with a group" \
	"$(mariadb_sql 'SELECT id, group_id, dst_uri FROM load_balancer ORDER BY id')" "1	1	sip:172.16.100.11
2	1	sip:172.16.100.12"
assert_eq "no column added to the OpenSIPS tables" "$(columns)" "$cols_before"
assert_eq "version table unchanged" "$(mariadb_sql 'SELECT * FROM version ORDER BY table_name')" "$version_before"
assert_eq "tables in the database: OpenSIPS's and siplb's state table" \
	"$(mariadb_sql "SELECT GROUP_CONCAT(TABLE_NAME ORDER BY TABLE_NAME) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'opensips'")" \
	"dispatcher,load_balancer,siplb_node_state,version"

# --- a restart gives back every node with its id, group, set and text
before=$(node_list)
assert_eq "the table before the restart" "$before" "1 1 0 sip:172.16.100.11 FS2
2 1 1 sip:172.16.100.12 节点3
1000001 0 1 sip:172.16.100.10:5060 节点1
1000003 0 2 sip:172.16.100.11 FS2-ds"
stop_scheduler KILL
start_scheduler
assert_eq "the same ids, groups and sets after a restart" "$(node_list)" "$before"
assert_eq "node $ds1 still disabled, weight 40" \
	"$(ctl --json nodes | jq_py "[(n['enabled'], n['weight']) for n in d['nodes'] if n['id'] == $ds1][0]")" "(False, 40)"
assert_eq "the load names no broken load_balancer row" "$(log_count "$T/scheduler.log" 'broken entry')" 0

# selections see the tables as written
seq=""
for _ in 1 2 3 4; do seq="$seq $(ctl --json select --set 2 --algorithm round-robin | jq_py 'd["choices"][0]["node_id"]')"; done
assert_eq "set 2 is the dispatcher-only node with node 1's uri" "$seq" " $ds2 $ds2 $ds2 $ds2"
got=$(ctl --json select --group 1 --resource pstn --max 2 | jq_py 'sorted(c["node_id"] for c in d["choices"])')
assert_eq "group 1 is nodes 1 and 2" "$got" "[1, 2]"

# --- removing nodes removes their rows, and only theirs
ctl node remove "$ds2" > /dev/null || fail "remove $ds2"
assert_eq "its dispatcher row is gone" "$(mariadb_sql 'SELECT COUNT(*) FROM dispatcher WHERE id = 3')" 0
assert_eq "node 1's load_balancer row stays" "$(mariadb_sql 'SELECT COUNT(*) FROM load_balancer WHERE id = 1')" 1
ctl node remove "$both" > /dev/null || fail "remove $both"
assert_eq "both rows of node $both are gone" \
	"$(mariadb_sql "SELECT (SELECT COUNT(*) FROM load_balancer WHERE id = 2) + (SELECT COUNT(*) FROM dispatcher WHERE destination = 'sip:172.16.100.12')")" 0
stop_scheduler KILL
start_scheduler
assert_eq "after removals and a restart" "$(node_list)" "1 1 0 sip:172.16.100.11 FS2
1000001 0 1 sip:172.16.100.10:5060 节点1"

# --- a row as siplb wrote it before (group 0, no resources) still loads,
# keeps its node's id, is named at every load, and stays as it is
mariadb_sql "INSERT INTO load_balancer (id, group_id, dst_uri, resources, probe_mode, description) VALUES (7, 0, 'sip:172.16.100.20', '', 0, 'old')" || fail "insert old row"
mariadb_sql "INSERT INTO dispatcher (setid, destination, description) VALUES (1, 'sip:172.16.100.20', 'old')" || fail "insert old dispatcher row"
ctl reload > /dev/null || fail "reload"
assert_eq "the old row's node keeps id 7, in set 1" "$(node_list | grep 172.16.100.20)" "7 0 1 sip:172.16.100.20 old"
assert_match "the load names the broken row" "$(grep 'broken entry' "$T/scheduler.log")" 'load_balancer id 7: group_id 0'
ctl node disable 7 > /dev/null || fail "disable 7"
assert_eq "its dispatcher.state written" "$(mariadb_sql "SELECT state FROM dispatcher WHERE destination = 'sip:172.16.100.20'")" 1
stop_scheduler KILL
start_scheduler
assert_eq "node 7 after a restart" "$(ctl --json nodes | jq_py "[(n['set'], n['enabled']) for n in d['nodes'] if n['id'] == 7][0]")" "(1, False)"
