#define SLB_LOG_MODULE "dialogd"
#include "dialogd.h"

#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

#define OFF(f) offsetof(struct dlgd_cfg, f)

const struct slb_cfg_key dlgd_cfg_keys[] = {
	SLB_CFG_GENERAL_KEYS(struct dlgd_cfg),
	{ "dialogd", "pub", SLB_CFG_ADDR, 0, 0, SLB_ADDR_DIALOGD_PUB, OFF(pub),
	    "PUB address: expiry events (stream \"dialogd\")" },
	{ "dialogd", "rep", SLB_CFG_ADDR, 0, 0, SLB_ADDR_DIALOGD_REP, OFF(rep),
	    "REP address: queries, counts, snapshots of live dialogs" },
	{ "dialogd", "edge_pubs", SLB_CFG_STR, 0, 0, SLB_ADDR_EDGE_PUB,
	    OFF(edge_pubs),
	    "comma-separated edge PUB addresses (dialog events)" },
	{ "dialogd", "edge_reps", SLB_CFG_STR, 0, 0, SLB_ADDR_EDGE_REP,
	    OFF(edge_reps),
	    "the edges' REP addresses, in the same order "
	    "(snapshots at start and on any gap)" },
	{ "dialogd", "store", SLB_CFG_STR, 0, 0, "sqlite", OFF(store),
	    "sqlite (sqlite_path) or mysql (db_url)" },
	{ "dialogd", "sqlite_path", SLB_CFG_STR, 0, 0, "dialogs.db",
	    OFF(sqlite_path), "SQLite file, relative to run_dir" },
	{ "dialogd", "db_url", SLB_CFG_STR, 0, 0, "", OFF(db_url),
	    "mysql://user:password@host:port/db (store = mysql)" },
	{ "dialogd", "table", SLB_CFG_STR, 0, 0, "siplb_dialogs", OFF(table),
	    "dialog table, created if missing" },
	{ "dialogd", "flush_interval", SLB_CFG_INT, 1, 10000, "20",
	    OFF(flush_interval_ms),
	    "ms events may wait before they are written (one transaction)" },
	{ "dialogd", "batch_max", SLB_CFG_INT, 1, 100000, "1000",
	    OFF(batch_max),
	    "events that are written at once, without waiting" },
	{ "dialogd", "lifetime", SLB_CFG_INT, 1000, 604800000, "43200000",
	    OFF(lifetime_ms),
	    "ms after which a dialog with no BYE is ended as \"expired\" "
	    "(OpenSIPS's default: 12 h)" },
	{ NULL, NULL, 0, 0, 0, NULL, 0, NULL },
};

int
dlgd_cfg_load(struct dlgd_cfg *c, const char *path)
{
	const char *where = path ? path : "defaults";
	char err[1024];

	if (slb_cfg_load(path, dlgd_cfg_keys, c, 0, NULL, NULL, err,
		sizeof(err)) != 0) {
		slb_log_err("%s", err);
		return EINVAL;
	}
	if (strcmp(c->store, "sqlite") != 0 &&
	    strcmp(c->store, "mysql") != 0) {
		slb_log_err(
		    "%s: [dialogd] store: must be sqlite or mysql, not "
		    "\"%s\"",
		    where, c->store);
		return EINVAL;
	}
	if (strcmp(c->store, "mysql") == 0 && c->db_url[0] == '\0') {
		slb_log_err(
		    "%s: [dialogd] db_url: required with store = mysql",
		    where);
		return EINVAL;
	}
	if (strcmp(c->store, "sqlite") == 0 && c->sqlite_path[0] == '\0') {
		slb_log_err("%s: [dialogd] sqlite_path: required with store = "
			    "sqlite",
		    where);
		return EINVAL;
	}
	if (c->sqlite_path[0] != '/' && c->sqlite_path[0] != '\0') {
		char buf[SLB_CFG_STRLEN * 2 + 2];

		snprintf(
		    buf, sizeof(buf), "%s/%s", c->run_dir, c->sqlite_path);
		if (strlen(buf) >= SLB_CFG_STRLEN) {
			slb_log_err(
			    "%s: [dialogd] sqlite_path: too long after "
			    "adding run_dir",
			    where);
			return EINVAL;
		}
		strcpy(c->sqlite_path, buf);
	}
	slb_log_configure(c->log_level, c->log_facility, c->log_syslog);
	return 0;
}

