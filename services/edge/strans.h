#ifndef SIPLB_EDGE_STRANS_H
#define SIPLB_EDGE_STRANS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uthash.h>

#include "config.h"
#include "dlgtab.h"
#include "sipbuf.h"
#include "transport.h"

/*
 * Server transactions (RFC 3261 §17.2): keyed by (branch, sent-by,
 * method) per §17.2.3, or the RFC 2543 fields without a magic cookie.
 * A transaction owns its stored request and last response and its timers
 * G, H, I, J; it is in e->txs from edge_tx_new until edge_tx_free, which
 * its end timer calls.  What the proxy core does with it (routing fields
 * below) belongs to proxy.c and failover.c.
 */

#define EDGE_KEY_MAX 200

enum { TX_PROCEEDING = 1, TX_COMPLETED, TX_CONFIRMED, TX_TERMINATED };

struct edge;
struct edge_tx;
struct edge_branch;
struct sel_wait;

/* The selection client's answer for tx: node_id and its URI, or node_id 0
 * with the code and reason the caller should get (selc.c). */
typedef void (*edge_sel_done_h)(struct edge *e, struct edge_tx *tx,
    uint32_t node_id, const char *uri, int code, const char *reason);

struct edge_tx {
	char key[EDGE_KEY_MAX]; /* branch|sent-by|method */
	struct edge *e;
	struct edge_peer src;
	char method[EDGE_METHOD_MAX];
	bool invite;
	int state;
	char *req; /* the request as received (edited Via) */
	size_t req_len;
	char *resp; /* last response sent upstream */
	size_t resp_len;
	int resp_code;
	struct event *t_retx; /* G */
	struct event *t_end; /* H / I / J / linger */
	int retx_ms;

	/* routing (proxy.c, failover.c) */
	const struct edge_rule *rule;
	bool initial; /* no To tag: selection and RR */
	int drop_routes; /* our Route elements on top */
	uint32_t exclude[EDGE_MAX_ATTEMPTS];
	int nexclude;
	int attempts;
	struct edge_branch *cur; /* current client transaction */
	bool got_prov; /* a provisional above 100 came */
	bool cancelled;
	bool answered; /* a final response went upstream */
	char dkey[EDGE_DLG_KEY_SIZE]; /* dialog key, "" = no dialog */
	char call_id[128];
	char from_tag[64];
	bool from_node; /* request came from one of our nodes */

	/* selection (selc.c) */
	struct sel_wait *sel_wait; /* the batch this tx waits in */
	size_t sel_slot;
	bool sel_queued; /* in the next batch, not yet sent */
	edge_sel_done_h sel_done;

	UT_hash_handle hh;
};

/* The §17.2.3 key of a request (method: the INVITE's for ACK and
 * CANCEL) into key; one longer than len is hashed to fit (ENOMEM when
 * that fails). */
int edge_tx_key(char *key, size_t len, const char *buf,
    const struct slb_sipscan *sc, const struct edge_via *v,
    struct edge_str method);
struct edge_tx *edge_tx_find(struct edge *e, const char *key);
/* A new server transaction for the request in buf, stored with received
 * and rport in its top Via (RFC 3581), added to e->txs under key, state
 * Proceeding.  NULL when out of memory or the Via cannot be edited. */
struct edge_tx *edge_tx_new(struct edge *e, const char *key,
    const char *method, const char *buf, size_t len,
    const struct slb_sipscan *sc, const struct edge_peer *src);
/* A request matching tx: a retransmission gets tx's last response again,
 * the ACK of our non-2xx confirms tx (§17.2.1).  False for the ACK of a
 * 2xx, which the caller routes. */
bool edge_tx_absorb(struct edge *e, struct edge_tx *tx, const char *method);
/* tx sent a final response upstream: wind it down (§17.2, RFC 6026). */
void edge_tx_completed(struct edge *e, struct edge_tx *tx, int code);
/* Unlink and free tx (NULL-safe); its branch finishes on its own. */
void edge_tx_free(struct edge *e, struct edge_tx *tx);

#endif
