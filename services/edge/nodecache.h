#ifndef SIPLB_EDGE_NODECACHE_H
#define SIPLB_EDGE_NODECACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "lb.h"

/*
 * The node table as the scheduler last published it, with each node's
 * address resolved once per table (names are looked up here only, never
 * for a message).  It tells the proxy whether a peer is one of our nodes
 * and where a node is reached, and the selection client selects from it
 * when the scheduler does not answer.  Owns the table and its subscriber.
 */

struct edge;
struct edge_peer;
struct node_addr;
struct slb_sub;

struct edge_nodes {
	struct slb_sub *sub; /* the scheduler's node-table PUB */
	struct lb_table table;
	bool have; /* a table arrived */
	uint64_t synced_us; /* the last snapshot (scheduler back) */
	struct node_addr *addrs; /* the table's nodes, resolved */
	size_t naddrs;
};

void edge_nodes_init(struct edge *e);
/* Subscribe to [edge] scheduler_pub (snapshots from the first scheduler). */
int edge_nodes_open(struct edge *e);
void edge_nodes_close(struct edge *e);
/* Replace the table (what the scheduler publishes; tests). */
int edge_set_table(struct edge *e, const struct lb_table *t);
/* Where node id is reached, as resolved when the table arrived. */
int edge_node_peer(struct edge *e, uint32_t id, struct edge_peer *p);
/* The node at this address (and port, when port_too), or NULL. */
const struct lb_node *edge_node_by_addr(
    struct edge *e, const struct sockaddr_storage *ss, bool port_too);
/* Select from the table as the scheduler would, counting the load of the
 * chosen node here until the next table arrives. */
enum lb_sel_status edge_nodes_select(
    struct edge *e, const struct lb_select *sel, const struct lb_node **outp);

#endif
