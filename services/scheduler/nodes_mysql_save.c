#define SLB_LOG_MODULE "mysql"
#include "sched_db.h"

#include <errno.h>
#include <mysql.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dbstmt.h"
#include "log.h"
#include "nodes_mysql_priv.h"

/*
 * Admin changes written back to the OpenSIPS load_balancer and dispatcher
 * tables (and siplb's state table), each in one transaction, every value
 * a bound parameter.  nodes_mysql.c loads them.
 */

/*
 * What goes where, so that an OpenSIPS reading the same tables sees only
 * entries it can use and no node changes its id over a restart:
 *   - a load_balancer row (id = node id) only for a node with a group and
 *     resources: OpenSIPS refuses a row without resources, and group 0
 *     is no group;
 *   - a dispatcher row only for a node with a set;
 *   - a node in dispatcher only has the id its row gives it on a load,
 *     SCHED_DS_ID_BASE + dispatcher.id, so an added one gets that id, and
 *     ids of nodes with a load_balancer row stay below SCHED_DS_ID_BASE;
 *   - the load joins a dispatcher row to the first load_balancer node
 *     with its uri, so an add that the next load would read otherwise is
 *     refused, and the state table gets a row for every dispatcher-only
 *     node with the uri of an added one (that row keeps it a node of its
 *     own: see ds_row).
 */

static bool
lb_eligible(const struct lb_node *n)
{
	return n->group != 0 && n->nres > 0;
}

/* A node that lives in dispatcher alone, with the id its row gives it. */
static bool
ds_own(const struct sched_db *db, const struct lb_node *n)
{
	if (db->ds_table[0] == '\0' || n->set == 0 || lb_eligible(n) ||
	    n->id <= SCHED_DS_ID_BASE)
		return false;
	return n->ds_id == 0 || n->ds_id == n->id - SCHED_DS_ID_BASE;
}

/* Every other node has a load_balancer row: one with a group and
 * resources, or one loaded from a row written before the rule above
 * (kept, with a warning at load, so that the node keeps its id). */
static bool
lb_has_row(const struct sched_db *db, const struct lb_node *n)
{
	return !ds_own(db, n);
}

/* The largest id in table below `below` (0 for none) into *maxp. */
static int
db_max_id(MYSQL *my, const char *table, uint32_t below, uint32_t *maxp,
    char *err, size_t errlen)
{
	char sql[SQL_LEN], what[96];
	struct slb_db_params p = { .n = 0 };
	struct slb_db_col c;
	MYSQL_BIND res;
	MYSQL_STMT *st = NULL;
	int rc, r;

	*maxp = 0;
	snprintf(what, sizeof(what), "%s: SELECT MAX(id)", table);
	if ((rc = sched_db_sql_fmt(
		 sql, "SELECT MAX(id) FROM `%s` WHERE id < ?", table)) != 0)
		return rc;
	slb_db_par_u32(&p, &below);
	if ((rc = slb_db_run(my, sql, &p, what, &st, err, errlen)) != 0)
		return rc;
	slb_db_col_int(&res, &c);
	if ((rc = slb_db_result(st, &res, what, err, errlen)) != 0)
		goto out;
	r = slb_db_fetch(st, what, err, errlen);
	if (r < 0)
		rc = EIO;
	else if (r == 1 && !c.null && c.v > 0 && c.v < below)
		*maxp = (uint32_t)c.v;
out:
	mysql_stmt_close(st);
	return rc;
}

/* The order in which the next load reads n's dispatcher row (a row still
 * to be inserted with an AUTO_INCREMENT id comes last). */
static uint64_t
ds_order(const struct sched_db *db, const struct lb_node *n)
{
	if (n->ds_id != 0)
		return n->ds_id;
	if (ds_own(db, n))
		return n->id - SCHED_DS_ID_BASE;
	return UINT64_MAX;
}

/*
 * Replays, for add's uri, what the next load does with the dispatcher
 * rows of the nodes that have it (t and add): rows in id order, each
 * joining the first load_balancer node with the uri that no earlier row
 * took, unless the state table keeps it a node of its own.  0 when every
 * row comes back to the node that holds it now.
 */
