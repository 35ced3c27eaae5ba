#define SLB_LOG_MODULE "nodes"
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "edge.h"
#include "log.h"
#include "lb_pb.h"

/* A node's address, resolved once per table (names looked up here only). */
struct node_addr {
	uint32_t id;
	struct edge_peer peer;
};

static void
cache_index(struct edge *e)
{
	free(e->nodes.addrs);
	e->nodes.addrs = calloc(e->nodes.table.n + 1, sizeof(*e->nodes.addrs));
	e->nodes.naddrs = 0;
	if (e->nodes.addrs == NULL)
		return;
	for (size_t i = 0; i < e->nodes.table.n; i++) {
		struct edge_peer p;

		if (edge_uri_peer_dns(e, e->nodes.table.nodes[i].uri,
			strlen(e->nodes.table.nodes[i].uri), &p) != 0) {
			slb_log_warn("node %u: cannot resolve %s",
			    e->nodes.table.nodes[i].id,
			    e->nodes.table.nodes[i].uri);
			continue;
		}
		e->nodes.addrs[e->nodes.naddrs].id =
		    e->nodes.table.nodes[i].id;
		e->nodes.addrs[e->nodes.naddrs].peer = p;
		e->nodes.naddrs++;
	}
	/* the nodes are never limited as flooding sources */
	{
		struct sockaddr_storage *ss =
		    calloc(e->nodes.naddrs + 1, sizeof(*ss));

		if (ss != NULL) {
			for (size_t i = 0; i < e->nodes.naddrs; i++)
				ss[i] = e->nodes.addrs[i].peer.ss;
			edge_pike_set_nodes(&e->pike, ss, e->nodes.naddrs);
		}
		free(ss);
	}
}

int
edge_node_peer(struct edge *e, uint32_t id, struct edge_peer *p)
{
	for (size_t i = 0; i < e->nodes.naddrs; i++)
		if (e->nodes.addrs[i].id == id) {
			*p = e->nodes.addrs[i].peer;
			return 0;
		}
	return ENOENT;
}

const struct lb_node *
edge_node_by_addr(
    struct edge *e, const struct sockaddr_storage *ss, bool port_too)
{
	for (size_t i = 0; i < e->nodes.naddrs; i++)
		if (edge_same_addr(&e->nodes.addrs[i].peer.ss, ss, port_too))
			return lb_table_find(
			    &e->nodes.table, e->nodes.addrs[i].id);
	return NULL;
}

static void
table_message(void *arg, const Siplb__V1__BusMessage *m)
{
	struct edge *e = arg;

	if (m->body_case == SIPLB__V1__BUS_MESSAGE__BODY_TABLE) {
		lb_pb_table_from(m->table, &e->nodes.table);
	} else if (m->body_case == SIPLB__V1__BUS_MESSAGE__BODY_CHANGE &&
	    m->change->node != NULL) {
		struct lb_node n, *old;
		char err[256];

		if (lb_pb_node_from(m->change->node, &n) != 0)
			return;
		old = lb_table_find(&e->nodes.table, n.id);
		if (old != NULL) {
			n.wrr_current = old->wrr_current;
			lb_table_remove(&e->nodes.table, n.id);
		}
		if (m->change->kind != SIPLB__V1__CHANGE_KIND__CHANGE_REMOVED)
			lb_table_add(
			    &e->nodes.table, &n, NULL, err, sizeof(err));
	} else {
		return;
	}
	e->nodes.have = true;
	cache_index(e);
}

static void
table_snapshot(void *arg, const Siplb__V1__Snapshot *s)
{
	struct edge *e = arg;

	if (s->body_case != SIPLB__V1__SNAPSHOT__BODY_TABLE)
		return;
	lb_pb_table_from(s->table, &e->nodes.table);
	e->nodes.have = true;
	e->nodes.synced_us = slb_now_us();
	cache_index(e);
	slb_log_info(
	    "node table from the scheduler: %zu nodes", e->nodes.table.n);
}

static const struct slb_sub_ops table_ops = { table_message, table_snapshot,
	0 };

int
edge_set_table(struct edge *e, const struct lb_table *t)
{
	int rc = lb_table_copy(&e->nodes.table, t);

	if (rc == 0) {
		e->nodes.have = true;
		cache_index(e);
	}
	return rc;
}

enum lb_sel_status
edge_nodes_select(
    struct edge *e, const struct lb_select *sel, const struct lb_node **outp)
{
	struct lb_node *out[1];
	unsigned nout = 0;
	enum lb_sel_status st;

	if (!e->nodes.have)
		return LB_SEL_NO_DESTINATION;
	st = lb_select(&e->nodes.table, sel, out, &nout);
	if (st != LB_SEL_OK || nout == 0)
		return st != LB_SEL_OK ? st : LB_SEL_NO_DESTINATION;
	/* count it here until the next table arrives */
	for (int i = 0; i < sel->nres; i++) {
		struct lb_res *res = lb_node_res(out[0], sel->res[i]);

		if (res)
			lb_res_add_load(out[0], res, 1);
	}
	*outp = out[0];
	return LB_SEL_OK;
}

void
edge_nodes_init(struct edge *e)
{
	lb_table_init(&e->nodes.table, slb_wall_us());
}

int
edge_nodes_open(struct edge *e)
{
	char urls[8][SLB_CFG_STRLEN];

	if (e->cfg.scheduler_pub[0] == '\0')
		return 0;
	/* snapshots from the first scheduler */
	slb_cfg_split(e->cfg.scheduler, ',', urls, 8);
	slb_cfg_expand_addr(urls[0], e->cfg.run_dir);
	return slb_sub_open(&e->nodes.sub, e->base, e->br, "node table",
	    e->cfg.scheduler_pub, urls[0], &table_ops, e);
}

void
edge_nodes_close(struct edge *e)
{
	slb_sub_close(e->nodes.sub);
	e->nodes.sub = NULL;
	lb_table_free(&e->nodes.table);
	free(e->nodes.addrs);
	e->nodes.addrs = NULL;
	e->nodes.naddrs = 0;
}
