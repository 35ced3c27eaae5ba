#define SLB_LOG_MODULE "store"
#include "store_priv.h"

#include <errno.h>
#include <mysql.h>
#include <stdio.h>
#include <string.h>

#include "dbstmt.h"
#include "dburl.h"

/* The MySQL/MariaDB backend of the dialog store (store_priv.h), on the
 * statement helpers of dbstmt.h.  The connection is opened again by the
 * next call after the server went away. */

#define MY_CHUNK 64 /* rows per multi-row INSERT */

/* ascii_bin: keys compare byte for byte as in SQLite (the default
 * collation would make "a1" and "A1" one dialog); every field is printable
 * ASCII (slb_dialog_copy_field). */
static const char mysql_schema[] =
    "CREATE TABLE IF NOT EXISTS %1$s (\n"
    "    `key` VARCHAR(64) NOT NULL PRIMARY KEY,\n"
    "    edge VARCHAR(64) NOT NULL DEFAULT '',\n"
    "    node_id INT UNSIGNED NOT NULL DEFAULT 0,\n"
    "    group_id INT UNSIGNED NOT NULL DEFAULT 0,\n"
    "    resources VARCHAR(255) NOT NULL DEFAULT '',\n"
    "    state TINYINT UNSIGNED NOT NULL,\n"
    "    created_us BIGINT UNSIGNED NOT NULL,\n"
    "    updated_us BIGINT UNSIGNED NOT NULL,\n"
    "    call_id VARCHAR(255) NOT NULL DEFAULT '',\n"
    "    from_tag VARCHAR(128) NOT NULL DEFAULT '',\n"
    "    to_tag VARCHAR(128) NOT NULL DEFAULT '',\n"
    "    reason VARCHAR(64) NOT NULL DEFAULT '',\n"
    "    INDEX %1$s_state (state),\n"
    "    INDEX %1$s_node_id (node_id),\n"
    "    INDEX %1$s_edge (edge)\n"
    ") ENGINE=InnoDB DEFAULT CHARSET=ascii COLLATE=ascii_bin;\n";

/* MySQL evaluates the assignments left to right on the row being changed:
 * `state` is assigned last so that every test above sees the old one. */
static const char mysql_upsert_tail[] =
    " ON DUPLICATE KEY UPDATE "
    "edge = IF(state = 3 OR VALUES(edge) = '', edge, VALUES(edge)), "
    "node_id = IF(state = 3 OR VALUES(node_id) = 0, node_id, "
    "VALUES(node_id)), "
    "group_id = IF(state = 3 OR VALUES(group_id) = 0, group_id, "
    "VALUES(group_id)), "
    "resources = IF(state = 3 OR VALUES(resources) = '', resources, "
    "VALUES(resources)), "
    "call_id = IF(state = 3 OR VALUES(call_id) = '', call_id, "
    "VALUES(call_id)), "
    "from_tag = IF(state = 3 OR VALUES(from_tag) = '', from_tag, "
    "VALUES(from_tag)), "
    "to_tag = IF(state = 3 OR VALUES(to_tag) = '', to_tag, VALUES(to_tag)), "
    "reason = IF(state = 3, reason, VALUES(reason)), "
    "updated_us = IF(state = 3, updated_us, "
    "GREATEST(updated_us, VALUES(updated_us))), "
    "state = GREATEST(state, VALUES(state))";


static void
my_drop(struct dlg_store *s)
{
	if (s->my_upsert1)
		mysql_stmt_close(s->my_upsert1);
	if (s->my_upsertn)
		mysql_stmt_close(s->my_upsertn);
	if (s->my_term)
		mysql_stmt_close(s->my_term);
	s->my_upsert1 = s->my_upsertn = s->my_term = NULL;
	if (s->my)
		mysql_close(s->my);
	s->my = NULL;
}

/* After an error: a client-side error (server gone, lost, out of sync)
 * means the connection is unusable; drop it, the next call connects
 * again. */
