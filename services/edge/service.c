#define SLB_LOG_MODULE "edge"
#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <osipparser2/osip_parser.h>
#include <osipparser2/osip_port.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "edge.h"
#include <nng/protocol/reqrep0/req.h>
#include "log.h"
#include "sched_pb.h"

#define OFF(f) offsetof(struct edge_cfg, f)

static const struct slb_cfg_key keys[] = {
    SLB_CFG_GENERAL_KEYS(struct edge_cfg),
    {"edge", "id", SLB_CFG_STR, 0, 0, "1", OFF(id),
	"this edge's name; its bus stream is edge:<id>"},
    {"edge", "listen", SLB_CFG_STR, 0, 0, "udp:127.0.0.1:5060, tcp:127.0.0.1:5060",
	OFF(listen), "SIP sockets: udp:ADDR:PORT, tcp:ADDR:PORT"},
    {"edge", "advertise", SLB_CFG_STR, 0, 0, "", OFF(advertise),
	"host[:port] written into Via and Record-Route (the VIP)"},
    {"edge", "freebind", SLB_CFG_BOOL, 0, 0, "yes", OFF(freebind),
	"bind addresses this host does not hold yet (IP_FREEBIND)"},
    {"edge", "scheduler", SLB_CFG_STR, 0, 0, "ipc://scheduler.rep",
	OFF(scheduler), "scheduler REP addresses, comma-separated"},
    {"edge", "scheduler_pub", SLB_CFG_ADDR, 0, 0, "ipc://scheduler.pub",
	OFF(scheduler_pub), "scheduler node-table PUB"},
    {"edge", "pub", SLB_CFG_ADDR, 0, 0, "ipc://edge.pub", OFF(pub),
	"dialog events"},
    {"edge", "rep", SLB_CFG_ADDR, 0, 0, "ipc://edge.rep", OFF(rep),
	"dialog snapshots and statistics"},
    {"edge", "dialogd", SLB_CFG_ADDR, 0, 0, "ipc://dialogd.rep", OFF(dialogd),
	"dialog store asked at start for this edge's live dialogs; empty: none"},
    {"edge", "sched_timeout", SLB_CFG_INT, 10, 10000, "250",
	OFF(sched_timeout_ms),
	"ms to wait for the scheduler before using the cached table"},
    {"edge", "max_attempts", SLB_CFG_INT, 1, EDGE_MAX_ATTEMPTS, "3",
	OFF(max_attempts), "nodes tried per call (failover)"},
    {"edge", "timer_t1", SLB_CFG_INT, 50, 10000, "500", OFF(t1_ms),
	"RFC 3261 T1 (ms)"},
    {"edge", "timer_t2", SLB_CFG_INT, 100, 60000, "4000", OFF(t2_ms),
	"RFC 3261 T2 (ms)"},
    {"edge", "timer_t4", SLB_CFG_INT, 100, 60000, "5000", OFF(t4_ms),
	"RFC 3261 T4 (ms)"},
    {"edge", "fr_timeout", SLB_CFG_INT, 100, 120000, "2000", OFF(fr_ms),
	"ms without a provisional above 100 before failing over"},
    {"edge", "timer_c", SLB_CFG_INT, 1000, 3600000, "180000",
	OFF(timer_c_ms), "ms an INVITE may ring after a provisional"},
    {"edge", "tx_linger", SLB_CFG_INT, 0, 64000, "5000", OFF(tx_linger_ms),
	"ms a finished transaction keeps absorbing retransmissions (UDP)"},
    {"edge", "dialog_lifetime", SLB_CFG_INT, 1000, 604800000, "43200000",
	OFF(dialog_lifetime_ms),
	"ms after which a dialog whose BYE never came is forgotten (as "
	"dialogd expires it)"},
    {"edge", "max_message", SLB_CFG_INT, 1024, 65535, "65535",
	OFF(max_message), "largest SIP message accepted (bytes)"},
    {"edge", "route_invite", SLB_CFG_STR, 0, 0, "lb 1 pstn", OFF(route_invite),
	"lb GROUP RES[;RES] [ALG] | ds SET ALG | reply CODE [REASON]"},
    {"edge", "route_register", SLB_CFG_STR, 0, 0, "ds 1 round-robin",
	OFF(route_register), "initial REGISTER"},
    {"edge", "route_options", SLB_CFG_STR, 0, 0, "reply 405", OFF(route_options),
	"OPTIONS not addressed to the edge (those get 200)"},
    {"edge", "route_message", SLB_CFG_STR, 0, 0, "reply 405",
	OFF(route_message), "initial MESSAGE"},
    {"edge", "route_subscribe", SLB_CFG_STR, 0, 0, "reply 405",
	OFF(route_subscribe), "initial SUBSCRIBE"},
    {"edge", "route_notify", SLB_CFG_STR, 0, 0, "reply 405", OFF(route_notify),
	"initial NOTIFY"},
    {"edge", "route_refer", SLB_CFG_STR, 0, 0, "reply 405", OFF(route_refer),
	"initial REFER"},
    {"edge", "route_info", SLB_CFG_STR, 0, 0, "reply 405", OFF(route_info),
	"initial INFO"},
    {"edge", "route_publish", SLB_CFG_STR, 0, 0, "reply 405",
	OFF(route_publish), "initial PUBLISH"},
    {"edge", "route_other", SLB_CFG_STR, 0, 0, "reply 405", OFF(route_other),
	"any other initial request"},
    {"edge", "auth_ip_header", SLB_CFG_STR, 0, 0, "", OFF(auth_ip_header),
	"e.g. X-AUTH-IP: the caller's address for FreeSWITCH; empty = off"},
    {"edge", "auth_port_header", SLB_CFG_STR, 0, 0, "", OFF(auth_port_header),
	"e.g. X-AUTH-PORT; empty = off"},
    {"edge", "add_path", SLB_CFG_BOOL, 0, 0, "no", OFF(add_path),
	"add Path: <sip:ADVERTISED;lr> to REGISTER (RFC 3327)"},
    {"edge", "tcp_idle", SLB_CFG_INT, 1000, 86400000, "300000",
	OFF(tcp_idle_ms), "ms before an idle TCP connection is closed"},
    {"edge", "tcp_max_conns", SLB_CFG_INT, 1, 100000, "4096",
	OFF(tcp_max_conns), "TCP connections at most"},
    {NULL, NULL, 0, 0, 0, NULL, 0, NULL},
};

const struct slb_cfg_key *edge_cfg_keys = keys;

