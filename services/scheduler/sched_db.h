#ifndef SIPLB_SCHEDULER_SCHED_DB_H
#define SIPLB_SCHEDULER_SCHED_DB_H

#include "cfg.h"
#include "lb.h"

/*
 * The scheduler's persistence in the OpenSIPS tables (nodes_mysql.c); the
 * node table itself is the lb library's (services/lb/lb.h).
 */

/* Dispatcher-only rows (no load_balancer row with the same URI, or one
 * the state table names) become nodes with id SCHED_DS_ID_BASE +
 * dispatcher.id, so ids stay stable; nodes with a load_balancer row have
 * ids below it. */
#define SCHED_DS_ID_BASE 1000000u

struct sched_db {
	char url[SLB_CFG_STRLEN]; /* mysql://user:pass@host:port/db */
	char lb_table[64]; /* "load_balancer" */
	char ds_table[64]; /* "dispatcher"; "" = do not use */
	char state_table[64]; /* "siplb_node_state"; "" = none */
};

/* Load the OpenSIPS load_balancer and dispatcher tables into t (empty on
 * entry): load_balancer rows are nodes with their id, group_id, dst_uri,
 * resources, probe_mode, description; a dispatcher row whose destination
 * equals a node's uri adds set, weight, priority, attrs, socket and state
 * to it, other rows become nodes of their own. Prepared statements only. */
int sched_mysql_load(
    const struct sched_db *db, struct lb_table *t, char *err, size_t errlen);
/* Before an admin add: refuse a node the tables cannot hold as it is
 * (a group without resources, resources without a group, a set without
 * ds_table, an id the next load would not give it back) and choose its
 * id when it has none: below SCHED_DS_ID_BASE with a load_balancer row,
 * SCHED_DS_ID_BASE + the next dispatcher id in dispatcher only.  EINVAL,
 * EEXIST or an error of the database, with err. */
int sched_mysql_prepare_add(const struct sched_db *db,
    const struct lb_table *t, struct lb_node *n, char *err, size_t errlen);
/* Write one node back (insert its rows when added, else update them) in
 * one transaction: a load_balancer row only with a group and resources,
 * a dispatcher row only with a set (n->ds_id is set to a new row's id).
 * t is the table n is in. */
int sched_mysql_save_node(const struct sched_db *db, const struct lb_table *t,
    struct lb_node *n, bool added, char *err, size_t errlen);
int sched_mysql_delete_node(const struct sched_db *db, const struct lb_node *n,
    char *err, size_t errlen);
/* "mysql://user:***@host:port/db" for logs. */
void sched_db_url_masked(const char *url, char *buf, size_t len);

#endif