static int
my_fail(struct dlg_store *s, MYSQL_STMT *st, const char *what, char *err,
    size_t errlen)
{
	unsigned e = st ? mysql_stmt_errno(st) : mysql_errno(s->my);

	snprintf(err, errlen, "%s: %s: %s", s->name, what,
	    st ? mysql_stmt_error(st) : mysql_error(s->my));
	if (slb_db_conn_lost(e))
		my_drop(s);
	return EIO;
}

/* After a failed dbstmt.h call on st, whose err is written already. */
static void
my_lost(struct dlg_store *s, MYSQL_STMT *st)
{
	if (slb_db_conn_lost(mysql_stmt_errno(st)))
		my_drop(s);
}

/* "<store>: what" for the dbstmt.h helpers' messages */
#define LABEL(buf, s, what) \
	(snprintf((buf), sizeof(buf), "%s: %s", (s)->name, (what)), (buf))

static MYSQL_STMT *
my_prepare(struct dlg_store *s, const char *sql, char *err, size_t errlen)
{
	char lbl[sizeof(s->name) + 16];
	MYSQL_STMT *st = NULL;

	if (slb_db_prepare(
		s->my, sql, LABEL(lbl, s, "prepare"), &st, err, errlen) != 0)
		return NULL;
	return st;
}

static int
my_upsert_sql(struct dlg_store *s, char *sql, size_t len, int rows)
{
	size_t off;
	int w = snprintf(
	    sql, len, "INSERT INTO %s (" DLG_COLS ") VALUES ", s->table);

	if (w < 0 || (size_t)w >= len)
		return ENAMETOOLONG;
	off = (size_t)w;
	for (int i = 0; i < rows; i++) {
		w = snprintf(sql + off, len - off,
		    "%s(?,?,?,?,?,?,?,?,?,?,?,?)", i ? "," : "");
		if (w < 0 || (size_t)w >= len - off)
			return ENAMETOOLONG;
		off += (size_t)w;
	}
	w = snprintf(sql + off, len - off, "%s", mysql_upsert_tail);
	return w < 0 || (size_t)w >= len - off ? ENAMETOOLONG : 0;
}

static int
my_connect(struct dlg_store *s, char *err, size_t errlen)
{
	char sql[DLG_SQL_LEN * 4];
	int rc;

	if (s->my != NULL)
		return 0;
	if ((rc = slb_db_connect(s->url, s->name, 0, &s->my, err, errlen)) !=
	    0)
		return rc;
	if (dlg_sql_fmt(sql, sizeof(sql), mysql_schema, s->table) != 0)
		return ENAMETOOLONG;
	if (mysql_real_query(s->my, sql, (unsigned long)strlen(sql)) != 0)
		return my_fail(s, NULL, "create table", err, errlen);
	if (my_upsert_sql(s, sql, sizeof(sql), 1) != 0 ||
	    (s->my_upsert1 = my_prepare(s, sql, err, errlen)) == NULL ||
	    my_upsert_sql(s, sql, sizeof(sql), MY_CHUNK) != 0 ||
	    (s->my_upsertn = my_prepare(s, sql, err, errlen)) == NULL ||
	    dlg_sql_fmt(sql, sizeof(sql), DLG_TERMINATE_SQL, s->table) != 0 ||
	    (s->my_term = my_prepare(s, sql, err, errlen)) == NULL) {
		my_drop(s);
		return EIO;
	}
	return 0;
}

static void
my_bind_rec(MYSQL_BIND *b, unsigned long *len, const struct slb_dialog *r)
{
	slb_db_bind_str(&b[0], &len[0], r->key);
	slb_db_bind_str(&b[1], &len[1], r->edge);
	slb_db_bind_u32(&b[2], &r->node_id);
	slb_db_bind_u32(&b[3], &r->group);
	slb_db_bind_str(&b[4], &len[4], r->resources);
	/* enum slb_dialog_state is int-sized (asserted in dialog.c) */
	slb_db_bind_i32(&b[5], (const int32_t *)&r->state);
	slb_db_bind_u64(&b[6], &r->created_us);
	slb_db_bind_u64(&b[7], &r->updated_us);
	slb_db_bind_str(&b[8], &len[8], r->call_id);
	slb_db_bind_str(&b[9], &len[9], r->from_tag);
	slb_db_bind_str(&b[10], &len[10], r->to_tag);
	slb_db_bind_str(&b[11], &len[11], r->reason);
}

