/*
 * Passive health: the edges report a node's timeouts and transport errors
 * with the caller's address; this file only counts them (the rule is in
 * lb.h).  What a suspicion leads to (a probe now, down only if it fails)
 * is the scheduler's (services/scheduler/passive.c).
 */
#include <string.h>

#include "lb.h"

static bool
src_live(const struct lb_passive_src *s, uint64_t window_us, uint64_t now_us)
{
	return s->addr[0] != '\0' && now_us - s->first_us <= window_us;
}

static uint32_t
src_counted(
    const struct lb_passive_src *s, uint32_t threshold, bool per_caller)
{
	uint32_t cap =
	    per_caller && threshold >= 2 ? threshold - 1 : threshold;

	return s->n < cap ? s->n : cap;
}

uint32_t
lb_passive_counted(const struct lb_passive *p, uint32_t threshold,
    bool per_caller, uint64_t window_us, uint64_t now_us)
{
	uint32_t total = 0;

	for (int i = 0; i < LB_PASSIVE_SOURCES; i++)
		if (src_live(&p->src[i], window_us, now_us))
			total +=
			    src_counted(&p->src[i], threshold, per_caller);
	return total;
}

unsigned
lb_passive_sources(
    const struct lb_passive *p, uint64_t window_us, uint64_t now_us)
{
	unsigned n = 0;

	for (int i = 0; i < LB_PASSIVE_SOURCES; i++)
		if (src_live(&p->src[i], window_us, now_us))
			n++;
	return n;
}

/* The slot of src: its own, else a free or expired one, else the one
 * whose window started first. */
static struct lb_passive_src *
src_slot(
    struct lb_passive *p, const char *src, uint64_t window_us, uint64_t now_us)
{
	struct lb_passive_src *spare = NULL;

	for (int i = 0; i < LB_PASSIVE_SOURCES; i++) {
		struct lb_passive_src *s = &p->src[i];

		if (s->addr[0] != '\0' &&
		    strncmp(s->addr, src, LB_PASSIVE_SRC_LEN - 1) == 0)
			return s;
		if (!src_live(s, window_us, now_us)) {
			if (spare == NULL ||
			    src_live(spare, window_us, now_us))
				spare = s;
		} else if (spare == NULL ||
		    (src_live(spare, window_us, now_us) &&
			s->first_us < spare->first_us)) {
			spare = s;
		}
	}
	memset(spare, 0, sizeof(*spare));
	strncpy(spare->addr, src, LB_PASSIVE_SRC_LEN - 1);
	return spare;
}

/* n is threshold, 2 x threshold, 4 x threshold... */
static bool
at_power(uint32_t n, uint32_t threshold)
{
	if (n < threshold || n % threshold != 0)
		return false;
	n /= threshold;
	return (n & (n - 1)) == 0;
}

enum lb_passive_verdict
lb_passive_report(struct lb_passive *p, const char *src, uint32_t threshold,
    bool per_caller, uint64_t window_us, uint64_t now_us, uint32_t *countedp)
{
	struct lb_passive_src *s;
	uint32_t before, total;

	if (countedp)
		*countedp = 0;
	if (threshold == 0)
		return LB_PASSIVE_COUNTED;
	if (!per_caller)
		src = "*"; /* whoever sent it */
	else if (src == NULL || src[0] == '\0')
		src = "?"; /* an edge that does not say: one source */
	before =
	    lb_passive_counted(p, threshold, per_caller, window_us, now_us);
	s = src_slot(p, src, window_us, now_us);
	if (s->n == 0 || now_us - s->first_us > window_us) {
		s->n = 0;
		s->first_us = now_us;
	}
	s->n++;
	total =
	    lb_passive_counted(p, threshold, per_caller, window_us, now_us);
	if (countedp)
		*countedp = total;
	/* on the crossing only: reports that keep coming from the same
	 * callers after a probe said the node is fine ask nothing new */
	if (before < threshold && total >= threshold)
		return LB_PASSIVE_SUSPECT;
	if (per_caller && at_power(s->n, threshold))
		return LB_PASSIVE_ONE_CALLER;
	return LB_PASSIVE_COUNTED;
}

void
lb_passive_reset(struct lb_passive *p)
{
	memset(p, 0, sizeof(*p));
}