/* ------------------------------------------------------------ protobuf */

/* Rows as DialogEvents that borrow from the rows (whose resources are
 * split in place). */
struct pb_out {
	Siplb__V1__DialogEvent *evs;
	Siplb__V1__DialogEvent **evp;
	char **res;
	size_t n;
};

static int
pb_from_recs(struct slb_dialog *recs, size_t n, struct pb_out *o)
{
	memset(o, 0, sizeof(*o));
	o->evs = calloc(n + 1, sizeof(*o->evs));
	o->evp = calloc(n + 1, sizeof(*o->evp));
	o->res = calloc((n + 1) * SLB_DIALOG_NRES_MAX, sizeof(*o->res));
	if (o->evs == NULL || o->evp == NULL || o->res == NULL)
		return ENOMEM;
	for (size_t i = 0; i < n; i++) {
		slb_dialog_to_pb(&recs[i], &o->evs[i],
		    &o->res[i * SLB_DIALOG_NRES_MAX], SLB_DIALOG_NRES_MAX);
		o->evp[i] = &o->evs[i];
	}
	o->n = n;
	return 0;
}

static void
pb_out_free(struct pb_out *o)
{
	free(o->evs);
	free(o->evp);
	free(o->res);
	memset(o, 0, sizeof(*o));
}

/* ------------------------------------------------------------ writing */

static int open_edges(struct dlgd *d);
static void close_edges(struct dlgd *d);

/* How many events may wait while the store is away before they are
 * dropped (and every edge asked for a snapshot once it is back). */
static size_t
queue_max(const struct dlgd *d)
{
	size_t m = (size_t)d->cfg.batch_max * 100;

	return m < 100000 ? 100000 : m;
}

static void
arm_flush(struct dlgd *d, int ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	if (d->flush_armed)
		return;
	if (evtimer_add(d->flush_ev, &tv) == 0)
		d->flush_armed = true;
}

/* Write what is queued in one transaction.  0, or the store's error (the
 * events stay queued and a retry is armed). */
static int
flush(struct dlgd *d)
{
	char err[512];
	int rc;

	if (d->flush_armed) {
		evtimer_del(d->flush_ev);
		d->flush_armed = false;
	}
	if (d->nq == 0)
		return 0;
	rc = dlg_store_write(d->store, d->q, d->nq, err, sizeof(err));
	if (rc != 0) {
		if (!d->store_down)
			slb_log_err("cannot write %zu events, will retry: %s",
			    d->nq, err);
		d->store_down = true;
		if (d->nq > queue_max(d)) {
			slb_log_err("%zu events dropped: the store is away; "
				    "every edge will be asked for a snapshot",
			    d->nq);
			d->dropped += d->nq;
			d->nq = 0;
			d->need_resync = true;
		}
		arm_flush(d, 1000);
		return rc;
	}
	if (d->store_down)
		slb_log_notice(
		    "store %s: writing again", dlg_store_name(d->store));
	d->store_down = false;
	d->flushes++;
	slb_log_debug("%zu events written", d->nq);
	d->nq = 0;
	if (d->need_resync) {
		/* every edge is asked for a snapshot; not from here: flush runs
		 * inside a subscriber's callbacks */
		d->need_resync = false;
		event_active(d->resub_ev, 0, 0);
	}
	return 0;
}

static void
on_resub(evutil_socket_t fd, short what, void *arg)
{
	struct dlgd *d = arg;

	(void)fd;
	(void)what;
	/* keeping each subscriber's place: only what came after it is
	 * replayed, then the snapshot settles what was dropped */
	for (int i = 0; i < d->nedges; i++)
		if (d->edges[i] != NULL)
			slb_sub_resync(d->edges[i]);
}