static int
my_run(struct dlg_store *s, MYSQL_STMT *st, MYSQL_BIND *b, const char *what,
    char *err, size_t errlen)
{
	if (mysql_stmt_bind_param(st, b) != 0 || mysql_stmt_execute(st) != 0)
		return my_fail(s, st, what, err, errlen);
	return 0;
}

static int
my_upsert(struct dlg_store *s, const struct slb_dialog *recs, size_t n,
    char *err, size_t errlen)
{
	static MYSQL_BIND b[MY_CHUNK * DLG_NCOLS];
	static unsigned long len[MY_CHUNK * DLG_NCOLS];
	size_t i = 0;
	int rc;

	/* MY_CHUNK rows per statement: one round trip instead of 64 */
	for (; n - i >= MY_CHUNK; i += MY_CHUNK) {
		for (size_t k = 0; k < MY_CHUNK; k++)
			my_bind_rec(&b[k * DLG_NCOLS], &len[k * DLG_NCOLS],
			    &recs[i + k]);
		if ((rc = my_run(
			 s, s->my_upsertn, b, "upsert", err, errlen)) != 0)
			return rc;
	}
	for (; i < n; i++) {
		my_bind_rec(b, len, &recs[i]);
		if ((rc = my_run(
			 s, s->my_upsert1, b, "upsert", err, errlen)) != 0)
			return rc;
	}
	return 0;
}

static int
my_terminate(struct dlg_store *s, const char *key, const char *reason,
    uint64_t now_us, char *err, size_t errlen)
{
	MYSQL_BIND b[3];
	unsigned long len[3];

	slb_db_bind_str(&b[0], &len[0], reason);
	slb_db_bind_u64(&b[1], &now_us);
	slb_db_bind_str(&b[2], &len[2], key);
	return my_run(s, s->my_term, b, "terminate", err, errlen);
}

/* One fetched row (every column bound as text or integer) as a dialog;
 * text is kept printable as SQLite's rows are (slb_dialog_copy_field). */
static void
my_row(struct slb_db_col *c, struct slb_dialog *r)
{
	slb_dialog_copy_field(r->key, sizeof(r->key), slb_db_col_cstr(&c[0]));
	slb_dialog_copy_field(
	    r->edge, sizeof(r->edge), slb_db_col_cstr(&c[1]));
	r->node_id = (uint32_t)c[2].v;
	r->group = (uint32_t)c[3].v;
	slb_dialog_copy_field(
	    r->resources, sizeof(r->resources), slb_db_col_cstr(&c[4]));
	r->state = (enum slb_dialog_state)c[5].v;
	r->created_us = (uint64_t)c[6].v;
	r->updated_us = (uint64_t)c[7].v;
	slb_dialog_copy_field(
	    r->call_id, sizeof(r->call_id), slb_db_col_cstr(&c[8]));
	slb_dialog_copy_field(
	    r->from_tag, sizeof(r->from_tag), slb_db_col_cstr(&c[9]));
	slb_dialog_copy_field(
	    r->to_tag, sizeof(r->to_tag), slb_db_col_cstr(&c[10]));
	slb_dialog_copy_field(
	    r->reason, sizeof(r->reason), slb_db_col_cstr(&c[11]));
}

/* the integer columns of DLG_COLS */
static const bool int_col[DLG_NCOLS] = {
	[2] = true,
	[3] = true,
	[5] = true,
	[6] = true,
	[7] = true,
};

