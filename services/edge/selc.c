#define SLB_LOG_MODULE "selc"
#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>

#include "edge.h"
#include <nng/protocol/reqrep0/req.h>
#include "log.h"

struct sel_wait {
	uint32_t id;
	struct edge *e;
	size_t n;
	struct edge_tx **txs; /* NULL where a tx went away */
	struct event *timer;
	UT_hash_handle hh;
};

static void sched_readable(evutil_socket_t fd, short what, void *arg);
static void sched_reopen(struct edge *e);
static void flush_kick(struct edge *e);
static void flush_selections(struct edge *e);

/* Hand tx its answer: once, and never for a tx that was forgotten. */
static void
sel_done(struct edge *e, struct edge_tx *tx, uint32_t node_id, const char *uri,
    int code, const char *reason)
{
	edge_sel_done_h h = tx->sel_done;

	tx->sel_done = NULL;
	if (h != NULL)
		h(e, tx, node_id, uri, code, reason);
}

static void
wait_free(struct edge *e, struct sel_wait *w)
{
	HASH_DEL(e->sel.waits, w);
	if (w->timer)
		event_free(w->timer);
	free(w->txs);
	free(w);
}

void
edge_sel_forget(struct edge *e, struct edge_tx *tx)
{
	if (tx->sel_queued) {
		for (size_t i = 0; i < e->sel.nq; i++)
			if (e->sel.q[i] == tx)
				e->sel.q[i] = NULL;
		tx->sel_queued = false;
	}
	if (tx->sel_wait != NULL) {
		tx->sel_wait->txs[tx->sel_slot] = NULL;
		tx->sel_wait = NULL;
	}
	tx->sel_done = NULL;
}

static void
fill_select(const struct edge_tx *tx, struct lb_select *sel)
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
}

/* The scheduler did not answer: choose from the last table it sent. */
static void
select_local(struct edge *e, struct edge_tx *tx)
{
	struct lb_select sel;
	const struct lb_node *n = NULL;
	enum lb_sel_status st;

	e->st.sched_fallbacks++;
	if (!e->sel.away) {
		slb_log_warn(
		    "scheduler did not answer within %d ms: selecting "
		    "from the cached node table (%zu nodes)",
		    e->cfg.sched_timeout_ms, e->nodes.table.n);
		e->sel.away = true;
	}
	if (!e->nodes.have) {
		sel_done(e, tx, 0, NULL, 503, "No Node Table");
		return;
	}
	fill_select(tx, &sel);
	st = edge_nodes_select(e, &sel, &n);
	if (st != LB_SEL_OK) {
		sel_done(e, tx, 0, NULL, 503,
		    st == LB_SEL_NO_CAPACITY ? "No Capacity" : NULL);
		return;
	}
	sel_done(e, tx, n->id, n->uri, 0, NULL);
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
	rv = nng_sendmsg(e->sel.sock, msg, NNG_FLAG_NONBLOCK);
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
	if ((rv = nng_req0_open_raw(&e->sel.sock)) != 0)
		return slb_nng_errno(rv);
	nng_socket_set_ms(e->sel.sock, NNG_OPT_RECONNMINT, 50);
	nng_socket_set_ms(e->sel.sock, NNG_OPT_RECONNMAXT, 1000);
	nng_socket_set_int(e->sel.sock, NNG_OPT_SENDBUF, 1024);
	nng_socket_set_int(e->sel.sock, NNG_OPT_RECVBUF, 1024);
	nng_socket_set_size(e->sel.sock, NNG_OPT_RECVMAXSZ, SLB_MSG_MAX);
	for (int i = 0; i < n; i++) {
		if (slb_cfg_expand_addr(urls[i], e->cfg.run_dir) != 0 ||
		    (rv = nng_dial(e->sel.sock, urls[i], NULL,
			 NNG_FLAG_NONBLOCK)) != 0) {
			slb_log_err(
			    "[edge] scheduler: cannot dial \"%s\"", urls[i]);
			nng_close(e->sel.sock);
			return EINVAL;
		}
	}
	if ((rv = nng_socket_get_int(e->sel.sock, NNG_OPT_RECVFD, &fd)) != 0)
		return slb_nng_errno(rv);
	e->sel.ev =
	    event_new(e->base, fd, EV_READ | EV_PERSIST, sched_readable, e);
	if (e->sel.ev == NULL || event_add(e->sel.ev, NULL) != 0)
		return ENOMEM;
	return 0;
}

static void
sched_reopen(struct edge *e)
{
	/* who still waits times out on the timer of its batch */
	if (e->sel.ev)
		event_free(e->sel.ev);
	e->sel.ev = NULL;
	slb_nng_close_off_loop(e->sel.sock);
	if (sched_open(e) != 0)
		slb_log_err("cannot reopen the scheduler socket");
}

