#ifndef SIPLB_EDGE_REPLY_H
#define SIPLB_EDGE_REPLY_H

#include <osipparser2/osip_message.h>
#include <stdbool.h>
#include <stddef.h>

#include "sipmsg.h"

/*
 * Responses the edge sends upstream: relayed ones (counted, and kept as
 * the transaction's last response for retransmitted requests, §17.2.1)
 * and the ones it originates, built with libosip2 from the parsed request
 * or, on the hot path and for what libosip2 cannot parse, from the
 * request's own lines.  Owns nothing; tx->resp is replaced in place.
 */

/* The methods the edge itself answers or relays, for 200 to OPTIONS and
 * 405 (RFC 3261 §20.5). */
#define EDGE_ALLOW "Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER\r\n"

struct edge;
struct edge_tx;
struct edge_peer;

/* Send a response to `to`; with tx, keep it as tx's last response. */
void edge_send_upstream(struct edge *e, struct edge_tx *tx,
    const struct edge_peer *to, const char *buf, size_t len, int code);
/* Reply to req from src with code (reason NULL: the usual one) and extra
 * header lines ("Name: value\r\n"...); counted per code. */
void edge_reply(struct edge *e, struct edge_tx *tx, osip_message_t *req,
    const struct edge_peer *src, int code, const char *reason,
    const char *extra);
/* The same from the request's own lines (§8.2.6.2), those it has; the top
 * Via must carry received/rport already.  False when it has no Via. */
bool edge_reply_raw(struct edge *e, struct edge_tx *tx, const char *buf,
    const struct slb_sipscan *sc, const struct edge_peer *src, int code,
    const char *reason, const char *extra);
/* The 100 Trying of an INVITE transaction (§16.2), from its stored copy. */
void edge_reply_trying(struct edge *e, struct edge_tx *tx);
/* *mp parsed from buf's start line and header fields by libosip2 on first
 * use, never its body (NULL when it cannot be); the caller frees *mp with
 * osip_message_free. */
osip_message_t *
edge_lazy_parse(osip_message_t **mp, const char *buf, size_t len);
/* edge_reply through *mp when it parses with the lines a reply copies,
 * else edge_reply_raw. */
void edge_reply_lazy(struct edge *e, struct edge_tx *tx, osip_message_t **mp,
    const char *buf, size_t len, const struct slb_sipscan *sc,
    const struct edge_peer *src, int code, const char *reason,
    const char *extra);

#endif
