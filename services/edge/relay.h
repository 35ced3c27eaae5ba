#ifndef SIPLB_EDGE_RELAY_H
#define SIPLB_EDGE_RELAY_H

#include <stdbool.h>

#include "sipbuf.h"

/*
 * Requests a node sends towards a phone (ARCHITECTURE.md "Towards
 * phones"): FreeSWITCH follows the Path the edge added at REGISTER (RFC
 * 3327: our Route on top, the phone's Contact as Request-URI), or calls a
 * registered user through the edge.  Such an initial request takes
 * [edge] route_from_node, never its method's rule: it goes to its next
 * Route or Request-URI and is never selected again (the node that sent it
 * has the call; another node has no such contact).  Record-routed with
 * the sending node's id and the dialog key, so its ACK, re-INVITEs and
 * BYE flow both ways, and its dialog counts on that node.  Owns nothing.
 */

struct edge;
struct edge_tx;
struct edge_peer;
struct lb_node;

/* The node a request comes from: the node at its source address and
 * port, or, for a node that opened a connection from a port of its own
 * choosing (TCP), the node its top Via's sent-by names when the source
 * address is that node's.  NULL: not from one of our nodes. */
const struct lb_node *
edge_relay_source(struct edge *e, const struct edge_peer *src, const char *buf,
    const struct slb_sipscan *sc);
/* Relay the initial request of tx from node `from` to target (its next
 * Route after ours, else its Request-URI) under tx->rule (RULE_RELAY):
 * 404 when the target is no address or names this edge; an INVITE's
 * dialog (tx->dkey) is CREATED on `from` with the rule's resources. */
void edge_relay(struct edge *e, struct edge_tx *tx, const struct lb_node *from,
    struct edge_str target);

#endif