static void
on_flush(evutil_socket_t fd, short what, void *arg)
{
	struct dlgd *d = arg;

	(void)fd;
	(void)what;
	d->flush_armed = false;
	flush(d);
}

static void
queue_event(struct dlgd *d, const Siplb__V1__DialogEvent *e,
    const char *stream, uint64_t now_us)
{
	struct slb_dialog *r;

	if (d->nq == d->capq) {
		size_t cap = d->capq ? d->capq * 2 : 1024;
		void *nq = realloc(d->q, cap * sizeof(*d->q));

		if (nq == NULL) {
			d->dropped++;
			d->need_resync = true;
			return;
		}
		d->q = nq;
		d->capq = cap;
	}
	r = &d->q[d->nq];
	if (slb_dialog_from_pb(e, stream, now_us, r) != 0) {
		d->dropped++;
		slb_log_warn("%s: dialog event dropped: key empty or over %d "
			     "characters, or bad state %d",
		    stream, SLB_DIALOG_KEY_MAX, (int)e->state);
		return;
	}
	d->nq++;
	d->events++;
	if (d->nq >= (size_t)d->cfg.batch_max)
		flush(d);
	else
		arm_flush(d, d->cfg.flush_interval_ms);
}

static void
edge_message(void *arg, const Siplb__V1__BusMessage *m)
{
	struct dlgd *d = arg;
	uint64_t now = slb_wall_us();

	if (m->body_case == SIPLB__V1__BUS_MESSAGE__BODY_DIALOG) {
		queue_event(d, m->dialog, m->stream, now);
	} else if (m->body_case == SIPLB__V1__BUS_MESSAGE__BODY_DIALOGS) {
		for (size_t i = 0; i < m->dialogs->n_events; i++)
			queue_event(d, m->dialogs->events[i], m->stream, now);
	}
}

static void
edge_snapshot(void *arg, const Siplb__V1__Snapshot *snap)
{
	struct dlgd *d = arg;
	uint64_t now = slb_wall_us();
	struct slb_dialog *recs;
	size_t n = 0, lost = 0, nd;
	char err[512];
	int rc;

	if (snap->body_case != SIPLB__V1__SNAPSHOT__BODY_DIALOGS ||
	    snap->stream == NULL || snap->stream[0] == '\0')
		return;
	/* what came before the snapshot goes first */
	flush(d);
	nd = snap->dialogs->n_dialogs;
	if ((recs = calloc(nd + 1, sizeof(*recs))) == NULL) {
		d->need_resync = true;
		return;
	}
	for (size_t i = 0; i < nd; i++)
		if (slb_dialog_from_pb(snap->dialogs->dialogs[i], snap->stream,
			now, &recs[n]) == 0)
			n++;
	rc = dlg_store_apply_snapshot(
	    d->store, snap->stream, recs, n, now, &lost, err, sizeof(err));
	free(recs);
	if (rc != 0) {
		slb_log_err("%s: snapshot not stored, will ask again: %s",
		    snap->stream, err);
		d->need_resync = true;
		d->store_down = true;
		arm_flush(d, 1000);
		return;
	}
	d->lost += lost;
	slb_log_info("%s: snapshot of %zu live dialogs stored, %zu no longer "
		     "there marked lost",
	    snap->stream, n, lost);
}

/* history: the calls that began and ended while we were not listening are
 * replayed from the edge's ring before its snapshot */
static const struct slb_sub_ops edge_ops = { edge_message, edge_snapshot, 1 };

static int
open_edges(struct dlgd *d)
{
	for (int i = 0; i < d->nedges; i++) {
		char name[32];
		int rc;

		snprintf(name, sizeof(name), "edge %d", i + 1);
		rc = slb_sub_open(&d->edges[i], d->base, d->br, name,
		    d->edge_pub[i], d->edge_rep[i][0] ? d->edge_rep[i] : NULL,
		    &edge_ops, d);
		if (rc != 0)
			return rc;
	}
	return 0;
}

static void
close_edges(struct dlgd *d)
{
	for (int i = 0; i < d->nedges; i++) {
		slb_sub_close(d->edges[i]);
		d->edges[i] = NULL;
	}
}