static int
merge_check(const struct sched_db *db, const struct lb_table *t,
    const struct lb_node *add, char *err, size_t errlen)
{
	const struct lb_node **m;
	bool *claimed, *done;
	size_t nm = 0;
	int rc = 0;

	m = calloc(t->n + 1, sizeof(*m));
	claimed = calloc(t->n + 1, sizeof(*claimed));
	done = calloc(t->n + 1, sizeof(*done));
	if (m == NULL || claimed == NULL || done == NULL) {
		snprintf(err, errlen, "out of memory");
		rc = ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < t->n; i++)
		if (strcasecmp(t->nodes[i].uri, add->uri) == 0)
			m[nm++] = &t->nodes[i];
	m[nm++] = add;
	/* by id, as the load reads load_balancer */
	for (size_t i = 1; i < nm; i++)
		for (size_t j = i; j > 0 && m[j - 1]->id > m[j]->id; j--) {
			const struct lb_node *x = m[j];

			m[j] = m[j - 1];
			m[j - 1] = x;
		}
	for (;;) {
		const struct lb_node *d = NULL, *to = NULL;
		size_t di = 0;

		for (size_t i = 0; i < nm; i++)
			if (!done[i] && m[i]->set != 0 &&
			    (d == NULL ||
				ds_order(db, m[i]) < ds_order(db, d))) {
				d = m[i];
				di = i;
			}
		if (d == NULL)
			break;
		done[di] = true;
		if (!lb_has_row(db, d) && db->state_table[0] != '\0')
			continue; /* its state row keeps it apart */
		for (size_t i = 0; i < nm && to == NULL; i++)
			if (!claimed[i] && lb_has_row(db, m[i])) {
				to = m[i];
				claimed[i] = true;
			}
		if (to == d || (to == NULL && !lb_has_row(db, d)))
			continue;
		snprintf(err, errlen,
		    "%s: on the next load the dispatcher row "
		    "of node %u (set %u) would be read as node %u's, as the "
		    "two tables are matched by uri in id order%s",
		    add->uri, d->id, d->set, to != NULL ? to->id : 0,
		    db->state_table[0] == '\0'
			? " (a state_table keeps dispatcher-only nodes apart)"
			: "");
		rc = EINVAL;
		break;
	}
out:
	free(m);
	free(claimed);
	free(done);
	return rc;
}

int
sched_mysql_prepare_add(const struct sched_db *db, const struct lb_table *t,
    struct lb_node *n, char *err, size_t errlen)
{
	bool ds_only = n->group == 0 && n->nres == 0;
	uint32_t max = 0, dbmax = 0;
	MYSQL *my = NULL;
	int rc;

