#ifndef SIPLB_EDGE_RESTORE_H
#define SIPLB_EDGE_RESTORE_H

#include <stdbool.h>
#include <stdint.h>

/*
 * The edge and the dialog store (dialogd), asked without ever blocking
 * the SIP loop (the common async REQ client, one page of 5,000 dialogs at
 * a time, each within store_timeout or the question is dropped):
 *
 * - restore: a restarted edge gets its live dialogs back before it
 *   publishes dialog events or answers a snapshot, so that its first
 *   snapshot tells the schedulers the truth, not an empty table (calls
 *   outlive an edge).  SIP is answered meanwhile; dialogs that end before
 *   the store's answer are not brought back.  Without an answer the edge
 *   goes on with what it has.
 * - reconcile: after the loop stood still for over 2 s, the dialogs the
 *   store says ended since (through any edge) are ended here too, before
 *   the next snapshot is answered; again 3 s and 10 s later.
 *
 * Owns the REQ client, the query in flight, the stall clock and the
 * recheck timer.
 */

struct edge;
struct event;
struct slb_reqc;
struct store_q;

struct edge_store {
	struct slb_reqc *rc; /* NULL: no dialogd configured */
	struct store_q *q; /* the query in flight, NULL: none */
	bool restoring; /* the restore has not finished */
	bool again; /* a reconcile waits for q */
	uint64_t again_since_us;
	int rechecks;
	struct event *recheck_ev;
	uint64_t tick_mono_us, tick_wall_us; /* last check (stall clock) */
	uint64_t stall_since_us; /* wall clock when the last stall began */
};

/* Open the client and start the restore (answers come on the loop). */
int edge_store_open(struct edge *e);
/* Drop the query in flight (its answer is ignored) and close. */
void edge_store_close(struct edge *e);
/* A stall since the last check starts a reconcile; on every tick and
 * before any snapshot is answered. */
void edge_store_check_stall(struct edge *e);
/* True while a restore or reconcile waits for the store: snapshots wait. */
bool edge_store_busy(const struct edge *e);
/* True until the restore finished (or there was none to do). */
bool edge_store_restoring(const struct edge *e);

#endif
