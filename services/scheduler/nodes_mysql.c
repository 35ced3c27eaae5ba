#define SLB_LOG_MODULE "mysql"
#include "sched_db.h"

#include <ctype.h>
#include <errno.h>
#include <mysql.h>
#include <mysqld_error.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dbstmt.h"
#include "dburl.h"
#include "log.h"
#include "nodes_mysql_priv.h"

/*
 * The OpenSIPS load_balancer and dispatcher tables as the node table.
 * Every value travels in a prepared statement; only the table names, which
 * come from our own config and are checked against [A-Za-z0-9_], are
 * pasted into SQL text.  One short-lived connection per call: this runs at
 * startup, on reload and on admin changes, never per call.  This file
 * loads the tables; nodes_mysql_save.c writes admin changes back.
 */


void
sched_db_url_masked(const char *url, char *buf, size_t len)
{
	slb_db_url_masked(url, buf, len);
}

/* Optional tables may be empty (not used). */
static int
table_name_check(const char *what, const char *name, bool required, char *err,
    size_t errlen)
{
	if (!required && name[0] == '\0')
		return 0;
	return slb_db_table_check(what, name, err, errlen);
}

static int
db_check(const struct sched_db *db, char *err, size_t errlen)
{
	int rc;

	if ((rc = table_name_check(
		 "lb_table", db->lb_table, true, err, errlen)) != 0 ||
	    (rc = table_name_check(
		 "ds_table", db->ds_table, false, err, errlen)) != 0 ||
	    (rc = table_name_check(
		 "state_table", db->state_table, false, err, errlen)) != 0)
		return rc;
	return 0;
}

/* ------------------------------------------------------------ connection */

int
sched_db_open(const struct sched_db *db, MYSQL **myp, char *err, size_t errlen)
{
	char masked[SLB_CFG_STRLEN + 8];
	int rc;

	if ((rc = db_check(db, err, errlen)) != 0)
		return rc;
	sched_db_url_masked(db->url, masked, sizeof(masked));
	/* CLIENT_FOUND_ROWS: affected rows count matched rows */
	return slb_db_connect(
	    db->url, masked, CLIENT_FOUND_ROWS, myp, err, errlen);
}

/* ------------------------------------------------------------ statements */

/* Prepared statements, parameters and result columns: dbstmt.h. */

int
sched_db_sql_fmt(char *sql, const char *fmt, const char *table)
{
	int w = snprintf(sql, SQL_LEN, fmt, table);

	return w < 0 || w >= SQL_LEN ? ENAMETOOLONG : 0;
}

/* A row's text column into dst, or "" for NULL.  Too long or holding a
 * NUL byte is an error naming the row: nothing is silently cut. */
static int
col_text(const struct slb_db_col *c, char *dst, size_t dstlen,
    const char *table, unsigned long long id, const char *name, char *err,
    size_t errlen)
{
	if (c->null) {
		dst[0] = '\0';
		return 0;
	}
	if (c->trunc || c->len >= dstlen || c->len >= sizeof(c->buf)) {
		snprintf(err, errlen,
		    "%s id %llu: %s is %lu bytes, at most "
		    "%zu fit",
		    table, id, name, c->len, dstlen - 1);
		return EINVAL;
	}
	if (memchr(c->buf, '\0', c->len) != NULL) {
		snprintf(err, errlen, "%s id %llu: %s holds a NUL byte", table,
		    id, name);
		return EINVAL;
	}
	memcpy(dst, c->buf, c->len);
	dst[c->len] = '\0';
	return 0;
}

/* A row's integer column within min..max; NULL gives def. */
static int
col_range(const struct slb_db_col *c, long long min, long long max,
    long long def, long long *out, const char *table, unsigned long long id,
    const char *name, char *err, size_t errlen)
{
	if (c->null) {
		*out = def;
		return 0;
	}
	if (c->trunc || c->v < min || c->v > max) {
		snprintf(err, errlen,
		    "%s id %llu: %s %lld: must be "
		    "%lld..%lld",
		    table, id, name, c->v, min, max);
		return EINVAL;
	}
	*out = c->v;
	return 0;
}

/* ------------------------------------------------------------ load */

enum { LB_ID, LB_GROUP, LB_URI, LB_RES, LB_PROBE, LB_DESC, LB_NCOL };

