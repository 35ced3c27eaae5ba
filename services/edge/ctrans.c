#define SLB_LOG_MODULE "ctrans"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edge.h"
#include "etimer.h"

static void branch_fr_cb(evutil_socket_t fd, short what, void *arg);

void
edge_branch_free(struct edge *e, struct edge_branch *b)
{
	if (b == NULL)
		return;
	edge_timer_free(&b->t_retx);
	edge_timer_free(&b->t_fr);
	edge_timer_free(&b->t_end);
	HASH_DEL(e->branches, b);
	e->nbranches--;
	if (b->tx && b->tx->cur == b)
		b->tx->cur = NULL;
	free(b->out);
	free(b);
}

static void
branch_end_cb(evutil_socket_t fd, short what, void *arg)
{
	struct edge_branch *b = arg;

	(void)fd;
	(void)what;
	edge_branch_free(b->e, b);
}

/* Timers A and E: retransmit over UDP, doubling up to T2 (E) (§17.1). */
static void
branch_retx_cb(evutil_socket_t fd, short what, void *arg)
{
	struct edge_branch *b = arg;
	struct edge *e = b->e;

	(void)fd;
	(void)what;
	if (b->state != BR_CALLING &&
	    !(b->state == BR_PROCEEDING && !b->invite))
		return;
	edge_send(e, &b->dst, b->out, b->out_len);
	e->st.retransmissions++;
	b->retx_ms *= 2;
	if (!b->invite && b->retx_ms > e->cfg.t2_ms)
		b->retx_ms = e->cfg.t2_ms;
	if (b->state == BR_PROCEEDING)
		b->retx_ms = e->cfg.t2_ms;
	edge_timer_set(e->base, &b->t_retx, branch_retx_cb, b, b->retx_ms);
}

struct edge_branch *
edge_branch_new(
    struct edge *e, struct edge_tx *tx, const char *method, bool cancel)
{
	struct edge_branch *b = calloc(1, sizeof(*b));

	if (b == NULL)
		return NULL;
	b->e = e;
	b->tx = tx;
	b->cancel = cancel;
	b->invite = strcmp(method, "INVITE") == 0;
	if (!cancel) {
		e->branch_seq++;
		snprintf(b->branch, sizeof(b->branch),
		    EDGE_OUR_BRANCH "%08x%llx", e->branch_salt,
		    (unsigned long long)e->branch_seq);
	}
	return b;
}

int
edge_branch_start(struct edge *e, struct edge_branch *b, const char *method,
    edge_branch_timeout_h timeout_h)
{
	snprintf(b->key, sizeof(b->key), "%s|%s", b->branch, method);
	HASH_ADD_STR(e->branches, key, b);
	e->nbranches++;
	b->state = BR_CALLING;
	b->timeout_h = timeout_h;
	if (edge_send(e, &b->dst, b->out, b->out_len) != 0)
		return EIO;
	e->st.tx_requests++;
	if (b->dst.proto == EP_UDP) {
		b->retx_ms = e->cfg.t1_ms;
		edge_timer_set(
		    e->base, &b->t_retx, branch_retx_cb, b, b->retx_ms);
	}
	/* the no-provisional timer (fr); timer B/F is 64*T1 past it.  A
	 * request relayed towards a phone has no other node to try: B/F */
	edge_timer_set(e->base, &b->t_fr, branch_fr_cb, b,
	    b->tx && !(b->tx->rule && b->tx->rule->kind == RULE_RELAY)
		? e->cfg.fr_ms
		: 64 * e->cfg.t1_ms);
	return 0;
}

/*
 * A CANCEL or an ACK for a branch, built from the request we sent on it
 * (§9.1, §17.1.1.3): same request line target, our Via with the same
 * branch, Route as sent, From, Call-ID, To (with the response's tag for
 * an ACK), CSeq number with the new method.
 */
