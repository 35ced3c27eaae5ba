#ifndef SIPLB_EDGE_EDGE_H
#define SIPLB_EDGE_EDGE_H

#include <stdbool.h>
#include <stdint.h>

#include "bus.h"
#include "config.h"
#include "ctrans.h"
#include "dlgevt.h"
#include "dlgtab.h"
#include "nodecache.h"
#include "pike.h"
#include "selc.h"
#include "restore.h"
#include "strans.h"
#include "transport.h"

/*
 * siplb-edge: a transaction-stateful SIP proxy (RFC 3261 §16, §17).
 * Requests and responses are judged on the received bytes (sipmsg.c
 * indexes them, sipcheck.c checks a request's syntax) and relayed by
 * editing those bytes; replies the edge originates are built with libosip2
 * from a request's start line and header fields (never its body), or from
 * the request's own lines.
 *
 * This is the context every module gets; each module's header says which
 * part it owns.  main.c owns the struct; service.c opens and closes the
 * modules in order.
 */

struct event_base;

struct edge_stats {
	uint64_t rx_requests, rx_responses;
	uint64_t tx_requests, tx_responses;
	uint64_t resp_class[7]; /* responses relayed or sent, 1xx..6xx */
	uint64_t drop_too_big, drop_parse, drop_no_tx, drop_loop;
	uint64_t replied_400, replied_483, replied_405, replied_403,
	    replied_481, replied_503;
	uint64_t failovers, sched_fallbacks, sched_errors, retransmissions;
	uint64_t send_errors, tcp_accepted, tcp_closed, tcp_refused;
	uint64_t stalls, stale_dialogs; /* see restore.c */
	uint64_t flood_dropped, flood_503; /* flood.c: over pike_requests */
	uint64_t tcp_slow_closed; /* a message not whole in tcp_msg_timeout */
	uint64_t
	    relayed_from_node; /* relay.c: initial requests towards phones */
};

struct edge {
	struct edge_cfg cfg;
	struct event_base *base; /* service.c */
	struct slb_bridge *br; /* service.c */
	char stream[80]; /* "edge:<id>", our bus stream */

	/* transport.c */
	struct edge_sock socks[EDGE_MAX_SOCKS];
	int nsocks;
	int udp_out; /* socket used towards nodes */
	struct edge_conn *conns; /* by id */
	uint32_t next_conn;
	int nconns;
	edge_recv_h recv_h;

	struct edge_rule rules[EDGE_RULES]; /* config.c, by edge_rule_slot */

	struct edge_tx *txs; /* strans.c, by key */
	size_t ntx;
	struct edge_branch *branches; /* ctrans.c, by key */
	size_t nbranches;
	uint64_t branch_seq;
	uint32_t branch_salt;

	struct edge_selc sel; /* selc.c */
	struct edge_nodes nodes; /* nodecache.c */
	struct edge_dlgtab dlgs; /* dlgtab.c, through dlgevt.c */
	struct edge_dlgevt evq; /* dlgevt.c */
	struct edge_store store; /* restore.c */
	struct edge_pike pike; /* flood.c; transport.c's TCP limits */

	struct slb_pub *pub; /* service.c; dlgevt.c publishes */
	struct slb_rep *rep; /* rep.c */
	struct event *tick; /* service.c */
	unsigned ticks;

	struct edge_stats st;
};

/* service.c: open every module (loop, store, transport, bus), in order;
 * edge_close undoes what edge_init did, also after it failed. */
int edge_init(struct edge *e);
void edge_close(struct edge *e);

#endif
