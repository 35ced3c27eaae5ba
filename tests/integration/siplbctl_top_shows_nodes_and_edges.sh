#!/bin/bash
# siplbctl top while calls run: in a terminal (a detached tmux pane of
# 120x40) the frame shows both nodes with their URIs and health, calls/s
# near the callers' rate and load (with a bar) on the nodes, and the
# edge's requests/s; it follows a resize of the window (SIGWINCH); q,
# Ctrl-C and SIGTERM each end it with the terminal given back (main
# screen, cursor shown, line mode as before).  Through a pipe it writes
# plain frames without one escape byte, one per refresh, `--count N` of
# them.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-edge.sh"

command -v tmux > /dev/null || { echo "tmux not installed (make deps)"; exit 77; }

RATE=20
edge_config
start_scheduler
start_edge
node "$N1" uas.xml
node "$N2" uas.xml

# a tmux server of this test's own (-L), no config, so no other session
# is touched
TM=(tmux -L "siplb-top-$$" -f /dev/null)
CLEANUPS+=("${TM[*]} kill-server 2> /dev/null")
"${TM[@]}" new-session -d -s top -x 120 -y 40 \
    "env -i PATH=$PATH TERM=screen HOME=$T PS1='top-test\$ ' bash --norc --noprofile"
pane() { "${TM[@]}" capture-pane -p -t top; }
pane_fmt() { "${TM[@]}" display -p -t top "$1"; }
pane_has() { pane | grep -q -- "$1"; }
wait_until 5 "the shell in tmux" pane_has 'top-test\$' || fail "no shell prompt in tmux"

# calls for about 12 s: 240 calls of 2 s at RATE/s
(uac uac.xml 240 "$RATE" -d 2000; echo "$UAC_OK $UAC_FAILED" > "$T/uac.result") &
UAC_BG=$!
PIDS+=("$UAC_BG")

# run_top N: type the command line (top between two stty -g), until the
# frame is on the alternate screen
run_top() {
	"${TM[@]}" send-keys -t top "clear; stty -g > $T/stty.before.$1; $SIPLB_BIN/siplbctl -c $T/siplb.conf top; echo \"top exited \$?\"; stty -g > $T/stty.after.$1" Enter
	wait_eq 5 "siplbctl top on the alternate screen" 1 pane_fmt '#{alternate_on}' ||
	    fail "top did not enter the alternate screen: $(pane)"
	wait_until 5 "the first frame" pane_has 'CALLS/S' || fail "no frame: $(pane)"
}

# frame_check: the pane's frame as "URI1 URI2 health... | sum of calls/s |
# nodes with load and a bar | edge requests/s"; exit 0 when both nodes
# are up, calls/s > 0 and load > 0 on one, the edge line has requests/s > 0
frame_check() {
	pane | python3 -c '
import re, sys
text = sys.stdin.read()
node = re.compile(r"^\s*(\d+) (sip:\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\d+)\s+(\S+)\s+\[([# ]*)\]\s+(\d+)/(\d+)\s*$")
cont = re.compile(r"^\s+(\S+)\s+\[([# ]*)\]\s+(\d+)/(\d+)\s*$")
uris, health, rate, loaded, cur = {}, {}, 0.0, 0, None
edge = None
for l in text.splitlines():
    m = node.match(l)
    if m:
        cur = m.group(2); uris[cur] = 1; health[cur] = m.group(3)
        if m.group(5) != "-": rate += float(m.group(5))
        res = [(m.group(7), m.group(8), int(m.group(9)))]
    else:
        c = cont.match(l)
        res = [(c.group(1), c.group(2), int(c.group(3)))] if c and cur else []
    for name, bar, load in res:
        if name == "pstn" and load > 0 and "#" in bar: loaded += 1
    e = re.match(r"^(ipc://\S+)\s+(\S+)\s+(\d+) \((\S+)\)\s+(\d+) \((\S+)\)\s+(\d+)", l)
    if e: edge = e
print(" ".join(sorted(uris)), " ".join(health[u] for u in sorted(uris)), "| %.1f | %d |" % (rate, loaded), edge.group(1) + " " + edge.group(2) if edge else "no edge line")
ok = len(uris) == 2 and set(health.values()) == {"up"} and rate > 0 and loaded > 0 and edge and edge.group(2) not in ("-", "0.0")
sys.exit(0 if ok else 1)'
}

run_top 1
wait_until 10 "a frame with both nodes, calls/s, load and the edge's requests/s" frame_check ||
    fail "frame: $(pane)"
ok "the frame: $WAIT_OUT"
want="sip:127.0.0.1:$N1 sip:127.0.0.1:$N2 up up"
assert_eq "both nodes with their URIs, up" "${WAIT_OUT%% |*}" "$want"
rate=$(echo "$WAIT_OUT" | awk -F' [|] ' '{print $2}')
# the callers make RATE calls/s; one refresh may catch a burst or a lull
python3 -c "import sys; r = float('$rate'); sys.exit(0 if $RATE * 0.4 <= r <= $RATE * 1.6 else 1)" ||
    fail "calls/s over both nodes $rate, the callers make $RATE"