static int
parse_edges(struct dlgd *d)
{
	int np, nr;

	np = slb_cfg_split(d->cfg.edge_pubs, ',', d->edge_pub, DLGD_MAX_EDGES);
	nr = slb_cfg_split(d->cfg.edge_reps, ',', d->edge_rep, DLGD_MAX_EDGES);
	if (np < 0 || nr < 0 || (nr != np && nr != 0)) {
		slb_log_err("[dialogd] edge_pubs and edge_reps: give the same "
			    "number of addresses (at most %d)",
		    DLGD_MAX_EDGES);
		return EINVAL;
	}
	for (int i = 0; i < np; i++) {
		if (nr == 0)
			d->edge_rep[i][0] = '\0';
		if (slb_cfg_expand_addr(d->edge_pub[i], d->cfg.run_dir) != 0 ||
		    (nr &&
			slb_cfg_expand_addr(d->edge_rep[i], d->cfg.run_dir) !=
			    0)) {
			slb_log_err("[dialogd] edge_pubs, edge_reps: \"%s\": "
				    "address too long after adding run_dir",
			    d->edge_pub[i]);
			return EINVAL;
		}
	}
	if (nr == 0 && np > 0)
		slb_log_warn(
		    "[dialogd] edge_reps is empty: no snapshots, so "
		    "a lost event stays lost until the dialog expires");
	d->nedges = np;
	return 0;
}

/* ------------------------------------------------------------ expiry */

static void
publish_expired(struct dlgd *d, struct slb_dialog *recs, size_t n)
{
	struct pb_out o;

	if (pb_from_recs(recs, n, &o) != 0) {
		slb_log_err("%zu expiries not published: out of memory", n);
		pb_out_free(&o);
		return;
	}
	for (size_t i = 0; i < n; i += DLGD_PUB_BATCH) {
		Siplb__V1__BusMessage m = SIPLB__V1__BUS_MESSAGE__INIT;
		Siplb__V1__DialogBatch b = SIPLB__V1__DIALOG_BATCH__INIT;
		size_t k = n - i < DLGD_PUB_BATCH ? n - i : DLGD_PUB_BATCH;

		if (k == 1) {
			m.body_case = SIPLB__V1__BUS_MESSAGE__BODY_DIALOG;
			m.dialog = o.evp[i];
		} else {
			b.events = &o.evp[i];
			b.n_events = k;
			m.body_case = SIPLB__V1__BUS_MESSAGE__BODY_DIALOGS;
			m.dialogs = &b;
		}
		slb_pub_send(d->pub, &m);
	}
	pb_out_free(&o);
}

static void
expire(struct dlgd *d)
{
	uint64_t now = slb_wall_us(),
		 life = (uint64_t)d->cfg.lifetime_ms * 1000;
	struct slb_dialog *recs = NULL;
	size_t n = 0;
	char err[512];

	if (now <= life || flush(d) != 0)
		return;
	if (dlg_store_expire(d->store, now - life, now, DLGD_EXPIRE_MAX, &recs,
		&n, err, sizeof(err)) != 0) {
		slb_log_err("expiry: %s", err);
		return;
	}
	if (n > 0) {
		d->expired += n;
		slb_log_notice("%zu dialogs expired (no BYE within %d ms)", n,
		    d->cfg.lifetime_ms);
		for (size_t i = 0; i < n && i < 8; i++)
			slb_log_info("dialog %s on node %u of %s expired",
			    recs[i].key, recs[i].node_id, recs[i].edge);
		publish_expired(d, recs, n);
	}
	free(recs);
}

static void
on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct dlgd *d = arg;

	(void)fd;
	(void)what;
	slb_pub_heartbeat(d->pub);
	expire(d);
}

/* ------------------------------------------------------------ REP */

#define DLGD_COUNTERS (6 + SLB_SUB_COUNTERS * DLGD_MAX_EDGES)

