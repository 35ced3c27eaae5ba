#define SLB_LOG_MODULE "sched"
#include <errno.h>
#include <event2/event.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "lb_pb.h"
#include "svc.h"

#define OFF(f) offsetof(struct sched_cfg, f)

const struct slb_cfg_key sched_cfg_keys[] = {
	SLB_CFG_GENERAL_KEYS(struct sched_cfg),
	{ "scheduler", "rep", SLB_CFG_ADDR, 0, 0, SLB_ADDR_SCHEDULER_REP,
	    OFF(rep), "REP address: selections, admin commands, snapshots" },
	{ "scheduler", "pub", SLB_CFG_ADDR, 0, 0, SLB_ADDR_SCHEDULER_PUB,
	    OFF(pub), "PUB address: node table and its changes" },
	{ "scheduler", "node_source", SLB_CFG_STR, 0, 0, "file",
	    OFF(node_source),
	    "file (nodes_file) or mysql (db_url, OpenSIPS tables)" },
	{ "scheduler", "nodes_file", SLB_CFG_STR, 0, 0, "nodes.conf",
	    OFF(nodes_file),
	    "node table file, relative to the config file's folder" },
	{ "scheduler", "db_url", SLB_CFG_STR, 0, 0, "", OFF(db_url),
	    "mysql://user:password@host:port/db (node_source = mysql)" },
	{ "scheduler", "lb_table", SLB_CFG_STR, 0, 0, "load_balancer",
	    OFF(lb_table), "OpenSIPS load_balancer table" },
	{ "scheduler", "ds_table", SLB_CFG_STR, 0, 0, "dispatcher",
	    OFF(ds_table), "OpenSIPS dispatcher table; empty to ignore it" },
	{ "scheduler", "state_table", SLB_CFG_STR, 0, 0, "siplb_node_state",
	    OFF(state_table),
	    "table keeping admin enable/disable of load_balancer rows; empty: none" },
	{ "scheduler", "prober_pub", SLB_CFG_STR, 0, 0, SLB_ADDR_PROBER_PUB,
	    OFF(prober_pub),
	    "prober health events, comma-separated (one per shard); empty: none" },
	{ "scheduler", "prober_rep", SLB_CFG_STR, 0, 0, SLB_ADDR_PROBER_REP,
	    OFF(prober_rep),
	    "the probers' snapshot REP addresses, same order" },
	{ "scheduler", "edge_pubs", SLB_CFG_STR, 0, 0, SLB_ADDR_EDGE_PUB,
	    OFF(edge_pubs),
	    "comma-separated edge PUB addresses (dialog events)" },
	{ "scheduler", "edge_reps", SLB_CFG_STR, 0, 0, SLB_ADDR_EDGE_REP,
	    OFF(edge_reps), "the edges' REP addresses, in the same order" },
	{ "scheduler", "dialogd_pub", SLB_CFG_ADDR, 0, 0, SLB_ADDR_DIALOGD_PUB,
	    OFF(dialogd_pub), "dialogd expiry events; empty: none" },
	{ "scheduler", "dialogd_rep", SLB_CFG_ADDR, 0, 0, SLB_ADDR_DIALOGD_REP,
	    OFF(dialogd_rep), "dialogd snapshots of live dialogs" },
	{ "scheduler", "reserve_ttl", SLB_CFG_INT, 1000, 600000, "10000",
	    OFF(reserve_ttl_ms),
	    "ms a reservation waits for the edge's CREATED event" },
	{ "scheduler", "table_interval", SLB_CFG_INT, 100, 60000, "1000",
	    OFF(table_interval_ms),
	    "ms between full node-table publications" },
	{ "scheduler", "tie_first", SLB_CFG_BOOL, 0, 0, "no", OFF(tie_first),
	    "least-load ties to the lowest id instead of at random" },
	{ "scheduler", "seed", SLB_CFG_INT, 0, 2147483647, "0", OFF(seed),
	    "random seed for tie-breaks; 0 = from the clock" },
	{ "scheduler", "passive_threshold", SLB_CFG_INT, 0, 1000, "2",
	    OFF(passive_threshold),
	    "edge failure reports (timeouts, transport errors) within "
	    "passive_window that mark a node down; 0 = ignore them" },
	{ "scheduler", "passive_window", SLB_CFG_INT, 100, 3600000, "30000",
	    OFF(passive_window_ms), "ms over which passive_threshold counts" },
	{ "scheduler", "all_down", SLB_CFG_STR, 0, 0, "refuse", OFF(all_down),
	    "every node of a group/set down: refuse (503) or last_resort (try "
	    "its enabled, down nodes anyway)" },
	{ "scheduler", "backoff_max", SLB_CFG_INT, 0, 3600000, "30000",
	    OFF(backoff_max_ms),
	    "ms at most that a node's 503 Retry-After keeps new calls away" },
	{ "scheduler", "load_mode", SLB_CFG_STR, 0, 0, "counted",
	    OFF(load_mode),
	    "counted, reported or reconciled, or a list with GROUP=MODE items "
	    "(\"counted, 1=reported\"): where a group's load comes from" },
	{ "scheduler", "sessions_per_call", SLB_CFG_INT, 1, 16, "1",
	    OFF(sessions_per_call),
	    "FreeSWITCH sessions one call holds (2 when it bridges out)" },
	{ "scheduler", "reconcile_min", SLB_CFG_INT, 1, 1000000, "2",
	    OFF(reconcile_min),
	    "reconciled: a drift smaller than this is left alone" },
	{ NULL, NULL, 0, 0, 0, NULL, 0, NULL },
};

