#!/bin/bash
# A real Prometheus (Debian's 2.42) scrapes siplb-admin's /metrics with the
# bearer token while calls go through the whole suite (dialogd, scheduler,
# prober, edge, admin): a scrape taken during the calls passes
# `promtool check metrics`; Prometheus's own instance (a free loopback
# port of the test's block, its TSDB under $T, never the system's :9090)
# finds the target up with the token and down (401) without it, and
# answers siplb_node_load with a series per node and
# rate(siplb_node_selected_total[5s]) > 0 for each node while the calls
# run; every PromQL expression of the Grafana
# dashboards (deploy/grafana/*.json, panels nested in rows too, variables
# substituted as Grafana would) parses, names only metrics Prometheus
# scraped, groups by and matches on labels they have, returns series, and
# every {{label}} of its legend is on them (the check is first shown to
# catch each of these in a bad dashboard); after the calls Prometheus sees
# the load back to 0 and the selections equal to the calls.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-edge.sh"
. "$(dirname "$0")/lib-admin.sh"

[ -x "$SIPLB_BIN/siplb-admin" ] || { echo "siplb-admin not built"; exit 1; }
for c in curl sipp prometheus promtool; do
	command -v "$c" > /dev/null || { echo "$c not installed (scripts/deps.sh)"; exit 77; }
done

# the whole suite, the prober probing both nodes always (their RTT is on
# the dashboard)
admin_config "metrics_public = no"
sed -i "s|^prober_pub =\$|prober_pub = ipc://$T/prober.pub\nprober_rep = ipc://$T/prober.rep|" "$T/siplb.conf"
cat >> "$T/siplb.conf" <<CONF
[prober]
pub = ipc://$T/prober.pub
rep = ipc://$T/prober.rep
listen = udp:127.0.0.1:0
interval = 300
timeout = 200
CONF
sed -i 's/^probe_mode = 1$/probe_mode = 2/' "$T/nodes.conf"
# the nodes answer the prober's first probe (else it marks them down)
node "$N1" uas.xml
node "$N2" uas.xml
start_suite
start_bg prober siplb-prober
wait_for_log -i 0.05 -p "$PID_prober" 5 "$T/prober.log" 'ready: prober:' || fail "siplb-prober not ready"

# --- our own Prometheus: a free loopback port, its own TSDB and config
# (in this test's block of ports, lib-edge.sh's BASE: never the system's
# 9090, and no clash with the test's sipp ports)
PROM_PORT=$((BASE + 98))
python3 -c 'import socket, sys; socket.socket().bind(("127.0.0.1", int(sys.argv[1])))' "$PROM_PORT" 2> /dev/null ||
    fail "127.0.0.1:$PROM_PORT is taken"
PROM="http://127.0.0.1:$PROM_PORT"
cat > "$T/prometheus.yml" <<YML
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: siplb
    metrics_path: /metrics
    authorization:
      credentials_file: $T/admin.token
    static_configs:
      - targets: ['127.0.0.1:$ADMIN_PORT']
  - job_name: siplb-no-token
    metrics_path: /metrics
    static_configs:
      - targets: ['127.0.0.1:$ADMIN_PORT']
YML
promtool check config "$T/prometheus.yml" > "$T/promtool-config.out" 2>&1 ||
    fail "promtool check config: $(cat "$T/promtool-config.out")"
ok "promtool check config passes on the scrape configuration"
prometheus --config.file="$T/prometheus.yml" --storage.tsdb.path="$T/prometheus" \
    --web.listen-address="127.0.0.1:$PROM_PORT" --log.level=info \
    >> "$T/prometheus.log" 2>&1 &
PROM_PID=$!
PIDS+=("$PROM_PID")
wait_until -p "$PROM_PID" 15 "Prometheus to be ready" curl -sf -m 2 "$PROM/-/ready" ||
    fail "Prometheus not ready: $(tail -n 5 "$T/prometheus.log")"