struct reply_mem {
	struct slb_dialog *recs;
	struct dlg_count *counts;
	Siplb__V1__DialogCount *cv;
	Siplb__V1__DialogCount **cp;
	struct pb_out o;
	char err[600];
	struct slb_counters k;
	Siplb__V1__Counter c[DLGD_COUNTERS];
	Siplb__V1__Counter *ctp[DLGD_COUNTERS];
	char label[DLGD_MAX_EDGES][16];
};

/* What dialogd counted, and what each edge subscriber saw on the bus
 * (replays and the holes they could not cover among it). */
static void
handle_stats(struct dlgd *d, Siplb__V1__DialogdReply *r, struct reply_mem *m)
{
	slb_counters_init(&m->k, m->c, m->ctp, DLGD_COUNTERS);
	slb_counter_add(&m->k, "events", "", d->events);
	slb_counter_add(&m->k, "dropped", "", d->dropped);
	slb_counter_add(&m->k, "flushes", "", d->flushes);
	slb_counter_add(&m->k, "expired", "", d->expired);
	slb_counter_add(&m->k, "marked_lost", "", d->lost);
	slb_counter_add(&m->k, "queries", "", d->queries);
	for (int i = 0; i < d->nedges; i++) {
		if (d->edges[i] == NULL)
			continue;
		snprintf(m->label[i], sizeof(m->label[i]), "edge %d", i + 1);
		slb_counters_add_sub(&m->k, d->edges[i], m->label[i]);
	}
	r->stats = &m->k.sr;
	r->status = SIPLB__V1__STATUS__STATUS_OK;
}

static void
bad(Siplb__V1__DialogdReply *r, struct reply_mem *m, Siplb__V1__Status st,
    const char *fmt, const char *arg)
{
	snprintf(m->err, sizeof(m->err), fmt, arg);
	r->status = st;
	r->error = m->err;
}

static void
handle_snapshot(struct dlgd *d, Siplb__V1__DialogdReply *r,
    Siplb__V1__Snapshot *snap, Siplb__V1__DialogSnapshot *ds,
    struct reply_mem *m)
{
	struct dlg_filter f = { .live = 1 };
	size_t n = 0;
	char err[512];

	if (dlg_store_query(d->store, &f, &m->recs, &n, err, sizeof(err)) !=
	    0) {
		bad(r, m, SIPLB__V1__STATUS__STATUS_INTERNAL, "%s", err);
		return;
	}
	if (pb_from_recs(m->recs, n, &m->o) != 0) {
		bad(r, m, SIPLB__V1__STATUS__STATUS_INTERNAL, "%s",
		    "out of memory");
		return;
	}
	ds->dialogs = m->o.evp;
	ds->n_dialogs = n;
	snap->stream = (char *)slb_pub_stream(d->pub);
	snap->epoch = slb_pub_epoch(d->pub);
	snap->seq = slb_pub_seq(d->pub);
	snap->body_case = SIPLB__V1__SNAPSHOT__BODY_DIALOGS;
	snap->dialogs = ds;
	r->snapshot = snap;
	r->status = SIPLB__V1__STATUS__STATUS_OK;
}