	if (n->group != 0 && n->nres == 0) {
		snprintf(err, errlen,
		    "group %u without resources: a "
		    "load_balancer row needs them (name=capacity, as "
		    "pstn=500), OpenSIPS refuses one without",
		    n->group);
		return EINVAL;
	}
	if (n->group == 0 && n->nres > 0) {
		snprintf(err, errlen,
		    "resources without a group: only "
		    "load_balancer rows hold resources, and they need a group");
		return EINVAL;
	}
	if (n->set != 0 && db->ds_table[0] == '\0') {
		snprintf(err, errlen,
		    "set %u: ds_table is empty, so no "
		    "dispatcher row can hold it",
		    n->set);
		return EINVAL;
	}
	if (ds_only && n->id != 0 && n->id <= SCHED_DS_ID_BASE) {
		snprintf(err, errlen,
		    "id %u: a node in dispatcher only has "
		    "id %u + its dispatcher row's id; give an id above %u, "
		    "or none",
		    n->id, SCHED_DS_ID_BASE, SCHED_DS_ID_BASE);
		return EINVAL;
	}
	if (!ds_only && n->id >= SCHED_DS_ID_BASE) {
		snprintf(err, errlen,
		    "id %u: ids from %u up are those of "
		    "dispatcher-only nodes; a node with a load_balancer row "
		    "takes one below",
		    n->id, SCHED_DS_ID_BASE);
		return EINVAL;
	}
	if (n->id == 0) {
		const char *tb = ds_only ? db->ds_table : db->lb_table;

		if ((rc = sched_db_open(db, &my, err, errlen)) != 0)
			goto out;
		/* the database's rows too: some may have been added by hand
		 * since the last load */
		if ((rc = db_max_id(my, tb,
			 ds_only ? UINT32_MAX - SCHED_DS_ID_BASE + 1
				 : SCHED_DS_ID_BASE,
			 &dbmax, err, errlen)) != 0)
			goto out;
		for (size_t i = 0; i < t->n; i++) {
			const struct lb_node *x = &t->nodes[i];

			if (ds_only) {
				if (x->ds_id > max)
					max = x->ds_id;
				if (x->id > SCHED_DS_ID_BASE &&
				    x->id - SCHED_DS_ID_BASE > max)
					max = x->id - SCHED_DS_ID_BASE;
			} else if (x->id < SCHED_DS_ID_BASE && x->id > max)
				max = x->id;
		}
		if (dbmax > max)
			max = dbmax;
		if (ds_only ? max >= UINT32_MAX - SCHED_DS_ID_BASE
			    : max + 1 >= SCHED_DS_ID_BASE) {
			snprintf(err, errlen, "no node id left");
			rc = ENOSPC;
			goto out;
		}
		n->id = ds_only ? SCHED_DS_ID_BASE + max + 1 : max + 1;
	}
	if (lb_table_find(t, n->id) != NULL) {
		snprintf(err, errlen, "node id %u already exists", n->id);
		rc = EEXIST;
		goto out;
	}
	if (n->set != 0)
		rc = merge_check(db, t, n, err, errlen);
out:
	mysql_close(my);
	return rc;
}

static int
lb_write(MYSQL *my, const struct sched_db *db, const struct lb_node *n,
    bool insert, char *err, size_t errlen)
{
	char sql[SQL_LEN], what[96], res[COL_LEN];
	struct slb_db_params p = { .n = 0 };
	int w;

	snprintf(
	    what, sizeof(what), "%s: node %u: INSERT", db->lb_table, n->id);
	if (lb_res_format(n->res, n->nres, res, sizeof(res)) != 0) {
		snprintf(err, errlen, "%s: resources do not fit in %zu bytes",
		    what, sizeof(res));
		return ENOSPC;
	}
	/* a new node's row is a plain INSERT: a row added by hand with its
	 * id since the last load is refused, not overwritten */
	w = snprintf(sql, sizeof(sql),
	    "INSERT INTO `%s` (id, group_id, "
	    "dst_uri, resources, probe_mode, description) VALUES (?, ?, ?, ?, "
	    "?, ?)%s",
	    db->lb_table,
	    insert
		? ""
		: " ON DUPLICATE KEY UPDATE "
		  "group_id = VALUES(group_id), dst_uri = VALUES(dst_uri), "
		  "resources = VALUES(resources), probe_mode = VALUES(probe_mode), "
		  "description = VALUES(description)");
	if (w < 0 || w >= (int)sizeof(sql))
		return ENAMETOOLONG;
	slb_db_par_u32(&p, &n->id);
	slb_db_par_u32(&p, &n->group);
	slb_db_par_str(&p, n->uri);
	slb_db_par_str(&p, res);
	slb_db_par_u32(&p, &n->probe_mode);
	slb_db_par_str(&p, n->description);
	return slb_db_do(my, sql, &p, what, NULL, err, errlen);
}

static int
delete_by_id(MYSQL *my, const char *table, const char *col, uint32_t id,
    uint32_t node_id, char *err, size_t errlen)
{
	char sql[SQL_LEN], what[96];
	struct slb_db_params p = { .n = 0 };
	int w;

	snprintf(what, sizeof(what), "%s: node %u: DELETE", table, node_id);
	w = snprintf(
	    sql, sizeof(sql), "DELETE FROM `%s` WHERE %s = ?", table, col);
	if (w < 0 || w >= (int)sizeof(sql))
		return ENAMETOOLONG;
	slb_db_par_u32(&p, &id);
	return slb_db_do(my, sql, &p, what, NULL, err, errlen);
}

