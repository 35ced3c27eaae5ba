#define SLB_LOG_MODULE "feedback"
#include <event2/event.h>
#include <stdio.h>
#include <string.h>

#include "feedback_pb.h"
#include "log.h"
#include "svc.h"

/*
 * The scheduler's side of node feedback (feedback.h): its config, a
 * 100 ms tick that ends backoffs and notices stale figures, 503
 * Retry-After reports from edges, ESL figures from probers, drains.
 */

#define FB_TICK_MS 100

static void
on_fb_tick(evutil_socket_t fd, short what, void *arg)
{
	struct sched_svc *s = arg;
	uint64_t now = slb_now_us();

	(void)fd;
	(void)what;
	for (size_t i = 0; i < s->table.n; i++) {
		struct lb_node *n = &s->table.nodes[i];

		if (lb_fb_refresh(&s->fb, n, now, &s->fbst))
			sched_svc_node_changed(
			    s, n, n->fb.stale ? "feedback stale" : "feedback");
	}
}

int
sched_fb_svc_init(struct sched_svc *s)
{
	struct timeval tv = { 0, FB_TICK_MS * 1000 };
	char err[512];

	memset(&s->fb, 0, sizeof(s->fb));
	if (lb_fb_modes_parse(s->cfg.load_mode, &s->fb, err, sizeof(err)) !=
	    0) {
		slb_log_err("[scheduler] %s", err);
		return EINVAL;
	}
	s->fb.backoff_max_us = (uint64_t)s->cfg.backoff_max_ms * 1000u;
	s->fb.sessions_per_call = (uint32_t)s->cfg.sessions_per_call;
	s->fb.reconcile_min = (uint32_t)s->cfg.reconcile_min;
	s->fb_tick = event_new(s->base, -1, EV_PERSIST, on_fb_tick, s);
	if (s->fb_tick == NULL || event_add(s->fb_tick, &tv) != 0)
		return ENOMEM;
	return 0;
}

void
sched_fb_svc_close(struct sched_svc *s)
{
	if (s->fb_tick)
		event_free(s->fb_tick);
	s->fb_tick = NULL;
}

bool
sched_fb_svc_report(struct sched_svc *s, const Siplb__V1__NodeHealth *h)
{
	struct lb_node *n;

	if (!h->passive || h->retry_after_s == 0 || h->last_code != 503)
		return false;
	n = lb_table_find(&s->table, h->node_id);
	if (n == NULL)
		return true;
	/* fail over at once (the edge did), back off, never mark down */
	if (lb_fb_backoff(
		&s->fb, n, h->retry_after_s, slb_now_us(), &s->fbst) > 0)
		sched_svc_node_changed(s, n, "503 Retry-After");
	return true;
}

void
sched_fb_svc_feedback(struct sched_svc *s, const Siplb__V1__NodeFeedback *pf)
{
	struct lb_node *n = lb_table_find(&s->table, pf->node_id);
	struct lb_fb_fig f;
	uint64_t now = slb_now_us();
	bool was_stale, was_linked;

	if (n == NULL)
		return;
	was_stale = n->fb.stale;
	was_linked = n->fb.linked;
	lb_fb_fig_from_pb(pf, &f, now);
	lb_fb_apply(&s->fb, n, &f, now, &s->fbst);
	if (was_stale != n->fb.stale || was_linked != n->fb.linked)
		sched_svc_node_changed(s, n, "feedback");
}

int
sched_fb_svc_drain(struct sched_svc *s, struct lb_node *n, bool on,
    bool pause_inbound, char *err, size_t errlen)
{
	(void)err;
	(void)errlen;
	n->draining = on;
	n->pause_inbound = on && pause_inbound;
	lb_fb_refresh(&s->fb, n, slb_now_us(), &s->fbst);
	if (on)
		slb_log_notice(
		    "node %u %s: draining: no new calls, %d dialogs "
		    "left%s",
		    n->id, n->uri, n->dialogs,
		    n->pause_inbound ? ", fsctl pause inbound asked" : "");
	else
		slb_log_notice(
		    "node %u %s: drain over: new calls again", n->id, n->uri);
	return 0;
}

void
sched_fb_svc_selected(struct sched_svc *s, struct lb_node *n)
{
	bool held = n->held;

	lb_fb_selected(&s->fb, n, slb_now_us(), &s->fbst);
	if (n->held && !held)
		slb_log_info(
		    "node %u %s: Session-Per-Sec budget of this second "
		    "spent (%u of %u): no new calls until the next",
		    n->id, n->uri, n->fb.sps_used, n->fb.sps_max);
}

void
sched_fb_svc_stats(struct sched_svc *s, struct slb_counters *k)
{
	slb_counter_add(k, "backoffs", "", s->fbst.backoffs);
	slb_counter_add(k, "feedback_reports", "", s->fbst.reports);
	slb_counter_add(k, "feedback_stale", "", s->fbst.stale);
	slb_counter_add(k, "feedback_corrections", "", s->fbst.corrections);
	slb_counter_add(k, "sps_holds", "", s->fbst.sps_holds);
}