static int
lb_row(const struct sched_db *db, struct slb_db_col *c, struct lb_table *t,
    char *err, size_t errlen)
{
	const char *tb = db->lb_table;
	char res[COL_LEN], why[256];
	struct lb_node n;
	unsigned long long id;
	long long v;
	int rc;

	lb_node_defaults(&n);
	if (c[LB_ID].null || c[LB_ID].trunc || c[LB_ID].v < 1 ||
	    c[LB_ID].v > UINT32_MAX) {
		snprintf(err, errlen,
		    "%s: a row has id %lld: must be "
		    "1..4294967295",
		    tb, c[LB_ID].null ? 0 : c[LB_ID].v);
		return EINVAL;
	}
	id = (unsigned long long)c[LB_ID].v;
	n.id = (uint32_t)id;
	if ((rc = col_range(&c[LB_GROUP], 0, UINT32_MAX, 0, &v, tb, id,
		 "group_id", err, errlen)) != 0)
		return rc;
	n.group = (uint32_t)v;
	if ((rc = col_range(&c[LB_PROBE], 0, 2, 0, &v, tb, id, "probe_mode",
		 err, errlen)) != 0)
		return rc;
	n.probe_mode = (uint32_t)v;
	if ((rc = col_text(&c[LB_URI], n.uri, sizeof(n.uri), tb, id, "dst_uri",
		 err, errlen)) != 0 ||
	    (rc = col_text(&c[LB_RES], res, sizeof(res), tb, id, "resources",
		 err, errlen)) != 0 ||
	    (rc = col_text(&c[LB_DESC], n.description, sizeof(n.description),
		 tb, id, "description", err, errlen)) != 0)
		return rc;
	if (lb_res_parse(res, n.res, &n.nres, why, sizeof(why)) != 0) {
		snprintf(
		    err, errlen, "%s id %llu: resources: %s", tb, id, why);
		return EINVAL;
	}
	if (n.group == 0 || n.nres == 0)
		/* what siplb before issue 14 wrote for a dispatcher-only
		 * node; kept, so that the node keeps its id */
		slb_log_warn(
		    "%s id %llu: %s: OpenSIPS load_balancer reads "
		    "this row as a broken entry (siplb writes a %s row only "
		    "for a node with a group and resources)",
		    tb, id, n.group == 0 ? "group_id 0" : "no resources", tb);
	if ((rc = lb_table_add(t, &n, NULL, why, sizeof(why))) != 0) {
		snprintf(err, errlen, "%s id %llu: %s", tb, id, why);
		return rc;
	}
	return 0;
}

static int
lb_load(MYSQL *my, const struct sched_db *db, struct lb_table *t,
    size_t *rowsp, char *err, size_t errlen)
{
	char sql[SQL_LEN], what[96];
	struct slb_db_col *c = calloc(LB_NCOL, sizeof(*c));
	MYSQL_BIND res[LB_NCOL];
	MYSQL_STMT *st = NULL;
	int rc, r;

	if (c == NULL) {
		snprintf(err, errlen, "out of memory");
		return ENOMEM;
	}
	snprintf(what, sizeof(what), "%s: SELECT", db->lb_table);
	if ((rc = sched_db_sql_fmt(sql,
		 "SELECT id, group_id, dst_uri, "
		 "resources, probe_mode, description "
		 "FROM `%s` ORDER BY id",
		 db->lb_table)) != 0)
		goto out;
	if ((rc = slb_db_run(my, sql, NULL, what, &st, err, errlen)) != 0)
		goto out;
	slb_db_col_int(&res[LB_ID], &c[LB_ID]);
	slb_db_col_int(&res[LB_GROUP], &c[LB_GROUP]);
	slb_db_col_str(&res[LB_URI], &c[LB_URI]);
	slb_db_col_str(&res[LB_RES], &c[LB_RES]);
	slb_db_col_int(&res[LB_PROBE], &c[LB_PROBE]);
	slb_db_col_str(&res[LB_DESC], &c[LB_DESC]);
	if ((rc = slb_db_result(st, res, what, err, errlen)) != 0)
		goto out;
	while ((r = slb_db_fetch(st, what, err, errlen)) == 1) {
		if ((rc = lb_row(db, c, t, err, errlen)) != 0)
			goto out;
		(*rowsp)++;
	}
	if (r < 0)
		rc = EIO;
out:
	if (st != NULL)
		mysql_stmt_close(st);
	free(c);
	return rc;
}

enum {
	DS_ID,
	DS_SET,
	DS_DEST,
	DS_SOCK,
	DS_STATE,
	DS_WEIGHT,
	DS_PRIO,
	DS_ATTRS,
	DS_DESC,
	DS_NCOL
};

