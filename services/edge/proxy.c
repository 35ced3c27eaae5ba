#define SLB_LOG_MODULE "proxy"
#include <ctype.h>
#include <errno.h>
#include <osipparser2/osip_message.h>
#include <osipparser2/osip_parser.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "backoff.h"
#include "edge.h"
#include "failover.h"
#include "proxy.h"
#include "relay.h"
#include "reply.h"
#include "route.h"
#include "sipcheck.h"

/* A request as validation found it, for the steps after. */
struct req {
	char *buf;
	size_t len;
	const struct slb_sipscan *sc;
	const struct edge_peer *src;
	osip_message_t *m; /* parsed on demand (edge_lazy_parse) */
	struct edge_via v;
	struct edge_str totag, ruri;
	char method[EDGE_METHOD_MAX];
	char key[EDGE_KEY_MAX]; /* its server transaction's */
};

static bool
is_method(const struct req *rq, const char *name)
{
	return strcmp(rq->method, name) == 0;
}

static void
req_reply(struct edge *e, struct req *rq, int code, const char *reason,
    const char *extra)
{
	edge_reply_lazy(e, NULL, &rq->m, rq->buf, rq->len, rq->sc, rq->src,
	    code, reason, extra);
}

/* ------------------------------------------------------------ validate */

static void
on_cancel(struct edge *e, struct req *rq)
{
	char key[EDGE_KEY_MAX];
	struct edge_tx *tx;
	struct edge_str inv = { "INVITE", 6 };

	if (edge_tx_key(key, sizeof(key), rq->buf, rq->sc, &rq->v, inv) != 0 ||
	    (tx = edge_tx_find(e, key)) == NULL) {
		req_reply(e, rq, 481, NULL, NULL);
		return;
	}
	req_reply(e, rq, 200, NULL, NULL);
	if (tx->answered || tx->cancelled)
		return;
	tx->cancelled = true;
	if (tx->cur == NULL) {
		/* still choosing a node: the answer will find it cancelled
		 * (and release the load the scheduler reserved for it) */
		if (tx->sel_wait == NULL && !tx->sel_queued)
			edge_fo_fail(e, tx, 487, NULL);
		return;
	}
	if (tx->cur->state == BR_PROCEEDING)
		edge_branch_cancel(e, tx->cur);
	/* else: sent once a provisional arrives (§9.1) */
}

/* Max-Forwards (§16.3 step 3): false when the request was answered. */
static bool
req_max_forwards(struct edge *e, struct req *rq)
{
	const struct slb_sip_hdr *mfh =
	    slb_sip_find(rq->sc, SLB_H_MAX_FORWARDS);
	char tmp[12];
	long mf = -1;

	if (mfh == NULL)
		return true;
	if (mfh->vlen > 0 && mfh->vlen < sizeof(tmp)) {
		memcpy(tmp, rq->buf + mfh->voff, mfh->vlen);
		tmp[mfh->vlen] = '\0';
		slb_parse_long(tmp, 0, 255, &mf);
	}
	if (mf < 0) {
		req_reply(e, rq, 400, "Bad Max-Forwards", NULL);
		return false;
	}
	if (mf == 0 && !is_method(rq, "ACK")) {
		if (is_method(rq, "OPTIONS") &&
		    edge_is_us(e, rq->ruri.p, rq->ruri.n))
			req_reply(e, rq, 200, NULL, EDGE_ALLOW);
		else
			req_reply(e, rq, 483, NULL, NULL);
		return false;
	}
	return true;
}

/* A request the checks refused: answered from its own lines when it has
 * a Via (an ACK never is, §17.2.3), else dropped and counted. */
static void
req_refuse(struct edge *e, struct req *rq, const struct edge_check *c)
{
	bool ack = rq->sc->line_len > 4 && memcmp(rq->buf, "ACK ", 4) == 0;

	if (ack ||
	    !edge_reply_raw(e, NULL, rq->buf, rq->sc, rq->src, c->code,
		c->reason, c->extra[0] ? c->extra : NULL))
		e->st.drop_parse++;
}

