#ifndef SIPLB_EDGE_ROUTE_H
#define SIPLB_EDGE_ROUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dlgtab.h"
#include "sipbuf.h"

/*
 * Routing a request by its headers and editing it on the way (RFC 3261
 * §16.4, §16.6, §16.12): which Route elements name us and what our
 * Record-Route parameters (nid, dk) carry, the next hop, the relayed
 * request (our Via, Record-Route, Max-Forwards, X-AUTH-*, Path), received
 * and rport (RFC 3581), and responses sent back by their Via.  Pure
 * functions of the message and e's sockets and config; owns nothing (the
 * edge_out buffers are the caller's).
 */

struct edge;
struct edge_peer;

/* A URI naming this edge: its advertised address or a bound one. */
bool edge_is_us(struct edge *e, const char *uri, size_t n);

/* Route values at the top that name us (at most two: double RR). */
struct edge_our_routes {
	int count; /* how many elements to drop */
	uint32_t nid; /* ;nid= of our Record-Route: the node */
	char dk[EDGE_DLG_KEY_SIZE]; /* ;dk=: the dialog key */
	bool have_nid;
};

void edge_our_routes(struct edge *e, const char *buf,
    const struct slb_sipscan *sc, struct edge_our_routes *r);
/* The Route element after the first `skip` (the next hop), if any. */
struct edge_str
edge_next_route(const char *buf, const struct slb_sipscan *sc, int skip);

/* How a request is relayed. */
struct edge_fwd {
	const struct edge_peer *to;
	int drop_routes; /* our Route elements to remove */
	bool record_route;
	const char *branch;
	bool from_node;
	bool is_register;
	const char *ftag;
	uint32_t nid;
	const char *dk;
	const struct edge_peer *src;
};

/* The relayed request into o (§16.6). ENOMEM. */
int edge_build_forward(struct edge *e, const char *buf, size_t len,
    const struct slb_sipscan *sc, const struct edge_fwd *f,
    struct edge_out *o);
/* buf with received= and rport= in its top Via (RFC 3581) into o. */
int edge_fix_via(const char *buf, size_t len, const struct slb_sipscan *sc,
    const struct edge_peer *src, struct edge_out *o);
/* A response without our top Via element into o. */
int edge_strip_top_via(const char *buf, size_t len,
    const struct slb_sipscan *sc, struct edge_out *o);
/* A response with no transaction (2xx retransmissions to INVITE): pop our
 * Via and send it where the next Via says (received/rport first). */
void edge_relay_stateless(struct edge *e, const char *buf, size_t len,
    const struct slb_sipscan *sc, int code);

#endif
