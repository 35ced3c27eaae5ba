#define SLB_LOG_MODULE "strans"
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edge.h"
#include "etimer.h"
#include "route.h"

void
edge_tx_free(struct edge *e, struct edge_tx *tx)
{
	if (tx == NULL)
		return;
	edge_sel_forget(e, tx);
	edge_timer_free(&tx->t_retx);
	edge_timer_free(&tx->t_end);
	if (tx->cur)
		tx->cur->tx = NULL; /* the branch finishes on its own */
	HASH_DEL(e->txs, tx);
	e->ntx--;
	free(tx->req);
	free(tx->resp);
	free(tx);
}

static void
tx_end_cb(evutil_socket_t fd, short what, void *arg)
{
	struct edge_tx *tx = arg;

	(void)fd;
	(void)what;
	edge_tx_free(tx->e, tx);
}

/* Timer G: retransmit a final non-2xx to INVITE until the ACK (UDP). */
static void
tx_retx_cb(evutil_socket_t fd, short what, void *arg)
{
	struct edge_tx *tx = arg;
	struct edge *e = tx->e;

	(void)fd;
	(void)what;
	if (tx->state != TX_COMPLETED || tx->resp == NULL)
		return;
	edge_send(e, &tx->src, tx->resp, tx->resp_len);
	e->st.retransmissions++;
	tx->retx_ms =
	    tx->retx_ms * 2 < e->cfg.t2_ms ? tx->retx_ms * 2 : e->cfg.t2_ms;
	edge_timer_set(e->base, &tx->t_retx, tx_retx_cb, tx, tx->retx_ms);
}

/* The server transaction sent a final response: wind it down (§17.2). */
void
edge_tx_completed(struct edge *e, struct edge_tx *tx, int code)
{
	bool udp = tx->src.proto == EP_UDP;

	tx->answered = true;
	free(tx->req);
	tx->req = NULL;
	if (tx->invite && code >= 300) {
		tx->state = TX_COMPLETED;
		if (udp) {
			tx->retx_ms = e->cfg.t1_ms;
			edge_timer_set(
			    e->base, &tx->t_retx, tx_retx_cb, tx, tx->retx_ms);
		}
		/* timer H: give up waiting for the ACK */
		edge_timer_set(
		    e->base, &tx->t_end, tx_end_cb, tx, 64 * e->cfg.t1_ms);
		return;
	}
	/* 2xx to INVITE (RFC 6026 "Accepted") and non-INVITE "Completed":
	 * linger to absorb retransmitted requests (timer J, 64*T1 on UDP).
	 * An accepted INVITE is absorbed silently (the UAS retransmits its
	 * 2xx itself), so its copy of the 2xx is not kept. */
	tx->state = TX_TERMINATED;
	if (tx->invite) {
		free(tx->resp);
		tx->resp = NULL;
	}
	/* 64*T1 would keep 32 s of transactions (hundreds of MB at a few
	 * thousand calls/s); retransmissions stop long before, so linger for
	 * tx_linger like Kamailio's wait timer (5 s) */
	edge_timer_set(e->base, &tx->t_end, tx_end_cb, tx,
	    udp || tx->invite ? e->cfg.tx_linger_ms : 0);
}

/* key from fmt; a key longer than len (RFC 4475 §3.1.1.7: fields of
 * hundreds of octets are valid) becomes the FNV-1a hash of the whole. */
__attribute__((format(printf, 3, 4))) static int
key_fmt(char *key, size_t len, const char *fmt, ...)
{
	va_list ap;
	char *big;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(key, len, fmt, ap);
	va_end(ap);
	if (n < 0)
		return EINVAL;
	if ((size_t)n < len)
		return 0;
	big = malloc((size_t)n + 1);
	if (big == NULL)
		return ENOMEM;
	va_start(ap, fmt);
	vsnprintf(big, (size_t)n + 1, fmt, ap);
	va_end(ap);
	snprintf(key, len, "~%016llx.%d",
	    (unsigned long long)edge_fnv64(big, (size_t)n, "", 0), n);
	free(big);
	return 0;
}

int
edge_tx_key(char *key, size_t len, const char *buf,
    const struct slb_sipscan *sc, const struct edge_via *v,
    struct edge_str method)
{
	if (v->branch.n > 7 && strncmp(v->branch.p, EDGE_BRANCH_MAGIC, 7) == 0)
		return key_fmt(key, len, "%.*s|%.*s|%.*s", (int)v->branch.n,
		    v->branch.p, (int)v->sent_by.n, v->sent_by.p,
		    (int)method.n, method.p);
	/* RFC 2543 peers: Call-ID, CSeq number, From tag, sent-by */
	struct edge_str cid = edge_hval(buf, slb_sip_find(sc, SLB_H_CALL_ID));
	struct edge_str ftag = edge_tag_of(buf, slb_sip_find(sc, SLB_H_FROM));
	struct edge_str m;
	unsigned long num = 0;

	edge_cseq_method(buf, sc, &m, &num);
	return key_fmt(key, len, "2543|%.*s|%lu|%.*s|%.*s|%.*s", (int)cid.n,
	    cid.p ? cid.p : "", num, (int)ftag.n, ftag.p ? ftag.p : "",
	    (int)v->sent_by.n, v->sent_by.p, (int)method.n, method.p);
}

struct edge_tx *
edge_tx_find(struct edge *e, const char *key)
{
	struct edge_tx *tx = NULL;

	HASH_FIND_STR(e->txs, key, tx);
	return tx;
}

struct edge_tx *
edge_tx_new(struct edge *e, const char *key, const char *method,
    const char *buf, size_t len, const struct slb_sipscan *sc,
    const struct edge_peer *src)
{
	struct edge_tx *tx = calloc(1, sizeof(*tx));
	struct edge_out fixed = { 0 };

	if (tx == NULL)
		return NULL;
	if (edge_fix_via(buf, len, sc, src, &fixed) != 0) {
		free(fixed.p);
		free(tx);
		return NULL;
	}
	tx->e = e;
	snprintf(tx->key, sizeof(tx->key), "%s", key);
	tx->src = *src;
	snprintf(tx->method, sizeof(tx->method), "%s", method);
	tx->invite = strcmp(method, "INVITE") == 0;
	tx->state = TX_PROCEEDING;
	edge_copy_str(tx->call_id, sizeof(tx->call_id),
	    edge_hval(buf, slb_sip_find(sc, SLB_H_CALL_ID)));
	edge_copy_str(tx->from_tag, sizeof(tx->from_tag),
	    edge_tag_of(buf, slb_sip_find(sc, SLB_H_FROM)));
	tx->req = fixed.p;
	tx->req_len = fixed.n;
	HASH_ADD_STR(e->txs, key, tx);
	e->ntx++;
	return tx;
}

bool
edge_tx_absorb(struct edge *e, struct edge_tx *tx, const char *method)
{
	if (strcmp(method, "ACK") != 0) {
		if (tx->resp != NULL)
			edge_send(e, &tx->src, tx->resp, tx->resp_len);
		e->st.retransmissions++;
		return true;
	}
	if (tx->state == TX_COMPLETED) {
		/* ACK for our non-2xx: absorbed (§17.2.1) */
		tx->state = TX_CONFIRMED;
		edge_timer_stop(tx->t_retx);
		edge_timer_set(e->base, &tx->t_end, tx_end_cb, tx,
		    tx->src.proto == EP_UDP ? e->cfg.t4_ms : 0);
		return true;
	}
	/* ACK for a 2xx with the INVITE's branch (RFC 2543 style): routed
	 * like any 2xx ACK */
	return false;
}