static int
parse_rule(const char *key, const char *s, struct edge_rule *r)
{
	char w[4][SLB_CFG_STRLEN];
	int n = 0;
	char err[256];
	long v;
	const char *p = s;

	memset(r, 0, sizeof(*r));
	while (*p && n < 4) {
		size_t len;

		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p)
			break;
		len = strcspn(p, " \t");
		if (n == 3 && strcmp(w[0], "reply") == 0)
			len = strlen(p);	/* the reason keeps its spaces */
		if (len >= SLB_CFG_STRLEN)
			goto bad;
		memcpy(w[n], p, len);
		w[n][len] = '\0';
		n++;
		p += len;
	}
	if (n >= 2 && strcmp(w[0], "reply") == 0) {
		if (slb_parse_long(w[1], 200, 699, &v) != 0)
			goto bad;
		r->kind = RULE_REPLY;
		r->code = (int)v;
		if (n >= 3) {
			/* everything after the code */
			const char *rs = strstr(s, w[1]) + strlen(w[1]);

			while (*rs == ' ')
				rs++;
			snprintf(r->reason, sizeof(r->reason), "%s", rs);
		}
		return 0;
	}
	if (n >= 3 && strcmp(w[0], "lb") == 0) {
		if (slb_parse_long(w[1], 1, UINT32_MAX, &v) != 0 ||
		    sched_res_names_parse(w[2], r->res, &r->nres, err,
			sizeof(err)) != 0 ||
		    r->nres == 0)
			goto bad;
		r->kind = RULE_LB;
		r->group = (uint32_t)v;
		snprintf(r->alg_name, sizeof(r->alg_name), "%.31s",
		    n >= 4 ? w[3] : "least-load");
		if (sched_alg_parse(r->alg_name, &r->alg) != 0)
			goto bad;
		return 0;
	}
	if (n == 3 && strcmp(w[0], "ds") == 0) {
		if (slb_parse_long(w[1], 1, UINT32_MAX, &v) != 0)
			goto bad;
		r->kind = RULE_DS;
		r->group = (uint32_t)v;
		snprintf(r->alg_name, sizeof(r->alg_name), "%.31s", w[2]);
		if (sched_alg_parse(r->alg_name, &r->alg) != 0 ||
		    r->alg == SCHED_ALG_LEAST_LOAD)
			goto bad;
		return 0;
	}
bad:
	slb_log_err("[edge] %s: \"%s\": use \"lb GROUP RES[;RES] [ALGORITHM]\", "
		    "\"ds SET ALGORITHM\" or \"reply CODE [REASON]\"",
	    key, s);
	return EINVAL;
}

int
edge_cfg_load(struct edge_cfg *c, const char *path)
{
	char err[1024];

	if (slb_cfg_load(path, keys, c, 0, NULL, NULL, err, sizeof(err)) != 0) {
		slb_log_err("%s", err);
		return EINVAL;
	}
	slb_log_configure(c->log_level, c->log_facility, c->log_syslog);
	return 0;
}

static int
load_rules(struct edge *e)
{
	const struct {
		const char *key;
		const char *val;
	} r[10] = {
	    {"route_invite", e->cfg.route_invite},
	    {"route_register", e->cfg.route_register},
	    {"route_options", e->cfg.route_options},
	    {"route_message", e->cfg.route_message},
	    {"route_subscribe", e->cfg.route_subscribe},
	    {"route_notify", e->cfg.route_notify},
	    {"route_refer", e->cfg.route_refer},
	    {"route_info", e->cfg.route_info},
	    {"route_publish", e->cfg.route_publish},
	    {"route_other", e->cfg.route_other},
	};

	for (int i = 0; i < 10; i++)
		if (parse_rule(r[i].key, r[i].val, &e->rules[i]) != 0)
			return EINVAL;
	return 0;
}

/* ------------------------------------------------------------ the table */

/* A node's address, resolved once per table (names looked up here only). */
struct node_addr {
	uint32_t id;
	struct edge_peer peer;
};

static void
cache_index(struct edge *e)
{
	free(e->node_addrs);
	e->node_addrs = calloc(e->cache.n + 1, sizeof(*e->node_addrs));
	e->n_node_addrs = 0;
	if (e->node_addrs == NULL)
		return;
	for (size_t i = 0; i < e->cache.n; i++) {
		struct edge_peer p;

		if (edge_uri_peer_dns(e, e->cache.nodes[i].uri,
			strlen(e->cache.nodes[i].uri), &p) != 0) {
			slb_log_warn("node %u: cannot resolve %s",
			    e->cache.nodes[i].id, e->cache.nodes[i].uri);
			continue;
		}
		e->node_addrs[e->n_node_addrs].id = e->cache.nodes[i].id;
		e->node_addrs[e->n_node_addrs].peer = p;
		e->n_node_addrs++;
	}
}


int
edge_node_peer(struct edge *e, uint32_t id, struct edge_peer *p)
{
	for (size_t i = 0; i < e->n_node_addrs; i++)
		if (e->node_addrs[i].id == id) {
			*p = e->node_addrs[i].peer;
			return 0;
		}
	return ENOENT;
}

const struct sched_node *
edge_node_by_addr(struct edge *e, const struct sockaddr_storage *ss,
    bool port_too)
{
	for (size_t i = 0; i < e->n_node_addrs; i++)
		if (edge_same_addr(&e->node_addrs[i].peer.ss, ss, port_too))
			return sched_table_find(&e->cache, e->node_addrs[i].id);
	return NULL;
}

static void
table_message(void *arg, const Siplb__V1__BusMessage *m)
{
	struct edge *e = arg;

	if (m->body_case == SIPLB__V1__BUS_MESSAGE__BODY_TABLE) {
		sched_pb_table_from(m->table, &e->cache);
	} else if (m->body_case == SIPLB__V1__BUS_MESSAGE__BODY_CHANGE &&
	    m->change->node != NULL) {
		struct sched_node n, *old;
		char err[256];

		if (sched_pb_node_from(m->change->node, &n) != 0)
			return;
		old = sched_table_find(&e->cache, n.id);
		if (old != NULL) {
			n.wrr_current = old->wrr_current;
			sched_table_remove(&e->cache, n.id);
		}
		if (m->change->kind != SIPLB__V1__CHANGE_KIND__CHANGE_REMOVED)
			sched_table_add(&e->cache, &n, NULL, err, sizeof(err));
	} else {
		return;
	}
	e->have_cache = true;
	cache_index(e);
}

static void
table_snapshot(void *arg, const Siplb__V1__Snapshot *s)
{
	struct edge *e = arg;

	if (s->body_case != SIPLB__V1__SNAPSHOT__BODY_TABLE)
		return;
	sched_pb_table_from(s->table, &e->cache);
	e->have_cache = true;
	cache_index(e);
	slb_log_info("node table from the scheduler: %zu nodes", e->cache.n);
}

static const struct slb_sub_ops table_ops = {table_message, table_snapshot, 0};

int
edge_set_table(struct edge *e, const struct sched_table *t)
{
	int rc = sched_table_copy(&e->cache, t);

	if (rc == 0) {
		e->have_cache = true;
		cache_index(e);
	}
	return rc;
}

/* ------------------------------------------------------------ select */

static void sched_readable(evutil_socket_t fd, short what, void *arg);
static void sched_reopen(struct edge *e);