void
edge_select(struct edge *e, struct edge_tx *tx, edge_sel_done_h done)
{
	tx->sel_done = done;
	if (e->sel.away) {
		uint64_t now = slb_now_us();
		/* a snapshot since the last probe: the scheduler answered
		 * our subscription, so it is back */
		bool back = e->nodes.synced_us > e->sel.probe_us;

		/* known to be away: no wait, the next probe goes out soon */
		if (!back && now < e->sel.next_probe_us) {
			select_local(e, tx);
			return;
		}
		/* ask it now, and on a fresh socket rather than one waiting
		 * out its reconnect backoff (up to a second, longer than
		 * sched_timeout); once, however many calls this turn brings */
		if (back) {
			sched_reopen(e);
			e->sel.probe_us = now;
		}
		e->sel.next_probe_us = 0;
	}
	if (e->sel.nq == e->sel.capq) {
		size_t cap = e->sel.capq ? e->sel.capq * 2 : 64;
		void *nq = realloc(e->sel.q, cap * sizeof(*e->sel.q));

		if (nq == NULL) {
			select_local(e, tx);
			return;
		}
		e->sel.q = nq;
		e->sel.capq = cap;
	}
	e->sel.q[e->sel.nq++] = tx;
	tx->sel_queued = true;
	/* the flush runs once I/O is drained; under overload I/O never is,
	 * so a full batch goes at once */
	if (e->sel.nq >= EDGE_SELECT_BATCH)
		flush_selections(e);
	else
		flush_kick(e);
}

/* tx's selection as the scheduler takes it, borrowing tx's strings; res
 * holds the resource pointers. */
static void
batch_entry(struct edge *e, struct edge_tx *tx, Siplb__V1__SelectRequest *s,
    char **res)
{
	const struct edge_rule *r = tx->rule;

	siplb__v1__select_request__init(s);
	s->algorithm = (char *)r->alg_name;
	s->group = r->group;
	if (r->kind == RULE_LB) {
		for (int k = 0; k < r->nres; k++)
			res[k] = (char *)r->res[k];
		s->resources = res;
		s->n_resources = (size_t)r->nres;
	}
	s->key = tx->dkey;
	s->reserve = tx->dkey[0] != '\0';
	s->edge = e->stream;
	s->hash_key = tx->call_id;
	s->exclude = tx->exclude;
	s->n_exclude = (size_t)tx->nexclude;
	s->max_results = 1;
}

