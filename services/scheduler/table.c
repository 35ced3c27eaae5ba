/*
 * The scheduler's node table as a whole: loading it from its source (the
 * nodes file, or the OpenSIPS tables through nodes_mysql.c), saving one
 * node's change back, and publishing the table and its changes on the
 * PUB stream.  The table itself is s->table; this file owns nothing.
 */
#define SLB_LOG_MODULE "sched"
#include <errno.h>
#include <unistd.h>

#include "log.h"
#include "lb_pb.h"
#include "svc.h"

int
sched_svc_load_table(
    struct sched_svc *s, struct lb_table *t, char *err, size_t errlen)
{
	if (s->use_db)
		return sched_mysql_load(&s->db, t, err, errlen);
	if (access(s->cfg.nodes_file, F_OK) != 0 && errno == ENOENT) {
		slb_log_notice("%s does not exist yet: starting with no nodes",
		    s->cfg.nodes_file);
		return 0;
	}
	return lb_nodes_file_load(s->cfg.nodes_file, t, err, errlen);
}

void
sched_svc_publish_table(struct sched_svc *s)
{
	Siplb__V1__BusMessage m = SIPLB__V1__BUS_MESSAGE__INIT;
	Siplb__V1__NodeTable *tab = lb_pb_table(&s->table);

	if (tab == NULL)
		return;
	m.body_case = SIPLB__V1__BUS_MESSAGE__BODY_TABLE;
	m.table = tab;
	slb_pub_send(s->pub, &m);
	lb_pb_table_free(tab);
}

void
sched_svc_publish_change(struct sched_svc *s, Siplb__V1__ChangeKind kind,
    const struct lb_node *n, const char *reason)
{
	Siplb__V1__BusMessage m = SIPLB__V1__BUS_MESSAGE__INIT;
	Siplb__V1__NodeChange ch = SIPLB__V1__NODE_CHANGE__INIT;
	Siplb__V1__Node *pn = lb_pb_node(n);

	if (pn == NULL)
		return;
	ch.kind = kind;
	ch.node = pn;
	ch.reason = (char *)reason;
	m.body_case = SIPLB__V1__BUS_MESSAGE__BODY_CHANGE;
	m.change = &ch;
	slb_pub_send(s->pub, &m);
	lb_pb_node_free(pn);
}

void
sched_svc_node_changed(
    struct sched_svc *s, const struct lb_node *n, const char *why)
{
	sched_svc_publish_change(
	    s, SIPLB__V1__CHANGE_KIND__CHANGE_UPDATED, n, why);
}

/* Persist one node change to the table's source; 0 or errno with err. */
int
sched_svc_persist(struct sched_svc *s, struct lb_node *n, int removed,
    bool added, char *err, size_t errlen)
{
	if (s->use_db)
		return removed
		    ? sched_mysql_delete_node(&s->db, n, err, errlen)
		    : sched_mysql_save_node(
			  &s->db, &s->table, n, added, err, errlen);
	return lb_nodes_file_save(s->cfg.nodes_file, &s->table, err, errlen);
}