static void
resolve_relative(char *path, const char *cfg_path)
{
	char dir[SLB_CFG_STRLEN], buf[SLB_CFG_STRLEN * 2];

	if (path[0] == '/' || path[0] == '\0' || cfg_path == NULL)
		return;
	snprintf(dir, sizeof(dir), "%s", cfg_path);
	snprintf(buf, sizeof(buf), "%s/%s", dirname(dir), path);
	if (strlen(buf) < SLB_CFG_STRLEN)
		strcpy(path, buf);
}

int
sched_cfg_load(struct sched_cfg *c, const char *path)
{
	char err[1024];

	if (slb_cfg_load(path, sched_cfg_keys, c, 0, NULL, NULL, err,
		sizeof(err)) != 0) {
		slb_log_err("%s", err);
		return EINVAL;
	}
	if (strcmp(c->node_source, "file") != 0 &&
	    strcmp(c->node_source, "mysql") != 0) {
		slb_log_err(
		    "%s: [scheduler] node_source: must be file or mysql, "
		    "not \"%s\"",
		    path ? path : "defaults", c->node_source);
		return EINVAL;
	}
	if (strcmp(c->node_source, "mysql") == 0 && c->db_url[0] == '\0') {
		slb_log_err(
		    "%s: [scheduler] db_url: required with node_source "
		    "= mysql",
		    path ? path : "defaults");
		return EINVAL;
	}
	if (strlen(c->lb_table) > 63 || strlen(c->ds_table) > 63 ||
	    strlen(c->state_table) > 63) {
		slb_log_err(
		    "%s: [scheduler] table names: at most 63 characters",
		    path ? path : "defaults");
		return EINVAL;
	}
	if (strcmp(c->all_down, "refuse") != 0 &&
	    strcmp(c->all_down, "last_resort") != 0) {
		slb_log_err("%s: [scheduler] all_down: must be refuse or "
			    "last_resort, not \"%s\"",
		    path ? path : "defaults", c->all_down);
		return EINVAL;
	}
	resolve_relative(c->nodes_file, path);
	slb_log_configure(c->log_level, c->log_facility, c->log_syslog);
	return 0;
}

/* ------------------------------------------------------------ health */

void
sched_svc_set_health(struct sched_svc *s, uint32_t id, bool up, uint32_t rtt,
    uint32_t code, const char *why)
{
	struct lb_node *n = lb_table_find(&s->table, id);
	bool changed;

	if (n == NULL)
		return;
	changed = n->up != up;
	n->up = up;
	if (rtt)
		n->rtt_us = rtt;
	if (code)
		n->last_code = code;
	if (!changed)
		return;
	/* a new state: the reports of the old one are spent */
	lb_passive_reset(&n->passive);
	slb_log_notice(
	    "node %u %s is %s (%s)", n->id, n->uri, up ? "up" : "down", why);
	sched_svc_publish_change(
	    s, SIPLB__V1__CHANGE_KIND__CHANGE_UPDATED, n, why);
}

