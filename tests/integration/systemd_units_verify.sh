#!/bin/bash
# The systemd units (deploy/systemd) pass `systemd-analyze verify`, which
# prints most mistakes as warnings and exits 0: any output fails the test.
# A unit with a misspelt key must be caught, so the check itself is checked.
. "$(dirname "$0")/lib.sh"

command -v systemd-analyze > /dev/null || { echo "systemd-analyze missing"; exit 1; }
mkdir -p "$T/units"
for f in "$SIPLB_TOP"/deploy/systemd/*.in; do
	sed "s|@BINDIR@|$SIPLB_BIN|g; s|@SYSCONFDIR@|/etc|g" "$f" > "$T/units/$(basename "${f%.in}")"
done
cp "$SIPLB_TOP"/deploy/systemd/*.target "$T/units/"
n=$(ls "$T/units" | wc -l)
assert_eq "six units (five services and the target)" "$n" 6
out=$(cd "$T/units" && systemd-analyze verify --man=no ./*.service ./*.target 2>&1); rc=$?
assert_eq "systemd-analyze verify exit status" "$rc" 0
assert_eq "systemd-analyze verify says nothing" "$out" ""
grep -q '^AmbientCapabilities=CAP_NET_BIND_SERVICE$' "$T/units/siplb-edge.service" || fail "edge lacks CAP_NET_BIND_SERVICE"
for u in "$T"/units/*.service; do
	grep -q '^NoNewPrivileges=yes$' "$u" && grep -q '^ProtectSystem=strict$' "$u" &&
	    grep -q '^Restart=on-failure$' "$u" && grep -q '^User=siplb$' "$u" ||
	    fail "$(basename "$u") lacks the hardening or restart policy"
done
ok "every service runs as siplb, restarts on failure, ProtectSystem=strict, NoNewPrivileges"

# the check catches what only warns
sed 's/^Restart=on-failure/Restartt=on-failure/' "$T/units/siplb-edge.service" > "$T/bad.service"
out=$(cd "$T" && systemd-analyze verify --man=no ./bad.service 2>&1)
assert_match "a misspelt key is reported" "$out" "Unknown key 'Restartt'"