struct sel_wait {
	uint32_t id;
	struct edge *e;
	size_t n;
	struct edge_tx **txs;		/* NULL where a tx went away */
	struct event *timer;
	UT_hash_handle hh;
};

/* Selections per scheduler request at most (the scheduler takes 4096). */
#define SELECT_BATCH 256


static void flush_kick(struct edge *e);

static void
wait_free(struct edge *e, struct sel_wait *w)
{
	HASH_DEL(e->sel_waits, w);
	if (w->timer)
		event_free(w->timer);
	free(w->txs);
	free(w);
}

static void
sel_forget(struct edge *e, struct edge_tx *tx)
{
	if (tx->sel_queued) {
		for (size_t i = 0; i < e->nselq; i++)
			if (e->selq[i] == tx)
				e->selq[i] = NULL;
		tx->sel_queued = false;
	}
	if (tx->sel_wait != NULL) {
		tx->sel_wait->txs[tx->sel_slot] = NULL;
		tx->sel_wait = NULL;
	}
}

static void
fill_select(struct edge *e, struct edge_tx *tx, struct sched_select *sel)
{
	const struct edge_rule *r = tx->rule;

	memset(sel, 0, sizeof(*sel));
	sel->alg = r->alg;
	sel->group = r->group;
	if (r->kind == RULE_LB) {
		memcpy(sel->res, r->res, sizeof(r->res));
		sel->nres = r->nres;
	}
	sel->hash_key = tx->call_id;
	sel->exclude = tx->exclude;
	sel->nexclude = (size_t)tx->nexclude;
	sel->max_results = 1;
	(void)e;
}

/* The scheduler did not answer: choose from the last table it sent. */
static void
select_local(struct edge *e, struct edge_tx *tx)
{
	struct sched_select sel;
	struct sched_node *out[1];
	unsigned nout = 0;
	enum sched_sel_status st;

	e->st.sched_fallbacks++;
	if (!e->sched_away) {
		slb_log_warn("scheduler did not answer within %d ms: selecting "
		    "from the cached node table (%zu nodes)",
		    e->cfg.sched_timeout_ms, e->cache.n);
		e->sched_away = true;
	}
	if (!e->have_cache) {
		edge_route_failed(e, tx, 503, "No Node Table");
		return;
	}
	fill_select(e, tx, &sel);
	st = sched_select(&e->cache, &sel, out, &nout);
	if (st != SCHED_SEL_OK || nout == 0) {
		edge_route_failed(e, tx, 503,
		    st == SCHED_SEL_NO_CAPACITY ? "No Capacity" : NULL);
		return;
	}
	/* count it here until the next table arrives */
	for (int i = 0; i < sel.nres; i++) {
		struct sched_res *res = sched_node_res(out[0], sel.res[i]);

		if (res)
			sched_res_add_load(out[0], res, 1);
	}
	edge_route_chosen(e, tx, out[0]->id, out[0]->uri);
}

static void
sel_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct sel_wait *w = arg;
	struct edge *e = w->e;

	(void)fd;
	(void)what;
	/* requests queued for a dead scheduler must never reach it later */
	sched_reopen(e);
	for (size_t i = 0; i < w->n; i++) {
		struct edge_tx *tx = w->txs[i];

		if (tx == NULL)
			continue;
		tx->sel_wait = NULL;
		w->txs[i] = NULL;
		select_local(e, tx);
	}
	wait_free(e, w);
}

static int
sched_send(struct edge *e, ProtobufCMessage *q, uint32_t id)
{
	nng_msg *msg;
	int rv;

	if (slb_msg_pack(q, &msg) != 0)
		return ENOMEM;
	/* a raw REQ: the request id is ours to write (high bit set) */
	nng_msg_header_append_u32(msg, 0x80000000u | id);
	rv = nng_sendmsg(e->sched, msg, NNG_FLAG_NONBLOCK);
	if (rv != 0) {
		nng_msg_free(msg);
		return slb_nng_errno(rv);
	}
	return 0;
}

/* The scheduler(s): a raw REQ socket read on the loop.  Reopened when the
 * scheduler stops answering, so that requests queued for it meanwhile are
 * dropped rather than delivered (and their load reserved) when it returns. */
static int
sched_open(struct edge *e)
{
	char urls[8][SLB_CFG_STRLEN];
	int n, rv, fd;

	n = slb_cfg_split(e->cfg.scheduler, ',', urls, 8);
	if (n <= 0) {
		slb_log_err("[edge] scheduler: give at least one address");
		return EINVAL;
	}
	if ((rv = nng_req0_open_raw(&e->sched)) != 0)
		return slb_nng_errno(rv);
	nng_socket_set_ms(e->sched, NNG_OPT_RECONNMINT, 50);
	nng_socket_set_ms(e->sched, NNG_OPT_RECONNMAXT, 1000);
	nng_socket_set_int(e->sched, NNG_OPT_SENDBUF, 1024);
	nng_socket_set_int(e->sched, NNG_OPT_RECVBUF, 1024);
	nng_socket_set_size(e->sched, NNG_OPT_RECVMAXSZ, SLB_MSG_MAX);
	for (int i = 0; i < n; i++) {
		if (slb_cfg_expand_addr(urls[i], e->cfg.run_dir) != 0 ||
		    (rv = nng_dial(e->sched, urls[i], NULL,
			 NNG_FLAG_NONBLOCK)) != 0) {
			slb_log_err("[edge] scheduler: cannot dial \"%s\"",
			    urls[i]);
			nng_close(e->sched);
			return EINVAL;
		}
	}
	if ((rv = nng_socket_get_int(e->sched, NNG_OPT_RECVFD, &fd)) != 0)
		return slb_nng_errno(rv);
	e->sched_ev = event_new(e->base, fd, EV_READ | EV_PERSIST,
	    sched_readable, e);
	if (e->sched_ev == NULL || event_add(e->sched_ev, NULL) != 0)
		return ENOMEM;
	return 0;
}

static void
sched_reopen(struct edge *e)
{
	/* who still waits times out on the timer of its batch */
	if (e->sched_ev)
		event_free(e->sched_ev);
	e->sched_ev = NULL;
	slb_nng_close_off_loop(e->sched);
	if (sched_open(e) != 0)
		slb_log_err("cannot reopen the scheduler socket");
}

static void flush_selections(struct edge *e);

void
edge_select(struct edge *e, struct edge_tx *tx)
{
	if (e->sched_away && slb_now_us() < e->sched_next_probe_us) {
		/* known to be away: no wait, the next probe goes out soon */
		select_local(e, tx);
		return;
	}
	if (e->nselq == e->capselq) {
		size_t cap = e->capselq ? e->capselq * 2 : 64;
		void *nq = realloc(e->selq, cap * sizeof(*e->selq));

		if (nq == NULL) {
			select_local(e, tx);
			return;
		}
		e->selq = nq;
		e->capselq = cap;
	}
	e->selq[e->nselq++] = tx;
	tx->sel_queued = true;
	/* the flush runs once I/O is drained; under overload I/O never is,
	 * so a full batch goes at once */
	if (e->nselq >= SELECT_BATCH)
		flush_selections(e);
	else
		flush_kick(e);
}