static void
on_health(struct sched_svc *s, const Siplb__V1__NodeHealth *h, const char *src)
{
	char why[96];

	if (sched_fb_svc_report(s, h))
		return; /* 503 Retry-After: backed off, not down */
	if (h->passive || strcmp(src, "edge") == 0) {
		/* a timeout or transport error an edge saw (passive.c) */
		sched_passive_report(s, h, src);
		return;
	}
	sched_passive_prober_health(s, h);
	snprintf(why, sizeof(why), "probe %u", h->last_code);
	sched_svc_set_health(
	    s, h->node_id, h->up, h->rtt_us, h->last_code, why);
}

static void
prober_message(void *arg, const Siplb__V1__BusMessage *m)
{
	struct sched_svc *s = arg;

	if (m->body_case == SIPLB__V1__BUS_MESSAGE__BODY_HEALTH)
		on_health(s, m->health, "prober");
	else if (m->body_case ==
	    SIPLB__V1__BUS_MESSAGE__BODY_HEALTH_SNAPSHOT) {
		for (size_t i = 0; i < m->health_snapshot->n_nodes; i++)
			on_health(s, m->health_snapshot->nodes[i], "prober");
		for (size_t i = 0; i < m->health_snapshot->n_feedback; i++)
			sched_fb_svc_feedback(
			    s, m->health_snapshot->feedback[i]);
	} else if (m->body_case == SIPLB__V1__BUS_MESSAGE__BODY_FEEDBACK)
		sched_fb_svc_feedback(s, m->feedback);
}

static void
prober_snapshot(void *arg, const Siplb__V1__Snapshot *snap)
{
	struct sched_svc *s = arg;

	if (snap->body_case != SIPLB__V1__SNAPSHOT__BODY_HEALTH)
		return;
	for (size_t i = 0; i < snap->health->n_nodes; i++)
		on_health(s, snap->health->nodes[i], "prober");
	for (size_t i = 0; i < snap->health->n_feedback; i++)
		sched_fb_svc_feedback(s, snap->health->feedback[i]);
}

static const struct slb_sub_ops prober_ops = { prober_message, prober_snapshot,
	0 };

/* ------------------------------------------------------------ dialogs */

static void
dialog_message(void *arg, const Siplb__V1__BusMessage *m)
{
	struct sched_svc *s = arg;
	struct lb_pb_dlg d;

	if (m->body_case == SIPLB__V1__BUS_MESSAGE__BODY_DIALOGS) {
		for (size_t i = 0; i < m->dialogs->n_events; i++)
			if (lb_pb_dlg_event(m->dialogs->events[i], &d) == 0)
				lb_load_apply(s->load, &d.ev, slb_now_us());
		return;
	}
	if (m->body_case != SIPLB__V1__BUS_MESSAGE__BODY_DIALOG)
		return;
	if (lb_pb_dlg_event(m->dialog, &d) != 0)
		return;
	lb_load_apply(s->load, &d.ev, slb_now_us());
}

static void
dialog_snapshot(void *arg, const Siplb__V1__Snapshot *snap)
{
	struct sched_svc *s = arg;
	struct lb_pb_dlg *ds;
	struct lb_dlg_event *evs;
	size_t n = 0;

	if (snap->body_case != SIPLB__V1__SNAPSHOT__BODY_DIALOGS)
		return;
	ds = calloc(snap->dialogs->n_dialogs + 1, sizeof(*ds));
	evs = calloc(snap->dialogs->n_dialogs + 1, sizeof(*evs));
	if (ds == NULL || evs == NULL)
		goto out;
	for (size_t i = 0; i < snap->dialogs->n_dialogs; i++)
		if (lb_pb_dlg_event(snap->dialogs->dialogs[i], &ds[n]) == 0) {
			evs[n] = ds[n].ev;
			evs[n].res = ds[n].res;
			n++;
		}
	if (strncmp(snap->stream, "edge", 4) == 0) {
		/* an edge's snapshot is the whole truth for that edge */
		lb_load_replace_edge(
		    s->load, snap->stream, evs, n, slb_now_us());
	} else {
		for (size_t i = 0; i < n; i++)
			lb_load_apply(s->load, &evs[i], slb_now_us());
	}
	slb_log_info("%s: %zu live dialogs, %zu known in all", snap->stream, n,
	    lb_load_count(s->load));
out:
	free(ds);
	free(evs);
}