/*
 * Is this a request we can handle (§16.3 steps 1 to 5)?  Judged on the
 * received lines (sipcheck.c); libosip2 parses nothing here.  False when
 * the request was answered or dropped.
 */
static bool
req_validate(struct edge *e, struct req *rq)
{
	const char *buf = rq->buf;
	const struct slb_sipscan *sc = rq->sc;
	struct edge_check c;
	struct edge_str rm;
	bool ack;

	if (edge_check_start(buf, sc, &rm, &rq->ruri, &c) != 0 ||
	    edge_check_headers(buf, &rq->len, sc, rq->src->proto == EP_UDP, rm,
		&rq->v, &c) != 0) {
		req_refuse(e, rq, &c);
		return false;
	}
	rq->buf[rq->len] = '\0'; /* octets past Content-Length dropped */
	rq->totag = edge_tag_of(buf, slb_sip_find(sc, SLB_H_TO));
	if (rm.n >= sizeof(rq->method)) {
		req_reply(e, rq, 405, NULL, EDGE_ALLOW);
		return false;
	}
	memcpy(rq->method, rm.p, rm.n);
	rq->method[rm.n] = '\0';
	ack = is_method(rq, "ACK");
	if (!ack && edge_check_ruri(rq->ruri, &c) != 0) {
		req_reply(e, rq, c.code, c.reason, NULL);
		return false;
	}
	if (!req_max_forwards(e, rq))
		return false;
	if (!ack && !is_method(rq, "CANCEL") &&
	    edge_check_proxy_require(buf, sc, &c) != 0) {
		req_reply(e, rq, c.code, c.reason, c.extra);
		return false;
	}
	return true;
}

/* ------------------------------------------------------------ in-dialog */

/* A 2xx ACK: its own transaction, forwarded as is (§17.1.1.3). */
static void
req_ack_2xx(struct edge *e, struct req *rq, const struct edge_peer *to,
    int drop_routes, bool from_node)
{
	struct edge_out fixed = { 0 }, o = { 0 };
	struct slb_sipscan fsc;
	struct edge_fwd f = { 0 };
	char br[EDGE_BRANCH_MAX];

	snprintf(br, sizeof(br), EDGE_OUR_BRANCH "a%016llx",
	    (unsigned long long)edge_fnv64(rq->v.branch.p, rq->v.branch.n,
		rq->v.sent_by.p, rq->v.sent_by.n));
	if (edge_fix_via(rq->buf, rq->len, rq->sc, rq->src, &fixed) == 0 &&
	    slb_sip_scan(fixed.p, fixed.n, &fsc) == 0) {
		f.to = to;
		f.src = rq->src;
		f.branch = br;
		f.drop_routes = drop_routes;
		f.from_node = from_node;
		if (edge_build_forward(e, fixed.p, fixed.n, &fsc, &f, &o) ==
			0 &&
		    edge_send(e, to, o.p, o.n) == 0)
			e->st.tx_requests++;
	}
	free(fixed.p);
	free(o.p);
}

/* The next hop of an in-dialog request, by its Route or Request-URI; false
 * (answered or dropped) when it has none we may use. */
static bool
req_next_hop(struct edge *e, struct req *rq, const struct edge_our_routes *r,
    struct edge_peer *to)
{
	struct edge_str next = edge_next_route(rq->buf, rq->sc, r->count);
	bool ack = is_method(rq, "ACK");
	int rc;

	if (r->count == 0) {
		if (ack)
			e->st.drop_no_tx++; /* stray ACK */
		else
			req_reply(e, rq, 403, "Not Routed Through Us", NULL);
		return false;
	}
	if (next.p != NULL)
		rc = edge_uri_peer(e, next.p, next.n, to);
	else
		rc = edge_uri_peer(e, rq->ruri.p, rq->ruri.n, to);
	if (rc != 0) {
		if (!ack)
			req_reply(e, rq, 404, "Next Hop Unknown", NULL);
		return false;
	}
	return true;
}

