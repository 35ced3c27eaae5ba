#define SLB_LOG_MODULE "dlgevt"
#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edge.h"
#include "log.h"

#define EVENT_FLUSH_US 2000
#define EVENT_BATCH 512

struct pending_ev {
	struct edge_dlg d;
	char reason[16];
};

static void flush_events(struct edge *e);

/* Record the event in the edge's dialog table and queue it for this loop
 * turn's bus message. */
void
edge_dlg_event(struct edge *e, const char *key, enum slb_dialog_state state,
    uint32_t node_id, const struct edge_rule *rule, const char *call_id,
    const char *from_tag, const char *to_tag, const char *reason)
{
	struct edge_dlg_update u = { key, state, node_id, rule, call_id,
		from_tag, to_tag };
	struct pending_ev *p;
	int err;

	if (e->evq.n == e->evq.cap) {
		size_t cap = e->evq.cap ? e->evq.cap * 2 : 64;
		void *nq = realloc(e->evq.q, cap * sizeof(*e->evq.q));

		if (nq == NULL) {
			slb_log_err(
			    "out of memory: dialog event %s lost", key);
			return;
		}
		e->evq.q = nq;
		e->evq.cap = cap;
	}
	p = &e->evq.q[e->evq.n];
	if ((err = edge_dlgtab_update(&e->dlgs, &u, slb_wall_us(), &p->d)) !=
	    0) {
		if (err != ENOMEM)
			slb_log_warn("dialog event for key \"%s\": %s", key,
			    strerror(err));
		return;
	}
	snprintf(p->reason, sizeof(p->reason), "%s", reason ? reason : "");
	e->evq.n++;
	if (e->evq.held)
		return;
	if (e->evq.n >= EVENT_BATCH)
		flush_events(e);
	else if (!evtimer_pending(e->evq.timer, NULL)) {
		struct timeval tv = { 0, EVENT_FLUSH_US };

		evtimer_add(e->evq.timer, &tv);
	}
}

/* Publish this loop turn's dialog events as one bus message. */
static void
flush_events(struct edge *e)
{
	Siplb__V1__BusMessage m = SIPLB__V1__BUS_MESSAGE__INIT;
	Siplb__V1__DialogBatch batch = SIPLB__V1__DIALOG_BATCH__INIT;
	Siplb__V1__DialogEvent *evs, **evp;
	char *(*res)[LB_MAX_RES];
	size_t n = e->evq.n;

	if (n == 0 || e->pub == NULL || e->evq.held)
		return;
	evs = calloc(n, sizeof(*evs));
	evp = calloc(n, sizeof(*evp));
	res = calloc(n, sizeof(*res));
	if (evs == NULL || evp == NULL || res == NULL) {
		slb_log_err("out of memory: %zu dialog events lost", n);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		struct pending_ev *p = &e->evq.q[i];
		struct edge_dlg *d = &p->d;
		Siplb__V1__DialogEvent *ev = &evs[i];

		edge_dlg_to_pb(d, e->stream, ev, res[i]);
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
	e->evq.n = 0;
	free(evs);
	free(evp);
	free(res);
}

static void
on_evflush(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	flush_events(arg);
}

void
edge_dlgevt_hold(struct edge *e, bool hold)
{
	e->evq.held = hold;
	if (!hold)
		flush_events(e);
}

int
edge_dlgevt_open(struct edge *e)
{
	e->evq.timer = evtimer_new(e->base, on_evflush, e);
	return e->evq.timer != NULL ? 0 : ENOMEM;
}

void
edge_dlgevt_close(struct edge *e)
{
	if (e->pub != NULL && !e->evq.held)
		flush_events(e);
	free(e->evq.q);
	e->evq.q = NULL;
	e->evq.n = e->evq.cap = 0;
	if (e->evq.timer)
		event_free(e->evq.timer);
	e->evq.timer = NULL;
}
