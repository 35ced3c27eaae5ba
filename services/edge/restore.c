#define SLB_LOG_MODULE "restore"
#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edge.h"
#include "log.h"

/* Dialogs a page and pages a query at most (a page may take the edge's
 * store_timeout). */
#define STORE_PAGE 5000
#define STORE_PAGES_MAX 1000

/* How far back a reconcile looks for dialogs ended by another edge: the
 * stall plus clock skew between hosts. */
#define EDGE_RECONCILE_SLACK_US (300u * 1000000u)

/* A second tick missed twice over is a stall (see reconcile_dialogs). */
#define EDGE_STALL_US 2000000u

typedef void (*store_done_h)(struct edge *e, int err, struct edge_dlgtab *got);

/*
 * One question to the store: the dialogs in each of states[] (one after
 * the other), of edge `edge` ("" = any), updated after updated_after
 * (0 = any), read page by page in key order into a table of their own.
 * Freed by its last answer; e is NULL once the edge let it go.
 */
struct store_q {
	struct edge *e;
	enum slb_dialog_state states[2];
	int nstates, si;
	char edge[80];
	uint64_t updated_after;
	char after[80]; /* any key the store allows (64) */
	int pages;
	struct edge_dlgtab got;
	store_done_h done;
};

static void ask_page(struct store_q *q);
static void start_reconcile(struct edge *e, uint64_t stalled_since_us);

static void
q_free(struct store_q *q)
{
	edge_dlgtab_clear(&q->got);
	free(q);
}

/* The query ended (err 0: got is complete): tell its owner, free it. */
static void
q_finish(struct store_q *q, int err)
{
	struct edge *e = q->e;

	if (e != NULL) {
		e->store.q = NULL;
		q->done(e, err, &q->got);
	}
	q_free(q);
}

/* A DialogEvent from the store as a record of ours (NULL: not a key we
 * make, or out of memory). */
static struct edge_dlg *
dlg_from_event(const Siplb__V1__DialogEvent *ev)
{
	struct edge_dlg *d;

	if (!edge_dlg_key_ok(ev->key) || (d = calloc(1, sizeof(*d))) == NULL)
		return NULL;
	snprintf(d->key, sizeof(d->key), "%s", ev->key);
	d->node_id = ev->node_id;
	d->group = ev->group;
	d->state = (enum slb_dialog_state)ev->state;
	for (size_t j = 0; j < ev->n_resources && j < LB_MAX_RES; j++)
		snprintf(d->res[j], LB_RES_NAME, "%s", ev->resources[j]);
	d->nres =
	    ev->n_resources < LB_MAX_RES ? (int)ev->n_resources : LB_MAX_RES;
	snprintf(d->call_id, sizeof(d->call_id), "%s",
	    ev->call_id ? ev->call_id : "");
	snprintf(d->from_tag, sizeof(d->from_tag), "%s",
	    ev->from_tag ? ev->from_tag : "");
	snprintf(
	    d->to_tag, sizeof(d->to_tag), "%s", ev->to_tag ? ev->to_tag : "");
	d->created_us = ev->created_us;
	d->updated_us = ev->updated_us;
	return d;
}

/* One page into q->got; EPROTO for a store that does not page right. */
static int
take_page(struct store_q *q, const Siplb__V1__DialogdReply *r)
{
	if (r->status != SIPLB__V1__STATUS__STATUS_OK)
		return EPROTO;
	for (size_t i = 0; i < r->n_dialogs; i++) {
		const Siplb__V1__DialogEvent *ev = r->dialogs[i];
		struct edge_dlg *d;

		/* keys must rise: a store that ignores after_key would hand
		 * us the first page for ever */
		if (ev->key == NULL || strlen(ev->key) >= sizeof(q->after) ||
		    strcmp(ev->key, q->after) <= 0)
			return EPROTO;
		snprintf(q->after, sizeof(q->after), "%s", ev->key);
		if (!edge_dlg_key_ok(ev->key))
			continue; /* not a key of ours */
		if ((d = dlg_from_event(ev)) == NULL)
			return ENOMEM;
		if (edge_dlgtab_restore(&q->got, d) != 0)
			free(d); /* seen on an earlier page */
	}
	return 0;
}

