#ifndef SIPLB_LB_FEEDBACK_PB_H
#define SIPLB_LB_FEEDBACK_PB_H

#include "feedback.h"
#include "msg.h"

/* Node feedback fields to and from protobuf (sched_pb.c calls these).
 * copy holds the strings pn points at; pf is pn->feedback's storage. */
void lb_fb_to_pb(const struct lb_node *n, const struct lb_node *copy,
    Siplb__V1__Node *pn, Siplb__V1__NodeFeedback *pf, uint64_t now_us);
void
lb_fb_from_pb(const Siplb__V1__Node *pn, struct lb_node *n, uint64_t now_us);
/* A prober's NodeFeedback into figures taken age_ms before now. */
int lb_fb_fig_from_pb(
    const Siplb__V1__NodeFeedback *pf, struct lb_fb_fig *f, uint64_t now_us);

#endif