/* dispatcher.weight is CHAR(64): a number, or a FreeSWITCH ESL URL that
 * OpenSIPS turns into a live weight.  siplb does not poll ESL. */
static int
ds_weight(const char *tb, unsigned long long id, const char *s, uint32_t *out,
    char *err, size_t errlen)
{
	char masked[128];
	long v;

	if (s[0] == '\0') {
		*out = 1;
		return 0;
	}
	if (strstr(s, "://") != NULL) {
		sched_db_url_masked(s, masked, sizeof(masked));
		slb_log_warn(
		    "%s id %llu: weight \"%s\" is a FreeSWITCH ESL "
		    "URL; siplb does not fetch FreeSWITCH stats, using "
		    "weight 1",
		    tb, id, masked);
		*out = 1;
		return 0;
	}
	if (slb_parse_long(s, 1, 1000000, &v) != 0) {
		snprintf(err, errlen,
		    "%s id %llu: weight \"%s\": must be "
		    "1..1000000 or an fs:// URL",
		    tb, id, s);
		return EINVAL;
	}
	*out = (uint32_t)v;
	return 0;
}

/* The state table's rows: node id and admin flag. */
struct state_rows {
	struct state_row {
		uint32_t id;
		bool enabled;
	} * r;
	size_t n, cap;
};

static const struct state_row *
state_find(const struct state_rows *sr, uint32_t id)
{
	for (size_t i = 0; i < sr->n; i++)
		if (sr->r[i].id == id)
			return &sr->r[i];
	return NULL;
}

/* The first load_balancer node with this uri that no dispatcher row has
 * claimed yet (ds_id 0: dispatcher-only nodes always carry theirs). */
static struct lb_node *
ds_merge_target(struct lb_table *t, const char *uri)
{
	for (size_t i = 0; i < t->n; i++)
		if (t->nodes[i].ds_id == 0 &&
		    strcasecmp(t->nodes[i].uri, uri) == 0)
			return &t->nodes[i];
	return NULL;
}

static int
ds_row(const struct sched_db *db, struct slb_db_col *c, struct lb_table *t,
    const struct state_rows *sr, size_t *mergedp, char *err, size_t errlen)
{
	const char *tb = db->ds_table;
	char weight[COL_LEN], why[256];
	struct lb_node d, *n;
	unsigned long long id;
	long long set, state, prio;
	int rc;

	lb_node_defaults(&d);
	if (c[DS_ID].null || c[DS_ID].trunc || c[DS_ID].v < 1 ||
	    c[DS_ID].v > (long long)(UINT32_MAX - SCHED_DS_ID_BASE)) {
		snprintf(err, errlen, "%s: a row has id %lld: must be 1..%u",
		    tb, c[DS_ID].null ? 0 : c[DS_ID].v,
		    UINT32_MAX - SCHED_DS_ID_BASE);
		return EINVAL;
	}
	id = (unsigned long long)c[DS_ID].v;
	if ((rc = col_range(&c[DS_SET], 0, UINT32_MAX, 0, &set, tb, id,
		 "setid", err, errlen)) != 0 ||
	    (rc = col_range(&c[DS_STATE], 0, 2, 0, &state, tb, id, "state",
		 err, errlen)) != 0 ||
	    (rc = col_range(&c[DS_PRIO], INT32_MIN, INT32_MAX, 0, &prio, tb,
		 id, "priority", err, errlen)) != 0)
		return rc;
	if ((rc = col_text(&c[DS_DEST], d.uri, sizeof(d.uri), tb, id,
		 "destination", err, errlen)) != 0 ||
	    (rc = col_text(&c[DS_SOCK], d.socket, sizeof(d.socket), tb, id,
		 "socket", err, errlen)) != 0 ||
	    (rc = col_text(&c[DS_WEIGHT], weight, sizeof(weight), tb, id,
		 "weight", err, errlen)) != 0 ||
	    (rc = col_text(&c[DS_ATTRS], d.attrs, sizeof(d.attrs), tb, id,
		 "attrs", err, errlen)) != 0 ||
	    (rc = col_text(&c[DS_DESC], d.description, sizeof(d.description),
		 tb, id, "description", err, errlen)) != 0)
		return rc;
	if ((rc = ds_weight(tb, id, weight, &d.weight, err, errlen)) != 0)
		return rc;
	if (set == 0)
		slb_log_warn("%s id %llu: setid 0 is \"no set\" in siplb; "
			     "%s is not in any dispatcher set",
		    tb, id, d.uri);

	/* a row siplb saved as a node of its own (the state table has
	 * SCHED_DS_ID_BASE + id) stays one, even when a load_balancer row
	 * has its uri; any other row joins the first such row's node */
	n = state_find(sr, SCHED_DS_ID_BASE + (uint32_t)id) != NULL
	    ? NULL
	    : ds_merge_target(t, d.uri);
	if (n == NULL) {
		/* its own node; OpenSIPS dispatcher probes a destination
		 * while it is in the probing state, which is our mode 1 */
		n = &d;
		n->id = SCHED_DS_ID_BASE + (uint32_t)id;
		n->probe_mode = 1;
	} else {
		(*mergedp)++;
	}
	n->set = (uint32_t)set;
	n->weight = d.weight;
	n->priority = (int32_t)prio;
	n->ds_id = (uint32_t)id;
	if (n != &d) {
		memcpy(n->attrs, d.attrs, sizeof(n->attrs));
		memcpy(n->socket, d.socket, sizeof(n->socket));
	}
	/* 0 enabled, 1 disabled, 2 probing: enabled but down until a probe
	 * answers */
	n->enabled = state != 1;
	n->up = state != 2;
	if (state == 2 && n->probe_mode == 0)
		slb_log_warn("node %u %s: %s state is 2 (probing) but "
			     "probe_mode is 0: it stays down until probed",
		    n->id, n->uri, tb);
	lb_node_update_rweight(n);
	if (n == &d &&
	    (rc = lb_table_add(t, &d, NULL, why, sizeof(why))) != 0) {
		snprintf(err, errlen, "%s id %llu: %s", tb, id, why);
		return rc;
	}
	return 0;
}

