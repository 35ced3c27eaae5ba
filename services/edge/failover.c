#define SLB_LOG_MODULE "failover"
#include <errno.h>
#include <osipparser2/osip_parser.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edge.h"
#include "failover.h"
#include "log.h"
#include "reply.h"
#include "route.h"

static void fo_timeout(struct edge *e, struct edge_tx *tx, uint32_t node_id);
static void fo_selected(struct edge *e, struct edge_tx *tx, uint32_t node_id,
    const char *uri, int code, const char *reason);

void
edge_fo_forward(struct edge *e, struct edge_tx *tx, const struct edge_peer *to,
    uint32_t node_id, int drop_routes, uint32_t nid, const char *dk)
{
	struct edge_branch *b = edge_branch_new(e, tx, tx->method, false);
	struct slb_sipscan sc;
	struct edge_out o = { 0 };
	struct edge_fwd f = { 0 };

	if (b == NULL || slb_sip_scan(tx->req, tx->req_len, &sc) != 0) {
		free(b);
		edge_fo_fail(e, tx, 500, NULL);
		return;
	}
	f.to = to;
	f.src = &tx->src;
	f.branch = b->branch;
	f.drop_routes = drop_routes;
	f.record_route = tx->initial && strcmp(tx->method, "REGISTER") != 0;
	f.from_node = tx->from_node;
	f.is_register = strcmp(tx->method, "REGISTER") == 0;
	f.ftag = tx->from_tag;
	f.nid = nid;
	f.dk = dk;
	if (edge_build_forward(e, tx->req, tx->req_len, &sc, &f, &o) != 0) {
		free(o.p);
		free(b);
		edge_fo_fail(e, tx, 500, NULL);
		return;
	}
	b->dst = *to;
	b->node_id = node_id;
	b->out = o.p;
	b->out_len = o.n;
	tx->cur = b;
	tx->attempts++;
	if (edge_branch_start(e, b, tx->method, fo_timeout) != 0) {
		char who[80];

		edge_peer_str(to, who, sizeof(who));
		slb_log_info("cannot send to %s", who);
		tx->cur = NULL;
		b->tx = NULL;
		edge_branch_free(e, b);
		if (node_id && tx->initial) {
			edge_sel_report_failure(e, node_id, 503, &tx->src);
			edge_fo_next(e, tx, 503, "transport error");
		} else {
			edge_fo_fail(e, tx, 503, NULL);
		}
	}
}

/* The selection client's answer (edge_sel_done_h): node_id 0 is a
 * failure the caller hears as code. */
static void
fo_selected(struct edge *e, struct edge_tx *tx, uint32_t node_id,
    const char *uri, int code, const char *reason)
{
	struct edge_peer to;

	if (node_id == 0) {
		edge_fo_fail(e, tx, code, reason);
		return;
	}
	if (tx->cancelled || tx->answered) {
		/* the caller gave up while we asked: say so to the scheduler
		 * too, which reserved load for this dialog */
		if (tx->dkey[0])
			edge_dlg_event(e, tx->dkey, SLB_DIALOG_TERMINATED,
			    node_id, tx->rule, tx->call_id, tx->from_tag, NULL,
			    "cancel");
		edge_fo_fail(e, tx, 487, NULL);
		return;
	}
	if (edge_node_peer(e, node_id, &to) != 0 &&
	    edge_uri_peer(e, uri, strlen(uri), &to) != 0) {
		slb_log_warn("node %u: cannot reach \"%s\"", node_id, uri);
		if (tx->nexclude < EDGE_MAX_ATTEMPTS)
			tx->exclude[tx->nexclude++] = node_id;
		edge_fo_next(e, tx, 503, "bad node URI");
		return;
	}
	if (tx->nexclude < EDGE_MAX_ATTEMPTS)
		tx->exclude[tx->nexclude++] = node_id;
	if (tx->dkey[0])
		edge_dlg_event(e, tx->dkey, SLB_DIALOG_CREATED, node_id,
		    tx->rule, tx->call_id, tx->from_tag, NULL, NULL);
	edge_fo_forward(
	    e, tx, &to, node_id, tx->drop_routes, node_id, tx->dkey);
}

/* Final failure of a transaction the edge routes: the caller gets code. */
void
edge_fo_fail(struct edge *e, struct edge_tx *tx, int code, const char *reason)
{
	osip_message_t *m = NULL;
	struct slb_sipscan sc;

	edge_sel_forget(e, tx);
	if (tx->answered)
		return;
	if (tx->dkey[0])
		edge_dlg_event(e, tx->dkey, SLB_DIALOG_TERMINATED, 0, tx->rule,
		    tx->call_id, tx->from_tag, NULL,
		    code == 487 ? "cancel" : "failed");
	if (tx->req && slb_sip_scan(tx->req, tx->req_len, &sc) == 0)
		edge_reply_lazy(e, tx, &m, tx->req, tx->req_len, &sc, &tx->src,
		    code, reason, NULL);
	osip_message_free(m);
	edge_tx_completed(e, tx, code);
}

void
edge_fo_next(struct edge *e, struct edge_tx *tx, int code, const char *why)
{
	if (tx->cancelled) {
		edge_fo_fail(e, tx, 487, NULL);
		return;
	}
	if (tx->rule == NULL || tx->rule->kind == RULE_REPLY ||
	    tx->rule->kind == RULE_RELAY || !tx->initial ||
	    tx->attempts >= e->cfg.max_attempts) {
		edge_fo_fail(e, tx, 503, tx->attempts ? "No Node Left" : NULL);
		return;
	}
	e->st.failovers++;
	slb_log_info("%s %s: %s (%d) from node %u, trying another", tx->method,
	    tx->call_id, why, code,
	    tx->nexclude ? tx->exclude[tx->nexclude - 1] : 0);
	edge_select(e, tx, fo_selected);
}

bool
edge_fo_wants(const struct edge_tx *tx, int code)
{
	return (code == 408 || code == 503) && tx->initial && !tx->got_prov &&
	    !tx->cancelled && tx->rule && tx->rule->kind != RULE_REPLY &&
	    tx->rule->kind != RULE_RELAY;
}

/* A branch of tx went unanswered (ctrans.c's timeout handler). */
static void
fo_timeout(struct edge *e, struct edge_tx *tx, uint32_t node_id)
{
	if (tx->got_prov || (tx->rule && tx->rule->kind == RULE_RELAY)) {
		/* timer C after a provisional, or a relayed request's phone
		 * silent (timer B): the caller gets 408 */
		edge_fo_fail(e, tx, 408, NULL);
		return;
	}
	edge_sel_report_failure(e, node_id, 408, &tx->src);
	edge_fo_next(e, tx, 408, "no provisional response in time");
}

void
edge_fo_route(struct edge *e, struct edge_tx *tx)
{
	edge_select(e, tx, fo_selected);
}