static const struct slb_sub_ops dialog_ops = { dialog_message, dialog_snapshot,
	0 };

/* ------------------------------------------------------------ REP */

static void
reply_error(Siplb__V1__SchedReply *r, Siplb__V1__Status st, char *buf,
    size_t len, const char *fmt, const char *arg)
{
	snprintf(buf, len, fmt, arg);
	r->status = st;
	r->error = buf;
}

/* One selection into sr; err holds the reason of a bad request. */
static void
select_one(struct sched_svc *s, const Siplb__V1__SelectRequest *q,
    Siplb__V1__SelectReply *sr, char *err, size_t errlen)
{
	struct lb_select sel;
	struct lb_node *out[LB_MAX_RESULTS];
	unsigned nout = 0;
	enum lb_sel_status st;

	s->selects++;
	if (lb_pb_select(q, &sel, s->cfg.tie_first, err, errlen) != 0) {
		s->bad_requests++;
		sr->status = SIPLB__V1__SELECT_STATUS__SELECT_BAD_REQUEST;
		sr->error = err;
		return;
	}
	/* an edge asking again with a node excluded: the call left the node
	 * it names last (OpenSIPS lb_next) */
	if (q->reserve && q->n_exclude > 0) {
		struct lb_node *f =
		    lb_table_find(&s->table, q->exclude[q->n_exclude - 1]);

		if (f != NULL)
			f->failed_over++;
	}
	st = lb_select(&s->table, &sel, out, &nout);
	st = sched_passive_all_down(s, &sel, st, out, &nout);
	sr->status = lb_pb_sel_status(st);
	if (st != LB_SEL_OK) {
		s->select_fail++;
		return;
	}
	if (q->reserve)
		sched_fb_svc_selected(s, out[0]);
	if (q->reserve && q->key && *q->key && sel.nres > 0 &&
	    lb_load_reserve(s->load, q->key, out[0]->id,
		(const char(*)[LB_RES_NAME])sel.res, sel.nres, q->edge,
		slb_now_us()) != 0)
		slb_log_warn(
		    "select: key \"%.64s\" cannot be reserved", q->key);
	lb_pb_choices(sr, out, nout);
}

static void
handle_select(struct sched_svc *s, const Siplb__V1__SelectRequest *q,
    Siplb__V1__SchedReply *r, Siplb__V1__SelectReply *sr, char *err,
    size_t errlen)
{
	r->body_case = SIPLB__V1__SCHED_REPLY__BODY_SELECT;
	r->select = sr;
	select_one(s, q, sr, err, errlen);
	if (sr->status == SIPLB__V1__SELECT_STATUS__SELECT_BAD_REQUEST) {
		r->status = SIPLB__V1__STATUS__STATUS_BAD_REQUEST;
		r->error = err;
	} else {
		r->status = SIPLB__V1__STATUS__STATUS_OK;
	}
}

/* Up to this many selections in one request (a loop turn of an edge). */
#define SELECT_BATCH_MAX 4096

struct batch_out {
	Siplb__V1__SelectBatchReply br;
	Siplb__V1__SelectReply *replies;
	Siplb__V1__SelectReply **rp;
	char (*errs)[128];
	size_t n;
};

static void
handle_select_batch(struct sched_svc *s, const Siplb__V1__SelectBatch *q,
    Siplb__V1__SchedReply *r, struct batch_out *b, char *err, size_t errlen)
{
	size_t n = q->n_requests;

	r->body_case = SIPLB__V1__SCHED_REPLY__BODY_SELECT_BATCH;
	siplb__v1__select_batch_reply__init(&b->br);
	r->select_batch = &b->br;
	if (n > SELECT_BATCH_MAX) {
		snprintf(err, errlen, "more than %d selections in one batch",
		    SELECT_BATCH_MAX);
		r->status = SIPLB__V1__STATUS__STATUS_BAD_REQUEST;
		r->error = err;
		return;
	}
	b->replies = calloc(n + 1, sizeof(*b->replies));
	b->rp = calloc(n + 1, sizeof(*b->rp));
	b->errs = calloc(n + 1, sizeof(*b->errs));
	if (b->replies == NULL || b->rp == NULL || b->errs == NULL) {
		snprintf(err, errlen, "out of memory");
		r->status = SIPLB__V1__STATUS__STATUS_INTERNAL;
		r->error = err;
		return;
	}
	for (size_t i = 0; i < n; i++) {
		siplb__v1__select_reply__init(&b->replies[i]);
		select_one(s, q->requests[i], &b->replies[i], b->errs[i],
		    sizeof(b->errs[i]));
		b->rp[i] = &b->replies[i];
	}
	b->n = n;
	b->br.replies = b->rp;
	b->br.n_replies = n;
	r->status = SIPLB__V1__STATUS__STATUS_OK;
}