static void
handle_query(struct dlgd *d, const Siplb__V1__DialogQuery *q,
    Siplb__V1__DialogdReply *r, struct reply_mem *m)
{
	struct dlg_filter f = { 0 };
	size_t n = 0;
	char err[512];

	if (q->key && strlen(q->key) > SLB_DIALOG_KEY_MAX) {
		snprintf(err, sizeof(err), "key: at most %d characters",
		    SLB_DIALOG_KEY_MAX);
		bad(r, m, SIPLB__V1__STATUS__STATUS_BAD_REQUEST, "%s", err);
		return;
	}
	if (q->edge && strlen(q->edge) > SLB_DIALOG_EDGE_MAX) {
		snprintf(err, sizeof(err), "edge: at most %d characters",
		    SLB_DIALOG_EDGE_MAX);
		bad(r, m, SIPLB__V1__STATUS__STATUS_BAD_REQUEST, "%s", err);
		return;
	}
	if (q->after_key && strlen(q->after_key) > SLB_DIALOG_KEY_MAX) {
		snprintf(err, sizeof(err), "after_key: at most %d characters",
		    SLB_DIALOG_KEY_MAX);
		bad(r, m, SIPLB__V1__STATUS__STATUS_BAD_REQUEST, "%s", err);
		return;
	}
	if ((int)q->state != SLB_DIALOG_ANY &&
	    !slb_dialog_state_ok((int)q->state)) {
		snprintf(err, sizeof(err),
		    "state %d: use 1 (created), 2 "
		    "(confirmed), 3 (terminated) or 0 (any)",
		    (int)q->state);
		bad(r, m, SIPLB__V1__STATUS__STATUS_BAD_REQUEST, "%s", err);
		return;
	}
	if (q->limit > DLGD_LIMIT_MAX) {
		snprintf(err, sizeof(err), "limit %u: at most %d", q->limit,
		    DLGD_LIMIT_MAX);
		bad(r, m, SIPLB__V1__STATUS__STATUS_BAD_REQUEST, "%s", err);
		return;
	}
	f.key = q->key;
	f.node_id = q->node_id;
	f.state = (enum slb_dialog_state)q->state;
	f.edge = q->edge;
	f.after_key = q->after_key;
	f.updated_after = q->updated_after;
	f.limit = q->limit ? q->limit : DLGD_LIMIT_DEFAULT;
	if (q->counts) {
		if (dlg_store_counts(
			d->store, &f, &m->counts, &n, err, sizeof(err)) != 0) {
			bad(r, m, SIPLB__V1__STATUS__STATUS_INTERNAL, "%s",
			    err);
			return;
		}
		m->cv = calloc(n + 1, sizeof(*m->cv));
		m->cp = calloc(n + 1, sizeof(*m->cp));
		if (m->cv == NULL || m->cp == NULL) {
			bad(r, m, SIPLB__V1__STATUS__STATUS_INTERNAL, "%s",
			    "out of memory");
			return;
		}
		for (size_t i = 0; i < n; i++) {
			siplb__v1__dialog_count__init(&m->cv[i]);
			m->cv[i].node_id = m->counts[i].node_id;
			m->cv[i].resource = m->counts[i].resource;
			m->cv[i].count = m->counts[i].count;
			m->cp[i] = &m->cv[i];
		}
		r->counts = m->cp;
		r->n_counts = n;
		r->status = SIPLB__V1__STATUS__STATUS_OK;
		return;
	}
	if (dlg_store_query(d->store, &f, &m->recs, &n, err, sizeof(err)) !=
	    0) {
		bad(r, m, SIPLB__V1__STATUS__STATUS_INTERNAL, "%s", err);
		return;
	}
	if (f.key && *f.key && n == 0) {
		bad(r, m, SIPLB__V1__STATUS__STATUS_NOT_FOUND,
		    "dialog \"%s\" is not in the store", f.key);
		return;
	}
	if (pb_from_recs(m->recs, n, &m->o) != 0) {
		bad(r, m, SIPLB__V1__STATUS__STATUS_INTERNAL, "%s",
		    "out of memory");
		return;
	}
	r->dialogs = m->o.evp;
	r->n_dialogs = n;
	r->status = SIPLB__V1__STATUS__STATUS_OK;
}