/* Send this loop turn's selections as one request. */
static void
flush_selections(struct edge *e)
{
	Siplb__V1__SchedRequest q = SIPLB__V1__SCHED_REQUEST__INIT;
	Siplb__V1__SelectBatch batch = SIPLB__V1__SELECT_BATCH__INIT;
	Siplb__V1__SelectRequest *reqs = NULL, **rp = NULL;
	char *(*res)[SCHED_MAX_RES] = NULL;
	struct sel_wait *w = NULL;
	struct timeval tv;
	size_t n = 0;

	if (e->nselq == 0)
		return;
	reqs = calloc(e->nselq, sizeof(*reqs));
	rp = calloc(e->nselq, sizeof(*rp));
	res = calloc(e->nselq, sizeof(*res));
	w = calloc(1, sizeof(*w));
	if (w)
		w->txs = calloc(e->nselq, sizeof(*w->txs));
	if (reqs == NULL || rp == NULL || res == NULL || w == NULL ||
	    w->txs == NULL)
		goto local;
	for (size_t i = 0; i < e->nselq; i++) {
		struct edge_tx *tx = e->selq[i];
		const struct edge_rule *r;
		Siplb__V1__SelectRequest *s = &reqs[n];

		if (tx == NULL)
			continue;
		r = tx->rule;
		siplb__v1__select_request__init(s);
		s->algorithm = (char *)r->alg_name;
		s->group = r->group;
		if (r->kind == RULE_LB) {
			for (int k = 0; k < r->nres; k++)
				res[n][k] = (char *)r->res[k];
			s->resources = res[n];
			s->n_resources = (size_t)r->nres;
		}
		s->key = tx->dkey;
		s->reserve = tx->dkey[0] != '\0';
		s->edge = e->stream;
		s->hash_key = tx->call_id;
		s->exclude = tx->exclude;
		s->n_exclude = (size_t)tx->nexclude;
		s->max_results = 1;
		rp[n] = s;
		w->txs[n] = tx;
		n++;
	}
	if (n == 0)
		goto out;
	batch.requests = rp;
	batch.n_requests = n;
	q.body_case = SIPLB__V1__SCHED_REQUEST__BODY_SELECT_BATCH;
	q.select_batch = &batch;
	e->sel_seq = (e->sel_seq + 1) & 0x7fffffff;
	if (e->sel_seq == 0)
		e->sel_seq = 1;
	e->sched_next_probe_us = slb_now_us() + 1000000u;
	if (sched_send(e, &q.base, e->sel_seq) != 0) {
		e->st.sched_errors++;
		goto local;
	}
	w->id = e->sel_seq;
	w->e = e;
	w->n = n;
	w->timer = evtimer_new(e->base, sel_timeout, w);
	tv.tv_sec = e->cfg.sched_timeout_ms / 1000;
	tv.tv_usec = (e->cfg.sched_timeout_ms % 1000) * 1000;
	if (w->timer == NULL || evtimer_add(w->timer, &tv) != 0)
		goto local;	/* (the reply, if any, is then ignored) */
	HASH_ADD(hh, e->sel_waits, id, sizeof(w->id), w);
	for (size_t i = 0; i < n; i++) {
		w->txs[i]->sel_queued = false;
		w->txs[i]->sel_wait = w;
		w->txs[i]->sel_slot = i;
	}
	e->nselq = 0;
	w = NULL;
	goto out;
local:
	{
		/* cannot ask: every queued call selects from the cache */
		size_t m = e->nselq;

		e->nselq = 0;
		for (size_t i = 0; i < m; i++)
			if (e->selq[i] != NULL) {
				e->selq[i]->sel_queued = false;
				select_local(e, e->selq[i]);
			}
	}
out:
	e->nselq = 0;
	if (w) {
		if (w->timer)
			event_free(w->timer);
		free(w->txs);
		free(w);
	}
	free(reqs);
	free(rp);
	free(res);
}

static void
dispatch_reply(struct edge *e, struct edge_tx *tx, const Siplb__V1__SelectReply *r)
{
	if (r->status == SIPLB__V1__SELECT_STATUS__SELECT_OK &&
	    r->n_choices > 0) {
		edge_route_chosen(e, tx, r->choices[0]->node_id,
		    r->choices[0]->uri);
		return;
	}
	if (r->status == SIPLB__V1__SELECT_STATUS__SELECT_BAD_REQUEST) {
		slb_log_warn("scheduler refused a selection: %s",
		    r->error && *r->error ? r->error : "bad request");
		e->st.sched_errors++;
	}
	edge_route_failed(e, tx, 503,
	    r->status == SIPLB__V1__SELECT_STATUS__SELECT_NO_CAPACITY
		? "No Capacity"
		: (tx->attempts ? "No Node Left" : "No Destination"));
}

static void
sched_reply(struct edge *e, nng_msg *msg)
{
	ProtobufCMessage *pm;
	Siplb__V1__SchedReply *r;
	struct sel_wait *w = NULL;
	uint32_t id;
	bool ok;

	if (nng_msg_header_len(msg) < 4 ||
	    nng_msg_header_trim_u32(msg, &id) != 0)
		return;
	id &= 0x7fffffff;
	HASH_FIND(hh, e->sel_waits, &id, sizeof(id), w);
	if (w == NULL)
		return;		/* late, or a health report's answer */
	ok = slb_msg_unpack(&siplb__v1__sched_reply__descriptor, msg,
	    SLB_MSG_MAX, &pm) == 0;
	r = ok ? (Siplb__V1__SchedReply *)pm : NULL;
	ok = ok && r->status == SIPLB__V1__STATUS__STATUS_OK &&
	    r->body_case == SIPLB__V1__SCHED_REPLY__BODY_SELECT_BATCH &&
	    r->select_batch->n_replies == w->n;
	if (e->sched_away && r != NULL) {
		slb_log_notice("scheduler answers again");
		e->sched_away = false;
	}
	if (!ok && r != NULL)
		slb_log_warn("scheduler refused a batch of selections: %s",
		    r->error && *r->error ? r->error : "unexpected reply");
	for (size_t i = 0; i < w->n; i++) {
		struct edge_tx *tx = w->txs[i];

		if (tx == NULL)
			continue;
		tx->sel_wait = NULL;
		w->txs[i] = NULL;
		if (ok) {
			dispatch_reply(e, tx, r->select_batch->replies[i]);
		} else {
			e->st.sched_errors++;
			select_local(e, tx);
		}
	}
	wait_free(e, w);
	if (r != NULL)
		slb_msg_free(pm);
}

static void
sched_readable(evutil_socket_t fd, short what, void *arg)
{
	struct edge *e = arg;

	(void)fd;
	(void)what;
	for (int i = 0; i < 256 && e->sched_ev != NULL; i++) {
		nng_msg *msg;

		if (nng_recvmsg(e->sched, &msg, NNG_FLAG_NONBLOCK) != 0)
			return;
		sched_reply(e, msg);
		nng_msg_free(msg);
	}
}