static void
batch_out_free(struct batch_out *b)
{
	for (size_t i = 0; i < b->n; i++)
		lb_pb_choices_free(&b->replies[i]);
	free(b->replies);
	free(b->rp);
	free(b->errs);
}

static void
handle_snapshot(
    struct sched_svc *s, Siplb__V1__SchedReply *r, Siplb__V1__Snapshot *snap)
{
	snap->stream = (char *)slb_pub_stream(s->pub);
	snap->epoch = slb_pub_epoch(s->pub);
	snap->seq = slb_pub_seq(s->pub);
	snap->body_case = SIPLB__V1__SNAPSHOT__BODY_TABLE;
	snap->table = lb_pb_table(&s->table);
	r->status = SIPLB__V1__STATUS__STATUS_OK;
	r->body_case = SIPLB__V1__SCHED_REPLY__BODY_SNAPSHOT;
	r->snapshot = snap;
}

/* The scheduler's counters for siplb-admin's /metrics: its own, and each
 * subscriber's bus statistics labelled with the subscriber's name. */
#define STATS_MAX (32 + SLB_SUB_COUNTERS * (2 * SCHED_MAX_EDGES + 1))

struct stats_out {
	struct slb_counters k;
	Siplb__V1__Counter c[STATS_MAX];
	Siplb__V1__Counter *cp[STATS_MAX];
	char label[2 * SCHED_MAX_EDGES + 1][32];
};

static void
handle_stats(
    struct sched_svc *s, Siplb__V1__SchedReply *r, struct stats_out *o)
{
	int nl = 0;

	slb_counters_init(&o->k, o->c, o->cp, STATS_MAX);
	slb_counter_add(&o->k, "selects", "", s->selects);
	slb_counter_add(&o->k, "select_fail", "", s->select_fail);
	slb_counter_add(&o->k, "bad_requests", "", s->bad_requests);
	slb_counter_add(
	    &o->k, "reservations_expired", "", s->reservations_expired);
	slb_counter_add(&o->k, "dialogs", "", lb_load_count(s->load));
	sched_fb_svc_stats(s, &o->k);
	sched_passive_stats(s, &o->k);
	for (int i = 0; i < s->nprobers; i++) {
		snprintf(
		    o->label[nl], sizeof(o->label[nl]), "prober %d", i + 1);
		slb_counters_add_sub(&o->k, s->probers[i], o->label[nl++]);
	}
	if (s->dialogd != NULL)
		slb_counters_add_sub(&o->k, s->dialogd, "dialogd");
	for (int i = 0; i < s->nedges; i++) {
		snprintf(o->label[nl], sizeof(o->label[nl]), "edge %d", i + 1);
		slb_counters_add_sub(&o->k, s->edges[i], o->label[nl++]);
	}
	r->status = SIPLB__V1__STATUS__STATUS_OK;
	r->body_case = SIPLB__V1__SCHED_REPLY__BODY_STATS;
	r->stats = &o->k.sr;
}