static void
on_page(void *arg, int err, nng_msg *reply)
{
	struct store_q *q = arg;
	ProtobufCMessage *pm = NULL;
	size_t got = 0;

	if (err == 0) {
		err = slb_msg_unpack(&siplb__v1__dialogd_reply__descriptor,
		    reply, SLB_MSG_MAX, &pm);
		nng_msg_free(reply);
	}
	if (err == 0 && q->e != NULL) {
		err = take_page(q, (Siplb__V1__DialogdReply *)pm);
		got = ((Siplb__V1__DialogdReply *)pm)->n_dialogs;
	}
	slb_msg_free(pm);
	if (err != 0 || q->e == NULL) {
		q_finish(q, err ? err : ECANCELED);
		return;
	}
	if (got < STORE_PAGE) {
		/* this state done: the next one from its first key */
		if (++q->si == q->nstates) {
			q_finish(q, 0);
			return;
		}
		q->after[0] = '\0';
	}
	ask_page(q);
}

static void
ask_page(struct store_q *q)
{
	Siplb__V1__DialogdRequest rq = SIPLB__V1__DIALOGD_REQUEST__INIT;
	Siplb__V1__DialogQuery dq = SIPLB__V1__DIALOG_QUERY__INIT;
	nng_msg *msg;
	int err;

	if (++q->pages > STORE_PAGES_MAX) {
		q_finish(q, E2BIG);
		return;
	}
	dq.edge = q->edge;
	dq.state = (Siplb__V1__DialogState)q->states[q->si];
	dq.limit = STORE_PAGE;
	dq.after_key = q->after;
	dq.updated_after = q->updated_after;
	rq.body_case = SIPLB__V1__DIALOGD_REQUEST__BODY_QUERY;
	rq.query = &dq;
	if ((err = slb_msg_pack(&rq.base, &msg)) != 0) {
		q_finish(q, err);
		return;
	}
	if ((err = slb_reqc_send(q->e->store.rc, msg,
		 q->e->cfg.store_timeout_ms, on_page, q)) != 0) {
		nng_msg_free(msg);
		q_finish(q, err);
	}
}

/* Ask the store; done hears the answer on the loop (or at once when the
 * question cannot go). */
static void
ask_store(struct edge *e, const enum slb_dialog_state *states, int nstates,
    const char *edge, uint64_t updated_after, store_done_h done)
{
	struct store_q *q = calloc(1, sizeof(*q));

	if (q == NULL) {
		struct edge_dlgtab none = { 0 };

		done(e, ENOMEM, &none);
		return;
	}
	q->e = e;
	memcpy(q->states, states, (size_t)nstates * sizeof(*states));
	q->nstates = nstates;
	snprintf(q->edge, sizeof(q->edge), "%s", edge ? edge : "");
	q->updated_after = updated_after;
	q->done = done;
	e->store.q = q;
	ask_page(q);
}

static const char *
store_err(int err)
{
	return err == ETIMEDOUT ? "no answer" : strerror(err);
}

/* ------------------------------------------------------------ restore */

static void
restore_done(struct edge *e, int err, struct edge_dlgtab *got)
{
	struct edge_dlg *d, *tmp;
	size_t restored = 0;

	if (err != 0) {
		slb_log_warn("dialog store at %s: %s: starting without the "
			     "dialogs of a previous run",
		    e->cfg.dialogd, store_err(err));
	} else {
		HASH_ITER(hh, got->h, d, tmp)
		{
			HASH_DEL(got->h, d);
			got->n--;
			if (edge_dlgtab_restore(&e->dlgs, d) == 0)
				restored++;
			else
				free(d); /* known, or ended meanwhile */
		}
		slb_log_notice("%zu live dialogs of %s restored from the "
			       "dialog store",
		    restored, e->stream);
	}
	e->store.restoring = false;
	edge_dlgtab_restoring(&e->dlgs, false);
	edge_dlgevt_hold(e, false); /* what happened meanwhile goes out */
	if (e->store.again) {
		e->store.again = false;
		start_reconcile(e, e->store.again_since_us);
	}
}

static void
start_restore(struct edge *e)
{
	static const enum slb_dialog_state live[] = { SLB_DIALOG_CREATED,
		SLB_DIALOG_CONFIRMED };

	e->store.restoring = true;
	edge_dlgtab_restoring(&e->dlgs, true);
	edge_dlgevt_hold(e, true);
	ask_store(e, live, 2, e->stream, 0, restore_done);
}