static int
build_hop_request(const struct edge_branch *b, const char *method,
    const char *to_hdr_line, size_t to_len, struct edge_out *o)
{
	struct slb_sipscan sc;
	const char *sp;
	unsigned long num;
	struct edge_str m;

	if (slb_sip_scan(b->out, b->out_len, &sc) != 0)
		return EBADMSG;
	sp = memchr(b->out, ' ', sc.line_len);
	if (sp == NULL)
		return EBADMSG;
	edge_out_str(o, method);
	edge_out_put(o, sp, sc.line_len - (size_t)(sp - b->out));
	bool via_done = false;

	for (int i = 0; i < sc.nhdrs; i++) {
		const struct slb_sip_hdr *h = &sc.h[i];

		switch (h->type) {
		case SLB_H_VIA:
			/* ours only: the first Via, which we wrote */
			if (!via_done) {
				size_t el = slb_sip_first_elem(
				    b->out + h->voff, h->vlen);
				edge_out_str(o, "Via: ");
				edge_out_put(o, b->out + h->voff, el);
				edge_out_str(o, "\r\n");
				via_done = true;
			}
			break;
		case SLB_H_ROUTE:
		case SLB_H_FROM:
		case SLB_H_CALL_ID:
			edge_out_put(o, b->out + h->off, h->len);
			break;
		case SLB_H_TO:
			if (to_hdr_line)
				edge_out_put(o, to_hdr_line, to_len);
			else
				edge_out_put(o, b->out + h->off, h->len);
			break;
		case SLB_H_CSEQ:
			if (edge_cseq_method(b->out, &sc, &m, &num) != 0)
				return EBADMSG;
			edge_out_fmt(o, "CSeq: %lu %s\r\n", num, method);
			break;
		default: break;
		}
	}
	edge_out_str(o, "Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n");
	return o->failed ? ENOMEM : 0;
}

void
edge_branch_cancel(struct edge *e, struct edge_branch *b)
{
	struct edge_branch *c;
	struct edge_out o = { 0 };

	if (b->cancel || !b->invite || b->state >= BR_COMPLETED)
		return;
	if (build_hop_request(b, "CANCEL", NULL, 0, &o) != 0) {
		free(o.p);
		return;
	}
	c = edge_branch_new(e, NULL, "CANCEL", true);
	if (c == NULL) {
		free(o.p);
		return;
	}
	memcpy(c->branch, b->branch, sizeof(c->branch));
	c->dst = b->dst;
	c->node_id = b->node_id;
	c->out = o.p;
	c->out_len = o.n;
	if (edge_branch_start(e, c, "CANCEL", NULL) != 0)
		edge_branch_free(e, c);
}

static void
edge_branch_ack(struct edge *e, struct edge_branch *b, const char *resp,
    const struct slb_sipscan *rsc)
{
	const struct slb_sip_hdr *to = slb_sip_find(rsc, SLB_H_TO);
	struct edge_out o = { 0 };

	if (build_hop_request(b, "ACK", to ? resp + to->off : NULL,
		to ? to->len : 0, &o) == 0)
		edge_send(e, &b->dst, o.p, o.n);
	free(o.p);
}

/* No provisional above 100 in time (fr), or timer B/F/C: the node is
 * silent; the timeout handler decides what the call does. */
static void
branch_fr_cb(evutil_socket_t fd, short what, void *arg)
{
	struct edge_branch *b = arg;
	struct edge *e = b->e;
	struct edge_tx *tx = b->tx;

	(void)fd;
	(void)what;
	edge_timer_stop(b->t_retx);
	if (tx == NULL || tx->cur != b) {
		edge_branch_free(e, b);
		return;
	}
	if (b->state == BR_PROCEEDING && b->invite)
		edge_branch_cancel(e, b); /* it said 100: tell it to stop */
	tx->cur = NULL;
	b->tx = NULL;
	b->state = BR_TERMINATED;
	/* keep the branch a while to ACK a late final response */
	edge_timer_set(
	    e->base, &b->t_end, branch_end_cb, b, 64 * e->cfg.t1_ms);
	if (b->timeout_h != NULL)
		b->timeout_h(e, tx, b->node_id);
}

bool
edge_branch_ours(struct edge_str branch)
{
	return branch.n >= sizeof(EDGE_OUR_BRANCH) - 1 &&
	    strncmp(branch.p, EDGE_OUR_BRANCH, sizeof(EDGE_OUR_BRANCH) - 1) ==
	    0 &&
	    branch.n < EDGE_BRANCH_MAX;
}