static void
on_request(void *arg, nng_msg *req, nng_msg **replyp)
{
	struct sched_svc *s = arg;
	Siplb__V1__SchedReply r = SIPLB__V1__SCHED_REPLY__INIT;
	Siplb__V1__SelectReply sr = SIPLB__V1__SELECT_REPLY__INIT;
	Siplb__V1__AdminReply ar = SIPLB__V1__ADMIN_REPLY__INIT;
	Siplb__V1__Snapshot snap = SIPLB__V1__SNAPSHOT__INIT;
	struct batch_out batch = { 0 };
	struct stats_out stats;
	Siplb__V1__SchedRequest *q = NULL;
	ProtobufCMessage *pm = NULL;
	char err[512] = "";
	int rc;

	rc = slb_msg_unpack(
	    &siplb__v1__sched_request__descriptor, req, SLB_MSG_MAX, &pm);
	if (rc != 0) {
		const char *why;

		s->bad_requests++;
		r.status = slb_msg_refusal(rc, &why);
		r.error = (char *)why;
		goto send;
	}
	q = (Siplb__V1__SchedRequest *)pm;
	switch (q->body_case) {
	case SIPLB__V1__SCHED_REQUEST__BODY_SELECT:
		handle_select(s, q->select, &r, &sr, err, sizeof(err));
		break;
	case SIPLB__V1__SCHED_REQUEST__BODY_SELECT_BATCH:
		handle_select_batch(
		    s, q->select_batch, &r, &batch, err, sizeof(err));
		break;
	case SIPLB__V1__SCHED_REQUEST__BODY_ADMIN:
		sched_admin_handle(s, q->admin, &r, &ar, err, sizeof(err));
		break;
	case SIPLB__V1__SCHED_REQUEST__BODY_SNAPSHOT:
		handle_snapshot(s, &r, &snap);
		break;
	case SIPLB__V1__SCHED_REQUEST__BODY_STATS:
		handle_stats(s, &r, &stats);
		break;
	case SIPLB__V1__SCHED_REQUEST__BODY_REPORT:
		if (!q->report->up)
			on_health(s, q->report, "edge");
		r.status = SIPLB__V1__STATUS__STATUS_OK;
		break;
	default:
		s->bad_requests++;
		reply_error(&r, SIPLB__V1__STATUS__STATUS_BAD_REQUEST, err,
		    sizeof(err), "%s", "empty request");
		break;
	}
send:
	if (slb_msg_pack(&r.base, replyp) != 0)
		*replyp = NULL;
	lb_pb_choices_free(&sr);
	batch_out_free(&batch);
	lb_pb_table_free(ar.table);
	lb_pb_node_free(ar.node);
	lb_pb_table_free(snap.table);
	slb_msg_free(pm);
}

/* ------------------------------------------------------------ timers */

static void
on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct sched_svc *s = arg;
	unsigned n;

	(void)fd;
	(void)what;
	n = lb_load_expire(
	    s->load, slb_now_us(), (uint64_t)s->cfg.reserve_ttl_ms * 1000u);
	s->reservations_expired += n;
	sched_svc_publish_table(s);
}

/* ------------------------------------------------------------ life */

static int
open_subs(struct sched_svc *s)
{
	char pubs[SCHED_MAX_EDGES][SLB_CFG_STRLEN];
	char reps[SCHED_MAX_EDGES][SLB_CFG_STRLEN];
	int np, nr, rc;

	np = slb_cfg_split(s->cfg.prober_pub, ',', pubs, SCHED_MAX_EDGES);
	nr = slb_cfg_split(s->cfg.prober_rep, ',', reps, SCHED_MAX_EDGES);
	if (np < 0 || nr < 0 || (np > 0 && nr != np && nr != 0)) {
		slb_log_err("[scheduler] prober_pub and prober_rep: give the "
			    "same number of addresses (at most %d)",
		    SCHED_MAX_EDGES);
		return EINVAL;
	}
	for (int i = 0; i < np; i++) {
		char name[32];

		if (slb_cfg_expand_addr(pubs[i], s->cfg.run_dir) != 0 ||
		    (nr &&
			slb_cfg_expand_addr(reps[i], s->cfg.run_dir) != 0)) {
			slb_log_err("[scheduler] prober_pub: \"%s\": address "
				    "too long after adding run_dir",
			    pubs[i]);
			return EINVAL;
		}
		snprintf(name, sizeof(name), "prober %d", i + 1);
		rc = slb_sub_open(&s->probers[i], s->base, s->br, name,
		    pubs[i], nr ? reps[i] : NULL, &prober_ops, s);
		if (rc != 0)
			return rc;
		s->nprobers++;
	}
	if (s->cfg.dialogd_pub[0] &&
	    (rc = slb_sub_open(&s->dialogd, s->base, s->br, "dialogd",
		 s->cfg.dialogd_pub, s->cfg.dialogd_rep, &dialog_ops, s)) != 0)
		return rc;
	np = slb_cfg_split(s->cfg.edge_pubs, ',', pubs, SCHED_MAX_EDGES);
	nr = slb_cfg_split(s->cfg.edge_reps, ',', reps, SCHED_MAX_EDGES);
	if (np < 0 || nr < 0 || (np > 0 && nr != np && nr != 0)) {
		slb_log_err(
		    "[scheduler] edge_pubs and edge_reps: give the same "
		    "number of addresses (at most %d)",
		    SCHED_MAX_EDGES);
		return EINVAL;
	}
	for (int i = 0; i < np; i++) {
		char name[32];

		if (slb_cfg_expand_addr(pubs[i], s->cfg.run_dir) != 0) {
			slb_log_err(
			    "[scheduler] edge_pubs: \"%s\": address too "
			    "long after adding run_dir",
			    pubs[i]);
			return EINVAL;
		}
		if (nr && slb_cfg_expand_addr(reps[i], s->cfg.run_dir) != 0) {
			slb_log_err(
			    "[scheduler] edge_reps: \"%s\": address too "
			    "long after adding run_dir",
			    reps[i]);
			return EINVAL;
		}
		snprintf(name, sizeof(name), "edge %d", i + 1);
		rc = slb_sub_open(&s->edges[i], s->base, s->br, name, pubs[i],
		    nr ? reps[i] : NULL, &dialog_ops, s);
		if (rc != 0)
			return rc;
		s->nedges++;
	}
	return 0;
}

