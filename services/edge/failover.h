#ifndef SIPLB_EDGE_FAILOVER_H
#define SIPLB_EDGE_FAILOVER_H

#include <stdbool.h>
#include <stdint.h>

/*
 * What happens to a routed request between its server transaction and
 * its branches: ask the selection client for a node, send the branch,
 * and on 408/503, a silent node or a transport error try the next node
 * (up to max_attempts, excluding those tried) or give the caller its
 * final answer.  Dialog events follow each step (CREATED when a node is
 * chosen, TERMINATED when the call fails).  Owns no state beyond the
 * routing fields of edge_tx.
 */

struct edge;
struct edge_tx;
struct edge_peer;

/* Select a node for the initial request tx and send it there. */
void edge_fo_route(struct edge *e, struct edge_tx *tx);
/* Send tx to `to` on a new branch (node_id 0: not one of ours), dropping
 * drop_routes of our Route elements; nid and dk go into Record-Route. */
void
edge_fo_forward(struct edge *e, struct edge_tx *tx, const struct edge_peer *to,
    uint32_t node_id, int drop_routes, uint32_t nid, const char *dk);
/* The node refused (code) or could not be reached: next node or fail. */
void
edge_fo_next(struct edge *e, struct edge_tx *tx, int code, const char *why);
/* True when a final response code to tx means "try another node". */
bool edge_fo_wants(const struct edge_tx *tx, int code);
/* Final failure: the caller gets code (reason NULL: the usual one). */
void
edge_fo_fail(struct edge *e, struct edge_tx *tx, int code, const char *reason);

#endif
