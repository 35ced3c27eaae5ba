#!/bin/bash
# The keepalived pair in deploy/keepalived passes `keepalived -t` (with the
# paths make install gives pointed at this tree), keeps its health check
# (keepalived drops a check it cannot run, and says so), and the check it
# runs, `siplbctl health`, fails when no edge answers.
. "$(dirname "$0")/lib.sh"

command -v keepalived > /dev/null || { echo "keepalived missing (scripts/deps.sh)"; exit 1; }
for n in 1 2; do
	sed "s|/usr/local/bin/siplbctl|$SIPLB_BIN/siplbctl|; s|/usr/local/share/siplb/keepalived-notify.sh|$SIPLB_TOP/deploy/keepalived/keepalived-notify.sh|; s|/run/siplb/vrrp.state|$T/vrrp$n.state|" \
	    "$SIPLB_TOP/deploy/keepalived/keepalived-edge$n.conf" > "$T/ka$n.conf"
	out=$(keepalived -t -f "$T/ka$n.conf" 2>&1); rc=$?
	assert_eq "edge $n config: keepalived -t exit status" "$rc" 0
	case $out in *Disabling*|*"not found"*|*SECURITY*) fail "edge $n: $out" ;; esac
	ok "edge $n config keeps its health check"
done
grep -q '^ *nopreempt' "$T/ka1.conf" && ! grep -q '^ *nopreempt' "$T/ka2.conf" || fail "nopreempt must be on edge 1 only"
grep -q '^ *weight' "$T/ka1.conf" "$T/ka2.conf" && fail "a weighted check script"
ok "nopreempt on edge 1 only, and the check has no weight (FAULT mode)"
printf '[general]\nrun_dir = %s\n' "$T" > "$T/siplb.conf"
out=$("$SIPLB_BIN/siplbctl" -c "$T/siplb.conf" --timeout 200 health 2>&1); rc=$?
[ "$rc" -ne 0 ] || fail "siplbctl health succeeded with no edge"
ok "siplbctl health fails with no edge: $out"
out=$("$SIPLB_TOP/deploy/keepalived/keepalived-notify.sh" INSTANCE VI_SIPLB MASTER 200 2>&1); rc=$?
assert_eq "notify hook exit status" "$rc" 0
"$SIPLB_TOP/deploy/keepalived/keepalived-notify.sh" "$T/vrrp.state" INSTANCE VI_SIPLB FAULT 200 2>/dev/null
assert_match "notify hook writes the state file" "$(cat "$T/vrrp.state")" '^FAULT VI_SIPLB 200 [0-9]+$'
"$SIPLB_TOP/deploy/keepalived/keepalived-notify.sh" "$T/vrrp.state" INSTANCE VI_SIPLB BACKUP 200 2>/dev/null
assert_match "notify hook replaces the state" "$(cat "$T/vrrp.state")" '^BACKUP VI_SIPLB 200 [0-9]+$'
"$SIPLB_TOP/deploy/keepalived/keepalived-notify.sh" "$T/no/such/dir/vrrp.state" INSTANCE VI_SIPLB MASTER 200 2>/dev/null; rc=$?
assert_eq "notify hook exit status when it cannot write the state" "$rc" 0