void
edge_report_failure(struct edge *e, uint32_t node_id, int code)
{
	Siplb__V1__SchedRequest q = SIPLB__V1__SCHED_REQUEST__INIT;
	Siplb__V1__NodeHealth h = SIPLB__V1__NODE_HEALTH__INIT;

	if (node_id == 0)
		return;
	h.node_id = node_id;
	h.up = false;
	h.passive = true;
	h.last_code = (uint32_t)code;
	q.body_case = SIPLB__V1__SCHED_REQUEST__BODY_REPORT;
	q.report = &h;
	/* id 0 never matches a waiting selection: the answer is dropped */
	sched_send(e, &q.base, 0);
}

/* ------------------------------------------------------------ dialogs */

#define EVENT_FLUSH_US 2000

static void flush_events(struct edge *e);

struct pending_ev {
	char key[24];
	int state;
	uint32_t node_id;
	uint32_t group;
	char res[SCHED_MAX_RES][SCHED_RES_NAME];
	int nres;
	char call_id[128];
	char from_tag[64];
	char to_tag[64];
	uint64_t created_us, updated_us;
	char reason[16];
};

/* Record the event in the edge's dialog table and queue it for this loop
 * turn's bus message. */
void
edge_dlg_event(struct edge *e, const char *key, int state, uint32_t node_id,
    const struct edge_rule *rule, const char *call_id, const char *from_tag,
    const char *to_tag, const char *reason)
{
	struct edge_dlg *d = NULL;
	struct pending_ev *p;

	if (e->nevq == e->capevq) {
		size_t cap = e->capevq ? e->capevq * 2 : 64;
		void *nq = realloc(e->evq, cap * sizeof(*e->evq));

		if (nq == NULL) {
			slb_log_err("out of memory: dialog event %s lost", key);
			return;
		}
		e->evq = nq;
		e->capevq = cap;
	}
	p = &e->evq[e->nevq];
	memset(p, 0, sizeof(*p));
	HASH_FIND_STR(e->dlgs, key, d);
	if (d == NULL && state != 3) {
		d = calloc(1, sizeof(*d));
		if (d == NULL)
			return;
		snprintf(d->key, sizeof(d->key), "%s", key);
		d->created_us = slb_wall_us();
		HASH_ADD_STR(e->dlgs, key, d);
		e->ndlgs++;
	}
	if (d != NULL) {
		if (node_id)
			d->node_id = node_id;
		if (rule != NULL && rule->kind == RULE_LB) {
			memcpy(d->res, rule->res, sizeof(d->res));
			d->nres = rule->nres;
			d->group = rule->group;
		}
		if (call_id)
			snprintf(d->call_id, sizeof(d->call_id), "%s", call_id);
		if (from_tag)
			snprintf(d->from_tag, sizeof(d->from_tag), "%s", from_tag);
		if (to_tag)
			snprintf(d->to_tag, sizeof(d->to_tag), "%s", to_tag);
		d->state = state;
		d->updated_us = slb_wall_us();
		p->node_id = d->node_id;
		p->group = d->group;
		memcpy(p->res, d->res, sizeof(p->res));
		p->nres = d->nres;
		memcpy(p->call_id, d->call_id, sizeof(p->call_id));
		memcpy(p->from_tag, d->from_tag, sizeof(p->from_tag));
		memcpy(p->to_tag, d->to_tag, sizeof(p->to_tag));
		p->created_us = d->created_us;
	} else {
		p->node_id = node_id;
	}
	snprintf(p->key, sizeof(p->key), "%s", key);
	p->state = state;
	p->updated_us = slb_wall_us();
	snprintf(p->reason, sizeof(p->reason), "%s", reason ? reason : "");
	e->nevq++;
	if (d != NULL && state == 3) {
		HASH_DEL(e->dlgs, d);
		e->ndlgs--;
		free(d);
	}
	/* events wait up to EVENT_FLUSH_US for company: nng costs per
	 * message, and nobody waits for an event */
	if (e->nevq >= 512)
		flush_events(e);
	else if (!evtimer_pending(e->evflush_ev, NULL)) {
		struct timeval tv = {0, EVENT_FLUSH_US};

		evtimer_add(e->evflush_ev, &tv);
	}
}

/* Publish this loop turn's dialog events as one bus message. */
static void
flush_events(struct edge *e)
{
	Siplb__V1__BusMessage m = SIPLB__V1__BUS_MESSAGE__INIT;
	Siplb__V1__DialogBatch batch = SIPLB__V1__DIALOG_BATCH__INIT;
	Siplb__V1__DialogEvent *evs, **evp;
	char *(*res)[SCHED_MAX_RES];
	size_t n = e->nevq;

	if (n == 0)
		return;
	evs = calloc(n, sizeof(*evs));
	evp = calloc(n, sizeof(*evp));
	res = calloc(n, sizeof(*res));
	if (evs == NULL || evp == NULL || res == NULL) {
		slb_log_err("out of memory: %zu dialog events lost", n);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		struct pending_ev *p = &e->evq[i];
		Siplb__V1__DialogEvent *ev = &evs[i];

		siplb__v1__dialog_event__init(ev);
		ev->key = p->key;
		ev->state = p->state;
		ev->node_id = p->node_id;
		ev->group = p->group;
		for (int k = 0; k < p->nres; k++)
			res[i][k] = p->res[k];
		ev->resources = res[i];
		ev->n_resources = (size_t)p->nres;
		ev->edge = e->stream;
		ev->call_id = p->call_id;
		ev->from_tag = p->from_tag;
		ev->to_tag = p->to_tag;
		ev->created_us = p->created_us;
		ev->updated_us = p->updated_us;
		ev->reason = p->reason;
		evp[i] = ev;
	}
	batch.events = evp;
	batch.n_events = n;
	m.body_case = SIPLB__V1__BUS_MESSAGE__BODY_DIALOGS;
	m.dialogs = &batch;
	if (slb_pub_send(e->pub, &m) != 0)
		slb_log_warn("%zu dialog events could not be published", n);
out:
	e->nevq = 0;
	free(evs);
	free(evp);
	free(res);
}

static void
on_flush(evutil_socket_t fd, short what, void *arg)
{
	struct edge *e = arg;

	(void)fd;
	(void)what;
	flush_selections(e);
}

static void
on_evflush(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	flush_events(arg);
}

/* Run on_flush once the loop has handled every pending I/O event: one
 * scheduler request and one bus message per loop turn. */
static void
flush_kick(struct edge *e)
{
	if (e->flush_ev && !event_pending(e->flush_ev, EV_TIMEOUT, NULL))
		event_active(e->flush_ev, EV_TIMEOUT, 0);
}

/* ------------------------------------------------------------ REP */

static void check_stall(struct edge *e);

