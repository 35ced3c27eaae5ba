#define SLB_LOG_MODULE "rep"
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "edge.h"
#include "log.h"
#include "rep.h"

#define REP_COUNTERS 64

/* The dialog table as a snapshot in r; the arrays are the caller's to
 * free (also on failure). */
static int
answer_snapshot(struct edge *e, Siplb__V1__EdgeReply *r,
    Siplb__V1__Snapshot *snap, Siplb__V1__DialogSnapshot *ds,
    Siplb__V1__DialogEvent **evsp, Siplb__V1__DialogEvent ***evpp,
    char ***resp)
{
	Siplb__V1__DialogEvent *evs, **evp;
	char **resbuf;
	struct edge_dlg *d, *tmp;
	size_t i = 0;

	evs = *evsp = calloc(e->dlgs.n + 1, sizeof(*evs));
	evp = *evpp = calloc(e->dlgs.n + 1, sizeof(*evp));
	resbuf = *resp = calloc((e->dlgs.n + 1) * LB_MAX_RES, sizeof(*resbuf));
	if (evs == NULL || evp == NULL || resbuf == NULL)
		return ENOMEM;
	HASH_ITER(hh, e->dlgs.h, d, tmp)
	{
		Siplb__V1__DialogEvent *ev = &evs[i];

		edge_dlg_to_pb(d, e->stream, ev, &resbuf[i * LB_MAX_RES]);
		evp[i] = ev;
		i++;
	}
	ds->dialogs = evp;
	ds->n_dialogs = i;
	snap->stream = e->stream;
	snap->epoch = slb_pub_epoch(e->pub);
	snap->seq = slb_pub_seq(e->pub);
	snap->body_case = SIPLB__V1__SNAPSHOT__BODY_DIALOGS;
	snap->dialogs = ds;
	r->body_case = SIPLB__V1__EDGE_REPLY__BODY_SNAPSHOT;
	r->snapshot = snap;
	return 0;
}

/* The edge's counters (siplb-admin's /metrics names them). */
static void
answer_stats(struct edge *e, Siplb__V1__EdgeReply *r, struct slb_counters *ctr)
{
	struct edge_stats *s = &e->st;
	static const char *cls[] = { "", "1xx", "2xx", "3xx", "4xx", "5xx",
		"6xx" };

	slb_counter_add(ctr, "requests_received", "", s->rx_requests);
	slb_counter_add(ctr, "responses_received", "", s->rx_responses);
	slb_counter_add(ctr, "requests_sent", "", s->tx_requests);
	slb_counter_add(ctr, "responses_sent", "", s->tx_responses);
	for (int k = 1; k <= 6; k++)
		slb_counter_add(
		    ctr, "responses_sent_by_class", cls[k], s->resp_class[k]);
	slb_counter_add(ctr, "dropped", "too_big", s->drop_too_big);
	slb_counter_add(ctr, "dropped", "parse", s->drop_parse);
	slb_counter_add(ctr, "dropped", "no_transaction", s->drop_no_tx);
	slb_counter_add(ctr, "dropped", "not_our_node", s->drop_loop);
	slb_counter_add(ctr, "replied", "400", s->replied_400);
	slb_counter_add(ctr, "replied", "403", s->replied_403);
	slb_counter_add(ctr, "replied", "405", s->replied_405);
	slb_counter_add(ctr, "replied", "481", s->replied_481);
	slb_counter_add(ctr, "replied", "483", s->replied_483);
	slb_counter_add(ctr, "replied", "503", s->replied_503);
	slb_counter_add(ctr, "failovers", "", s->failovers);
	slb_counter_add(ctr, "relayed_from_node", "", s->relayed_from_node);
	slb_counter_add(ctr, "scheduler_fallbacks", "", s->sched_fallbacks);
	slb_counter_add(ctr, "scheduler_errors", "", s->sched_errors);
	slb_counter_add(ctr, "retransmissions", "", s->retransmissions);
	slb_counter_add(ctr, "send_errors", "", s->send_errors);
	slb_counter_add(ctr, "stalls", "", s->stalls);
	slb_counter_add(ctr, "dialogs_ended_elsewhere", "", s->stale_dialogs);
	slb_counter_add(ctr, "transactions", "", e->ntx);
	slb_counter_add(ctr, "branches", "", e->nbranches);
	slb_counter_add(ctr, "dialogs", "", e->dlgs.n);
	slb_counter_add(ctr, "tcp_connections", "", (uint64_t)e->nconns);
	/* floods from one source (flood.c, pike.c) and TCP limits */
	slb_counter_add(ctr, "flood_limited", "drop", s->flood_dropped);
	slb_counter_add(ctr, "flood_limited", "503", s->flood_503);
	slb_counter_add(
	    ctr, "flood_limited", "blocked", e->pike.st.blocked_drops);
	slb_counter_add(
	    ctr, "flood_blocks_started", "", e->pike.st.blocks_started);
	slb_counter_add(ctr, "flood_blocked_sources", "", e->pike.nblocked);
	slb_counter_add(ctr, "flood_sources", "", e->pike.nsrcs);
	slb_counter_add(ctr, "flood_sources_evicted", "", e->pike.st.evicted);
	slb_counter_add(ctr, "tcp_refused", "max_conns", s->tcp_refused);
	slb_counter_add(
	    ctr, "tcp_refused", "per_source", e->pike.st.conns_refused);
	slb_counter_add(ctr, "tcp_slow_closed", "", s->tcp_slow_closed);
	slb_counter_add(ctr, "nodes_known", "",
	    e->nodes.have ? (uint64_t)e->nodes.table.n : 0);
	/* 1 while a question to the dialog store waits (restore, reconcile) */
	slb_counter_add(ctr, "store_waiting", "", edge_store_busy(e) ? 1 : 0);
	r->body_case = SIPLB__V1__EDGE_REPLY__BODY_STATS;
	r->stats = &ctr->sr;
}