ok "Prometheus ready on 127.0.0.1:$PROM_PORT ($WAIT_MS ms)"

# papi PATH [curl args...]: a GET of Prometheus's HTTP API
papi() { local p=$1; shift; curl -sf -m 5 -G "$@" "$PROM$p"; }
# target_health JOB: health and lastError of the job's one target
target_health() {
	papi /api/v1/targets --data-urlencode state=active | jq_py "' '.join((t['health'] + ' ' + t['lastError']).strip() for t in d['data']['activeTargets'] if t['labels']['job'] == '$1')"
}
wait_eq 10 "Prometheus to scrape siplb-admin with the token" up target_health siplb ||
    fail "target not up: $WAIT_OUT"
ok "target up with the token ($WAIT_MS ms)"
_no_token_down() { local h; h=$(target_health siplb-no-token); echo "$h"; case $h in down*401*) return 0 ;; esac; return 1; }
wait_until 10 "the target without the token to be down with 401" _no_token_down ||
    fail "target without the token: $WAIT_OUT"
ok "target without the token down: $WAIT_OUT"

# pq QUERY: an instant query; prints the result as JSON (fails on an error)
pq() { papi /api/v1/query --data-urlencode "query=$1" | jq_py "json.dumps(d['data']['result']) if d['status'] == 'success' else sys.exit(1)"; }
# per_node QUERY: "NODE=VALUE ..." of a query's result, by node label
per_node() { pq "$1" | jq_py "' '.join('%s=%g' % (r['metric'].get('node'), float(r['value'][1])) for r in sorted(d, key=lambda r: r['metric'].get('node', '')))"; }
# all_positive QUERY: prints per_node and succeeds when both nodes are > 0
all_positive() {
	local got
	got=$(per_node "$1") || return 1
	echo "$got"
	printf '%s\n' "$got" | python3 -c 'import sys; v = dict(p.split("=") for p in sys.stdin.read().split()); sys.exit(0 if sorted(v) == ["1", "2"] and all(float(x) > 0 for x in v.values()) else 1)'
}

# --- calls: 20/s for 12 s, 3 s each (about 60 in progress)
CALLS=240
(uac uac.xml "$CALLS" 20 -d 3000; echo "$UAC_OK $UAC_FAILED" > "$T/uac.result") &
UAC_BG=$!
PIDS+=("$UAC_BG")

# a scrape with the token while calls are in progress, through promtool
# (the wait's command runs in a subshell: the status comes back in a file)
_loaded() {
	api GET /metrics
	echo "$CODE" > "$T/during.code"
	printf '%s\n' "$RESP" > "$T/during"
	[ "$CODE" = 200 ] || { echo "HTTP $CODE"; return 1; }
	python3 -c '
import sys
load = sum(float(l.split()[-1]) for l in open(sys.argv[1]) if l.startswith("siplb_node_load{"))
print("%g" % load)
sys.exit(0 if load > 0 else 1)' "$T/during"
}
wait_until -p "$UAC_BG" 10 "a scrape with calls in progress" _loaded || fail "no load in /metrics during the calls"
assert_eq "/metrics with the token" "$(cat "$T/during.code")" 200
ok "scraped /metrics with $WAIT_OUT calls in progress"
promtool check metrics < "$T/during" > "$T/promtool-metrics.out" 2>&1
rc=$?
[ "$rc" = 0 ] || fail "promtool check metrics (exit $rc): $(head -n 20 "$T/promtool-metrics.out")"
[ -s "$T/promtool-metrics.out" ] && fail "promtool check metrics says: $(head -n 20 "$T/promtool-metrics.out")"
ok "promtool check metrics passes, no lint ($(grep -c '^# TYPE ' "$T/during") families, $(grep -vc '^#' "$T/during") samples)"

