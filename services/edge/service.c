#define SLB_LOG_MODULE "edge"
#include <errno.h>
#include <event2/event.h>
#include <osipparser2/osip_parser.h>
#include <osipparser2/osip_port.h>
#include <stdio.h>
#include <unistd.h>

#include "edge.h"
#include "flood.h"
#include "log.h"
#include "rep.h"

/* Dialogs whose BYE never came: dialogd ends them after the same lifetime
 * and tells the schedulers; the edge only forgets them, so that its next
 * snapshot does not bring their load back. */
static void
expire_dialogs(struct edge *e)
{
	size_t n = edge_dlgtab_expire(&e->dlgs, slb_wall_us(),
	    (uint64_t)e->cfg.dialog_lifetime_ms * 1000u);

	if (n)
		slb_log_info("%zu dialogs older than %d s forgotten", n,
		    e->cfg.dialog_lifetime_ms / 1000);
}

static void
on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct edge *e = arg;

	(void)fd;
	(void)what;
	edge_store_check_stall(e);
	/* nothing goes out before the restore (restore.h) */
	if (!edge_store_restoring(e))
		slb_pub_heartbeat(e->pub);
	edge_pike_expire(&e->pike, slb_now_us());
	if (++e->ticks % 10 == 0)
		expire_dialogs(e);
}

static int
open_loop(struct edge *e)
{
	int rc;

	parser_init();
	/* libosip2 traces every parse error to stderr: we count and log
	 * those ourselves, at our own levels */
	for (int l = 0; l < END_TRACE_LEVEL; l++)
		osip_trace_disable_level((osip_trace_level_t)l);
	if ((rc = slb_loop_new(&e->base)) != 0)
		return rc;
	/* three priorities: I/O at the default 1, the selection flush at 2
	 * (after all I/O of the turn) */
	if (event_base_priority_init(e->base, 3) != 0)
		return ENOMEM;
	return slb_bridge_new(&e->br, e->base);
}

int
edge_init(struct edge *e)
{
	struct timeval tv = { 1, 0 };
	int rc;

	snprintf(e->stream, sizeof(e->stream), "edge:%.60s", e->cfg.id);
	e->branch_salt = (uint32_t)(slb_wall_us() ^ (uint64_t)getpid() << 16);
	edge_nodes_init(e);
	if ((rc = edge_rules_load(&e->cfg, e->rules)) != 0 ||
	    (rc = open_loop(e)) != 0 || (rc = edge_dlgevt_open(e)) != 0)
		return rc;
	/* the restore runs while SIP is answered (restore.h) */
	if ((rc = edge_store_open(e)) != 0 || (rc = edge_flood_open(e)) != 0 ||
	    (rc = edge_transport_open(e, edge_flood_on_message)) != 0)
		return rc;
	if ((rc = slb_pub_open(&e->pub, e->cfg.pub, e->stream)) != 0 ||
	    (rc = edge_rep_open(e)) != 0)
		return rc;
	if ((rc = edge_selc_open(e)) != 0 || (rc = edge_nodes_open(e)) != 0)
		return rc;
	e->tick = event_new(e->base, -1, EV_PERSIST, on_tick, e);
	if (e->tick == NULL || event_add(e->tick, &tv) != 0)
		return ENOMEM;
	slb_log_notice("ready: %s, scheduler %s, pub %s", e->stream,
	    e->cfg.scheduler, e->cfg.pub);
	return 0;
}

void
edge_close(struct edge *e)
{
	struct edge_tx *tx, *ttmp;
	struct edge_branch *b, *btmp;

	HASH_ITER(hh, e->txs, tx, ttmp)
	edge_tx_free(e, tx);
	HASH_ITER(hh, e->branches, b, btmp)
	edge_branch_free(e, b);
	edge_store_close(e);
	edge_dlgevt_close(e);
	edge_dlgtab_clear(&e->dlgs);
	edge_selc_close(e);
	if (e->tick)
		event_free(e->tick);
	e->tick = NULL;
	edge_nodes_close(e);
	edge_rep_close(e);
	slb_pub_close(e->pub);
	e->pub = NULL;
	edge_transport_close(e);
	edge_flood_close(e);
	slb_bridge_free(e->br);
	e->br = NULL;
	if (e->base)
		slb_loop_free(e->base);
	e->base = NULL;
}
