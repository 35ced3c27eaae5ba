#ifndef SIPLB_EDGE_PROXY_H
#define SIPLB_EDGE_PROXY_H

#include <stddef.h>

/*
 * The proxy core (RFC 3261 §16): each message the transport reads is
 * validated, matched to its server transaction (requests) or branch
 * (responses), and handed on: in-dialog requests follow their Route,
 * initial ones their method's rule, responses go upstream or to the
 * failover.  Owns nothing between messages.
 */

struct edge;
struct edge_peer;

/* The transport's receive handler (edge_recv_h). */
void edge_on_message(
    struct edge *e, char *buf, size_t len, const struct edge_peer *src);

#endif
