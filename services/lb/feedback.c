#define SLB_LOG_MODULE "feedback"
#include "feedback.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"

static const char *const mode_names[] = { "counted", "reported",
	"reconciled" };

const char *
lb_load_mode_name(enum lb_load_mode m)
{
	return (unsigned)m < 3 ? mode_names[m] : "unknown";
}

static int
mode_word(const char *s, size_t n, enum lb_load_mode *m)
{
	for (int i = 0; i < 3; i++)
		if (strlen(mode_names[i]) == n &&
		    strncasecmp(s, mode_names[i], n) == 0) {
			*m = (enum lb_load_mode)i;
			return 0;
		}
	return EINVAL;
}

int
lb_fb_modes_parse(const char *s, struct lb_fb_cfg *c, char *err, size_t errlen)
{
	const char *p = s;

	c->mode = LB_LOAD_COUNTED;
	c->ngroups = 0;
	while (p != NULL && *p != '\0') {
		const char *end = strchr(p, ','), *eq;
		size_t n;
		enum lb_load_mode m;

		while (*p == ' ' || *p == '\t')
			p++;
		n = end ? (size_t)(end - p) : strlen(p);
		while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
			n--;
		eq = memchr(p, '=', n);
		if (n == 0) {
			/* empty item: "counted," */
		} else if (eq == NULL) {
			if (mode_word(p, n, &c->mode) != 0)
				goto bad;
		} else {
			char *ge;
			unsigned long g = strtoul(p, &ge, 10);

			if (ge != eq || p == eq || g == 0 || g > UINT32_MAX ||
			    mode_word(eq + 1, n - (size_t)(eq + 1 - p), &m) !=
				0)
				goto bad;
			if (c->ngroups >= LB_FB_MAX_GROUPS) {
				snprintf(err, errlen,
				    "load_mode: more than %d "
				    "groups",
				    LB_FB_MAX_GROUPS);
				return EINVAL;
			}
			c->groups[c->ngroups] = (uint32_t)g;
			c->modes[c->ngroups++] = (uint8_t)m;
		}
		p = end ? end + 1 : NULL;
		continue;
bad:
		snprintf(err, errlen,
		    "load_mode: \"%.*s\": give counted, "
		    "reported, reconciled or GROUP=one of them",
		    (int)n, p);
		return EINVAL;
	}
	return 0;
}

enum lb_load_mode
lb_fb_mode(const struct lb_fb_cfg *c, uint32_t group)
{
	for (int i = 0; i < c->ngroups; i++)
		if (c->groups[i] == group)
			return (enum lb_load_mode)c->modes[i];
	return c->mode;
}

/* ------------------------------------------------------------ backoff */

uint64_t
lb_fb_backoff(const struct lb_fb_cfg *c, struct lb_node *n,
    uint32_t retry_after_s, uint64_t now_us, struct lb_fb_stats *st)
{
	uint64_t want = (uint64_t)retry_after_s * 1000000u;
	uint64_t d = want < c->backoff_max_us ? want : c->backoff_max_us;

	if (d == 0)
		return 0;
	/* a later 503 may extend it, never shorten it */
	if (now_us + d > n->backoff_until_us)
		n->backoff_until_us = now_us + d;
	n->backoffs++;
	st->backoffs++;
	slb_log_notice(
	    "node %u %s: 503 with Retry-After %u s: no new calls "
	    "for %llu ms (bounded by backoff_max %llu ms), still up",
	    n->id, n->uri, retry_after_s, (unsigned long long)(d / 1000),
	    (unsigned long long)(c->backoff_max_us / 1000));
	lb_fb_refresh(c, n, now_us, st);
	return d / 1000;
}

uint32_t
lb_fb_backoff_left_ms(const struct lb_node *n, uint64_t now_us)
{
	uint64_t left;

	if (n->backoff_until_us <= now_us)
		return 0;
	left = (n->backoff_until_us - now_us + 999) / 1000;
	return left > UINT32_MAX ? UINT32_MAX : (uint32_t)left;
}

/* ------------------------------------------------------------ figures */

static bool
fig_live(const struct lb_fb_fig *f, uint64_t now_us)
{
	uint64_t iv =
	    (uint64_t)(f->interval_ms ? f->interval_ms : 20000) * 1000u;

	return f->have && f->linked && now_us <= f->at_us + 2 * iv;
}

/* fb_extra and fb_cap from the figures, as the mode says. */
static void
correct(const struct lb_fb_cfg *c, struct lb_node *n, struct lb_fb_stats *st)
{
	const struct lb_fb_fig *f = &n->fb;
	uint32_t spc = c->sessions_per_call ? c->sessions_per_call : 1;
	int64_t calls = f->sessions / spc, drift = calls - n->dialogs;
	int32_t extra = 0, cap = 0;

	switch ((enum lb_load_mode)f->mode) {
	case LB_LOAD_REPORTED:
		/* sessions siplb did not count weigh on every resource, and
		 * the node holds Max-Sessions scaled by its idle CPU
		 * (OpenSIPS load_balancer with fetch_freeswitch_stats) */
		extra = drift > 0 ? (int32_t)drift : 0;
		if (f->max_sessions > 0) {
			uint64_t m = (uint64_t)(f->max_sessions / spc) *
			    f->idle_milli / 100000u;

			cap = m == 0
			    ? -1
			    : (int32_t)(m > INT32_MAX ? INT32_MAX : m);
		}
		break;
	case LB_LOAD_RECONCILED:
		/* siplb's count, set to the node's when they drift: calls
		 * it placed itself, or a restart that lost calls */
		if (drift >= (int64_t)c->reconcile_min ||
		    -drift >= (int64_t)c->reconcile_min)
			extra = (int32_t)drift;
		break;
	default: break;
	}
	if (extra != n->fb_extra && extra != 0) {
		st->corrections++;
		slb_log_info("node %u %s: %s: node has %lld calls (%u "
			     "sessions), siplb counts %d: load %+d",
		    n->id, n->uri,
		    lb_load_mode_name((enum lb_load_mode)f->mode),
		    (long long)calls, f->sessions, n->dialogs, extra);
	}
	n->fb_extra = extra;
	n->fb_cap = cap;
}