static void
on_rep(void *arg, nng_msg *req, nng_msg **replyp)
{
	struct edge *e = arg;
	Siplb__V1__EdgeReply r = SIPLB__V1__EDGE_REPLY__INIT;
	Siplb__V1__Snapshot snap = SIPLB__V1__SNAPSHOT__INIT;
	Siplb__V1__DialogSnapshot ds = SIPLB__V1__DIALOG_SNAPSHOT__INIT;
	Siplb__V1__DialogEvent *evs = NULL, **evp = NULL;
	char **resbuf = NULL;
	Siplb__V1__Counter c[REP_COUNTERS], *cp[REP_COUNTERS];
	struct slb_counters ctr;
	ProtobufCMessage *pm = NULL;
	Siplb__V1__EdgeRequest *q;
	int rc;

	rc = slb_msg_unpack(
	    &siplb__v1__edge_request__descriptor, req, SLB_MSG_MAX, &pm);
	if (rc != 0) {
		const char *why;

		r.status = slb_msg_refusal(rc, &why);
		r.error = (char *)why;
		goto send;
	}
	q = (Siplb__V1__EdgeRequest *)pm;
	r.status = SIPLB__V1__STATUS__STATUS_OK;
	if (q->body_case == SIPLB__V1__EDGE_REQUEST__BODY_SNAPSHOT) {
		edge_store_check_stall(e);
		if (edge_store_busy(e)) {
			/* the store's answer first: the REQ resends */
			slb_msg_free(pm);
			return;
		}
		if (answer_snapshot(e, &r, &snap, &ds, &evs, &evp, &resbuf) !=
		    0) {
			r.status = SIPLB__V1__STATUS__STATUS_INTERNAL;
			r.error = "out of memory";
		}
	} else if (q->body_case == SIPLB__V1__EDGE_REQUEST__BODY_STATS) {
		slb_counters_init(&ctr, c, cp, REP_COUNTERS);
		answer_stats(e, &r, &ctr);
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

int
edge_rep_open(struct edge *e)
{
	int rc = slb_rep_open(&e->rep, e->base, e->cfg.rep, on_rep, e);

	if (rc == 0)
		/* dialogd replays the dialog events it missed from our ring */
		slb_rep_set_pub(e->rep, e->pub);
	return rc;
}

void
edge_rep_close(struct edge *e)
{
	slb_rep_close(e->rep);
	e->rep = NULL;
}