static int
ds_load(MYSQL *my, const struct sched_db *db, struct lb_table *t,
    const struct state_rows *sr, size_t *rowsp, size_t *mergedp, char *err,
    size_t errlen)
{
	char sql[SQL_LEN], what[96];
	struct slb_db_col *c = calloc(DS_NCOL, sizeof(*c));
	MYSQL_BIND res[DS_NCOL];
	MYSQL_STMT *st = NULL;
	int rc, r;

	if (c == NULL) {
		snprintf(err, errlen, "out of memory");
		return ENOMEM;
	}
	snprintf(what, sizeof(what), "%s: SELECT", db->ds_table);
	/* ORDER BY id: "the first row for a uri merges" must not depend on
	 * the storage engine's mood */
	if ((rc = sched_db_sql_fmt(sql,
		 "SELECT id, setid, destination, "
		 "socket, state, weight, priority, attrs, "
		 "description FROM `%s` ORDER BY id",
		 db->ds_table)) != 0)
		goto out;
	if ((rc = slb_db_run(my, sql, NULL, what, &st, err, errlen)) != 0)
		goto out;
	slb_db_col_int(&res[DS_ID], &c[DS_ID]);
	slb_db_col_int(&res[DS_SET], &c[DS_SET]);
	slb_db_col_str(&res[DS_DEST], &c[DS_DEST]);
	slb_db_col_str(&res[DS_SOCK], &c[DS_SOCK]);
	slb_db_col_int(&res[DS_STATE], &c[DS_STATE]);
	slb_db_col_str(&res[DS_WEIGHT], &c[DS_WEIGHT]);
	slb_db_col_int(&res[DS_PRIO], &c[DS_PRIO]);
	slb_db_col_str(&res[DS_ATTRS], &c[DS_ATTRS]);
	slb_db_col_str(&res[DS_DESC], &c[DS_DESC]);
	if ((rc = slb_db_result(st, res, what, err, errlen)) != 0)
		goto out;
	while ((r = slb_db_fetch(st, what, err, errlen)) == 1) {
		if ((rc = ds_row(db, c, t, sr, mergedp, err, errlen)) != 0)
			goto out;
		(*rowsp)++;
	}
	if (r < 0)
		rc = EIO;
out:
	if (st != NULL)
		mysql_stmt_close(st);
	free(c);
	return rc;
}

int
sched_db_state_create(
    MYSQL *my, const struct sched_db *db, char *err, size_t errlen)
{
	char sql[SQL_LEN], what[96];

	snprintf(what, sizeof(what), "%s: CREATE TABLE", db->state_table);
	if (sched_db_sql_fmt(sql,
		"CREATE TABLE IF NOT EXISTS `%s` (node_id "
		"INT UNSIGNED PRIMARY KEY, enabled TINYINT NOT NULL)",
		db->state_table) != 0)
		return ENAMETOOLONG;
	return slb_db_do(my, sql, NULL, what, NULL, err, errlen);
}

