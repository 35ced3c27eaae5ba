/*
 * Passive health in the scheduler: the edges' failure reports (a timeout
 * or a transport error towards a node, with the caller's address), what a
 * suspicion leads to, and what happens when a whole pool is down.
 *
 * A report counts per node and per caller (services/lb/passive.c): with
 * passive_threshold >= 2 one caller never suspects a node alone.  A
 * suspected node is not marked down on the reports: every prober is asked
 * (ProbeNow on its REP) to probe it at once, and the node is down only if
 * that probe fails (the prober publishes the outcome, NodeHealth with
 * requested = true).  Until then the node stays in rotation: the reports
 * may be a caller's fault (odd requests the nodes ignore, RFC 4475), the
 * wait is bounded by the probe timeout, and a call that meets a really
 * dead node meanwhile fails over at the edge anyway.  Taking it out while
 * pending would let such a caller empty the pool for that long.  If no
 * prober answers for it, the reports of two callers mark it down.
 *
 * One caller's reports alone (threshold of them, then 2x, 4x ... within
 * its window) only ask for a probe: its failure marks the node down, and
 * nothing else does.  With a single upstream (an SBC: one address) and
 * nodes probed only while down (probe_mode 1) that is how a dead node
 * still leaves rotation.
 *
 * Without a prober that can be asked, the reports mark a node down as they
 * did before, whoever sent them (they are the only way a dead node leaves
 * rotation then); the scheduler says so once at start.
 */
#define SLB_LOG_MODULE "sched"
#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "svc.h"

/* A prober gets this long to take a ProbeNow. */
#define ASK_MS 1000
/* Added to the prober's probe timeout for its outcome to reach us. */
#define OUTCOME_GRACE_MS 500

struct sched_suspect {
	struct sched_suspect *next;
	struct sched_svc *s; /* NULL once the service closed */
	uint32_t node_id;
	int waiting; /* ProbeNow replies still due */
	int accepted; /* probers that probe it */
	bool done; /* resolved: only replies are awaited */
	uint32_t code; /* of the last report */
	bool one_caller; /* only one caller's word: no outcome
					 * leaves the node up */
	struct event *deadline;
	char why[96]; /* the report that suspected it */
};

/* ------------------------------------------------------------ suspects */

static struct sched_suspect *
suspect_find(struct sched_svc *s, uint32_t id)
{
	for (struct sched_suspect *x = s->suspects; x != NULL; x = x->next)
		if (x->node_id == id && !x->done)
			return x;
	return NULL;
}

static void
suspect_unlink(struct sched_svc *s, struct sched_suspect *x)
{
	for (struct sched_suspect **pp = &s->suspects; *pp; pp = &(*pp)->next)
		if (*pp == x) {
			*pp = x->next;
			return;
		}
}

/* Resolved and no reply due: gone. */
static void
suspect_maybe_free(struct sched_suspect *x)
{
	if (!x->done || x->waiting > 0)
		return;
	if (x->s != NULL)
		suspect_unlink(x->s, x);
	if (x->deadline)
		event_free(x->deadline);
	free(x);
}

static void
suspect_done(struct sched_suspect *x)
{
	x->done = true;
	if (x->deadline)
		event_del(x->deadline);
	suspect_maybe_free(x);
}

/* No probe outcome to go by: down on the reports, as without a prober. */
static void
suspect_down_unconfirmed(struct sched_suspect *x, const char *what)
{
	struct sched_svc *s = x->s;
	char why[160];

	s->pst.unconfirmed++;
	slb_log_warn("node %u: %s: down on the passive reports alone (%s)",
	    x->node_id, what, x->why);
	snprintf(why, sizeof(why), "%s, %s", x->why, what);
	sched_svc_set_health(s, x->node_id, false, 0, x->code, why);
	suspect_done(x);
}

/* No outcome: two callers' reports are enough, one caller's are not. */
static void
suspect_no_outcome(struct sched_suspect *x, const char *what)
{
	if (!x->one_caller) {
		suspect_down_unconfirmed(x, what);
		return;
	}
	slb_log_notice(
	    "node %u: %s: stays in rotation (%s)", x->node_id, what, x->why);
	suspect_done(x);
}