/* ------------------------------------------------------------ reconcile */

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
reconcile_done(struct edge *e, int err, struct edge_dlgtab *ended)
{
	struct edge_dlg *d, *tmp;
	size_t dropped = 0;

	if (err != 0) {
		slb_log_warn("dialog store at %s: %s: keeping the dialogs as "
			     "they are",
		    e->cfg.dialogd, store_err(err));
	} else {
		HASH_ITER(hh, ended->h, d, tmp)
		{
			if (edge_dlgtab_find(&e->dlgs, d->key) == NULL)
				continue;
			edge_dlg_event(e, d->key, SLB_DIALOG_TERMINATED, 0,
			    NULL, NULL, NULL, NULL, "ended elsewhere");
			dropped++;
		}
	}
	e->st.stale_dialogs += dropped;
	if (dropped)
		slb_log_notice("%zu dialogs ended elsewhere while the loop "
			       "stood still: ended here too, %zu live",
		    dropped, e->dlgs.n);
	if (e->store.again) {
		e->store.again = false;
		start_reconcile(e, e->store.again_since_us);
	}
}

static void
start_reconcile(struct edge *e, uint64_t stalled_since_us)
{
	static const enum slb_dialog_state ended[] = { SLB_DIALOG_TERMINATED };
	uint64_t since = stalled_since_us > EDGE_RECONCILE_SLACK_US
	    ? stalled_since_us - EDGE_RECONCILE_SLACK_US
	    : 0;

	if (e->store.rc == NULL)
		return;
	if (e->store.q != NULL) {
		/* after the question in flight, from the earliest stall */
		if (!e->store.again ||
		    stalled_since_us < e->store.again_since_us)
			e->store.again_since_us = stalled_since_us;
		e->store.again = true;
		return;
	}
	if (e->dlgs.n == 0)
		return;
	ask_store(e, ended, 1, NULL, since, reconcile_done);
}

/* After a stall: the store again 3 s and 10 s later, in case it had not
 * heard the other edges yet (it may have stood still with us). */
static void
on_recheck(evutil_socket_t fd, short what, void *arg)
{
	struct edge *e = arg;
	struct timeval tv = { 7, 0 };

	(void)fd;
	(void)what;
	start_reconcile(e, e->store.stall_since_us);
	if (++e->store.rechecks < 2)
		evtimer_add(e->store.recheck_ev, &tv);
}

void
edge_store_check_stall(struct edge *e)
{
	uint64_t now = slb_now_us();

	if (e->store.tick_mono_us != 0 &&
	    now - e->store.tick_mono_us > EDGE_STALL_US) {
		struct timeval tv = { 3, 0 };

		slb_log_warn(
		    "the loop stood still for %.1f s: ending the "
		    "dialogs the store says ended elsewhere meanwhile",
		    (double)(now - e->store.tick_mono_us) / 1e6);
		e->st.stalls++;
		e->store.stall_since_us = e->store.tick_wall_us;
		start_reconcile(e, e->store.stall_since_us);
		e->store.rechecks = 0;
		if (e->store.recheck_ev != NULL)
			evtimer_add(e->store.recheck_ev, &tv);
	}
	e->store.tick_mono_us = now;
	e->store.tick_wall_us = slb_wall_us();
}

bool
edge_store_busy(const struct edge *e)
{
	return e->store.q != NULL;
}

bool
edge_store_restoring(const struct edge *e)
{
	return e->store.restoring;
}

/* ------------------------------------------------------------ life */

int
edge_store_open(struct edge *e)
{
	int err;

	e->store.recheck_ev = evtimer_new(e->base, on_recheck, e);
	if (e->store.recheck_ev == NULL)
		return ENOMEM;
	edge_store_check_stall(e); /* starts the stall clock */
	if (e->cfg.dialogd[0] == '\0')
		return 0;
	/* no resends: a page gets one second, as a blocking call had */
	err = slb_reqc_open(&e->store.rc, e->br, e->cfg.dialogd, 0);
	if (err != 0) {
		slb_log_warn("dialog store at %s: %s: starting without the "
			     "dialogs of a previous run",
		    e->cfg.dialogd, strerror(err));
		e->store.rc = NULL;
		return 0;
	}
	start_restore(e);
	return 0;
}

void
edge_store_close(struct edge *e)
{
	if (e->store.q != NULL) {
		e->store.q->e = NULL; /* its cancelled answer frees it */
		e->store.q = NULL;
	}
	slb_reqc_close(e->store.rc);
	e->store.rc = NULL;
	if (e->store.recheck_ev)
		event_free(e->store.recheck_ev);
	e->store.recheck_ev = NULL;
	if (e->store.restoring) {
		e->store.restoring = false;
		edge_dlgtab_restoring(&e->dlgs, false);
	}
}
