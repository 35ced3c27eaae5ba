#ifndef SIPLB_EDGE_CTRANS_H
#define SIPLB_EDGE_CTRANS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uthash.h>

#include "sipbuf.h"
#include "transport.h"

/*
 * Client transactions, one per attempt towards one next hop (RFC 3261
 * §17.1): our branch, the bytes sent (retransmitted by timers A/E), the
 * no-provisional timer (fr) then C/B/F, and the CANCEL and ACK we send
 * hop by hop.  A branch is in e->branches from edge_branch_start until
 * edge_branch_free; it points at its server transaction while that waits
 * for it (tx->cur) and outlives it to absorb late responses.  What a
 * silent hop means for the call is the timeout handler's business.
 */

#define EDGE_BRANCH_MAX 64
/* RFC 3261 §8.1.1.7, and the prefix of every branch we generate */
#define EDGE_BRANCH_MAGIC "z9hG4bK"
#define EDGE_OUR_BRANCH "z9hG4bKslb"

enum { BR_CALLING = 1, BR_PROCEEDING, BR_COMPLETED, BR_TERMINATED };

struct edge;
struct edge_tx;

/* b's hop stayed silent (fr, or timer C after a provisional); b has left
 * tx already.  node_id is the node b went to (0: none). */
typedef void (*edge_branch_timeout_h)(
    struct edge *e, struct edge_tx *tx, uint32_t node_id);

struct edge_branch {
	char
	    key[EDGE_BRANCH_MAX + EDGE_METHOD_MAX]; /* branch + "|" + method */
	char branch[EDGE_BRANCH_MAX];
	struct edge_tx *tx; /* NULL once the tx moved on or ended */
	struct edge *e;
	struct edge_peer dst;
	uint32_t node_id;
	bool invite;
	bool cancel; /* this is a CANCEL we originated */
	int state; /* BR_CALLING ... */
	int last_code;
	char *out; /* bytes sent, for retransmission */
	size_t out_len;
	int retx_ms;
	edge_branch_timeout_h timeout_h;
	struct event *t_retx; /* A / E */
	struct event *t_fr; /* fr (no provisional) / C / B / F */
	struct event *t_end; /* D / K: absorb retransmissions */
	UT_hash_handle hh;
};

/* What the proxy core does with a response its branch took. */
enum edge_br_verdict {
	EDGE_BR_ABSORB, /* nothing more: retransmission, 100, CANCEL's */
	EDGE_BR_PROVISIONAL, /* relay it upstream (tx is live) */
	EDGE_BR_FINAL, /* a final for *txp (may be NULL or answered) */
};

/* A branch for tx (NULL for a CANCEL of ours) with a new branch id unless
 * cancel; the caller sets dst, node_id and out (taken) before start. */
struct edge_branch *edge_branch_new(
    struct edge *e, struct edge_tx *tx, const char *method, bool cancel);
/* Add b to e->branches, send it, arm A/E and fr; timeout_h (NULL: just
 * end) hears of a silent hop.  EIO when the first send failed (b stays
 * the caller's to free). */
int edge_branch_start(struct edge *e, struct edge_branch *b,
    const char *method, edge_branch_timeout_h timeout_h);
/* Unlink and free b (NULL-safe), detaching it from its tx. */
void edge_branch_free(struct edge *e, struct edge_branch *b);
/* A branch id we generate (EDGE_OUR_BRANCH...), of a size we keep. */
bool edge_branch_ours(struct edge_str branch);
/* The branch a response's top Via names, NULL when unknown. */
struct edge_branch *edge_branch_find(
    struct edge *e, struct edge_str branch, struct edge_str method);
/* CANCEL b's INVITE once it is proceeding (§9.1). */
void edge_branch_cancel(struct edge *e, struct edge_branch *b);
/* Run b's state machine for a response with code (§17.1.1, §17.1.2);
 * *txp is the transaction it answers. b may be freed. */
enum edge_br_verdict
edge_branch_response(struct edge *e, struct edge_branch *b, int code,
    const char *buf, const struct slb_sipscan *sc, struct edge_tx **txp);

#endif