static int
my_select(struct dlg_store *s, const char *sql, const struct param *p, int np,
    struct rows *out, char *err, size_t errlen)
{
	static struct slb_db_col c[DLG_NCOLS];
	struct slb_db_params pp = { 0 };
	MYSQL_BIND rb[DLG_NCOLS];
	char lbl[sizeof(s->name) + 16];
	MYSQL_STMT *st;
	int rc = 0, f;

	if ((rc = my_connect(s, err, errlen)) != 0)
		return rc;
	if ((st = my_prepare(s, sql, err, errlen)) == NULL)
		return EIO;
	for (int i = 0; i < np; i++) {
		if (p[i].str)
			slb_db_par_str(&pp, p[i].s);
		else
			slb_db_par_i64(&pp, &p[i].i);
	}
	if ((np && mysql_stmt_bind_param(st, pp.b) != 0) ||
	    mysql_stmt_execute(st) != 0) {
		rc = my_fail(s, st, "select", err, errlen);
		goto out;
	}
	memset(c, 0, sizeof(c));
	for (int i = 0; i < DLG_NCOLS; i++) {
		if (int_col[i])
			slb_db_col_int(&rb[i], &c[i]);
		else
			slb_db_col_str(&rb[i], &c[i]);
	}
	if ((rc = slb_db_result(
		 st, rb, LABEL(lbl, s, "select"), err, errlen)) != 0) {
		my_lost(s, st);
		goto out;
	}
	while ((f = slb_db_fetch(st, LABEL(lbl, s, "select"), err, errlen)) ==
	    1) {
		struct slb_dialog *o = dlg_rows_add(out);

		if (o == NULL) {
			snprintf(err, errlen, "%s: out of memory", s->name);
			rc = ENOMEM;
			goto out;
		}
		my_row(c, o);
	}
	if (f < 0) {
		my_lost(s, st);
		rc = EIO;
	}
out:
	mysql_stmt_close(st);
	return rc;
}

static int
my_open(struct dlg_store *s, const struct dlg_store_cfg *c, char *err,
    size_t errlen)
{
	char masked[SLB_CFG_STRLEN + 8];
	struct slb_db_url u;
	int rc;

	if (c->db_url == NULL || strlen(c->db_url) >= sizeof(s->url)) {
		snprintf(err, errlen, "db_url: missing or too long");
		return EINVAL;
	}
	if ((rc = slb_db_url_parse(c->db_url, &u, err, errlen)) != 0)
		return rc;
	memset(&u, 0, sizeof(u));
	snprintf(s->url, sizeof(s->url), "%s", c->db_url);
	slb_db_url_masked(c->db_url, masked, sizeof(masked));
	snprintf(s->name, sizeof(s->name), "%s", masked);
	return my_connect(s, err, errlen);
}

static void
my_close(struct dlg_store *s)
{
	my_drop(s);
	memset(s->url, 0, sizeof(s->url)); /* the password */
}

static int
my_begin(struct dlg_store *s, char *err, size_t errlen)
{
	int rc;

	if ((rc = my_connect(s, err, errlen)) != 0)
		return rc;
	if (mysql_real_query(s->my, "START TRANSACTION", 17) != 0)
		return my_fail(s, NULL, "start transaction", err, errlen);
	return 0;
}

static int
my_commit(struct dlg_store *s, char *err, size_t errlen)
{
	if (mysql_commit(s->my) != 0)
		return my_fail(s, NULL, "commit", err, errlen);
	return 0;
}

static void
my_rollback(struct dlg_store *s)
{
	char e[1024];

	if (s->my != NULL && mysql_rollback(s->my) != 0)
		my_fail(s, NULL, "rollback", e, sizeof(e));
}

const struct dlg_store_ops dlg_mysql_ops = {
	.open = my_open,
	.close = my_close,
	.begin = my_begin,
	.commit = my_commit,
	.rollback = my_rollback,
	.upsert = my_upsert,
	.terminate = my_terminate,
	.select = my_select,
};