/* The state table's rows into sr (read before dispatcher: its rows name
 * the dispatcher-only nodes siplb saved). */
static int
state_read(MYSQL *my, const struct sched_db *db, struct state_rows *sr,
    char *err, size_t errlen)
{
	char sql[SQL_LEN], what[96];
	struct slb_db_col c[2];
	MYSQL_BIND res[2];
	MYSQL_STMT *st = NULL;
	int rc, r;

	if ((rc = sched_db_state_create(my, db, err, errlen)) != 0)
		return rc;
	snprintf(what, sizeof(what), "%s: SELECT", db->state_table);
	if ((rc = sched_db_sql_fmt(sql, "SELECT node_id, enabled FROM `%s`",
		 db->state_table)) != 0)
		goto out;
	if ((rc = slb_db_run(my, sql, NULL, what, &st, err, errlen)) != 0)
		goto out;
	slb_db_col_int(&res[0], &c[0]);
	slb_db_col_int(&res[1], &c[1]);
	if ((rc = slb_db_result(st, res, what, err, errlen)) != 0)
		goto out;
	while ((r = slb_db_fetch(st, what, err, errlen)) == 1) {
		if (c[0].null || c[0].v < 1 || c[0].v > UINT32_MAX)
			continue;
		if (sr->n == sr->cap) {
			size_t cap = sr->cap ? sr->cap * 2 : 64;
			struct state_row *nr;

			nr = realloc(sr->r, cap * sizeof(*nr));

			if (nr == NULL) {
				snprintf(err, errlen, "out of memory");
				rc = ENOMEM;
				goto out;
			}
			sr->r = nr;
			sr->cap = cap;
		}
		sr->r[sr->n].id = (uint32_t)c[0].v;
		sr->r[sr->n].enabled = !c[1].null && c[1].v != 0;
		sr->n++;
	}
	if (r < 0)
		rc = EIO;
out:
	if (st != NULL)
		mysql_stmt_close(st);
	return rc;
}

/* The admin flag of load_balancer-only nodes, which OpenSIPS has no
 * column for.  A node with a dispatcher row keeps dispatcher.state: that
 * is the column operators and OpenSIPS tools edit, and save_node writes
 * both, so they only disagree after a hand edit of dispatcher. */
static void
state_apply(
    const struct sched_db *db, const struct state_rows *sr, struct lb_table *t)
{
	for (size_t i = 0; i < sr->n; i++) {
		struct lb_node *n = lb_table_find(t, sr->r[i].id);
		bool enabled = sr->r[i].enabled;

		if (n == NULL)
			continue; /* a node deleted by hand */
		if (n->ds_id != 0) {
			if (n->enabled != enabled)
				slb_log_notice("node %u %s: %s says %s, "
					       "%s.state says %s; keeping %s",
				    n->id, n->uri, db->state_table,
				    enabled ? "enabled" : "disabled",
				    db->ds_table,
				    n->enabled ? "enabled" : "disabled",
				    db->ds_table);
			continue;
		}
		n->enabled = enabled;
	}
}

int
sched_mysql_load(
    const struct sched_db *db, struct lb_table *t, char *err, size_t errlen)
{
	char masked[SLB_CFG_STRLEN + 8];
	size_t lbrows = 0, dsrows = 0, merged = 0;
	struct state_rows sr = { 0 };
	MYSQL *my = NULL;
	int rc;

	if ((rc = sched_db_open(db, &my, err, errlen)) != 0)
		goto out;
	if ((rc = lb_load(my, db, t, &lbrows, err, errlen)) != 0)
		goto out;
	if (db->state_table[0] != '\0' &&
	    (rc = state_read(my, db, &sr, err, errlen)) != 0)
		goto out;
	if (db->ds_table[0] != '\0') {
		rc = ds_load(my, db, t, &sr, &dsrows, &merged, err, errlen);
		if (rc == ENOENT) {
			slb_log_notice("%s: no such table, loading "
				       "load_balancer rows only",
			    db->ds_table);
			rc = 0;
		}
		if (rc != 0)
			goto out;
	}
	state_apply(db, &sr, t);
	sched_db_url_masked(db->url, masked, sizeof(masked));
	slb_log_info("%s: %zu nodes from %zu %s rows and %zu %s rows "
		     "(%zu merged by uri)",
	    masked, t->n, lbrows, db->lb_table, dsrows,
	    db->ds_table[0] ? db->ds_table : "dispatcher", merged);
out:
	if (rc != 0)
		lb_table_free(t);
	free(sr.r);
	mysql_close(my);
	return rc;
}