static void
on_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct sched_suspect *x = arg;

	(void)fd;
	(void)what;
	if (x->s == NULL || x->done)
		return;
	suspect_no_outcome(x,
	    x->accepted ? "no probe outcome in time"
			: "no prober answered the probe request");
}

static void
deadline_in(struct sched_suspect *x, uint32_t ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	evtimer_add(x->deadline, &tv);
}

static void
on_probe_reply(void *arg, int err, nng_msg *reply)
{
	struct sched_suspect *x = arg;
	Siplb__V1__ProberReply *r = NULL;
	ProtobufCMessage *pm = NULL;

	x->waiting--;
	if (err == 0 &&
	    slb_msg_unpack(&siplb__v1__prober_reply__descriptor, reply,
		SLB_MSG_MAX, &pm) == 0)
		r = (Siplb__V1__ProberReply *)pm;
	if (reply)
		nng_msg_free(reply);
	if (x->s != NULL && !x->done && r != NULL &&
	    r->status == SIPLB__V1__STATUS__STATUS_OK && r->probe_now &&
	    r->probe_now->accepted) {
		uint32_t t = r->probe_now->timeout_ms;

		x->accepted++;
		if (t > 60000)
			t = 60000;
		/* the outcome within its probe timeout: wait that long */
		deadline_in(x, t + OUTCOME_GRACE_MS);
	} else if (x->s != NULL && !x->done && r != NULL) {
		slb_log_debug("node %u: a prober will not probe it: %s",
		    x->node_id, r->error ? r->error : "refused");
	}
	slb_msg_free(pm);
	if (x->s != NULL && !x->done && x->waiting == 0 && x->accepted == 0)
		suspect_no_outcome(x, "no prober probes it");
	else
		suspect_maybe_free(x);
}

/* Ask every prober to probe node n now; false when none could be asked. */
static bool
ask_probers(struct sched_svc *s, struct sched_suspect *x, uint32_t id)
{
	Siplb__V1__ProberRequest q = SIPLB__V1__PROBER_REQUEST__INIT;
	Siplb__V1__ProbeNow pn = SIPLB__V1__PROBE_NOW__INIT;

	pn.node_id = id;
	pn.reason = x->why;
	q.body_case = SIPLB__V1__PROBER_REQUEST__BODY_PROBE_NOW;
	q.probe_now = &pn;
	for (int i = 0; i < s->nprober_rc; i++) {
		nng_msg *m = NULL;

		if (slb_msg_pack(&q.base, &m) != 0)
			continue;
		if (slb_reqc_send(
			s->prober_rc[i], m, ASK_MS, on_probe_reply, x) != 0) {
			nng_msg_free(m);
			continue;
		}
		x->waiting++;
	}
	return x->waiting > 0;
}

/* n reached the threshold: probe it now, or (no prober) mark it down. */
static void
suspect(struct sched_svc *s, struct lb_node *n, uint32_t code, bool one_caller,
    const char *why)
{
	struct sched_suspect *x;

	s->pst.suspected++;
	x = calloc(1, sizeof(*x));
	if (x == NULL ||
	    (x->deadline = evtimer_new(s->base, on_deadline, x)) == NULL) {
		free(x);
		slb_log_err("node %u: out of memory: not probed now", n->id);
		return;
	}
	x->s = s;
	x->node_id = n->id;
	x->code = code;
	x->one_caller = one_caller;
	snprintf(x->why, sizeof(x->why), "%s", why);
	x->next = s->suspects;
	s->suspects = x;
	deadline_in(x, ASK_MS + OUTCOME_GRACE_MS);
	if (!ask_probers(s, x, n->id)) {
		suspect_no_outcome(x, "the probers cannot be asked");
		return;
	}
	slb_log_notice("node %u %s: suspected (%s): probing it now, in "
		       "rotation until the probe's outcome",
	    n->id, n->uri, why);
}