/* n's dispatcher row; a new one (no ds_id yet) is inserted, with the id
 * a dispatcher-only node's id implies or AUTO_INCREMENT's, and n->ds_id
 * is set to it. */
static int
ds_write(MYSQL *my, const struct sched_db *db, struct lb_node *n, char *err,
    size_t errlen)
{
	char sql[SQL_LEN], what[96], weight[16];
	struct slb_db_params p = { .n = 0 };
	int32_t state = n->enabled ? 0 : 1;
	bool insert = n->ds_id == 0;
	uint32_t rowid = n->ds_id;
	MYSQL_STMT *st = NULL;
	int rc, w;

	if (insert && ds_own(db, n))
		rowid = n->id - SCHED_DS_ID_BASE;
	snprintf(
	    what, sizeof(what), "%s: node %u: INSERT", db->ds_table, n->id);
	snprintf(weight, sizeof(weight), "%u", n->weight);
	w = snprintf(sql, sizeof(sql),
	    "INSERT INTO `%s` (id, setid, "
	    "destination, socket, state, weight, priority, attrs, description) "
	    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)%s",
	    db->ds_table,
	    insert
		? ""
		: " ON DUPLICATE KEY UPDATE setid = VALUES(setid), "
		  "destination = VALUES(destination), socket = VALUES(socket), "
		  "state = VALUES(state), weight = VALUES(weight), "
		  "priority = VALUES(priority), attrs = VALUES(attrs), "
		  "description = VALUES(description)");
	if (w < 0 || w >= (int)sizeof(sql))
		return ENAMETOOLONG;
	if (rowid != 0)
		slb_db_par_u32(&p, &rowid);
	else
		slb_db_par_null(&p); /* AUTO_INCREMENT chooses */
	slb_db_par_u32(&p, &n->set);
	slb_db_par_str(&p, n->uri);
	if (n->socket[0] != '\0')
		slb_db_par_str(&p, n->socket);
	else
		slb_db_par_null(&p); /* the schema's "no socket" */
	slb_db_par_i32(&p, &state);
	slb_db_par_str(&p, weight);
	slb_db_par_i32(&p, &n->priority);
	slb_db_par_str(&p, n->attrs);
	slb_db_par_str(&p, n->description);
	if ((rc = slb_db_run(my, sql, &p, what, &st, err, errlen)) != 0)
		return rc;
	if (insert) {
		unsigned long long id =
		    rowid ? rowid : mysql_stmt_insert_id(st);

		if (id == 0 || id > UINT32_MAX - SCHED_DS_ID_BASE) {
			snprintf(err, errlen,
			    "%s: the new row's id %llu: must "
			    "be 1..%u",
			    what, id, UINT32_MAX - SCHED_DS_ID_BASE);
			rc = ERANGE;
		} else
			n->ds_id = (uint32_t)id;
	}
	mysql_stmt_close(st);
	return rc;
}

static int
state_upsert(MYSQL *my, const struct sched_db *db, const struct lb_node *n,
    char *err, size_t errlen)
{
	char sql[SQL_LEN], what[96];
	struct slb_db_params p = { .n = 0 };
	int32_t enabled = n->enabled ? 1 : 0;
	int rc;

	snprintf(
	    what, sizeof(what), "%s: node %u: INSERT", db->state_table, n->id);
	if ((rc = sched_db_sql_fmt(sql,
		 "INSERT INTO `%s` (node_id, enabled) "
		 "VALUES (?, ?) ON DUPLICATE KEY UPDATE "
		 "enabled = VALUES(enabled)",
		 db->state_table)) != 0)
		return rc;
	slb_db_par_u32(&p, &n->id);
	slb_db_par_i32(&p, &enabled);
	return slb_db_do(my, sql, &p, what, NULL, err, errlen);
}

static int
tx_begin(MYSQL *my, char *err, size_t errlen)
{
	if (mysql_autocommit(my, 0) != 0) {
		snprintf(
		    err, errlen, "begin transaction: %s", mysql_error(my));
		return EIO;
	}
	return 0;
}

