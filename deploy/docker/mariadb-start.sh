#!/bin/sh
# siplb-lab-mariadb: the compose lab's MariaDB server, in the foreground.
# On an empty data directory (a new "db" volume) it creates the system
# tables, then has the server run, before it takes connections, the lab's
# init: databases and users (mariadb-init.sql), the OpenSIPS 2.4 tables
# and siplb's node-state table (deploy/sql), the two nodes' rows
# (lab-nodes.sql) and the dialog table (deploy/sql).  Later starts keep
# whatever the data directory holds.
set -eu
share=/usr/local/share/siplb
datadir=${SIPLB_DB_DATADIR:-/var/lib/siplb-db/data}
init=

if [ ! -d "$datadir/mysql" ]; then
	echo "siplb-lab-mariadb: new data directory $datadir"
	mkdir -p "$datadir"
	mariadb-install-db --no-defaults --datadir="$datadir" --skip-test-db \
	    --innodb-log-file-size=8M > /tmp/install-db.log 2>&1 ||
	    { cat /tmp/install-db.log >&2; exit 1; }
	init=/tmp/siplb-lab-init.sql
	{
		cat "$share/docker/mariadb-init.sql"
		echo "USE opensips;"
		cat "$share/sql/opensips-2.4-tables.sql" \
		    "$share/sql/siplb-node-state.sql" \
		    "$share/docker/lab-nodes.sql"
		echo "USE siplb;"
		cat "$share/sql/siplb-dialogs.mysql.sql"
	} > "$init"
fi
# --no-defaults first: /etc/mysql/my.cnf must not move the socket
exec mariadbd --no-defaults --datadir="$datadir" --port=3306 \
    --bind-address=0.0.0.0 --socket=/run/mysqld/mysqld.sock \
    --pid-file=/run/mysqld/mysqld.pid --skip-name-resolve \
    --innodb-log-file-size=8M --innodb-buffer-pool-size=64M \
    ${init:+--init-file="$init"}
