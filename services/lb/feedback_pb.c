#define SLB_LOG_MODULE "feedback"
#include "feedback_pb.h"

#include <stdio.h>
#include <string.h>

void
lb_fb_to_pb(const struct lb_node *n, const struct lb_node *copy,
    Siplb__V1__Node *pn, Siplb__V1__NodeFeedback *pf, uint64_t now_us)
{
	const struct lb_fb_fig *f = &copy->fb;

	pn->backoff_ms = lb_fb_backoff_left_ms(n, now_us);
	pn->backoffs = n->backoffs;
	pn->draining = n->draining;
	pn->pause_inbound = n->pause_inbound;
	pn->dialogs = n->dialogs < 0 ? 0 : (uint32_t)n->dialogs;
	pn->load_mode = (char *)lb_load_mode_name((enum lb_load_mode)f->mode);
	pn->stale_count = f->stale_count;
	pn->load_correction = n->fb_extra;
	pn->capacity_limit = n->fb_cap < 0 ? -1 : n->fb_cap;
	pn->held = n->held;
	if (!f->have && !f->linked && f->esl[0] == '\0')
		return;
	siplb__v1__node_feedback__init(pf);
	pf->node_id = n->id;
	pf->linked = f->linked;
	pf->have = f->have;
	pf->stale = f->stale;
	pf->session_count = f->sessions;
	pf->max_sessions = f->max_sessions;
	pf->idle_cpu_milli = f->idle_milli;
	pf->sps_left = f->sps_left;
	pf->sps_max = f->sps_max;
	pf->interval_ms = f->interval_ms;
	pf->age_ms = f->have && now_us > f->at_us
	    ? (uint32_t)((now_us - f->at_us) / 1000)
	    : 0;
	pf->hostname = (char *)f->hostname;
	pf->esl = (char *)f->esl;
	pf->paused = f->paused;
	pn->feedback = pf;
}

void
lb_fb_from_pb(const Siplb__V1__Node *pn, struct lb_node *n, uint64_t now_us)
{
	n->draining = pn->draining;
	n->pause_inbound = pn->pause_inbound;
	n->backoffs = pn->backoffs;
	n->backoff_until_us =
	    pn->backoff_ms ? now_us + (uint64_t)pn->backoff_ms * 1000u : 0;
	n->dialogs =
	    (int32_t)(pn->dialogs > INT32_MAX ? INT32_MAX : pn->dialogs);
	n->fb_extra = pn->load_correction;
	n->fb_cap = pn->capacity_limit;
	/* an edge selecting on its own copy holds what the scheduler held,
	 * the per-second budget aside */
	n->held = pn->draining || pn->backoff_ms > 0;
	if (pn->feedback != NULL)
		lb_fb_fig_from_pb(pn->feedback, &n->fb, now_us);
	n->fb.stale_count = pn->stale_count;
}

int
lb_fb_fig_from_pb(
    const Siplb__V1__NodeFeedback *pf, struct lb_fb_fig *f, uint64_t now_us)
{
	memset(f, 0, sizeof(*f));
	f->linked = pf->linked;
	f->have = pf->have;
	f->stale = pf->stale;
	f->paused = pf->paused;
	f->sessions = pf->session_count;
	f->max_sessions = pf->max_sessions;
	/* Idle-CPU is a percentage: more than 100 % is nonsense */
	f->idle_milli =
	    pf->idle_cpu_milli > 100000 ? 100000 : pf->idle_cpu_milli;
	f->sps_left = pf->sps_left;
	f->sps_max = pf->sps_max;
	f->interval_ms = pf->interval_ms;
	f->at_us = now_us > (uint64_t)pf->age_ms * 1000u
	    ? now_us - (uint64_t)pf->age_ms * 1000u
	    : 0;
	snprintf(f->hostname, sizeof(f->hostname), "%s",
	    pf->hostname ? pf->hostname : "");
	snprintf(f->esl, sizeof(f->esl), "%s", pf->esl ? pf->esl : "");
	return 0;
}
