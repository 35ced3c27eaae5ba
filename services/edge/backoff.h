#ifndef SIPLB_EDGE_BACKOFF_H
#define SIPLB_EDGE_BACKOFF_H

#include <stddef.h>
#include <stdint.h>

/*
 * A node's 503 with Retry-After: the edge fails over as for any 503 and
 * tells the scheduler (through the selection client) how long the node
 * asked to be left alone.  Owns nothing.
 */

struct edge;
struct slb_sipscan;

/* A node's 503 response in buf: report its Retry-After, if any.  Returns
 * the seconds reported, 0 for none. */
uint32_t edge_retry_after_report(struct edge *e, uint32_t node_id,
    const char *buf, const struct slb_sipscan *sc);
/* Retry-After: delta-seconds [comment] *(;param) (RFC 3261 20.33) in
 * v[0..len): 0 and *secs, or EINVAL. */
int edge_retry_after_parse(const char *v, size_t len, uint32_t *secs);

#endif