ok "calls/s over both nodes $rate (callers: $RATE)"
assert_match "the edge line names the edge's REP" "$WAIT_OUT" "ipc://$T/edge.rep [0-9.]+$"
maxw() { pane | awk '{ if (length($0) > m) m = length($0) } END { print m + 0 }'; }
[ "$(maxw)" -le 119 ] || fail "lines wider than the window: $(maxw)"
barw() { pane | grep -o '\[[# ]*\]' | head -n 1 | awk '{ print length($0) }'; }
wide=$(barw)

# a narrower window: the next frame fits it, with shorter bars
"${TM[@]}" resize-window -t top -x 100 -y 30
narrow() { local w b; w=$(maxw); b=$(barw); echo "width $w, bar $b"; [ "$w" -le 99 ] && [ "${b:-0}" -gt 0 ] && [ "$b" -lt "$wide" ]; }
wait_until 3 "the frame to fit 100 columns" narrow || fail "not redrawn for 100 columns: $(pane)"
ok "redrawn for 100 columns ($WAIT_OUT, was bar $wide)"
frame_check > /dev/null || fail "the narrow frame lost something: $(pane)"
ok "both nodes, load and the edge still in 100 columns"

# the terminal given back: the shell's screen, cursor shown, termios as
# before (top had turned canonical mode and echo off)
restored() {	# N WHAT
	wait_until 5 "top to exit ($2)" pane_has 'top exited 0' || fail "top did not exit on $2: $(pane)"
	wait_eq 3 "the pane back at the shell ($2)" bash pane_fmt '#{pane_current_command}' ||
	    fail "still running after $2"
	assert_eq "main screen after $2" "$(pane_fmt '#{alternate_on}')" 0
	assert_eq "cursor shown after $2" "$(pane_fmt '#{cursor_flag}')" 1
	wait_until 3 "stty after top" test -s "$T/stty.after.$1" || fail "no stty after top"
	assert_eq "terminal modes after $2 as before" "$(cat "$T/stty.after.$1")" "$(cat "$T/stty.before.$1")"
	pane_has 'top-test\$' || fail "no prompt after $2: $(pane)"
	! pane_has 'CALLS/S' || fail "the frame left on the screen after $2: $(pane)"
}
"${TM[@]}" send-keys -t top q
restored 1 "q"

run_top 2
"${TM[@]}" send-keys -t top C-c
restored 2 "Ctrl-C"

run_top 3
top_pid=$(pgrep -P "$(pane_fmt '#{pane_pid}')" -x siplbctl)
[ -n "$top_pid" ] || fail "no siplbctl under the pane's shell"
kill -TERM "$top_pid"
restored 3 "SIGTERM"

# through a pipe: plain text, one frame per refresh
ctl top --count 1 | cat > "$T/snap1"
esc=$(LC_ALL=C grep -c $'\033' "$T/snap1")
assert_eq "no ESC byte in a piped frame" "$esc" 0
assert_eq "one frame for --count 1" "$(grep -c '^siplbctl top - ' "$T/snap1")" 1
grep -q "sip:127.0.0.1:$N1 " "$T/snap1" && grep -q "sip:127.0.0.1:$N2 " "$T/snap1" ||
    fail "the snapshot lacks a node: $(cat "$T/snap1")"
grep -q "^ipc://$T/edge.rep " "$T/snap1" || fail "the snapshot lacks the edge: $(cat "$T/snap1")"
ok "a piped snapshot shows both nodes and the edge"
t0=$EPOCHREALTIME
ctl top --count 3 --interval 0.3 > "$T/snap3"
dt=$(python3 -c "print(int(($EPOCHREALTIME - $t0) * 1000))")
assert_eq "three frames for --count 3" "$(grep -c '^siplbctl top - ' "$T/snap3")" 3
[ "$dt" -ge 600 ] || fail "3 frames 0.3 s apart in $dt ms"
ok "3 frames 0.3 s apart took $dt ms"
assert_eq "no ESC byte in a redirected run" "$(LC_ALL=C grep -c $'\033' "$T/snap3")" 0
# the later frames have rates: the first has none
first_rates=$(awk '/^siplbctl top - /{f++} f==1 && $2 ~ /^sip:/ {print $5}' "$T/snap3" | sort -u)
assert_eq "the first frame has no calls/s yet" "$first_rates" "-"
last_rates=$(awk '/^siplbctl top - /{f++} f==3 && $2 ~ /^sip:/ {print $5}' "$T/snap3" | grep -c '^[0-9.]*$')
assert_eq "the last frame has calls/s for both nodes" "$last_rates" 2

wait "$UAC_BG"
read -r OK FAILED < "$T/uac.result"
assert_eq "every call succeeded meanwhile" "$OK" 240
