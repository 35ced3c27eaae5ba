#ifndef SIPLB_EDGE_SELC_H
#define SIPLB_EDGE_SELC_H

#include <nng/nng.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "strans.h"

/*
 * The selection client: asks the scheduler(s) which node takes a call.
 * Selections asked during one loop turn go as one SelectBatch (or at once
 * when SELECT_BATCH are queued); each transaction hears its answer through
 * the handler it gave edge_select, on the loop.  A scheduler that does
 * not answer within sched_timeout is bypassed: the call selects from the
 * cached node table (nodecache.c) and, for a second, so do the next ones.
 *
 * Why not the common slb_reqc: one raw REQ socket dials every scheduler
 * address (nng spreads the requests over those connected), and it is
 * reopened when a batch times out, so that requests queued for a dead
 * scheduler are dropped rather than delivered (and their load reserved)
 * when it returns.  slb_reqc dials a single address.
 *
 * Owns the socket, the batches in flight and the queue; a transaction
 * waiting here is only pointed at (edge_sel_forget before freeing it).
 */

/* Selections per scheduler request at most (the scheduler takes 4096). */
#define EDGE_SELECT_BATCH 256

struct edge;
struct edge_tx;
struct event;
struct sel_wait;

struct edge_selc {
	nng_socket sock; /* raw REQ: many requests in flight */
	struct event *ev;
	uint32_t seq;
	struct sel_wait *waits; /* batches in flight, by request id */
	struct event *flush_ev; /* after this loop turn's I/O */
	struct edge_tx **q; /* the next batch (NULL: gone) */
	size_t nq, capq;
	bool away; /* no answer: select from the cache */
	uint64_t probe_us; /* the last batch went then */
	uint64_t next_probe_us; /* ask the scheduler again then */
};

/* Dial [edge] scheduler; EINVAL without an address. */
int edge_selc_open(struct edge *e);
void edge_selc_close(struct edge *e);
/* Ask for the next node of tx (its rule, excluded nodes, dialog key);
 * done runs once, later, on the loop (or at once from the cache). */
void edge_select(struct edge *e, struct edge_tx *tx, edge_sel_done_h done);
/* tx no longer waits (freed, or answered meanwhile): its answer is
 * dropped. */
void edge_sel_forget(struct edge *e, struct edge_tx *tx);
/* Tell the scheduler node_id failed with code (passive health) on a
 * request from `from` (the caller; its address goes in the report). */
void edge_sel_report_failure(
    struct edge *e, uint32_t node_id, int code, const struct edge_peer *from);
/* The same with the Retry-After of a node's 503 (backoff.c): the
 * scheduler backs the node off instead of counting a failure. */
void edge_sel_report_node(
    struct edge *e, uint32_t node_id, int code, uint32_t retry_after_s);

#endif