/* Loose routing (§16.4, §16.12): an in-dialog request (or any ACK) goes
 * where its Route says, as long as one end is one of our nodes. */
static void
req_in_dialog(struct edge *e, struct req *rq)
{
	const struct lb_node *src_node, *dst_node;
	struct edge_our_routes r;
	struct edge_peer to;
	struct edge_tx *tx;

	edge_our_routes(e, rq->buf, rq->sc, &r);
	if (!req_next_hop(e, rq, &r, &to))
		return;
	/* never an open relay: one end must be one of our nodes */
	src_node = edge_relay_source(e, rq->src, rq->buf, rq->sc);
	dst_node = edge_node_by_addr(e, &to.ss, true);
	if (src_node == NULL && dst_node == NULL) {
		if (is_method(rq, "ACK"))
			e->st.drop_loop++;
		else if (!e->nodes.have)
			/* no node table yet (just started): we cannot tell,
			 * so not a final no */
			req_reply(e, rq, 503, "Node Table Not Loaded Yet",
			    "Retry-After: 1\r\n");
		else
			req_reply(e, rq, 403, "Target Is Not Ours", NULL);
		return;
	}
	if (is_method(rq, "BYE") && r.dk[0])
		edge_dlg_event(e, r.dk, SLB_DIALOG_TERMINATED,
		    r.have_nid ? r.nid : 0, NULL, NULL, NULL, NULL, "bye");
	if (is_method(rq, "ACK")) {
		req_ack_2xx(e, rq, &to, r.count, src_node != NULL);
		return;
	}
	/* a stateful in-dialog transaction to a fixed next hop */
	tx = edge_tx_new(
	    e, rq->key, rq->method, rq->buf, rq->len, rq->sc, rq->src);
	if (tx == NULL)
		return;
	tx->from_node = src_node != NULL;
	if (tx->invite)
		edge_reply_trying(e, tx);
	edge_fo_forward(
	    e, tx, &to, dst_node ? dst_node->id : 0, r.count, 0, NULL);
}

/* ------------------------------------------------------------ initial */

/* The dialog key of an initial INVITE: Call-ID and From tag.  Relayed
 * from a node, that key hashed once more: a proxy back end sends the
 * caller's own INVITE back towards the callee, Call-ID and From tag
 * unchanged, and that second leg is a dialog of its own (as a B2BUA's B
 * leg is), on its own rule's resources. */
static void
req_dialog_key(struct req *rq, struct edge_tx *tx, bool relayed)
{
	struct edge_str cid =
	    edge_hval(rq->buf, slb_sip_find(rq->sc, SLB_H_CALL_ID));
	struct edge_str ftag =
	    edge_tag_of(rq->buf, slb_sip_find(rq->sc, SLB_H_FROM));
	uint64_t h = edge_fnv64(cid.p, cid.n, ftag.p ? ftag.p : "", ftag.n);

	if (relayed) {
		char k[EDGE_DLG_KEY_SIZE];

		snprintf(k, sizeof(k), "%016llx", (unsigned long long)h);
		h = edge_fnv64(k, strlen(k), "relayed", 7);
	}
	snprintf(tx->dkey, sizeof(tx->dkey), "%016llx", (unsigned long long)h);
}

/* An initial request: OPTIONS to us answered here; from one of our nodes
 * (towards a phone) route_from_node's rule, else its method's: a fixed
 * reply, a node chosen by the selection client, or (from a node only)
 * relayed to its next Route or Request-URI (relay.c). */
