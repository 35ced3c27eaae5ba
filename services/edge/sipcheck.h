#ifndef SIPLB_EDGE_SIPCHECK_H
#define SIPLB_EDGE_SIPCHECK_H

#include <stdbool.h>
#include <stddef.h>

#include "sipbuf.h"

/*
 * Is a request well formed enough to proxy (RFC 3261 §16.3 steps 1, 2
 * and 5, §8.2.2, §18.3, §20.14), judged on the received bytes alone: the
 * lines sipmsg.c indexed, never libosip2.  Lenient where RFC 4475 asks
 * (unusual tokens and escapes, long values, LWS, unknown headers), strict
 * where it says the message is invalid.  Pure functions; no edge context.
 */

/* The answer a check asks for: code 0 means go on. */
struct edge_check {
	int code; /* 400, 416, 420, 505 */
	const char *reason;
	char extra[512]; /* header lines for the reply ("Unsupported: ...") */
};

/* "Method SP Request-URI SP SIP-Version" with single spaces and a token
 * for a method (any token, RFC 3261 §25.1); the views are set on success.
 * 505 for another SIP version, else 400. */
int edge_check_start(const char *buf, const struct slb_sipscan *sc,
    struct edge_str *method, struct edge_str *ruri, struct edge_check *c);
/* The Request-URI: 400 when it is no absoluteURI (or a SIP URI with
 * headers, §19.1.1), 416 for a scheme other than sip and sips. */
int edge_check_ruri(struct edge_str ruri, struct edge_check *c);
/* The header fields every request needs (Via, From, To, Call-ID, CSeq,
 * once each but Via), CSeq matching the method, a top Via with a sent-by
 * and no empty parameter, quotes and <> closed in From and To, and a
 * Content-Length of digits that a datagram holds.  *len is cut to the end
 * of the body that Content-Length gives (extra octets are dropped,
 * §18.3).  *v gets the top Via it checked (for the proxy to keep: the
 * Via is parsed once).  400 on any failure. */
int edge_check_headers(const char *buf, size_t *len,
    const struct slb_sipscan *sc, bool datagram, struct edge_str method,
    struct edge_via *v, struct edge_check *c);
/* Proxy-Require (§16.3 step 5): the edge supports no option tag, so any
 * gets 420 with their list in Unsupported (§20.40). */
int edge_check_proxy_require(
    const char *buf, const struct slb_sipscan *sc, struct edge_check *c);

#endif