int
sched_svc_init(struct sched_svc *s)
{
	char err[1024];
	struct timeval tv;
	int rc;

	lb_table_init(&s->table,
	    s->cfg.seed ? (uint64_t)s->cfg.seed
			: slb_wall_us() ^ (uint64_t)getpid());
	if (strcmp(s->cfg.node_source, "mysql") == 0) {
		s->use_db = 1;
		snprintf(s->db.url, sizeof(s->db.url), "%s", s->cfg.db_url);
		snprintf(s->db.lb_table, sizeof(s->db.lb_table), "%.63s",
		    s->cfg.lb_table);
		snprintf(s->db.ds_table, sizeof(s->db.ds_table), "%.63s",
		    s->cfg.ds_table);
		snprintf(s->db.state_table, sizeof(s->db.state_table), "%.63s",
		    s->cfg.state_table);
	}
	if ((rc = sched_svc_load_table(s, &s->table, err, sizeof(err))) != 0) {
		slb_log_err("cannot load the node table: %s", err);
		return rc;
	}
	if (s->use_db) {
		sched_db_url_masked(s->db.url, err, sizeof(err));
		slb_log_notice("%zu nodes loaded from %s", s->table.n, err);
	} else {
		slb_log_notice(
		    "%zu nodes loaded from %s", s->table.n, s->cfg.nodes_file);
	}
	if ((rc = lb_load_new(&s->load, &s->table)) != 0 ||
	    (rc = slb_loop_new(&s->base)) != 0 ||
	    (rc = slb_bridge_new(&s->br, s->base)) != 0)
		return rc;
	if ((rc = slb_pub_open(&s->pub, s->cfg.pub, "scheduler")) != 0 ||
	    (rc = slb_rep_open(&s->rep, s->base, s->cfg.rep, on_request, s)) !=
		0)
		return rc;
	if ((rc = open_subs(s)) != 0 || (rc = sched_fb_svc_init(s)) != 0 ||
	    (rc = sched_passive_init(s)) != 0)
		return rc;
	s->tick = event_new(s->base, -1, EV_PERSIST, on_tick, s);
	tv.tv_sec = s->cfg.table_interval_ms / 1000;
	tv.tv_usec = (s->cfg.table_interval_ms % 1000) * 1000;
	if (s->tick == NULL || event_add(s->tick, &tv) != 0)
		return ENOMEM;
	sched_svc_publish_table(s);
	slb_log_notice("ready: rep %s, pub %s", s->cfg.rep, s->cfg.pub);
	return 0;
}

void
sched_svc_close(struct sched_svc *s)
{
	if (s->tick)
		event_free(s->tick);
	sched_fb_svc_close(s);
	sched_passive_close(s);
	for (int i = 0; i < s->nedges; i++)
		slb_sub_close(s->edges[i]);
	for (int i = 0; i < s->nprobers; i++)
		slb_sub_close(s->probers[i]);
	slb_sub_close(s->dialogd);
	slb_rep_close(s->rep);
	slb_pub_close(s->pub);
	slb_bridge_free(s->br);
	if (s->base)
		slb_loop_free(s->base);
	lb_load_free(s->load);
	lb_table_free(&s->table);
}