static void
on_rep(void *arg, nng_msg *req, nng_msg **replyp)
{
	struct edge *e = arg;
	Siplb__V1__EdgeReply r = SIPLB__V1__EDGE_REPLY__INIT;
	Siplb__V1__Snapshot snap = SIPLB__V1__SNAPSHOT__INIT;
	Siplb__V1__DialogSnapshot ds = SIPLB__V1__DIALOG_SNAPSHOT__INIT;
	Siplb__V1__DialogEvent *evs = NULL, **evp = NULL;
	char **resbuf = NULL;
	Siplb__V1__Counter c[64], *cp[64];
	struct slb_counters ctr;
	ProtobufCMessage *pm = NULL;
	Siplb__V1__EdgeRequest *q;
	int rc;

	rc = slb_msg_unpack(&siplb__v1__edge_request__descriptor, req,
	    SLB_MSG_MAX, &pm);
	if (rc != 0) {
		const char *why;

		r.status = slb_msg_refusal(rc, &why);
		r.error = (char *)why;
		goto send;
	}
	q = (Siplb__V1__EdgeRequest *)pm;
	r.status = SIPLB__V1__STATUS__STATUS_OK;
	if (q->body_case == SIPLB__V1__EDGE_REQUEST__BODY_SNAPSHOT) {
		struct edge_dlg *d, *tmp;
		size_t i = 0;

		check_stall(e);

		evs = calloc(e->ndlgs + 1, sizeof(*evs));
		evp = calloc(e->ndlgs + 1, sizeof(*evp));
		resbuf = calloc((e->ndlgs + 1) * SCHED_MAX_RES, sizeof(*resbuf));
		if (evs == NULL || evp == NULL || resbuf == NULL) {
			r.status = SIPLB__V1__STATUS__STATUS_INTERNAL;
			r.error = "out of memory";
			goto send;
		}
		HASH_ITER(hh, e->dlgs, d, tmp) {
			Siplb__V1__DialogEvent *ev = &evs[i];

			siplb__v1__dialog_event__init(ev);
			ev->key = d->key;
			ev->state = d->state;
			ev->node_id = d->node_id;
			for (int k = 0; k < d->nres; k++)
				resbuf[i * SCHED_MAX_RES + (size_t)k] = d->res[k];
			ev->resources = &resbuf[i * SCHED_MAX_RES];
			ev->n_resources = (size_t)d->nres;
			ev->edge = e->stream;
			ev->call_id = d->call_id;
			ev->from_tag = d->from_tag;
			ev->to_tag = d->to_tag;
			ev->created_us = d->created_us;
			ev->updated_us = d->updated_us;
			ev->group = d->group;
			evp[i] = ev;
			i++;
		}
		ds.dialogs = evp;
		ds.n_dialogs = i;
		snap.stream = e->stream;
		snap.epoch = slb_pub_epoch(e->pub);
		snap.seq = slb_pub_seq(e->pub);
		snap.body_case = SIPLB__V1__SNAPSHOT__BODY_DIALOGS;
		snap.dialogs = &ds;
		r.body_case = SIPLB__V1__EDGE_REPLY__BODY_SNAPSHOT;
		r.snapshot = &snap;
	} else if (q->body_case == SIPLB__V1__EDGE_REQUEST__BODY_STATS) {
		struct edge_stats *s = &e->st;
		static const char *cls[] = {"", "1xx", "2xx", "3xx", "4xx",
		    "5xx", "6xx"};

		slb_counters_init(&ctr, c, cp, 64);
		slb_counter_add(&ctr, "requests_received", "", s->rx_requests);
		slb_counter_add(&ctr, "responses_received", "", s->rx_responses);
		slb_counter_add(&ctr, "requests_sent", "", s->tx_requests);
		slb_counter_add(&ctr, "responses_sent", "", s->tx_responses);
		for (int k = 1; k <= 6; k++)
			slb_counter_add(&ctr, "responses_sent_by_class",
			    cls[k], s->resp_class[k]);
		slb_counter_add(&ctr, "dropped", "too_big", s->drop_too_big);
		slb_counter_add(&ctr, "dropped", "parse", s->drop_parse);
		slb_counter_add(&ctr, "dropped", "no_transaction",
		    s->drop_no_tx);
		slb_counter_add(&ctr, "dropped", "not_our_node", s->drop_loop);
		slb_counter_add(&ctr, "replied", "400", s->replied_400);
		slb_counter_add(&ctr, "replied", "403", s->replied_403);
		slb_counter_add(&ctr, "replied", "405", s->replied_405);
		slb_counter_add(&ctr, "replied", "481", s->replied_481);
		slb_counter_add(&ctr, "replied", "483", s->replied_483);
		slb_counter_add(&ctr, "replied", "503", s->replied_503);
		slb_counter_add(&ctr, "failovers", "", s->failovers);
		slb_counter_add(&ctr, "scheduler_fallbacks", "",
		    s->sched_fallbacks);
		slb_counter_add(&ctr, "scheduler_errors", "", s->sched_errors);
		slb_counter_add(&ctr, "retransmissions", "", s->retransmissions);
		slb_counter_add(&ctr, "send_errors", "", s->send_errors);
		slb_counter_add(&ctr, "stalls", "", s->stalls);
		slb_counter_add(&ctr, "dialogs_ended_elsewhere", "",
		    s->stale_dialogs);
		slb_counter_add(&ctr, "transactions", "", e->ntx);
		slb_counter_add(&ctr, "branches", "", e->nbranches);
		slb_counter_add(&ctr, "dialogs", "", e->ndlgs);
		slb_counter_add(&ctr, "tcp_connections", "", (uint64_t)e->nconns);
		slb_counter_add(&ctr, "nodes_known", "",
		    e->have_cache ? (uint64_t)e->cache.n : 0);
		r.body_case = SIPLB__V1__EDGE_REPLY__BODY_STATS;
		r.stats = &ctr.sr;
	} else {
		r.status = SIPLB__V1__STATUS__STATUS_BAD_REQUEST;
		r.error = "empty request";
	}
send:
	if (slb_msg_pack(&r.base, replyp) != 0)
		*replyp = NULL;
	free(evs);
	free(evp);
	free(resbuf);
	slb_msg_free(pm);
}

/* ------------------------------------------------------------ life */

/*
 * Dialogs as the dialog store has them: in `state`, of edge `edge` (NULL:
 * any), updated after `updated_after` (0: any), in a table of their own
 * (*out), read page by page in key order.  Blocking: each page within a
 * second or the caller goes on without it.
 */
