#ifndef SIPLB_EDGE_FLOOD_H
#define SIPLB_EDGE_FLOOD_H

#include <stddef.h>

/*
 * Floods from one source, for the edge: the [edge] pike_* keys as the
 * edge's limiter (pike.h), and the transport's receive handler that asks
 * it about every message before the proxy parses anything.  Requests are
 * counted per source address; responses are never counted, and nothing
 * from a node or an allowed address is limited; from a blocked source
 * everything is dropped.  A request over the limit is dropped, answered
 * 503 with Retry-After (never an ACK), or blocks its source, as
 * pike_reaction says.  Owns nothing beyond e->pike.
 */

struct edge;
struct edge_peer;

/* e->pike from e->cfg; EINVAL (logged) on a bad pike_reaction or
 * pike_allow. */
int edge_flood_open(struct edge *e);
void edge_flood_close(struct edge *e);
/* The transport's receive handler (edge_recv_h): the limiter, then the
 * proxy (edge_on_message) for what it lets through. */
void edge_flood_on_message(
    struct edge *e, char *buf, size_t len, const struct edge_peer *src);

#endif