static int
tx_end(MYSQL *my, int rc, char *err, size_t errlen)
{
	if (rc != 0) {
		mysql_rollback(my);
		return rc;
	}
	if (mysql_commit(my) != 0) {
		snprintf(err, errlen, "commit: %s", mysql_error(my));
		return EIO;
	}
	return 0;
}

int
sched_mysql_save_node(const struct sched_db *db, const struct lb_table *t,
    struct lb_node *n, bool added, char *err, size_t errlen)
{
	uint32_t ds_id = n->ds_id;
	char why[256];
	MYSQL *my = NULL;
	int rc;

	if ((rc = lb_node_validate(n, why, sizeof(why))) != 0) {
		snprintf(err, errlen, "node %u: %s", n->id, why);
		return rc;
	}
	if (ds_own(db, n) && n->nres > 0) {
		snprintf(err, errlen,
		    "node %u is in dispatcher only (no "
		    "group): dispatcher has no column for resources",
		    n->id);
		return EINVAL;
	}
	if ((rc = sched_db_open(db, &my, err, errlen)) != 0)
		goto out;
	/* DDL commits implicitly, so it goes before the transaction */
	if (db->state_table[0] != '\0' &&
	    (rc = sched_db_state_create(my, db, err, errlen)) != 0)
		goto out;
	if ((rc = tx_begin(my, err, errlen)) != 0)
		goto out;
	if (lb_has_row(db, n))
		rc = lb_write(my, db, n, added, err, errlen);
	else if (!added)
		/* a row with its id can only be its own, from before */
		rc = delete_by_id(
		    my, db->lb_table, "id", n->id, n->id, err, errlen);
	if (rc == 0 && db->ds_table[0] != '\0') {
		if (n->set != 0)
			rc = ds_write(my, db, n, err, errlen);
		else if (n->ds_id != 0)
			/* left its set: a row left behind would put it
			 * back in on the next load */
			rc = delete_by_id(my, db->ds_table, "id", n->ds_id,
			    n->id, err, errlen);
	}
	if (rc == 0 && db->state_table[0] != '\0')
		rc = state_upsert(my, db, n, err, errlen);
	/* dispatcher-only nodes with the new node's uri: their state row
	 * keeps them nodes of their own on the next load */
	for (size_t i = 0;
	     added && rc == 0 && db->state_table[0] != '\0' && i < t->n; i++) {
		const struct lb_node *x = &t->nodes[i];

		if (x != n && x->id != n->id && ds_own(db, x) &&
		    strcasecmp(x->uri, n->uri) == 0)
			rc = state_upsert(my, db, x, err, errlen);
	}
	rc = tx_end(my, rc, err, errlen);
out:
	if (rc != 0)
		n->ds_id = ds_id; /* nothing was written */
	mysql_close(my);
	return rc;
}

int
sched_mysql_delete_node(const struct sched_db *db, const struct lb_node *n,
    char *err, size_t errlen)
{
	uint32_t rowid = n->ds_id;
	MYSQL *my = NULL;
	int rc;

	if (rowid == 0 && ds_own(db, n))
		rowid = n->id - SCHED_DS_ID_BASE;
	if ((rc = sched_db_open(db, &my, err, errlen)) != 0)
		goto out;
	if ((rc = tx_begin(my, err, errlen)) != 0)
		goto out;
	rc = delete_by_id(my, db->lb_table, "id", n->id, n->id, err, errlen);
	/* a dispatcher row left behind would bring the node back as a
	 * dispatcher-only node on the next load */
	if (rc == 0 && db->ds_table[0] != '\0' && rowid != 0) {
		rc = delete_by_id(
		    my, db->ds_table, "id", rowid, n->id, err, errlen);
		if (rc == ENOENT) /* no dispatcher table at all */
			rc = 0;
	}
	if (rc == 0 && db->state_table[0] != '\0') {
		rc = delete_by_id(
		    my, db->state_table, "node_id", n->id, n->id, err, errlen);
		if (rc == ENOENT)
			rc = 0;
	}
	rc = tx_end(my, rc, err, errlen);
out:
	mysql_close(my);
	return rc;
}