static int
store_dialogs(struct edge *e, Siplb__V1__DialogState state, const char *edge,
    uint64_t updated_after, struct edge_dlg **out)
{
	enum { PAGE = 5000, PAGES_MAX = 1000 };
	char after[80] = "";	/* any key the store allows (64) */
	size_t got;
	int pages = 0;

	do {	/* pages ordered by key */
		Siplb__V1__DialogdRequest q = SIPLB__V1__DIALOGD_REQUEST__INIT;
		Siplb__V1__DialogQuery dq = SIPLB__V1__DIALOG_QUERY__INIT;
		Siplb__V1__DialogdReply *r;
		ProtobufCMessage *pm;
		int err;

		if (++pages > PAGES_MAX)
			return E2BIG;
		dq.edge = (char *)(edge ? edge : "");
		dq.state = state;
		dq.limit = PAGE;
		dq.after_key = after;
		dq.updated_after = updated_after;
		q.body_case = SIPLB__V1__DIALOGD_REQUEST__BODY_QUERY;
		q.query = &dq;
		err = slb_req_call(e->cfg.dialogd, &q.base,
		    &siplb__v1__dialogd_reply__descriptor, 1000, 0, &pm);
		if (err != 0)
			return err;
		r = (Siplb__V1__DialogdReply *)pm;
		if (r->status != SIPLB__V1__STATUS__STATUS_OK) {
			slb_msg_free(pm);
			return EPROTO;
		}
		got = r->n_dialogs;
		for (size_t i = 0; i < r->n_dialogs; i++) {
			const Siplb__V1__DialogEvent *ev = r->dialogs[i];
			struct edge_dlg *d;

			/* keys must rise: a store that ignores after_key
			 * would hand us the first page for ever */
			if (ev->key == NULL || strlen(ev->key) >= sizeof(after) ||
			    strcmp(ev->key, after) <= 0) {
				slb_msg_free(pm);
				return EPROTO;
			}
			snprintf(after, sizeof(after), "%s", ev->key);
			if (strlen(ev->key) >= sizeof(d->key))
				continue;	/* not a key of ours */
			HASH_FIND_STR(*out, ev->key, d);
			if (d != NULL)
				continue;
			if ((d = calloc(1, sizeof(*d))) == NULL) {
				slb_msg_free(pm);
				return ENOMEM;
			}
			snprintf(d->key, sizeof(d->key), "%s", ev->key);
			d->node_id = ev->node_id;
			d->group = ev->group;
			d->state = ev->state;
			for (size_t j = 0; j < ev->n_resources &&
			     j < SCHED_MAX_RES; j++)
				snprintf(d->res[j], SCHED_RES_NAME, "%s",
				    ev->resources[j]);
			d->nres = ev->n_resources < SCHED_MAX_RES
			    ? (int)ev->n_resources : SCHED_MAX_RES;
			snprintf(d->call_id, sizeof(d->call_id), "%s",
			    ev->call_id ? ev->call_id : "");
			snprintf(d->from_tag, sizeof(d->from_tag), "%s",
			    ev->from_tag ? ev->from_tag : "");
			snprintf(d->to_tag, sizeof(d->to_tag), "%s",
			    ev->to_tag ? ev->to_tag : "");
			d->created_us = ev->created_us;
			d->updated_us = ev->updated_us;
			HASH_ADD_STR(*out, key, d);
		}
		slb_msg_free(pm);
	} while (got == PAGE);
	return 0;
}

static void
free_dialogs(struct edge_dlg **h)
{
	struct edge_dlg *d, *tmp;

	HASH_ITER(hh, *h, d, tmp) {
		HASH_DEL(*h, d);
		free(d);
	}
}

/*
 * A restarted edge gets its live dialogs back from the dialog store before
 * it publishes or answers anything, so its first snapshot tells the
 * schedulers the truth, not an empty table (calls outlive an edge).
 * Without an answer the edge starts empty.
 */
static void
restore_dialogs(struct edge *e)
{
	static const Siplb__V1__DialogState live[] = {
	    SIPLB__V1__DIALOG_STATE__DIALOG_CREATED,
	    SIPLB__V1__DIALOG_STATE__DIALOG_CONFIRMED,
	};
	struct edge_dlg *got = NULL, *d, *tmp, *have;
	size_t restored = 0;
	int err = 0;

	if (e->cfg.dialogd[0] == '\0')
		return;
	for (size_t k = 0; k < 2 && err == 0; k++)
		err = store_dialogs(e, live[k], e->stream, 0, &got);
	if (err != 0) {
		slb_log_warn("dialog store at %s: %s: starting without the "
		    "dialogs of a previous run", e->cfg.dialogd,
		    err == ETIMEDOUT ? "no answer" : strerror(err));
		free_dialogs(&got);
		return;
	}
	HASH_ITER(hh, got, d, tmp) {
		HASH_DEL(got, d);
		HASH_FIND_STR(e->dlgs, d->key, have);
		if (have != NULL) {
			free(d);
			continue;
		}
		HASH_ADD_STR(e->dlgs, key, d);
		e->ndlgs++;
		restored++;
	}
	slb_log_notice("%zu live dialogs of %s restored from the dialog store",
	    restored, e->stream);
}

/* How far back a reconcile looks for dialogs ended by another edge: the
 * stall plus clock skew between hosts. */
#define EDGE_RECONCILE_SLACK_US (300u * 1000000u)

/*
 * The loop stood still (the process was stopped, the host paused): while
 * it did, keepalived may have moved the VIP away and another edge relayed
 * the BYEs of our calls.  Our table would hand those calls back to every
 * scheduler as load at its next snapshot.  So the edge asks the store for
 * the dialogs that ended since the stall began, through any edge, and
 * ends those it still holds as live: they leave its table and a
 * TERMINATED goes out, so whoever counted them from a snapshot of ours
 * releases them.  Only what the store says has ended is dropped; a store
 * that does not answer, or has not heard the other edges yet, leaves the
 * table as it is (rechecked a few seconds later: see on_recheck).
 */
static void
reconcile_dialogs(struct edge *e, uint64_t stalled_since_us)
{
	struct edge_dlg *ended = NULL, *d, *tmp, *mine;
	uint64_t since = stalled_since_us > EDGE_RECONCILE_SLACK_US
	    ? stalled_since_us - EDGE_RECONCILE_SLACK_US : 0;
	size_t dropped = 0;
	int err;

	if (e->cfg.dialogd[0] == '\0' || e->ndlgs == 0)
		return;
	err = store_dialogs(e, SIPLB__V1__DIALOG_STATE__DIALOG_TERMINATED,
	    NULL, since, &ended);
	if (err != 0) {
		slb_log_warn("dialog store at %s: %s: keeping the dialogs as "
		    "they are", e->cfg.dialogd,
		    err == ETIMEDOUT ? "no answer" : strerror(err));
		free_dialogs(&ended);
		return;
	}
	HASH_ITER(hh, ended, d, tmp) {
		HASH_FIND_STR(e->dlgs, d->key, mine);
		if (mine == NULL)
			continue;
		edge_dlg_event(e, d->key, 3 /* TERMINATED */, 0, NULL, NULL,
		    NULL, NULL, "ended elsewhere");
		dropped++;
	}
	free_dialogs(&ended);
	e->st.stale_dialogs += dropped;
	if (dropped)
		slb_log_notice("%zu dialogs ended elsewhere while the loop "
		    "stood still: ended here too, %zu live", dropped, e->ndlgs);
}

