#!/bin/sh
# Install every build, test and run dependency of siplb from Debian packages.
# Idempotent: apt-get update runs only when something is missing.
# prometheus brings prometheus and promtool for the tests (each starts its
# own instance on a free loopback port); Debian's package would also start
# a system instance on :9090 where systemd (or an init.d without a
# policy-rc.d that refuses) runs: nothing here or in the tests needs it.
# scripts/bench: kamailio-*-modules for Kamailio's dialog module in a
# database (db_mysql, db_sqlite), gnuplot-nox for its picture.
set -eu

PKGS="build-essential pkg-config
libnng-dev protobuf-c-compiler libprotobuf-c-dev libosip2-dev
libevent-dev uthash-dev libjansson-dev libmicrohttpd-dev
libmariadb-dev libsqlite3-dev libcmocka-dev
sip-tester mariadb-server mariadb-client sqlite3 curl procps iproute2 systemd
keepalived iputils-ping
docker.io docker-compose mmdebstrap
kamailio kamailio-mysql-modules kamailio-sqlite-modules baresip-core
gnuplot-nox
prometheus
clang-14 libclang-rt-14-dev clang-format
universal-ctags
tmux scdoc man-db"

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "deps: missing packages:$missing (run as root to install)" >&2
	exit 1
fi
echo "deps: installing:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
