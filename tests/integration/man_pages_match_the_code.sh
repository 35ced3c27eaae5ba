#!/bin/bash
# The man pages (doc/*.scd, built by `make` into build/man): each source
# has its page, newer than the source; each renders with
# `man -l --warnings` at 80 columns without one warning; siplb.conf(5)
# documents every key the programs accept, under its section, with the
# code's default and range, and no key they do not (tests/integration/
# man_keys.py reads the programs' key tables); each program's page has
# every option its -h prints, siplbctl(1) every command and option of
# `siplbctl -h`.  Each check is shown to catch what it checks for.
. "$(dirname "$0")/lib.sh"

MAN_DIR=${SIPLB_MAN:-$(dirname "$SIPLB_BIN")/man}
command -v man > /dev/null || fail "man is not installed (make deps)"
[ -d "$MAN_DIR" ] || fail "no $MAN_DIR: build the man pages (make deps; make)"

n=0
for src in "$SIPLB_TOP"/doc/*.scd; do
	page="$MAN_DIR/$(basename "$src" .scd)"
	[ -f "$page" ] || fail "$(basename "$src") has no page $page"
	[ ! "$src" -nt "$page" ] || fail "$page is older than $src: make"
	n=$((n + 1))
done
assert_eq "seven man pages built" "$n" 7

# render PAGE [WIDTH]: the page as plain text (stderr: groff's warnings)
render() { MANWIDTH=${2:-80} man -l --warnings "$1" | col -b; }
for page in "$MAN_DIR"/*.[158]; do
	warn=$(render "$page" 2>&1 > "$T/out")
	assert_eq "$(basename "$page") renders without warnings" "$warn" ""
	[ "$(wc -l < "$T/out")" -gt 20 ] || fail "$(basename "$page") renders to almost nothing"
done
# the check sees a warning: an unknown request
sed '0,/^\.SH/s//.foo bar\n.SH/' "$MAN_DIR/siplbctl.1" > "$T/bad.1"
warn=$(render "$T/bad.1" 2>&1 > /dev/null)
assert_match "a bad request is reported" "$warn" "warning"

render "$MAN_DIR/siplb.conf.5" 200 > "$T/conf.txt" 2> /dev/null
out=$(python3 "$SIPLB_TOP/tests/integration/man_keys.py" "$SIPLB_TOP" "$T/conf.txt") || fail "siplb.conf(5) and the code differ:
$out"
ok "siplb.conf(5): $out"
# the check sees a key missing, a wrong default, a key no program reads
grep -v '^       tcp_idle = ' "$T/conf.txt" > "$T/conf-missing.txt"
out=$(python3 "$SIPLB_TOP/tests/integration/man_keys.py" "$SIPLB_TOP" "$T/conf-missing.txt")
assert_match "a key left out is reported" "$out" '^\[edge\] tcp_idle .* is not in siplb.conf'
sed 's/^       max_attempts = 3 /       max_attempts = 4 /; s/^       batch_max = 1000 (1\.\.100000)/       batch_max = 1000 (1..1000)/' "$T/conf.txt" > "$T/conf-wrong.txt"
out=$(python3 "$SIPLB_TOP/tests/integration/man_keys.py" "$SIPLB_TOP" "$T/conf-wrong.txt")
assert_match "a wrong default is reported" "$out" "max_attempts: .*default is \"3\""
assert_match "a wrong range is reported" "$out" "batch_max: .*range is 1..100000"
sed 's/^\[edge\]$/[edge]\n       no_such_key = 1 (1..2)/' "$T/conf.txt" > "$T/conf-extra.txt"
out=$(python3 "$SIPLB_TOP/tests/integration/man_keys.py" "$SIPLB_TOP" "$T/conf-extra.txt")
assert_match "a key no program accepts is reported" "$out" "no_such_key is in siplb.conf\(5\) but no program accepts it"

# options: what each program's -h prints is in its page's OPTIONS
options_of() {	# PAGE: the option lines of OPTIONS ("       -c FILE")
	render "$1" 2> /dev/null | awk '/^OPTIONS/ { o = 1; next } /^[A-Z]/ { o = 0 } o && /^       -/'
}
for p in siplb-edge siplb-scheduler siplb-prober siplb-dialogd siplb-admin; do
	help=$("$SIPLB_BIN/$p" -h)
	opts=$(options_of "$MAN_DIR/$p.8")
	for o in $(printf '%s\n' "$help" | grep -o '\[-[-a-zA-Z]*' | tr -d '[') -h -V; do
		printf '%s\n' "$opts" | grep -q -- "^       $o\b" || fail "$p -h has $o, $p(8) OPTIONS does not: $opts"
	done
	ok "$p(8) has every option of $p -h"
done

page=$(render "$MAN_DIR/siplbctl.1" 2> /dev/null)
help=$("$SIPLB_BIN/siplbctl" -h)
for o in $(printf '%s\n' "$help" | grep -o -- '--[a-z][-a-z]*' | sort -u); do
	printf '%s\n' "$page" | grep -q -- "$o\b" || fail "siplbctl -h has $o, siplbctl(1) does not"
done
cmds=$(printf '%s\n' "$help" | sed -n 's/^  \([a-z]\+\( [a-z|]\+\)\?\) .*/\1/p' | sort -u)
[ "$(printf '%s\n' "$cmds" | wc -l)" -ge 10 ] || fail "too few commands read from siplbctl -h: $cmds"
cmd_lines=$(printf '%s\n' "$page" | awk '/^COMMANDS/ { c = 1; next } /^[A-Z]/ { c = 0 } c && /^       [a-z]/')
while read -r c; do
	printf '%s\n' "$cmd_lines" | grep -q -- "^       $c\b" || fail "siplbctl -h has \"$c\", siplbctl(1) COMMANDS does not"
done <<< "$cmds"
ok "siplbctl(1) has every option and command of siplbctl -h ($(echo $cmds | tr '\n' ' '))"
