# Private MariaDB server for integration tests; source this file.
#
#   mariadb_start DIR PORT   fresh data dir under DIR, server on 127.0.0.1:PORT,
#                            database `opensips` (CHARACTER SET $MARIADB_CHARSET
#                            when set, as `opensipsdbctl create` asks), user
#                            siplb@127.0.0.1 with all rights on it; exports
#                            MARIADB_PID, MARIADB_PORT, MARIADB_DIR, MARIADB_URL
#   mariadb_sql "SQL"        run SQL as siplb on `opensips` (batch output: tab
#                            separated, no header); with no argument, read stdin
#   mariadb_stop             TERM the server, KILL it after 10 s
#
# Needs mariadb-server (Debian 12: 10.11), no systemd, about 1 s in all
# (TEST-LAB-NOTES section 5).  --no-defaults must come first on every command:
# without it /etc/mysql/my.cnf points the socket at /run/mysqld.
# --skip-name-resolve makes a TCP login from 127.0.0.1 match siplb@127.0.0.1
# rather than an anonymous or localhost account.
# Its waits are lib.sh's (lib-wait.sh, sourced here when lib.sh was not:
# scripts/bench sources this file alone).

declare -F wait_until > /dev/null || . "$(dirname "${BASH_SOURCE[0]}")/lib-wait.sh"

MARIADB_USER=siplb
MARIADB_PASSWORD=siplb-pw
MARIADB_DB=opensips

_mariadb_fail() {
	echo "mariadb: $*" >&2
	if [ -n "${MARIADB_DIR:-}" ] && [ -f "$MARIADB_DIR/err.log" ]; then
		echo "---- $MARIADB_DIR/err.log (last 40 lines)" >&2
		tail -n 40 "$MARIADB_DIR/err.log" >&2
		echo "----" >&2
	fi
	return 1
}

mariadb_start() {
	local dir=$1 port=$2 userarg=

	if [ -z "$dir" ] || [ -z "$port" ]; then
		echo "usage: mariadb_start DIR PORT" >&2
		return 64
	fi
	mkdir -p "$dir" || return 1
	dir=$(cd "$dir" && pwd) || return 1
	MARIADB_DIR=$dir
	# unix socket paths are limited to 107 bytes
	if [ ${#dir} -gt 90 ]; then
		_mariadb_fail "$dir: too long a path for the server's socket"
		return 1
	fi
	if [ -f "$dir/mariadbd.pid" ] &&
	    kill -0 "$(cat "$dir/mariadbd.pid")" 2>/dev/null; then
		_mariadb_fail "a server already runs from $dir (pid $(cat "$dir/mariadbd.pid"))"
		return 1
	fi
	# mariadbd refuses to run as root without being told so
	[ "$(id -u)" = 0 ] && userarg=--user=root
	rm -rf "$dir/data"
	rm -f "$dir/err.log" "$dir/mariadbd.pid" "$dir/mysqld.sock"
	if ! mariadb-install-db --no-defaults --datadir="$dir/data" $userarg \
	    --skip-test-db --innodb-log-file-size=8M \
	    >"$dir/install.log" 2>&1; then
		cat "$dir/install.log" >&2
		_mariadb_fail "mariadb-install-db failed in $dir/data"
		return 1
	fi
	cat >"$dir/init.sql" <<EOF
CREATE DATABASE IF NOT EXISTS \`$MARIADB_DB\`${MARIADB_CHARSET:+ CHARACTER SET $MARIADB_CHARSET};
CREATE USER IF NOT EXISTS '$MARIADB_USER'@'127.0.0.1' IDENTIFIED BY '$MARIADB_PASSWORD';
GRANT ALL ON \`$MARIADB_DB\`.* TO '$MARIADB_USER'@'127.0.0.1';
EOF
	mariadbd --no-defaults --datadir="$dir/data" \
	    --socket="$dir/mysqld.sock" --port="$port" \
	    --bind-address=127.0.0.1 --skip-name-resolve $userarg \
	    --pid-file="$dir/mariadbd.pid" --log-error="$dir/err.log" \
	    --init-file="$dir/init.sql" \
	    --innodb-log-file-size=8M --innodb-buffer-pool-size=64M \
	    >"$dir/stdout.log" 2>&1 &
	MARIADB_PID=$!
	MARIADB_PORT=$port
	MARIADB_URL="mysql://$MARIADB_USER:$MARIADB_PASSWORD@127.0.0.1:$port/$MARIADB_DB"
	export MARIADB_PID MARIADB_PORT MARIADB_DIR MARIADB_URL
	# ask for the socket path: another server already on PORT would
	# answer too, and that must not count as ours
	wait_eq -i 0.05 -p "$MARIADB_PID" 30 "siplb to log in to the MariaDB server of $dir" \
	    "$dir/mysqld.sock" mariadb_sql 'SELECT @@socket' && return 0
	if ! alive "$MARIADB_PID"; then
		MARIADB_PID=
		_mariadb_fail "server on port $port exited while starting"
		return 1
	fi
	mariadb_sql "SELECT @@socket" >&2
	_mariadb_fail "siplb cannot log in to the server of $dir on 127.0.0.1:$port after 30 s"
	mariadb_stop
	return 1
}

mariadb_sql() {
	if [ -z "${MARIADB_PORT:-}" ]; then
		echo "mariadb_sql: no server (call mariadb_start first)" >&2
		return 1
	fi
	# MYSQL_PWD keeps the password out of ps output
	if [ $# -eq 0 ]; then
		MYSQL_PWD=$MARIADB_PASSWORD mariadb --no-defaults -h127.0.0.1 \
		    -P"$MARIADB_PORT" -u"$MARIADB_USER" --batch \
		    --skip-column-names "$MARIADB_DB"
	else
		MYSQL_PWD=$MARIADB_PASSWORD mariadb --no-defaults -h127.0.0.1 \
		    -P"$MARIADB_PORT" -u"$MARIADB_USER" --batch \
		    --skip-column-names "$MARIADB_DB" -e "$1"
	fi
}

mariadb_stop() {
	local pid=${MARIADB_PID:-}

	[ -n "$pid" ] || return 0
	kill -TERM "$pid" 2>/dev/null
	if ! wait_while -i 0.05 10 "MariaDB (pid $pid) to exit after SIGTERM" alive "$pid"; then
		echo "mariadb: pid $pid still runs after 10 s, killing it" >&2
		kill -KILL "$pid" 2>/dev/null
	fi
	wait "$pid" 2>/dev/null
	MARIADB_PID=
	return 0
}