void
sched_passive_report(
    struct sched_svc *s, const Siplb__V1__NodeHealth *h, const char *src)
{
	struct lb_node *n = lb_table_find(&s->table, h->node_id);
	const char *from = h->source && h->source[0] ? h->source : "?";
	uint32_t thr = (uint32_t)s->cfg.passive_threshold, counted = 0;
	uint64_t win = (uint64_t)s->cfg.passive_window_ms * 1000u;
	bool per_caller = s->nprober_rc > 0;
	enum lb_passive_verdict v;
	struct sched_suspect *x;
	char why[96];

	if (n == NULL || h->up || thr == 0 || !n->up)
		return;
	s->pst.reports++;
	v = lb_passive_report(
	    &n->passive, from, thr, per_caller, win, slb_now_us(), &counted);
	slb_log_info("node %u %s: %s reported %u (%u of %u), caller %.47s%s",
	    n->id, n->uri, src, h->last_code, counted, thr, from,
	    per_caller && thr >= 2 ? " (one caller counts at most "
				     "threshold - 1)"
				   : "");
	if (v == LB_PASSIVE_COUNTED)
		return;
	if (!per_caller) {
		/* no prober to ask: down on the reports, as before */
		s->pst.suspected++;
		snprintf(
		    why, sizeof(why), "%s reported %u", src, h->last_code);
		sched_svc_set_health(s, n->id, false, 0, h->last_code, why);
		return;
	}
	if ((x = suspect_find(s, n->id)) != NULL) {
		/* its probe is on the way; a second caller's word now */
		if (v == LB_PASSIVE_SUSPECT)
			x->one_caller = false;
		return;
	}
	if (v == LB_PASSIVE_SUSPECT)
		snprintf(why, sizeof(why), "%s reported %u: %u callers", src,
		    h->last_code,
		    lb_passive_sources(&n->passive, win, slb_now_us()));
	else
		snprintf(why, sizeof(why), "%s reported %u: one caller, %.47s",
		    src, h->last_code, from);
	suspect(s, n, h->last_code, v == LB_PASSIVE_ONE_CALLER, why);
}

void
sched_passive_prober_health(
    struct sched_svc *s, const Siplb__V1__NodeHealth *h)
{
	struct sched_suspect *x = suspect_find(s, h->node_id);
	struct lb_node *n;

	/* a snapshot's "up" may predate the probe: only its outcome, or any
	 * "down", answers the suspicion */
	if (x == NULL || (h->up && !h->requested))
		return;
	n = lb_table_find(&s->table, h->node_id);
	if (h->up) {
		/* the reports stay counted (until their windows end): the
		 * same callers' next ones ask for no probe */
		s->pst.probe_up++;
		slb_log_notice(
		    "node %u %s: answered the probe (%u): stays in "
		    "rotation; the reports (%s) were not the node's fault",
		    h->node_id, n ? n->uri : "?", h->last_code, x->why);
	} else {
		char why[160];

		s->pst.probe_down++;
		snprintf(why, sizeof(why), "%s; the probe failed: %u", x->why,
		    h->last_code);
		sched_svc_set_health(
		    s, h->node_id, false, h->rtt_us, h->last_code, why);
	}
	suspect_done(x);
}

/* ------------------------------------------------------------ all down */

static struct sched_episode *
episode(struct sched_svc *s, const struct lb_select *sel, bool add)
{
	bool by_group = sel->alg == LB_ALG_LEAST_LOAD;

	for (int i = 0; i < s->nepisodes; i++)
		if (s->episodes[i].by_group == by_group &&
		    s->episodes[i].pool == sel->group)
			return &s->episodes[i];
	if (!add || s->nepisodes == SCHED_MAX_EPISODES)
		return NULL;
	s->episodes[s->nepisodes].by_group = by_group;
	s->episodes[s->nepisodes].pool = sel->group;
	s->episodes[s->nepisodes].on = false;
	return &s->episodes[s->nepisodes++];
}

