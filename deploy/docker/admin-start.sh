#!/bin/sh
# siplb-lab-admin: siplb-admin of the compose lab.  The bearer token is the
# file [admin] token_file (/var/lib/siplb/admin.token): written at the
# container's first start with SIPLB_ADMIN_TOKEN, or a random token when
# that is empty; read it with
#   docker-compose exec admin cat /var/lib/siplb/admin.token
set -eu
conf=/etc/siplb/siplb.conf
if [ "${1:-}" = "-c" ] && [ -n "${2:-}" ]; then conf=$2; fi
file=$(sed -n '/^\[admin\]/,/^\[/ s/^token_file[[:space:]]*=[[:space:]]*//p' "$conf" | tail -n 1)
file=${file:-/etc/siplb/admin.token}
umask 077
if [ -n "${SIPLB_ADMIN_TOKEN:-}" ]; then
	printf '%s\n' "$SIPLB_ADMIN_TOKEN" > "$file"
elif [ ! -s "$file" ]; then
	od -An -tx1 -N24 /dev/urandom | tr -d ' \n' > "$file"
	echo >> "$file"
fi
exec siplb-admin "$@"
