#ifndef SIPLB_EDGE_REP_H
#define SIPLB_EDGE_REP_H

/*
 * The edge's REP: dialog snapshots (the dialog table, with the PUB's
 * epoch and seq) and statistics, plus the replays slb_rep answers from
 * the PUB's ring.  A snapshot request that comes while the dialog store
 * is being asked (restore.c: a restore, or a reconcile after a stall) is
 * left unanswered: the requester's REQ resends it, and the answer then
 * tells the truth.  Owns the REP socket (e->rep).
 */

struct edge;

int edge_rep_open(struct edge *e);
void edge_rep_close(struct edge *e);

#endif