enum lb_sel_status
sched_passive_all_down(struct sched_svc *s, const struct lb_select *sel,
    enum lb_sel_status st, struct lb_node **out, unsigned *nout)
{
	const char *pool = sel->alg == LB_ALG_LEAST_LOAD ? "group" : "set";
	struct sched_episode *ep;

	if (st == LB_SEL_OK) {
		ep = s->nepisodes ? episode(s, sel, false) : NULL;
		if (ep != NULL && ep->on) {
			ep->on = false;
			slb_log_notice(
			    "%s %u: a node is up again: the all-down "
			    "episode is over",
			    pool, sel->group);
		}
		return st;
	}
	if (st != LB_SEL_NO_DESTINATION || !lb_pool_all_down(&s->table, sel))
		return st;
	ep = episode(s, sel, true);
	if (ep != NULL && !ep->on) {
		ep->on = true;
		s->pst.episodes++;
		slb_log_warn("%s %u: every node is down: %s", pool, sel->group,
		    s->last_resort
			? "all_down = last_resort: calls go to its enabled "
			  "nodes anyway, until one is up"
			: "all_down = refuse: calls get 503 until one is up");
	}
	if (!s->last_resort) {
		s->pst.refused++;
		return st;
	}
	st = lb_select_last_resort(&s->table, sel, out, nout);
	if (st == LB_SEL_OK)
		s->pst.last_resort++;
	return st;
}

/* ------------------------------------------------------------ life */

int
sched_passive_init(struct sched_svc *s)
{
	char reps[SCHED_MAX_EDGES][SLB_CFG_STRLEN];
	int nr;

	s->last_resort = strcmp(s->cfg.all_down, "last_resort") == 0;
	if (s->cfg.passive_threshold == 0)
		return 0;
	nr = slb_cfg_split(s->cfg.prober_rep, ',', reps, SCHED_MAX_EDGES);
	if (s->nprobers == 0 || nr <= 0) {
		slb_log_notice(
		    "no prober to ask ([scheduler] prober_pub or "
		    "prober_rep empty): %d passive reports within %d ms mark "
		    "a node down on their own, from any caller (one caller "
		    "whose requests the nodes ignore can take them out)",
		    s->cfg.passive_threshold, s->cfg.passive_window_ms);
		return 0;
	}
	for (int i = 0; i < nr; i++) {
		int rc;

		if (slb_cfg_expand_addr(reps[i], s->cfg.run_dir) != 0)
			return EINVAL; /* open_subs said why */
		rc = slb_reqc_open(&s->prober_rc[i], s->br, reps[i], 0);
		if (rc != 0) {
			slb_log_err("[scheduler] prober_rep \"%s\": %s",
			    reps[i], strerror(rc));
			return rc;
		}
		s->nprober_rc++;
	}
	return 0;
}

void
sched_passive_close(struct sched_svc *s)
{
	struct sched_suspect *x = s->suspects, *next;

	/* detach first: the cancelled replies (on the bridge) free those
	 * that still wait for one */
	s->suspects = NULL;
	for (; x != NULL; x = next) {
		next = x->next;
		x->s = NULL;
		x->done = true;
		if (x->deadline)
			event_free(x->deadline);
		x->deadline = NULL;
		suspect_maybe_free(x);
	}
	for (int i = 0; i < s->nprober_rc; i++)
		slb_reqc_close(s->prober_rc[i]);
	s->nprober_rc = 0;
}

void
sched_passive_stats(struct sched_svc *s, struct slb_counters *k)
{
	slb_counter_add(k, "passive_reports", "", s->pst.reports);
	slb_counter_add(k, "passive_suspected", "", s->pst.suspected);
	slb_counter_add(k, "passive_probe_up", "", s->pst.probe_up);
	slb_counter_add(k, "passive_probe_down", "", s->pst.probe_down);
	slb_counter_add(k, "passive_unconfirmed", "", s->pst.unconfirmed);
	slb_counter_add(k, "all_down_last_resort", "", s->pst.last_resort);
	slb_counter_add(k, "all_down_refused", "", s->pst.refused);
	slb_counter_add(k, "all_down_episodes", "", s->pst.episodes);
}