static void
req_initial(struct edge *e, struct req *rq)
{
	const struct edge_rule *rule;
	const struct lb_node *from;
	struct edge_our_routes r;
	struct edge_tx *tx;

	if (is_method(rq, "OPTIONS") &&
	    edge_is_us(e, rq->ruri.p, rq->ruri.n) &&
	    memchr(rq->ruri.p, '@', rq->ruri.n) == NULL) {
		req_reply(e, rq, 200, NULL, EDGE_ALLOW);
		return;
	}
	from = edge_relay_source(e, rq->src, rq->buf, rq->sc);
	rule = &e->rules[from != NULL ? EDGE_RULE_FROM_NODE
				      : edge_rule_slot(rq->method)];
	if (rule->kind == RULE_REPLY) {
		req_reply(e, rq, rule->code,
		    rule->reason[0] ? rule->reason : NULL,
		    rule->code == 405 ? EDGE_ALLOW : NULL);
		return;
	}
	tx = edge_tx_new(
	    e, rq->key, rq->method, rq->buf, rq->len, rq->sc, rq->src);
	if (tx == NULL)
		return;
	tx->initial = true;
	tx->rule = rule;
	tx->from_node = from != NULL;
	if (tx->invite && (rule->kind == RULE_LB || rule->kind == RULE_RELAY))
		req_dialog_key(rq, tx, rule->kind == RULE_RELAY);
	if (tx->invite)
		edge_reply_trying(e, tx); /* §16.2 */
	/* a preloaded Route to us (a Path, an outbound proxy) is popped on
	 * the way */
	edge_our_routes(e, rq->buf, rq->sc, &r);
	tx->drop_routes = r.count;
	if (rule->kind == RULE_RELAY) {
		struct edge_str next =
		    edge_next_route(rq->buf, rq->sc, r.count);

		edge_relay(e, tx, from, next.p != NULL ? next : rq->ruri);
		return;
	}
	edge_fo_route(e, tx);
}

static void
on_request(struct edge *e, char *buf, size_t len, const struct slb_sipscan *sc,
    const struct edge_peer *src)
{
	struct req rq = { .buf = buf, .len = len, .sc = sc, .src = src };
	struct edge_tx *tx;
	bool ack;

	e->st.rx_requests++;
	if (!req_validate(e, &rq))
		goto out;
	if (is_method(&rq, "CANCEL")) {
		on_cancel(e, &rq);
		goto out;
	}
	/* retransmission of a request we already handle (§17.2.3) */
	ack = is_method(&rq, "ACK");
	if (edge_tx_key(rq.key, sizeof(rq.key), buf, sc, &rq.v,
		ack ? (struct edge_str){ "INVITE", 6 }
		    : (struct edge_str){ rq.method, strlen(rq.method) }) !=
	    0) {
		req_reply(e, &rq, 500, NULL, NULL); /* out of memory */
		goto out;
	}
	tx = edge_tx_find(e, rq.key);
	if (tx != NULL && edge_tx_absorb(e, tx, rq.method))
		goto out;
	if (rq.totag.n > 0 || ack)
		req_in_dialog(e, &rq);
	else
		req_initial(e, &rq);
out:
	osip_message_free(rq.m);
}

/* ------------------------------------------------------------ responses */

/* A response's status code and top Via, CSeq method: false (counted) for
 * what cannot be one. */
static bool
resp_validate(struct edge *e, const char *buf, size_t len,
    const struct slb_sipscan *sc, int *code, struct edge_via *v,
    struct edge_str *method)
{
	unsigned long num;

	if (len < 12 || !isdigit((unsigned char)buf[8]) ||
	    !isdigit((unsigned char)buf[9]) ||
	    !isdigit((unsigned char)buf[10]) ||
	    edge_top_via(buf, sc, v) != 0 ||
	    edge_cseq_method(buf, sc, method, &num) != 0) {
		e->st.drop_parse++;
		return false;
	}
	*code = (buf[8] - '0') * 100 + (buf[9] - '0') * 10 + (buf[10] - '0');
	if (*code < 100 || *code > 699) {
		e->st.drop_parse++;
		return false;
	}
	return true;
}

