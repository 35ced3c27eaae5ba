#define SLB_LOG_MODULE "relay"
#include <stdio.h>
#include <string.h>

#include "edge.h"
#include "failover.h"
#include "log.h"
#include "relay.h"
#include "route.h"

const struct lb_node *
edge_relay_source(struct edge *e, const struct edge_peer *src, const char *buf,
    const struct slb_sipscan *sc)
{
	const struct lb_node *n = edge_node_by_addr(e, &src->ss, true);
	struct edge_peer by, np;
	struct edge_via v;
	char uri[300];

	if (n != NULL)
		return n;
	/* a port the node chose (TCP): trusted as far as its address is,
	 * and only for the node its Via names, so that a phone sharing a
	 * node's address (a lab) is still a phone */
	if (edge_top_via(buf, sc, &v) != 0 || v.sent_by.n >= sizeof(uri) - 4)
		return NULL;
	snprintf(uri, sizeof(uri), "sip:%.*s", (int)v.sent_by.n, v.sent_by.p);
	if (edge_uri_peer(e, uri, strlen(uri), &by) != 0 ||
	    (n = edge_node_by_addr(e, &by.ss, true)) == NULL ||
	    edge_node_peer(e, n->id, &np) != 0 ||
	    !edge_same_addr(&np.ss, &src->ss, false))
		return NULL;
	return n;
}

void
edge_relay(struct edge *e, struct edge_tx *tx, const struct lb_node *from,
    struct edge_str target)
{
	struct edge_peer to;

	if (target.p == NULL ||
	    edge_uri_peer(e, target.p, target.n, &to) != 0) {
		slb_log_info("%s %s from node %u: no address in \"%.*s\"",
		    tx->method, tx->call_id, from->id,
		    target.p ? (int)target.n : 0, target.p ? target.p : "");
		edge_fo_fail(e, tx, 404, "Next Hop Unknown");
		return;
	}
	if (edge_is_us(e, target.p, target.n)) {
		/* the edge has no location service: only the nodes know
		 * where a user is, and sending it back would loop */
		slb_log_info("%s %s from node %u: addressed to this edge",
		    tx->method, tx->call_id, from->id);
		edge_fo_fail(e, tx, 404, "No Route Beyond This Edge");
		return;
	}
	e->st.relayed_from_node++;
	slb_log_debug("%s %s from node %u relayed to \"%.*s\"", tx->method,
	    tx->call_id, from->id, (int)target.n, target.p);
	if (tx->dkey[0])
		edge_dlg_event(e, tx->dkey, SLB_DIALOG_CREATED, from->id,
		    tx->rule, tx->call_id, tx->from_tag, NULL, NULL);
	/* the Record-Route names the node that has the call (nid), for
	 * the dialog's BYE; branch node 0: nothing was selected, so there
	 * is no node to report or fail over from */
	edge_fo_forward(e, tx, &to, 0, tx->drop_routes, from->id, tx->dkey);
}