void
lb_fb_apply(const struct lb_fb_cfg *c, struct lb_node *n,
    const struct lb_fb_fig *f, uint64_t now_us, struct lb_fb_stats *st)
{
	struct lb_fb_fig old = n->fb;

	n->fb = *f;
	n->fb.mode = (uint8_t)lb_fb_mode(c, n->group);
	n->fb.stale = old.stale;
	n->fb.stale_count = old.stale_count;
	n->fb.sps_used = old.sps_used;
	n->fb.sps_second = old.sps_second;
	if (!f->linked && old.linked) {
		slb_log_warn("node %u %s: ESL link to %s lost: load counted",
		    n->id, n->uri, old.esl);
		n->fb_lost = true;
	} else if (f->linked && f->have && n->fb_lost) {
		n->fb_lost = false;
		slb_log_notice("node %u %s: ESL link to %s back: load from "
			       "the node again (%s)",
		    n->id, n->uri, f->esl,
		    lb_load_mode_name((enum lb_load_mode)n->fb.mode));
	}
	st->reports += f->have ? 1 : 0;
	if (f->have && f->linked && n->fb.mode != LB_LOAD_COUNTED &&
	    fig_live(&n->fb, now_us))
		correct(c, n, st);
	lb_fb_refresh(c, n, now_us, st);
}

void
lb_fb_selected(const struct lb_fb_cfg *c, struct lb_node *n, uint64_t now_us,
    struct lb_fb_stats *st)
{
	uint64_t sec = now_us / 1000000u;

	if (n->fb.sps_second != sec) {
		n->fb.sps_second = sec;
		n->fb.sps_used = 0;
	}
	n->fb.sps_used++;
	lb_fb_refresh(c, n, now_us, st);
}

/* The node's Session-Per-Sec budget is spent for this second. */
static bool
sps_spent(const struct lb_fb_cfg *c, const struct lb_node *n, uint64_t now_us)
{
	const struct lb_fb_fig *f = &n->fb;
	uint64_t sec = now_us / 1000000u;
	uint32_t spc = c->sessions_per_call ? c->sessions_per_call : 1;

	if (f->mode == LB_LOAD_COUNTED || !fig_live(f, now_us))
		return false;
	/* the HEARTBEAT of this very second said none is left */
	if (f->sps_left == 0 && f->at_us / 1000000u == sec && f->sps_max)
		return true;
	if (f->sps_max == 0 || f->sps_second != sec)
		return false;
	return f->sps_used >= f->sps_max / spc;
}

bool
lb_fb_refresh(const struct lb_fb_cfg *c, struct lb_node *n, uint64_t now_us,
    struct lb_fb_stats *st)
{
	bool held = n->held, stale = n->fb.stale, spent;

	if (n->backoff_until_us != 0 && n->backoff_until_us <= now_us) {
		n->backoff_until_us = 0;
		slb_log_notice("node %u %s: Retry-After backoff over: new "
			       "calls again",
		    n->id, n->uri);
	}
	if (n->fb.have && n->fb.linked && n->fb.mode != LB_LOAD_COUNTED) {
		bool live = fig_live(&n->fb, now_us);

		if (!live && !n->fb.stale) {
			n->fb.stale = true;
			n->fb.stale_count++;
			st->stale++;
			slb_log_warn(
			    "node %u %s: ESL feedback stale (no "
			    "HEARTBEAT for %llu ms, interval %u ms): load "
			    "counted by siplb until it comes back",
			    n->id, n->uri,
			    (unsigned long long)((now_us - n->fb.at_us) /
				1000),
			    n->fb.interval_ms);
		} else if (live && n->fb.stale) {
			n->fb.stale = false;
			slb_log_notice("node %u %s: ESL feedback live again "
				       "(%s)",
			    n->id, n->uri,
			    lb_load_mode_name((enum lb_load_mode)n->fb.mode));
		}
	} else {
		n->fb.stale = false;
	}
	if (n->fb.stale || !n->fb.have || !n->fb.linked ||
	    n->fb.mode == LB_LOAD_COUNTED) {
		/* fall back to counting */
		n->fb_extra = 0;
		n->fb_cap = 0;
	}
	spent = sps_spent(c, n, now_us);
	if (spent && !n->held)
		st->sps_holds++;
	n->held = n->draining || n->backoff_until_us > now_us || spent;
	return held != n->held || stale != n->fb.stale;
}

void
lb_fb_inherit(struct lb_table *newt, const struct lb_table *old)
{
	for (size_t i = 0; i < newt->n; i++) {
		struct lb_node *n = &newt->nodes[i];
		const struct lb_node *o = lb_table_find(old, n->id);

		if (o == NULL || strcmp(o->uri, n->uri) != 0)
			continue;
		n->draining = o->draining;
		n->pause_inbound = o->pause_inbound;
		n->backoff_until_us = o->backoff_until_us;
		n->backoffs = o->backoffs;
		n->fb = o->fb;
		n->fb_extra = o->fb_extra;
		n->fb_cap = o->fb_cap;
		n->held = o->held;
	}
}