/* The response upstream without our Via, as tx's last response. */
static void
resp_relay(struct edge *e, struct edge_tx *tx, const char *buf, size_t len,
    const struct slb_sipscan *sc, int code)
{
	struct edge_out o = { 0 };

	if (edge_strip_top_via(buf, len, sc, &o) == 0)
		edge_send_upstream(e, tx, &tx->src, o.p, o.n, code);
	free(o.p);
}

/* A final response for a live tx: fail over, or relay it and end the
 * transaction, telling the dialog table what became of the INVITE. */
static void
resp_final(struct edge *e, struct edge_tx *tx, const char *buf, size_t len,
    const struct slb_sipscan *sc, int code, uint32_t node_id)
{
	if (code >= 300 && edge_fo_wants(tx, code)) {
		/* 503 Retry-After: the scheduler backs the node off */
		if (code == 503)
			edge_retry_after_report(e, node_id, buf, sc);
		edge_fo_next(e, tx, code, "refused");
		return;
	}
	resp_relay(e, tx, buf, len, sc, code);
	if (tx->dkey[0] && tx->invite) {
		if (code < 300) {
			struct edge_str tt =
			    edge_tag_of(buf, slb_sip_find(sc, SLB_H_TO));
			char to_tag[64];

			edge_copy_str(to_tag, sizeof(to_tag), tt);
			edge_dlg_event(e, tx->dkey, SLB_DIALOG_CONFIRMED, 0,
			    tx->rule, tx->call_id, tx->from_tag, to_tag, NULL);
		} else {
			edge_dlg_event(e, tx->dkey, SLB_DIALOG_TERMINATED, 0,
			    tx->rule, tx->call_id, tx->from_tag, NULL,
			    code == 487 ? "cancel" : "failed");
		}
	}
	/* a BYE that got its answer ends the dialog it names */
	edge_tx_completed(e, tx, code);
}

static void
on_response(struct edge *e, char *buf, size_t len,
    const struct slb_sipscan *sc, const struct edge_peer *src)
{
	struct edge_via v;
	struct edge_str method;
	struct edge_branch *b;
	struct edge_tx *tx;
	uint32_t node_id;
	int code;

	(void)src;
	e->st.rx_responses++;
	if (!resp_validate(e, buf, len, sc, &code, &v, &method))
		return;
	if (!edge_branch_ours(v.branch)) {
		e->st.drop_no_tx++; /* not a Via of ours */
		return;
	}
	b = edge_branch_find(e, v.branch, method);
	if (b == NULL) {
		/* 2xx retransmissions to INVITE outlive the transaction */
		if (code >= 200 && code < 300 &&
		    slb_sip_eq(method.p, method.n, "INVITE"))
			edge_relay_stateless(e, buf, len, sc, code);
		else
			e->st.drop_no_tx++;
		return;
	}
	node_id = b->node_id; /* b may be gone after the next call */
	switch (edge_branch_response(e, b, code, buf, sc, &tx)) {
	case EDGE_BR_ABSORB: return;
	case EDGE_BR_PROVISIONAL:
		resp_relay(e, tx, buf, len, sc, code);
		return;
	case EDGE_BR_FINAL: break;
	}
	if (tx == NULL || tx->answered) {
		/* an abandoned branch answered late */
		if (tx == NULL && code >= 200 && code < 300)
			edge_relay_stateless(e, buf, len, sc, code);
		return;
	}
	resp_final(e, tx, buf, len, sc, code, node_id);
}

void
edge_on_message(
    struct edge *e, char *buf, size_t len, const struct edge_peer *src)
{
	static struct slb_sipscan sc;
	int rc;

	rc = slb_sip_scan(buf, len, &sc);
	if (rc != 0) {
		e->st.drop_parse++;
		return;
	}
	if (len >= 8 && strncmp(buf, "SIP/2.0 ", 8) == 0)
		on_response(e, buf, len, &sc, src);
	else
		on_request(e, buf, len, &sc, src);
}