# --- back through Prometheus's query API while the calls run
wait_until -p "$UAC_BG" 10 "Prometheus to show load on both nodes" all_positive 'sum by (node) (siplb_node_load)' ||
    fail "siplb_node_load per node in Prometheus: $WAIT_OUT"
ok "siplb_node_load in Prometheus, a series per node, load on each: $WAIT_OUT"
assert_eq "siplb_node_load series (2 nodes x pstn)" "$(pq 'siplb_node_load' | jq_py 'len(d)')" 2
wait_until -p "$UAC_BG" 10 "rate(siplb_node_selected_total[5s]) > 0 on both nodes" all_positive 'sum by (node) (rate(siplb_node_selected_total[5s]))' ||
    fail "rate of selections per node in Prometheus: $WAIT_OUT"
alive "$UAC_BG" || fail "the calls ended before Prometheus showed them"
ok "rate(siplb_node_selected_total[5s]) per node while the calls run: $WAIT_OUT /s"
# the prober's RTT (a dashboard panel) has reached Prometheus too
_rtts() { pq 'count(siplb_node_rtt_seconds)' | jq_py "d[0]['value'][1] if d else 0"; }
wait_eq 10 "siplb_node_rtt_seconds for both nodes in Prometheus" 2 _rtts ||
    fail "no probe RTT in Prometheus"
ok "siplb_node_rtt_seconds for both nodes"