static void
on_request(void *arg, nng_msg *req, nng_msg **replyp)
{
	struct dlgd *d = arg;
	Siplb__V1__DialogdReply r = SIPLB__V1__DIALOGD_REPLY__INIT;
	Siplb__V1__Snapshot snap = SIPLB__V1__SNAPSHOT__INIT;
	Siplb__V1__DialogSnapshot ds = SIPLB__V1__DIALOG_SNAPSHOT__INIT;
	Siplb__V1__DialogdRequest *q;
	ProtobufCMessage *pm = NULL;
	struct reply_mem m;
	int rc;

	memset(&m, 0, sizeof(m));
	d->queries++;
	rc = slb_msg_unpack(
	    &siplb__v1__dialogd_request__descriptor, req, SLB_MSG_MAX, &pm);
	if (rc != 0) {
		const char *why;
		Siplb__V1__Status st = slb_msg_refusal(rc, &why);

		bad(&r, &m, st, "%s", why);
		goto send;
	}
	q = (Siplb__V1__DialogdRequest *)pm;
	if (q->body_case == SIPLB__V1__DIALOGD_REQUEST__BODY_STATS) {
		handle_stats(d, &r, &m); /* no flush: nothing to see */
		goto send;
	}
	if (q->body_case != SIPLB__V1__DIALOGD_REQUEST__BODY_SNAPSHOT &&
	    (q->body_case != SIPLB__V1__DIALOGD_REQUEST__BODY_QUERY ||
		q->query == NULL)) {
		bad(&r, &m, SIPLB__V1__STATUS__STATUS_BAD_REQUEST, "%s",
		    "empty request: send a query, stats or a snapshot "
		    "request");
		goto send;
	}
	/* a query sees every event received so far */
	if (flush(d) != 0) {
		bad(&r, &m, SIPLB__V1__STATUS__STATUS_INTERNAL, "%s",
		    "the store cannot be written to now; try again");
		goto send;
	}
	if (q->body_case == SIPLB__V1__DIALOGD_REQUEST__BODY_SNAPSHOT)
		handle_snapshot(d, &r, &snap, &ds, &m);
	else
		handle_query(d, q->query, &r, &m);
send:
	if (slb_msg_pack(&r.base, replyp) != 0)
		*replyp = NULL;
	pb_out_free(&m.o);
	free(m.recs);
	free(m.counts);
	free(m.cv);
	free(m.cp);
	slb_msg_free(pm);
}

/* ------------------------------------------------------------ life */

int
dlgd_init(struct dlgd *d)
{
	struct dlg_store_cfg sc = { 0 };
	struct timeval tv = { 1, 0 };
	char err[1024];
	int rc;

	if ((rc = parse_edges(d)) != 0)
		return rc;
	sc.kind = strcmp(d->cfg.store, "mysql") == 0 ? DLG_STORE_MYSQL
						     : DLG_STORE_SQLITE;
	sc.sqlite_path = d->cfg.sqlite_path;
	sc.db_url = d->cfg.db_url;
	sc.table = d->cfg.table;
	if ((rc = dlg_store_open(&d->store, &sc, err, sizeof(err))) != 0) {
		slb_log_err("cannot open the dialog store: %s", err);
		return rc;
	}
	if ((rc = slb_loop_new(&d->base)) != 0 ||
	    (rc = slb_bridge_new(&d->br, d->base)) != 0)
		return rc;
	d->flush_ev = evtimer_new(d->base, on_flush, d);
	d->resub_ev = event_new(d->base, -1, 0, on_resub, d);
	d->tick = event_new(d->base, -1, EV_PERSIST, on_tick, d);
	if (d->flush_ev == NULL || d->resub_ev == NULL || d->tick == NULL)
		return ENOMEM;
	if ((rc = slb_pub_open(&d->pub, d->cfg.pub, "dialogd")) != 0 ||
	    (rc = slb_rep_open(&d->rep, d->base, d->cfg.rep, on_request, d)) !=
		0)
		return rc;
	if ((rc = open_edges(d)) != 0)
		return rc;
	if (event_add(d->tick, &tv) != 0)
		return ENOMEM;
	slb_log_notice("ready: store %s, %d edges, rep %s, pub %s",
	    dlg_store_name(d->store), d->nedges, d->cfg.rep, d->cfg.pub);
	return 0;
}

void
dlgd_close(struct dlgd *d)
{
	if (d->store && d->base)
		flush(d);
	if (d->tick)
		event_free(d->tick);
	if (d->flush_ev)
		event_free(d->flush_ev);
	if (d->resub_ev)
		event_free(d->resub_ev);
	close_edges(d);
	slb_rep_close(d->rep);
	slb_pub_close(d->pub);
	slb_bridge_free(d->br);
	if (d->base)
		slb_loop_free(d->base);
	dlg_store_close(d->store);
	free(d->q);
}