/* Send this loop turn's selections as one request. */
static void
flush_selections(struct edge *e)
{
	Siplb__V1__SchedRequest q = SIPLB__V1__SCHED_REQUEST__INIT;
	Siplb__V1__SelectBatch batch = SIPLB__V1__SELECT_BATCH__INIT;
	Siplb__V1__SelectRequest *reqs = NULL, **rp = NULL;
	char *(*res)[LB_MAX_RES] = NULL;
	struct sel_wait *w = NULL;
	struct timeval tv;
	size_t n = 0;

	if (e->sel.nq == 0)
		return;
	reqs = calloc(e->sel.nq, sizeof(*reqs));
	rp = calloc(e->sel.nq, sizeof(*rp));
	res = calloc(e->sel.nq, sizeof(*res));
	w = calloc(1, sizeof(*w));
	if (w)
		w->txs = calloc(e->sel.nq, sizeof(*w->txs));
	if (reqs == NULL || rp == NULL || res == NULL || w == NULL ||
	    w->txs == NULL)
		goto local;
	for (size_t i = 0; i < e->sel.nq; i++) {
		struct edge_tx *tx = e->sel.q[i];
		Siplb__V1__SelectRequest *s = &reqs[n];

		if (tx == NULL)
			continue;
		batch_entry(e, tx, s, res[n]);
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
	e->sel.seq = (e->sel.seq + 1) & 0x7fffffff;
	if (e->sel.seq == 0)
		e->sel.seq = 1;
	e->sel.probe_us = slb_now_us();
	e->sel.next_probe_us = e->sel.probe_us + 1000000u;
	if (sched_send(e, &q.base, e->sel.seq) != 0) {
		e->st.sched_errors++;
		goto local;
	}
	w->id = e->sel.seq;
	w->e = e;
	w->n = n;
	w->timer = evtimer_new(e->base, sel_timeout, w);
	tv.tv_sec = e->cfg.sched_timeout_ms / 1000;
	tv.tv_usec = (e->cfg.sched_timeout_ms % 1000) * 1000;
	if (w->timer == NULL || evtimer_add(w->timer, &tv) != 0)
		goto local; /* (the reply, if any, is then ignored) */
	HASH_ADD(hh, e->sel.waits, id, sizeof(w->id), w);
	for (size_t i = 0; i < n; i++) {
		w->txs[i]->sel_queued = false;
		w->txs[i]->sel_wait = w;
		w->txs[i]->sel_slot = i;
	}
	e->sel.nq = 0;
	w = NULL;
	goto out;
local : {
	/* cannot ask: every queued call selects from the cache */
	size_t m = e->sel.nq;

	e->sel.nq = 0;
	for (size_t i = 0; i < m; i++)
		if (e->sel.q[i] != NULL) {
			e->sel.q[i]->sel_queued = false;
			select_local(e, e->sel.q[i]);
		}
}
out:
	e->sel.nq = 0;
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
dispatch_reply(
    struct edge *e, struct edge_tx *tx, const Siplb__V1__SelectReply *r)
{
	if (r->status == SIPLB__V1__SELECT_STATUS__SELECT_OK &&
	    r->n_choices > 0) {
		sel_done(e, tx, r->choices[0]->node_id, r->choices[0]->uri, 0,
		    NULL);
		return;
	}
	if (r->status == SIPLB__V1__SELECT_STATUS__SELECT_BAD_REQUEST) {
		slb_log_warn("scheduler refused a selection: %s",
		    r->error && *r->error ? r->error : "bad request");
		e->st.sched_errors++;
	}
	sel_done(e, tx, 0, NULL, 503,
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
	HASH_FIND(hh, e->sel.waits, &id, sizeof(id), w);
	if (w == NULL)
		return; /* late, or a health report's answer */
	ok = slb_msg_unpack(&siplb__v1__sched_reply__descriptor, msg,
		 SLB_MSG_MAX, &pm) == 0;
	r = ok ? (Siplb__V1__SchedReply *)pm : NULL;
	ok = ok && r->status == SIPLB__V1__STATUS__STATUS_OK &&
	    r->body_case == SIPLB__V1__SCHED_REPLY__BODY_SELECT_BATCH &&
	    r->select_batch->n_replies == w->n;
	if (e->sel.away && r != NULL) {
		slb_log_notice("scheduler answers again");
		e->sel.away = false;
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
	for (int i = 0; i < 256 && e->sel.ev != NULL; i++) {
		nng_msg *msg;

		if (nng_recvmsg(e->sel.sock, &msg, NNG_FLAG_NONBLOCK) != 0)
			return;
		sched_reply(e, msg);
		nng_msg_free(msg);
	}
}

static void
report(struct edge *e, uint32_t node_id, int code, uint32_t retry_after_s,
    const struct edge_peer *from)
{
	Siplb__V1__SchedRequest q = SIPLB__V1__SCHED_REQUEST__INIT;
	Siplb__V1__NodeHealth h = SIPLB__V1__NODE_HEALTH__INIT;
	char src[INET6_ADDRSTRLEN] = "";

	if (node_id == 0)
		return;
	/* the caller's address (no port): the scheduler counts reports per
	 * caller, so that one caller cannot take a node out alone */
	if (from != NULL && from->ss.ss_family == AF_INET)
		inet_ntop(AF_INET,
		    &((const struct sockaddr_in *)&from->ss)->sin_addr, src,
		    sizeof(src));
	else if (from != NULL && from->ss.ss_family == AF_INET6)
		inet_ntop(AF_INET6,
		    &((const struct sockaddr_in6 *)&from->ss)->sin6_addr, src,
		    sizeof(src));
	h.node_id = node_id;
	h.up = false;
	h.passive = true;
	h.last_code = (uint32_t)code;
	h.retry_after_s = retry_after_s;
	h.source = src;
	q.body_case = SIPLB__V1__SCHED_REQUEST__BODY_REPORT;
	q.report = &h;
	/* id 0 never matches a waiting selection: the answer is dropped */
	sched_send(e, &q.base, 0);
}

void
edge_sel_report_failure(
    struct edge *e, uint32_t node_id, int code, const struct edge_peer *from)
{
	report(e, node_id, code, 0, from);
}

void
edge_sel_report_node(
    struct edge *e, uint32_t node_id, int code, uint32_t retry_after_s)
{
	report(e, node_id, code, retry_after_s, NULL);
}

static void
on_flush(evutil_socket_t fd, short what, void *arg)
{
	struct edge *e = arg;

	(void)fd;
	(void)what;
	flush_selections(e);
}

/* Run on_flush once the loop has handled every pending I/O event: one
 * scheduler request and one bus message per loop turn. */
static void
flush_kick(struct edge *e)
{
	if (e->sel.flush_ev &&
	    !event_pending(e->sel.flush_ev, EV_TIMEOUT, NULL))
		event_active(e->sel.flush_ev, EV_TIMEOUT, 0);
}


int
edge_selc_open(struct edge *e)
{
	e->sel.flush_ev = event_new(e->base, -1, 0, on_flush, e);
	/* the flush at priority 2, after all I/O of the turn at 1 */
	if (e->sel.flush_ev == NULL ||
	    event_priority_set(e->sel.flush_ev, 2) != 0)
		return ENOMEM;
	return sched_open(e);
}

void
edge_selc_close(struct edge *e)
{
	struct sel_wait *w, *wtmp;

	HASH_ITER(hh, e->sel.waits, w, wtmp)
	wait_free(e, w);
	free(e->sel.q);
	e->sel.q = NULL;
	e->sel.nq = e->sel.capq = 0;
	if (e->sel.flush_ev)
		event_free(e->sel.flush_ev);
	e->sel.flush_ev = NULL;
	if (e->sel.ev)
		event_free(e->sel.ev);
	e->sel.ev = NULL;
	nng_close(e->sel.sock);
}
