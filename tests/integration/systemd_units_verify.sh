#!/bin/bash
# The systemd units (deploy/systemd) pass `systemd-analyze verify`, which
# prints most mistakes as warnings and exits 0: any output fails the test.
# A unit with a misspelt key must be caught, so the check itself is checked.
# Every unit's Documentation= names man pages the build made (systemd-analyze
# verify --man=yes runs man(1) on each, over a MANPATH of build/man) and the
# service's own page; a file: URL names the README.
. "$(dirname "$0")/lib.sh"

command -v systemd-analyze > /dev/null || { echo "systemd-analyze missing"; exit 1; }
mkdir -p "$T/units"
for f in "$SIPLB_TOP"/deploy/systemd/*.in; do
	sed "s|@BINDIR@|$SIPLB_BIN|g; s|@SYSCONFDIR@|/etc|g; s|@DOCDIR@|$SIPLB_TOP|g" "$f" > "$T/units/$(basename "${f%.in}")"
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

# Documentation=: man pages the build produced, the README
MAN_DIR=${SIPLB_MAN:-$(dirname "$SIPLB_BIN")/man}
[ -d "$MAN_DIR" ] || fail "no $MAN_DIR: build the man pages (make deps; make)"
for u in "$T"/units/*.service "$T"/units/*.target; do
	doc=$(sed -n 's/^Documentation=//p' "$u")
	case $doc in *github.com/siplb*) fail "$(basename "$u") still points at $doc" ;; esac
	for m in $(printf '%s\n' "$doc" | grep -o 'man:[^ ]*'); do
		name=${m#man:}; sect=${name##*(}; sect=${sect%)}; name=${name%(*}
		[ -f "$MAN_DIR/$name.$sect" ] || fail "$(basename "$u"): $m, but the build made no $MAN_DIR/$name.$sect"
	done
	for f in $(printf '%s\n' "$doc" | grep -o 'file:[^ ]*'); do
		[ -f "${f#file:}" ] || fail "$(basename "$u"): $f does not exist"
	done
done
for p in edge scheduler prober dialogd admin; do
	sed -n 's/^Documentation=//p' "$T/units/siplb-$p.service" | grep -q "man:siplb-$p(8)" ||
	    fail "siplb-$p.service does not name man:siplb-$p(8)"
done
ok "every unit names man pages the build made; each service its own page"
for p in "$MAN_DIR"/*.[158]; do
	s=${p##*.}; mkdir -p "$T/manpath/man$s"; ln -s "$p" "$T/manpath/man$s/"
done
out=$(cd "$T/units" && MANPATH="$T/manpath" systemd-analyze verify --man=yes ./*.service ./*.target 2>&1); rc=$?
assert_eq "systemd-analyze verify --man=yes exit status" "$rc" 0
assert_eq "systemd-analyze verify --man=yes finds every page" "$out" ""
# and it would say so of a page that is not there
mkdir -p "$T/nomanpath"
out=$(cd "$T/units" && MANPATH="$T/nomanpath" systemd-analyze verify --man=yes ./siplb-edge.service 2>&1)
assert_match "a missing page is reported" "$out" "man siplb-edge\(8\)' failed"