/* A second tick missed twice over is a stall (see reconcile_dialogs);
 * checked on every tick and before any snapshot is answered. */
#define EDGE_STALL_US 2000000u

/* After a stall: the store again 3 s and 10 s later, in case it had not
 * heard the other edges yet (it may have stood still with us). */
static void
on_recheck(evutil_socket_t fd, short what, void *arg)
{
	struct edge *e = arg;
	struct timeval tv = {7, 0};

	(void)fd;
	(void)what;
	reconcile_dialogs(e, e->stall_since_us);
	if (++e->rechecks < 2)
		evtimer_add(e->recheck_ev, &tv);
}

static void
check_stall(struct edge *e)
{
	uint64_t now = slb_now_us();

	if (e->tick_mono_us != 0 && now - e->tick_mono_us > EDGE_STALL_US) {
		struct timeval tv = {3, 0};

		slb_log_warn("the loop stood still for %.1f s: ending the "
		    "dialogs the store says ended elsewhere meanwhile",
		    (double)(now - e->tick_mono_us) / 1e6);
		e->st.stalls++;
		e->stall_since_us = e->tick_wall_us;
		reconcile_dialogs(e, e->stall_since_us);
		e->rechecks = 0;
		if (e->recheck_ev != NULL)
			evtimer_add(e->recheck_ev, &tv);
	}
	/* after the reconcile, which may itself have taken a while */
	e->tick_mono_us = slb_now_us();
	e->tick_wall_us = slb_wall_us();
}

/* Dialogs whose BYE never came: dialogd ends them after the same lifetime
 * and tells the schedulers; the edge only forgets them, so that its next
 * snapshot does not bring their load back. */
static void
expire_dialogs(struct edge *e)
{
	uint64_t now = slb_wall_us();
	uint64_t life = (uint64_t)e->cfg.dialog_lifetime_ms * 1000u;
	struct edge_dlg *d, *tmp;
	size_t n = 0;

	HASH_ITER(hh, e->dlgs, d, tmp) {
		if (now - d->created_us < life)
			continue;
		HASH_DEL(e->dlgs, d);
		e->ndlgs--;
		free(d);
		n++;
	}
	if (n)
		slb_log_info("%zu dialogs older than %d s forgotten", n,
		    e->cfg.dialog_lifetime_ms / 1000);
}

static void
on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct edge *e = arg;
	(void)fd;
	(void)what;
	check_stall(e);
	slb_pub_heartbeat(e->pub);
	if (++e->ticks % 10 == 0)
		expire_dialogs(e);
}

int
edge_init(struct edge *e)
{
	char urls[8][SLB_CFG_STRLEN];
	struct timeval tv = {1, 0};
	int rc;

	parser_init();
	/* libosip2 traces every parse error to stderr: we count and log
	 * those ourselves, at our own levels */
	for (int l = 0; l < END_TRACE_LEVEL; l++)
		osip_trace_disable_level((osip_trace_level_t)l);
	snprintf(e->stream, sizeof(e->stream), "edge:%.60s", e->cfg.id);
	e->branch_salt = (uint32_t)(slb_wall_us() ^ (uint64_t)getpid() << 16);
	sched_table_init(&e->cache, slb_wall_us());
	if ((rc = load_rules(e)) != 0)
		return rc;
	if ((rc = slb_loop_new(&e->base)) != 0)
		return rc;
	/* three priorities: I/O at the default 1, the flush at 2 (after
	 * all I/O of the turn) */
	if (event_base_priority_init(e->base, 3) != 0)
		return ENOMEM;
	e->flush_ev = event_new(e->base, -1, 0, on_flush, e);
	e->evflush_ev = evtimer_new(e->base, on_evflush, e);
	e->recheck_ev = evtimer_new(e->base, on_recheck, e);
	if (e->flush_ev == NULL || e->evflush_ev == NULL || e->recheck_ev == NULL ||
	    event_priority_set(e->flush_ev, 2) != 0)
		return ENOMEM;
	if ((rc = slb_bridge_new(&e->br, e->base)) != 0)
		return rc;
	restore_dialogs(e);
	check_stall(e);
	if ((rc = edge_transport_open(e)) != 0)
		return rc;
	if ((rc = slb_pub_open(&e->pub, e->cfg.pub, e->stream)) != 0 ||
	    (rc = slb_rep_open(&e->rep, e->base, e->cfg.rep, on_rep, e)) != 0)
		return rc;
	/* dialogd replays the dialog events it missed from our ring */
	slb_rep_set_pub(e->rep, e->pub);

	if ((rc = sched_open(e)) != 0)
		return rc;
	slb_cfg_split(e->cfg.scheduler, ',', urls, 8);
	slb_cfg_expand_addr(urls[0], e->cfg.run_dir);
	if (e->cfg.scheduler_pub[0] &&
	    (rc = slb_sub_open(&e->table_sub, e->base, e->br, "node table",
		 e->cfg.scheduler_pub, urls[0], &table_ops, e)) != 0)
		return rc;
	e->tick = event_new(e->base, -1, EV_PERSIST, on_tick, e);
	if (e->tick == NULL || event_add(e->tick, &tv) != 0)
		return ENOMEM;
	slb_log_notice("ready: %s, scheduler %s, pub %s", e->stream,
	    e->cfg.scheduler, e->cfg.pub);
	return 0;
}

void
edge_close(struct edge *e)
{
	struct edge_tx *tx, *ttmp;
	struct edge_branch *b, *btmp;
	struct edge_dlg *d, *dtmp;
	struct sel_wait *w, *wtmp;

	HASH_ITER(hh, e->txs, tx, ttmp)
		edge_tx_free(e, tx);
	HASH_ITER(hh, e->branches, b, btmp)
		edge_branch_free(e, b);
	HASH_ITER(hh, e->dlgs, d, dtmp) {
		HASH_DEL(e->dlgs, d);
		free(d);
	}
	if (e->pub)
		flush_events(e);
	HASH_ITER(hh, e->sel_waits, w, wtmp)
		wait_free(e, w);
	free(e->selq);
	free(e->evq);
	if (e->flush_ev)
		event_free(e->flush_ev);
	if (e->evflush_ev)
		event_free(e->evflush_ev);
	if (e->recheck_ev)
		event_free(e->recheck_ev);
	if (e->tick)
		event_free(e->tick);
	if (e->sched_ev)
		event_free(e->sched_ev);
	slb_sub_close(e->table_sub);
	nng_close(e->sched);
	slb_rep_close(e->rep);
	slb_pub_close(e->pub);
	edge_transport_close(e);
	slb_bridge_free(e->br);
	if (e->base)
		slb_loop_free(e->base);
	sched_table_free(&e->cache);
	free(e->node_addrs);
	e->node_addrs = NULL;
}

void
edge_sel_forget(struct edge *e, struct edge_tx *tx)
{
	sel_forget(e, tx);
}