# --- every PromQL expression of the Grafana dashboards, asked of Prometheus
ls "$SIPLB_TOP"/deploy/grafana/*.json > /dev/null 2>&1 || fail "no dashboard in deploy/grafana"
# check-dashboards.py PROM FILE...: prints ok/FAIL per expression, exits 1
# on any problem
cat > "$T/check-dashboards.py" <<'PY'
import json, re, sys, urllib.error, urllib.parse, urllib.request

prom, files = sys.argv[1], sys.argv[2:]
bad = []

def get(path, **params):
    q = urllib.parse.urlencode(params, doseq=True)
    try:
        with urllib.request.urlopen(prom + path + '?' + q, timeout=5) as r:
            return json.load(r)
    except urllib.error.HTTPError as e:	# 400 with the parse error
        return json.load(e)

names = set(get('/api/v1/label/__name__/values')['data'])
siplb_names = sorted(n for n in names if n.startswith('siplb_'))
print('Prometheus scraped %d metric names (%d siplb_*)' % (len(names), len(siplb_names)))

def labels_of(metric):
    keys = set()
    for s in get('/api/v1/series', **{'match[]': metric})['data']:
        keys |= set(s)
    return keys

# Grafana's built-in variables for a 1 s scrape interval over the last 5m:
# $__rate_interval = max($__interval + scrape interval, 4 x scrape interval)
BUILTIN = {'__rate_interval': '4s', '__interval': '1s', '__interval_ms': '1000',
           '__range': '5m', '__range_s': '300', '__range_ms': '300000'}

def regex_escape(v):	# what Grafana does to a value in =~ (in a PromQL string)
    return re.sub(r'([\\$^*{}\[\]\'+?.()|])', r'\\\\\1', v)

def var_values(var):
    """A query variable's values as Prometheus has them (label_values)."""
    q = var.get('query')
    q = q.get('query') if isinstance(q, dict) else q
    m = re.fullmatch(r'\s*label_values\(\s*(.+?)\s*,\s*([a-zA-Z_]\w*)\s*\)\s*', q or '')
    if not m:
        bad.append('variable %s: query %r is not label_values(METRIC, LABEL)' % (var['name'], q))
        return []
    metric, label = m.groups()
    check(metric, 'variable ' + var['name'], want_data=True)
    return get('/api/v1/label/%s/values' % label, **{'match[]': metric})['data']

def substitute(expr, variables, where):
    def one(m):
        name = m.group(1) or m.group(2) or m.group(3)
        if name in BUILTIN:
            return BUILTIN[name]
        if name in variables:
            return variables[name]
        bad.append('%s: undefined variable $%s in %s' % (where, name, expr))
        return name
    return re.sub(r'\$\{(\w+)(?::\w+)?\}|\[\[(\w+)\]\]|\$(\w+)', one, expr)

KEYWORDS = {'by', 'without', 'on', 'ignoring', 'group_left', 'group_right',
            'bool', 'offset', 'and', 'or', 'unless', 'atan2', 'inf', 'nan'}

def metric_names(expr):
    """Metric names an expression selects (strings, matchers, ranges, label
    lists and function names taken out)."""
    found = set(re.findall(r'__name__\s*=\s*"([^"]+)"', expr))
    e = re.sub(r'"(\\.|[^"\\])*"|\'(\\.|[^\'\\])*\'|`[^`]*`', '""', expr)
    e = re.sub(r'\{[^}]*\}', ' ', e)
    e = re.sub(r'\[[^\]]*\]', ' ', e)
    e = re.sub(r'\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)', ' ', e)
    for m in re.finditer(r'(?<![\w.:])([a-zA-Z_:][\w:]*)(?![\w:])(?!\s*\()', e):
        if m.group(1).lower() not in KEYWORDS:
            found.add(m.group(1))
    return found

def used_labels(expr):
    e = re.sub(r'"(\\.|[^"\\])*"', '""', expr)
    labels = set()
    for m in re.finditer(r'\b(by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)', e):
        labels |= {l.strip() for l in m.group(2).split(',') if l.strip()}
    for m in re.finditer(r'\{([^}]*)\}', e):
        labels |= set(re.findall(r'([a-zA-Z_]\w*)\s*(?:=~|!~|!=|=)', m.group(1)))
    return labels - {'__name__'}

def check(expr, where, legend=None, want_data=True):
    r = get('/api/v1/query', query=expr)
    if r.get('status') != 'success':
        bad.append('%s: %s: %s' % (where, expr, r.get('error')))
        return
    ms = metric_names(expr)
    if not ms:
        bad.append('%s: %s: names no metric (the check would be vacuous)' % (where, expr))
    for m in sorted(ms - names):
        bad.append('%s: %s: metric %s is not among the scraped series' % (where, expr, m))
    have = set().union(*(labels_of(m) for m in ms & names)) if ms & names else set()
    for l in sorted(used_labels(expr) - have):
        bad.append('%s: %s: label %s is on none of its metrics (%s)' % (where, expr, l, ', '.join(sorted(ms))))
    res = r['data']['result'] if r['data']['resultType'] == 'vector' else []
    if want_data and not res:
        bad.append('%s: %s: no series' % (where, expr))
    for l in re.findall(r'\{\{\s*(\w+)\s*\}\}', legend or ''):
        if any(l not in s['metric'] for s in res):
            bad.append('%s: legend {{%s}} is not a label of the result of %s' % (where, l, expr))
    print('ok - %s: %s (%d series, metrics %s)' % (where, expr, len(res), ', '.join(sorted(ms))))

def panels(node, path=''):
    """Every panel, also inside rows (panels[] of a row, or collapsed)."""
    for p in node.get('panels', []) or []:
        yield p, path + '/' + str(p.get('title', p.get('id')))
        yield from panels(p, path + '/' + str(p.get('title', p.get('id'))))
    for row in node.get('rows', []) or []:	# the old schema
        yield from panels(row, path + '/' + str(row.get('title', 'row')))

total = 0
for f in files:
    d = json.load(open(f))
    variables = {}
    for v in d.get('templating', {}).get('list', []):
        if v.get('type') == 'query':
            vals = var_values(v)
            if not vals:
                bad.append('%s: variable %s has no values' % (f, v['name']))
            variables[v['name']] = '(' + '|'.join(regex_escape(x) for x in vals) + ')' if vals else '.+'
        elif v.get('type') in ('custom', 'constant', 'textbox', 'interval'):
            variables[v['name']] = v.get('current', {}).get('value') or v.get('query', '')
        elif v.get('type') == 'datasource':
            variables[v['name']] = 'prometheus'
    for p, where in panels(d):
        for t in p.get('targets', []) or []:
            if 'expr' not in t:
                continue
            total += 1
            at = '%s %s %s' % (f.rsplit('/', 1)[-1], where, t.get('refId', ''))
            check(substitute(t['expr'], variables, at), at, t.get('legendFormat'))
if total == 0:
    bad.append('no PromQL expression found in %s' % ' '.join(files))
for b in bad:
    print('FAIL: ' + b)
print('%d expressions, %d problems' % (total, len(bad)))
sys.exit(1 if bad else 0)
PY
# the check itself finds what it is there for: a dashboard with a misspelt
# metric, a parse error, an undefined variable, a label no series has and
# a legend label the result lacks, in a collapsed row's panels
cat > "$T/bad-dashboard.json" <<'JSON'
{"title": "bad", "templating": {"list": []}, "panels": [
 {"type": "row", "title": "row", "collapsed": true, "panels": [
  {"title": "typo", "targets": [{"refId": "A", "expr": "sum(rate(siplb_node_selectd_total[$__rate_interval]))"}]},
  {"title": "parse", "targets": [{"refId": "A", "expr": "sum by (node) (siplb_node_load"}]},
  {"title": "var", "targets": [{"refId": "A", "expr": "siplb_node_up{node=~\"$nosuch\"}"}]},
  {"title": "label", "targets": [{"refId": "A", "expr": "sum by (instance_x) (siplb_node_enabled)"}]},
  {"title": "legend", "targets": [{"refId": "A", "expr": "siplb_up", "legendFormat": "{{nolabel}}"}]}]}]}
JSON
python3 "$T/check-dashboards.py" "$PROM" "$T/bad-dashboard.json" > "$T/bad-dashboard.out" 2>&1 &&
    fail "the dashboard check passed a bad dashboard: $(cat "$T/bad-dashboard.out")"
for want in 'row/typo A: .*metric siplb_node_selectd_total is not among the scraped series' \
    'row/parse A: .*parse error' 'row/var A: undefined variable \$nosuch' \
    'row/label A: .*label instance_x is on none of its metrics' \
    'row/legend A: legend \{\{nolabel\}\} is not a label'; do
	grep -Eq "^FAIL: bad-dashboard.json /$want" "$T/bad-dashboard.out" ||
	    fail "the dashboard check missed /$want/: $(cat "$T/bad-dashboard.out")"
done
ok "the dashboard check finds a misspelt metric, a parse error, an undefined variable, a missing label and a legend label"

python3 "$T/check-dashboards.py" "$PROM" "$SIPLB_TOP"/deploy/grafana/*.json > "$T/dashboards.out" 2>&1
rc=$?
cat "$T/dashboards.out"
[ "$rc" = 0 ] || fail "the dashboard and the scraped metrics disagree"
ok "every dashboard expression parses and finds its metrics and labels in Prometheus"

# --- the calls end: all succeeded, Prometheus sees the load go back to 0
wait "$UAC_BG"
read -r OK FAILED < "$T/uac.result"
assert_eq "every call succeeded" "$OK" "$CALLS"
assert_eq "no call failed" "$FAILED" 0
_load_in_prom() { pq 'sum(siplb_node_load)' | jq_py "d[0]['value'][1] if d else 'none'"; }
wait_eq 8 "Prometheus to show no load after the calls" 0 _load_in_prom ||
    fail "load in Prometheus after the calls: $WAIT_OUT"
ok "Prometheus: load back to 0 after the calls"
sel=$(pq 'sum(siplb_node_selected_total)' | jq_py "d[0]['value'][1]")
assert_eq "selections Prometheus scraped last" "$sel" "$CALLS"
