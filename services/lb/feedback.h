#ifndef SIPLB_LB_FEEDBACK_H
#define SIPLB_LB_FEEDBACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lb.h"

/*
 * What a node says about itself, on top of siplb's own count:
 * - a 503 with Retry-After backs it off (no new calls) for that long,
 *   bounded by backoff_max, without marking it down;
 * - a drain keeps new calls away while its dialogs go on;
 * - FreeSWITCH's ESL figures (HEARTBEAT: Session-Count, Max-Sessions,
 *   Idle-CPU, Session-Per-Sec) correct the load as the group's load mode
 *   says: counted (siplb's count only), reported (the node's sessions and
 *   capacity) or reconciled (siplb's count, set to the node's when they
 *   drift).  Figures older than two HEARTBEAT intervals are stale: the
 *   node is counted again until they come back.
 * Everything ends in three fields node_fit reads: held, fb_extra, fb_cap.
 */

enum lb_load_mode {
	LB_LOAD_COUNTED = 0,
	LB_LOAD_REPORTED = 1,
	LB_LOAD_RECONCILED = 2,
};

#define LB_FB_MAX_GROUPS 64

struct lb_fb_cfg {
	uint64_t backoff_max_us; /* bound on Retry-After */
	enum lb_load_mode mode; /* groups not listed */
	uint32_t groups[LB_FB_MAX_GROUPS];
	uint8_t modes[LB_FB_MAX_GROUPS];
	int ngroups;
	uint32_t sessions_per_call; /* FreeSWITCH sessions one call holds */
	uint32_t reconcile_min; /* smaller drifts are left alone */
};

struct lb_fb_stats {
	uint64_t backoffs; /* 503 Retry-After applied */
	uint64_t reports; /* ESL figures received */
	uint64_t stale; /* nodes whose figures went stale */
	uint64_t sps_holds; /* per-second budget spent */
	uint64_t corrections; /* load corrected to the node's */
};

/* "counted", "reported", "reconciled", or a comma-separated list of
 * them and GROUP=MODE ("counted, 1=reported, 2=reconciled"): a bare mode
 * is the default.  0 or EINVAL with err. */
int lb_fb_modes_parse(
    const char *s, struct lb_fb_cfg *c, char *err, size_t errlen);
enum lb_load_mode lb_fb_mode(const struct lb_fb_cfg *c, uint32_t group);
const char *lb_load_mode_name(enum lb_load_mode m);

/* A 503 with Retry-After: secs from the node; returns the ms applied. */
uint64_t lb_fb_backoff(const struct lb_fb_cfg *c, struct lb_node *n,
    uint32_t retry_after_s, uint64_t now_us, struct lb_fb_stats *st);

/* New figures for n (f->at_us already set to when they were taken). */
void lb_fb_apply(const struct lb_fb_cfg *c, struct lb_node *n,
    const struct lb_fb_fig *f, uint64_t now_us, struct lb_fb_stats *st);

/* Recompute held, fb_extra and fb_cap at now: backoffs end, figures go
 * stale, a new second gives a new budget.  True when held or the stale
 * state changed (publish the node). */
bool lb_fb_refresh(const struct lb_fb_cfg *c, struct lb_node *n,
    uint64_t now_us, struct lb_fb_stats *st);

/* n was chosen for a new call: spend one of its per-second budget. */
void lb_fb_selected(const struct lb_fb_cfg *c, struct lb_node *n,
    uint64_t now_us, struct lb_fb_stats *st);

/* Remaining backoff in ms (0: none). */
uint32_t lb_fb_backoff_left_ms(const struct lb_node *n, uint64_t now_us);

/* A reload keeps drains, backoffs and figures of nodes with the same id
 * and uri. */
void lb_fb_inherit(struct lb_table *newt, const struct lb_table *old);

#endif