struct edge_branch *
edge_branch_find(
    struct edge *e, struct edge_str branch, struct edge_str method)
{
	char key[EDGE_BRANCH_MAX + 32];
	struct edge_branch *b = NULL;

	if (!edge_branch_ours(branch))
		return NULL;
	snprintf(key, sizeof(key), "%.*s|%.*s", (int)branch.n, branch.p,
	    (int)method.n, method.p);
	HASH_FIND_STR(e->branches, key, b);
	return b;
}

/* A 1xx on b (§17.1.1.2, §17.1.2.2): Proceeding; the first above 100
 * ends fr and starts timer C. */
static enum edge_br_verdict
branch_provisional(struct edge *e, struct edge_branch *b, int code)
{
	struct edge_tx *tx = b->tx;
	bool first = b->state == BR_CALLING;

	b->state = BR_PROCEEDING;
	if (b->invite)
		edge_timer_stop(b->t_retx); /* A stops on any 1xx */
	if (code > 100 && tx && !tx->got_prov) {
		tx->got_prov = true;
		/* fr done: timer C now */
		edge_timer_set(e->base, &b->t_fr, branch_fr_cb, b,
		    b->invite ? e->cfg.timer_c_ms : 64 * e->cfg.t1_ms);
	}
	if (tx && tx->cancelled && first && b->invite)
		edge_branch_cancel(e, b);
	if (tx == NULL || code == 100 || tx->answered)
		return EDGE_BR_ABSORB;
	return EDGE_BR_PROVISIONAL;
}

/* A final on b: Completed (ACK a non-2xx to INVITE hop by hop, §17.1.1.3)
 * or, for a 2xx to INVITE, gone: its ACK is end to end and later 2xx go
 * stateless. */
static void
branch_final(struct edge *e, struct edge_branch *b, int code, const char *buf,
    const struct slb_sipscan *sc)
{
	struct edge_tx *tx = b->tx;

	edge_timer_stop(b->t_retx);
	edge_timer_stop(b->t_fr);
	b->state = BR_COMPLETED;
	if (b->invite && code >= 300) {
		edge_branch_ack(e, b, buf, sc);
		edge_timer_set(e->base, &b->t_end, branch_end_cb, b,
		    b->dst.proto == EP_UDP ? 64 * e->cfg.t1_ms : 0);
	} else if (b->invite) {
		b->tx = NULL;
		if (tx && tx->cur == b)
			tx->cur = NULL;
		edge_branch_free(e, b);
		return;
	} else {
		edge_timer_set(e->base, &b->t_end, branch_end_cb, b,
		    b->dst.proto == EP_UDP ? e->cfg.t4_ms : 0);
	}
	if (tx != NULL && !tx->answered && tx->cur == b) {
		tx->cur = NULL;
		b->tx = NULL;
	}
}

enum edge_br_verdict
edge_branch_response(struct edge *e, struct edge_branch *b, int code,
    const char *buf, const struct slb_sipscan *sc, struct edge_tx **txp)
{
	*txp = b->tx;
	if (b->state >= BR_COMPLETED) {
		/* a retransmitted final: re-ACK a non-2xx */
		if (b->invite && code >= 300)
			edge_branch_ack(e, b, buf, sc);
		return EDGE_BR_ABSORB;
	}
	b->last_code = code;
	if (b->cancel) {
		/* the answer to our CANCEL: nothing to relay */
		if (code >= 200) {
			b->state = BR_COMPLETED;
			edge_timer_stop(b->t_retx);
			edge_timer_stop(b->t_fr);
			edge_timer_set(e->base, &b->t_end, branch_end_cb, b,
			    b->dst.proto == EP_UDP ? e->cfg.t4_ms : 0);
		}
		return EDGE_BR_ABSORB;
	}
	if (code < 200)
		return branch_provisional(e, b, code);
	branch_final(e, b, code, buf, sc);
	return EDGE_BR_FINAL;
}
