#define SLB_LOG_MODULE "store"
#include "store.h"

#include <ctype.h>
#include <errno.h>
#include <errmsg.h>
#include <inttypes.h>
#include <mysql.h>
#include <mysqld_error.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <uthash.h>

#include "cfg.h"
#include "dburl.h"
#include "log.h"

/*
 * Two backends behind one small set of primitives (exec without values,
 * upsert, terminate one key, select rows), and the store's logic written
 * once above them.  Every value travels as a bound parameter; only the
 * table name (checked against [A-Za-z0-9_]) and numbers we format
 * ourselves (LIMIT) are pasted into SQL text.
 *
 * The schema is the text of deploy/sql/siplb-dialogs.{sqlite,mysql}.sql
 * with the table name as a parameter: keep them the same.
 */

#define SQL_LEN 2048
#define DB_TIMEOUT_S 5
#define MY_CHUNK 64		/* rows per multi-row INSERT (MySQL) */
#define NCOLS 12

#define COLS "`key`, edge, node_id, group_id, resources, state, created_us, " \
	     "updated_us, call_id, from_tag, to_tag, reason"

static const char sqlite_schema[] =
    "CREATE TABLE IF NOT EXISTS %1$s (\n"
    "    `key` VARCHAR(64) NOT NULL PRIMARY KEY,\n"
    "    edge VARCHAR(64) NOT NULL DEFAULT '',\n"
    "    node_id INTEGER NOT NULL DEFAULT 0,\n"
    "    group_id INTEGER NOT NULL DEFAULT 0,\n"
    "    resources VARCHAR(255) NOT NULL DEFAULT '',\n"
    "    state INTEGER NOT NULL,\n"
    "    created_us INTEGER NOT NULL,\n"
    "    updated_us INTEGER NOT NULL,\n"
    "    call_id VARCHAR(255) NOT NULL DEFAULT '',\n"
    "    from_tag VARCHAR(128) NOT NULL DEFAULT '',\n"
    "    to_tag VARCHAR(128) NOT NULL DEFAULT '',\n"
    "    reason VARCHAR(64) NOT NULL DEFAULT ''\n"
    ");\n"
    "CREATE INDEX IF NOT EXISTS %1$s_state ON %1$s (state);\n"
    "CREATE INDEX IF NOT EXISTS %1$s_node_id ON %1$s (node_id);\n"
    "CREATE INDEX IF NOT EXISTS %1$s_edge ON %1$s (edge);\n";

/* ascii_bin: keys compare byte for byte as in SQLite (the default
 * collation would make "a1" and "A1" one dialog); every field is printable
 * ASCII (dlg_copy_field). */
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

/* A live row takes what the event says (empty fields keep the stored
 * value); a TERMINATED row keeps everything; the state only goes up.
 * SQLite evaluates every SET expression on the old row. */
static const char sqlite_upsert[] =
    "INSERT INTO %1$s (" COLS ") VALUES (?,?,?,?,?,?,?,?,?,?,?,?) "
    "ON CONFLICT(`key`) DO UPDATE SET "
    "edge = CASE WHEN state = 3 OR excluded.edge = '' THEN edge "
    "ELSE excluded.edge END, "
    "node_id = CASE WHEN state = 3 OR excluded.node_id = 0 THEN node_id "
    "ELSE excluded.node_id END, "
    "group_id = CASE WHEN state = 3 OR excluded.group_id = 0 THEN group_id "
    "ELSE excluded.group_id END, "
    "resources = CASE WHEN state = 3 OR excluded.resources = '' "
    "THEN resources ELSE excluded.resources END, "
    "call_id = CASE WHEN state = 3 OR excluded.call_id = '' THEN call_id "
    "ELSE excluded.call_id END, "
    "from_tag = CASE WHEN state = 3 OR excluded.from_tag = '' THEN from_tag "
    "ELSE excluded.from_tag END, "
    "to_tag = CASE WHEN state = 3 OR excluded.to_tag = '' THEN to_tag "
    "ELSE excluded.to_tag END, "
    "reason = CASE WHEN state = 3 THEN reason ELSE excluded.reason END, "
    "updated_us = CASE WHEN state = 3 THEN updated_us "
    "ELSE MAX(updated_us, excluded.updated_us) END, "
    "state = MAX(state, excluded.state)";

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

static const char terminate_sql[] =
    "UPDATE %1$s SET state = 3, reason = ?, updated_us = ? "
    "WHERE `key` = ? AND state < 3";

struct param {
	bool str;
	const char *s;
	long long i;
};

struct dlg_store {
	enum dlg_store_kind kind;
	char table[64];
	char name[SLB_CFG_STRLEN + 16];
	/* sqlite */
	sqlite3 *db;
	sqlite3_stmt *sq_upsert, *sq_term;
	/* mysql */
	char url[SLB_CFG_STRLEN];
	MYSQL *my;
	MYSQL_STMT *my_upsert1, *my_upsertn, *my_term;
};

/* ------------------------------------------------------------ fields */

int
dlg_copy_field(char *dst, size_t len, const char *src)
{
	size_t i = 0;

	if (len == 0)
		return 1;
	if (src == NULL)
		src = "";
	for (; src[i] && i + 1 < len; i++) {
		unsigned char c = (unsigned char)src[i];

		dst[i] = c >= 0x20 && c < 0x7f ? (char)c : '?';
	}
	dst[i] = '\0';
	return src[i] != '\0';
}

static int
sql_fmt(char *sql, size_t len, const char *fmt, const char *table)
{
	int w = snprintf(sql, len, fmt, table);

	return w < 0 || (size_t)w >= len ? ENAMETOOLONG : 0;
}

/* ------------------------------------------------------------ MySQL URL */


/* ------------------------------------------------------------ rows */

struct rows {
	struct dlg_rec *v;
	size_t n, cap;
};

static struct dlg_rec *
rows_add(struct rows *r)
{
	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 64;
		void *nv = realloc(r->v, cap * sizeof(*r->v));

		if (nv == NULL)
			return NULL;
		r->v = nv;
		r->cap = cap;
	}
	memset(&r->v[r->n], 0, sizeof(r->v[r->n]));
	return &r->v[r->n++];
}

/* ------------------------------------------------------------ SQLite */

static int
sq_fail(struct dlg_store *s, const char *what, char *err, size_t errlen)
{
	snprintf(err, errlen, "%s: %s: %s", s->name, what, sqlite3_errmsg(s->db));
	return EIO;
}

static int
sq_exec(struct dlg_store *s, const char *sql, char *err, size_t errlen)
{
	char *msg = NULL;

	if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		snprintf(err, errlen, "%s: %.40s: %s", s->name, sql,
		    msg ? msg : sqlite3_errmsg(s->db));
		sqlite3_free(msg);
		return EIO;
	}
	return 0;
}

static void
sq_bind_rec(sqlite3_stmt *st, const struct dlg_rec *r)
{
	sqlite3_bind_text(st, 1, r->key, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, r->edge, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, r->node_id);
	sqlite3_bind_int64(st, 4, r->group);
	sqlite3_bind_text(st, 5, r->resources, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 6, r->state);
	sqlite3_bind_int64(st, 7, (sqlite3_int64)r->created_us);
	sqlite3_bind_int64(st, 8, (sqlite3_int64)r->updated_us);
	sqlite3_bind_text(st, 9, r->call_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 10, r->from_tag, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 11, r->to_tag, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 12, r->reason, -1, SQLITE_STATIC);
}

static int
sq_upsert(struct dlg_store *s, const struct dlg_rec *recs, size_t n,
    char *err, size_t errlen)
{
	for (size_t i = 0; i < n; i++) {
		int rc;

		sqlite3_reset(s->sq_upsert);
		sq_bind_rec(s->sq_upsert, &recs[i]);
		rc = sqlite3_step(s->sq_upsert);
		sqlite3_reset(s->sq_upsert);
		if (rc != SQLITE_DONE)
			return sq_fail(s, "upsert", err, errlen);
	}
	return 0;
}

static int
sq_terminate(struct dlg_store *s, const char *key, const char *reason,
    uint64_t now_us, char *err, size_t errlen)
{
	int rc;

	sqlite3_reset(s->sq_term);
	sqlite3_bind_text(s->sq_term, 1, reason, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s->sq_term, 2, (sqlite3_int64)now_us);
	sqlite3_bind_text(s->sq_term, 3, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(s->sq_term);
	sqlite3_reset(s->sq_term);
	return rc == SQLITE_DONE ? 0 : sq_fail(s, "terminate", err, errlen);
}

static void
sq_text(sqlite3_stmt *st, int col, char *dst, size_t len)
{
	const unsigned char *t = sqlite3_column_text(st, col);

	dlg_copy_field(dst, len, (const char *)t);
}

static int
sq_select(struct dlg_store *s, const char *sql, const struct param *p,
    int np, struct rows *out, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int rc;

	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
		return sq_fail(s, "select", err, errlen);
	for (int i = 0; i < np; i++) {
		if (p[i].str)
			sqlite3_bind_text(st, i + 1, p[i].s, -1, SQLITE_STATIC);
		else
			sqlite3_bind_int64(st, i + 1, p[i].i);
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct dlg_rec *r = rows_add(out);

		if (r == NULL) {
			sqlite3_finalize(st);
			snprintf(err, errlen, "%s: out of memory", s->name);
			return ENOMEM;
		}
		sq_text(st, 0, r->key, sizeof(r->key));
		sq_text(st, 1, r->edge, sizeof(r->edge));
		r->node_id = (uint32_t)sqlite3_column_int64(st, 2);
		r->group = (uint32_t)sqlite3_column_int64(st, 3);
		sq_text(st, 4, r->resources, sizeof(r->resources));
		r->state = sqlite3_column_int(st, 5);
		r->created_us = (uint64_t)sqlite3_column_int64(st, 6);
		r->updated_us = (uint64_t)sqlite3_column_int64(st, 7);
		sq_text(st, 8, r->call_id, sizeof(r->call_id));
		sq_text(st, 9, r->from_tag, sizeof(r->from_tag));
		sq_text(st, 10, r->to_tag, sizeof(r->to_tag));
		sq_text(st, 11, r->reason, sizeof(r->reason));
	}
	if (rc != SQLITE_DONE) {
		rc = sq_fail(s, "select", err, errlen);
		sqlite3_finalize(st);
		return rc;
	}
	sqlite3_finalize(st);
	return 0;
}

static int
sq_open(struct dlg_store *s, const char *path, char *err, size_t errlen)
{
	char sql[SQL_LEN];
	sqlite3_stmt *st = NULL;
	const unsigned char *mode;
	int rc;

	snprintf(s->name, sizeof(s->name), "sqlite %s", path);
	if (sqlite3_open_v2(path, &s->db,
		SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
		    SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s: cannot open: %s", s->name,
		    s->db ? sqlite3_errmsg(s->db) : "out of memory");
		return EIO;
	}
	sqlite3_busy_timeout(s->db, DB_TIMEOUT_S * 1000);
	/* WAL: readers (sqlite3 CLI, backups) never block our writes, and
	 * synchronous=NORMAL syncs at checkpoints only: a power cut may lose
	 * the last batches, which the edges' snapshots give back. */
	if (sqlite3_prepare_v2(s->db, "PRAGMA journal_mode=WAL", -1, &st,
		NULL) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_ROW ||
	    (mode = sqlite3_column_text(st, 0)) == NULL ||
	    strcasecmp((const char *)mode, "wal") != 0) {
		sqlite3_finalize(st);
		return sq_fail(s, "cannot switch to WAL", err, errlen);
	}
	sqlite3_finalize(st);
	if ((rc = sq_exec(s, "PRAGMA synchronous=NORMAL", err, errlen)) != 0)
		return rc;
	if (sql_fmt(sql, sizeof(sql), sqlite_schema, s->table) != 0 ||
	    (rc = sq_exec(s, sql, err, errlen)) != 0)
		return rc ? rc : ENAMETOOLONG;
	if (sql_fmt(sql, sizeof(sql), sqlite_upsert, s->table) != 0 ||
	    sqlite3_prepare_v2(s->db, sql, -1, &s->sq_upsert, NULL) !=
		SQLITE_OK)
		return sq_fail(s, "prepare upsert", err, errlen);
	if (sql_fmt(sql, sizeof(sql), terminate_sql, s->table) != 0 ||
	    sqlite3_prepare_v2(s->db, sql, -1, &s->sq_term, NULL) != SQLITE_OK)
		return sq_fail(s, "prepare update", err, errlen);
	return 0;
}

/* ------------------------------------------------------------ MySQL */

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

/* After an error: a client-side error (2000..2999: server gone, lost,
 * out of sync) means the connection is unusable; drop it, the next call
 * connects again. */
static int
my_fail(struct dlg_store *s, MYSQL_STMT *st, const char *what, char *err,
    size_t errlen)
{
	unsigned e = st ? mysql_stmt_errno(st) : mysql_errno(s->my);

	snprintf(err, errlen, "%s: %s: %s", s->name, what,
	    st ? mysql_stmt_error(st) : mysql_error(s->my));
	if (e >= 2000 && e < 3000)
		my_drop(s);
	return EIO;
}

static MYSQL_STMT *
my_prepare(struct dlg_store *s, const char *sql, char *err, size_t errlen)
{
	MYSQL_STMT *st = mysql_stmt_init(s->my);

	if (st == NULL) {
		my_fail(s, NULL, "prepare", err, errlen);
		return NULL;
	}
	if (mysql_stmt_prepare(st, sql, (unsigned long)strlen(sql)) != 0) {
		snprintf(err, errlen, "%s: prepare: %s", s->name,
		    mysql_stmt_error(st));
		mysql_stmt_close(st);
		return NULL;
	}
	return st;
}

static int
my_upsert_sql(struct dlg_store *s, char *sql, size_t len, int rows)
{
	size_t off;
	int w = snprintf(sql, len, "INSERT INTO %s (" COLS ") VALUES ",
	    s->table);

	if (w < 0 || (size_t)w >= len)
		return ENAMETOOLONG;
	off = (size_t)w;
	for (int i = 0; i < rows; i++) {
		w = snprintf(sql + off, len - off, "%s(?,?,?,?,?,?,?,?,?,?,?,?)",
		    i ? "," : "");
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
	unsigned int timeout = DB_TIMEOUT_S;
	char sql[SQL_LEN * 4];
	struct slb_db_url u;
	int rc;

	if (s->my != NULL)
		return 0;
	if ((rc = slb_db_url_parse(s->url, &u, err, errlen)) != 0)
		return rc;
	if ((s->my = mysql_init(NULL)) == NULL) {
		snprintf(err, errlen, "%s: mysql_init: out of memory", s->name);
		return ENOMEM;
	}
	mysql_options(s->my, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
	mysql_options(s->my, MYSQL_OPT_READ_TIMEOUT, &timeout);
	mysql_options(s->my, MYSQL_OPT_WRITE_TIMEOUT, &timeout);
	mysql_options(s->my, MYSQL_SET_CHARSET_NAME, "utf8mb4");
	mysql_options(s->my, MYSQL_INIT_COMMAND,
	    "SET SESSION sql_mode = CONCAT_WS(',', "
	    "NULLIF(@@SESSION.sql_mode, ''), 'STRICT_ALL_TABLES')");
	if (mysql_real_connect(s->my, u.host, u.user[0] ? u.user : NULL,
		u.pass[0] ? u.pass : NULL, u.db, u.port, NULL, 0) == NULL) {
		unsigned e = mysql_errno(s->my);

		snprintf(err, errlen, "%s: connect: %s", s->name,
		    mysql_error(s->my));
		my_drop(s);
		return e == ER_ACCESS_DENIED_ERROR ||
			e == ER_DBACCESS_DENIED_ERROR || e == ER_BAD_DB_ERROR
		    ? EACCES
		    : ECONNREFUSED;
	}
	memset(&u, 0, sizeof(u));	/* the password */
	if (sql_fmt(sql, sizeof(sql), mysql_schema, s->table) != 0)
		return ENAMETOOLONG;
	if (mysql_real_query(s->my, sql, (unsigned long)strlen(sql)) != 0)
		return my_fail(s, NULL, "create table", err, errlen);
	if (my_upsert_sql(s, sql, sizeof(sql), 1) != 0 ||
	    (s->my_upsert1 = my_prepare(s, sql, err, errlen)) == NULL ||
	    my_upsert_sql(s, sql, sizeof(sql), MY_CHUNK) != 0 ||
	    (s->my_upsertn = my_prepare(s, sql, err, errlen)) == NULL ||
	    sql_fmt(sql, sizeof(sql), terminate_sql, s->table) != 0 ||
	    (s->my_term = my_prepare(s, sql, err, errlen)) == NULL) {
		my_drop(s);
		return EIO;
	}
	return 0;
}

static void
my_str(MYSQL_BIND *b, unsigned long *len, const char *v)
{
	memset(b, 0, sizeof(*b));
	b->buffer_type = MYSQL_TYPE_STRING;
	b->buffer = (void *)v;
	b->buffer_length = strlen(v);
	*len = b->buffer_length;
	b->length = len;
}

static void
my_u32(MYSQL_BIND *b, const uint32_t *v)
{
	memset(b, 0, sizeof(*b));
	b->buffer_type = MYSQL_TYPE_LONG;
	b->buffer = (void *)v;
	b->is_unsigned = 1;
}

static void
my_i32(MYSQL_BIND *b, const int *v)
{
	memset(b, 0, sizeof(*b));
	b->buffer_type = MYSQL_TYPE_LONG;
	b->buffer = (void *)v;
}

static void
my_u64(MYSQL_BIND *b, const uint64_t *v)
{
	memset(b, 0, sizeof(*b));
	b->buffer_type = MYSQL_TYPE_LONGLONG;
	b->buffer = (void *)v;
	b->is_unsigned = 1;
}

static void
my_bind_rec(MYSQL_BIND *b, unsigned long *len, const struct dlg_rec *r)
{
	my_str(&b[0], &len[0], r->key);
	my_str(&b[1], &len[1], r->edge);
	my_u32(&b[2], &r->node_id);
	my_u32(&b[3], &r->group);
	my_str(&b[4], &len[4], r->resources);
	my_i32(&b[5], &r->state);
	my_u64(&b[6], &r->created_us);
	my_u64(&b[7], &r->updated_us);
	my_str(&b[8], &len[8], r->call_id);
	my_str(&b[9], &len[9], r->from_tag);
	my_str(&b[10], &len[10], r->to_tag);
	my_str(&b[11], &len[11], r->reason);
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
my_upsert(struct dlg_store *s, const struct dlg_rec *recs, size_t n,
    char *err, size_t errlen)
{
	static MYSQL_BIND b[MY_CHUNK * NCOLS];
	static unsigned long len[MY_CHUNK * NCOLS];
	size_t i = 0;
	int rc;

	/* MY_CHUNK rows per statement: one round trip instead of 64 */
	for (; n - i >= MY_CHUNK; i += MY_CHUNK) {
		for (size_t k = 0; k < MY_CHUNK; k++)
			my_bind_rec(&b[k * NCOLS], &len[k * NCOLS],
			    &recs[i + k]);
		if ((rc = my_run(s, s->my_upsertn, b, "upsert", err,
			 errlen)) != 0)
			return rc;
	}
	for (; i < n; i++) {
		my_bind_rec(b, len, &recs[i]);
		if ((rc = my_run(s, s->my_upsert1, b, "upsert", err, errlen)) !=
		    0)
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

	my_str(&b[0], &len[0], reason);
	my_u64(&b[1], &now_us);
	my_str(&b[2], &len[2], key);
	return my_run(s, s->my_term, b, "terminate", err, errlen);
}

struct my_col {
	unsigned long len;
	my_bool null, trunc;
};

static void
my_out_str(MYSQL_BIND *b, struct my_col *c, char *buf, size_t size)
{
	memset(b, 0, sizeof(*b));
	b->buffer_type = MYSQL_TYPE_STRING;
	b->buffer = buf;
	b->buffer_length = size - 1;
	b->length = &c->len;
	b->is_null = &c->null;
	b->error = &c->trunc;
}

static void
my_out_u64(MYSQL_BIND *b, struct my_col *c, uint64_t *v)
{
	memset(b, 0, sizeof(*b));
	b->buffer_type = MYSQL_TYPE_LONGLONG;
	b->buffer = v;
	b->is_unsigned = 1;
	b->length = &c->len;
	b->is_null = &c->null;
	b->error = &c->trunc;
}

static void
my_terminate_str(char *buf, size_t size, const struct my_col *c)
{
	size_t n = c->null ? 0 : c->len;

	buf[n < size ? n : size - 1] = '\0';
}

static int
my_select(struct dlg_store *s, const char *sql, const struct param *p,
    int np, struct rows *out, char *err, size_t errlen)
{
	MYSQL_BIND pb[8], rb[NCOLS];
	unsigned long plen[8];
	long long pv[8];
	struct my_col c[NCOLS];
	struct dlg_rec r;
	uint64_t node, group, state;
	MYSQL_STMT *st;
	int rc = 0, f;

	if ((st = my_prepare(s, sql, err, errlen)) == NULL)
		return EIO;
	for (int i = 0; i < np && i < 8; i++) {
		if (p[i].str) {
			my_str(&pb[i], &plen[i], p[i].s);
		} else {
			pv[i] = p[i].i;
			memset(&pb[i], 0, sizeof(pb[i]));
			pb[i].buffer_type = MYSQL_TYPE_LONGLONG;
			pb[i].buffer = &pv[i];
		}
	}
	if ((np && mysql_stmt_bind_param(st, pb) != 0) ||
	    mysql_stmt_execute(st) != 0) {
		rc = my_fail(s, st, "select", err, errlen);
		goto out;
	}
	memset(c, 0, sizeof(c));
	my_out_str(&rb[0], &c[0], r.key, sizeof(r.key));
	my_out_str(&rb[1], &c[1], r.edge, sizeof(r.edge));
	my_out_u64(&rb[2], &c[2], &node);
	my_out_u64(&rb[3], &c[3], &group);
	my_out_str(&rb[4], &c[4], r.resources, sizeof(r.resources));
	my_out_u64(&rb[5], &c[5], &state);
	my_out_u64(&rb[6], &c[6], &r.created_us);
	my_out_u64(&rb[7], &c[7], &r.updated_us);
	my_out_str(&rb[8], &c[8], r.call_id, sizeof(r.call_id));
	my_out_str(&rb[9], &c[9], r.from_tag, sizeof(r.from_tag));
	my_out_str(&rb[10], &c[10], r.to_tag, sizeof(r.to_tag));
	my_out_str(&rb[11], &c[11], r.reason, sizeof(r.reason));
	if (mysql_stmt_bind_result(st, rb) != 0 ||
	    mysql_stmt_store_result(st) != 0) {
		rc = my_fail(s, st, "select", err, errlen);
		goto out;
	}
	while ((f = mysql_stmt_fetch(st)) == 0 || f == MYSQL_DATA_TRUNCATED) {
		struct dlg_rec *o = rows_add(out);

		if (o == NULL) {
			snprintf(err, errlen, "%s: out of memory", s->name);
			rc = ENOMEM;
			goto out;
		}
		my_terminate_str(r.key, sizeof(r.key), &c[0]);
		my_terminate_str(r.edge, sizeof(r.edge), &c[1]);
		my_terminate_str(r.resources, sizeof(r.resources), &c[4]);
		my_terminate_str(r.call_id, sizeof(r.call_id), &c[8]);
		my_terminate_str(r.from_tag, sizeof(r.from_tag), &c[9]);
		my_terminate_str(r.to_tag, sizeof(r.to_tag), &c[10]);
		my_terminate_str(r.reason, sizeof(r.reason), &c[11]);
		r.node_id = (uint32_t)node;
		r.group = (uint32_t)group;
		r.state = (int)state;
		*o = r;
	}
	if (f != MYSQL_NO_DATA)
		rc = my_fail(s, st, "fetch", err, errlen);
out:
	mysql_stmt_close(st);
	return rc;
}

/* ------------------------------------------------------------ primitives */

static int
tx_begin(struct dlg_store *s, char *err, size_t errlen)
{
	int rc;

	if (s->kind == DLG_STORE_SQLITE)
		return sq_exec(s, "BEGIN IMMEDIATE", err, errlen);
	if ((rc = my_connect(s, err, errlen)) != 0)
		return rc;
	if (mysql_real_query(s->my, "START TRANSACTION", 17) != 0)
		return my_fail(s, NULL, "start transaction", err, errlen);
	return 0;
}

static int
tx_commit(struct dlg_store *s, char *err, size_t errlen)
{
	if (s->kind == DLG_STORE_SQLITE)
		return sq_exec(s, "COMMIT", err, errlen);
	if (mysql_commit(s->my) != 0)
		return my_fail(s, NULL, "commit", err, errlen);
	return 0;
}

static void
tx_rollback(struct dlg_store *s)
{
	char e[1024];

	if (s->kind == DLG_STORE_SQLITE) {
		if (!sqlite3_get_autocommit(s->db))
			sq_exec(s, "ROLLBACK", e, sizeof(e));
	} else if (s->my != NULL && mysql_rollback(s->my) != 0) {
		my_fail(s, NULL, "rollback", e, sizeof(e));
	}
}

static int
upsert(struct dlg_store *s, const struct dlg_rec *recs, size_t n, char *err,
    size_t errlen)
{
	return s->kind == DLG_STORE_SQLITE ? sq_upsert(s, recs, n, err, errlen)
					   : my_upsert(s, recs, n, err, errlen);
}

static int
terminate(struct dlg_store *s, const char *key, const char *reason,
    uint64_t now_us, char *err, size_t errlen)
{
	return s->kind == DLG_STORE_SQLITE
	    ? sq_terminate(s, key, reason, now_us, err, errlen)
	    : my_terminate(s, key, reason, now_us, err, errlen);
}

static int
select_rows(struct dlg_store *s, const char *sql, const struct param *p,
    int np, struct rows *out, char *err, size_t errlen)
{
	int rc;

	if (s->kind == DLG_STORE_SQLITE)
		return sq_select(s, sql, p, np, out, err, errlen);
	if ((rc = my_connect(s, err, errlen)) != 0)
		return rc;
	return my_select(s, sql, p, np, out, err, errlen);
}

/* "SELECT <cols> FROM t WHERE ..." with the filters of f as parameters. */
static int
build_select(struct dlg_store *s, const char *cols, const struct dlg_filter *f,
    const char *tail, char *sql, size_t len, struct param *p, int *np)
{
	size_t off;
	int w, n = 0;

#define ADD(...)                                                           \
	do {                                                               \
		w = snprintf(sql + off, len - off, __VA_ARGS__);           \
		if (w < 0 || (size_t)w >= len - off)                       \
			return ENAMETOOLONG;                               \
		off += (size_t)w;                                          \
	} while (0)

	off = 0;
	ADD("SELECT %s FROM %s WHERE 1 = 1", cols, s->table);
	if (f->key && *f->key) {
		ADD(" AND `key` = ?");
		p[n++] = (struct param){true, f->key, 0};
	}
	if (f->node_id) {
		ADD(" AND node_id = ?");
		p[n++] = (struct param){false, NULL, f->node_id};
	}
	if (f->state) {
		ADD(" AND state = ?");
		p[n++] = (struct param){false, NULL, f->state};
	}
	if (f->live)
		ADD(" AND state < 3");
	if (f->edge && *f->edge) {
		ADD(" AND edge = ?");
		p[n++] = (struct param){true, f->edge, 0};
	}
	if (f->updated_after) {
		ADD(" AND updated_us > ?");
		p[n++] = (struct param){false, NULL,
		    (long long)f->updated_after};
	}
	if (f->after_key && *f->after_key) {
		ADD(" AND `key` > ?");
		p[n++] = (struct param){true, f->after_key, 0};
	}
	if (f->created_before) {
		ADD(" AND created_us < ?");
		p[n++] = (struct param){false, NULL,
		    (long long)f->created_before};
	}
	ADD("%s", tail);
	if (f->limit)
		ADD(" LIMIT %u", f->limit);
#undef ADD
	*np = n;
	return 0;
}

/* ------------------------------------------------------------ the store */

int
dlg_store_open(struct dlg_store **sp, const struct dlg_store_cfg *c,
    char *err, size_t errlen)
{
	struct dlg_store *s;
	int rc;

	if ((rc = slb_db_table_check("table", c->table, err, errlen)) != 0)
		return rc;
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return ENOMEM;
	}
	s->kind = c->kind;
	snprintf(s->table, sizeof(s->table), "%s", c->table);
	if (c->kind == DLG_STORE_SQLITE) {
		rc = sq_open(s, c->sqlite_path ? c->sqlite_path : "", err,
		    errlen);
	} else {
		struct slb_db_url u;
		char masked[SLB_CFG_STRLEN + 8];

		if (c->db_url == NULL ||
		    strlen(c->db_url) >= sizeof(s->url)) {
			snprintf(err, errlen, "db_url: missing or too long");
			rc = EINVAL;
		} else if ((rc = slb_db_url_parse(c->db_url, &u, err, errlen)) == 0) {
			memset(&u, 0, sizeof(u));
			snprintf(s->url, sizeof(s->url), "%s", c->db_url);
			slb_db_url_masked(c->db_url, masked, sizeof(masked));
			snprintf(s->name, sizeof(s->name), "%s", masked);
			rc = my_connect(s, err, errlen);
		}
	}
	if (rc != 0) {
		dlg_store_close(s);
		return rc;
	}
	*sp = s;
	return 0;
}

void
dlg_store_close(struct dlg_store *s)
{
	if (s == NULL)
		return;
	sqlite3_finalize(s->sq_upsert);
	sqlite3_finalize(s->sq_term);
	if (s->db)
		sqlite3_close(s->db);
	my_drop(s);
	memset(s->url, 0, sizeof(s->url));
	free(s);
}

const char *
dlg_store_name(const struct dlg_store *s)
{
	return s->name;
}

int
dlg_store_write(struct dlg_store *s, const struct dlg_rec *recs, size_t n,
    char *err, size_t errlen)
{
	int rc;

	if (n == 0)
		return 0;
	if ((rc = tx_begin(s, err, errlen)) != 0)
		return rc;
	if ((rc = upsert(s, recs, n, err, errlen)) != 0 ||
	    (rc = tx_commit(s, err, errlen)) != 0) {
		tx_rollback(s);
		return rc;
	}
	return 0;
}

struct keyset {
	const char *key;
	UT_hash_handle hh;
};

int
dlg_store_apply_snapshot(struct dlg_store *s, const char *edge,
    const struct dlg_rec *recs, size_t n, uint64_t now_us, size_t *lostp,
    char *err, size_t errlen)
{
	struct dlg_filter f = {.edge = edge, .live = 1};
	struct keyset *set = NULL, *items = NULL, *k;
	struct rows live = {0};
	struct param p[8];
	char sql[SQL_LEN];
	size_t lost = 0;
	int np, rc;

	if (edge == NULL || *edge == '\0') {
		snprintf(err, errlen, "snapshot without a stream name");
		return EINVAL;
	}
	if ((rc = build_select(s, COLS, &f, "", sql, sizeof(sql), p, &np)) !=
	    0) {
		snprintf(err, errlen, "query too long");
		return rc;
	}
	if ((items = calloc(n + 1, sizeof(*items))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		HASH_FIND_STR(set, recs[i].key, k);
		if (k != NULL)
			continue;
		items[i].key = recs[i].key;
		HASH_ADD_KEYPTR(hh, set, items[i].key, strlen(items[i].key),
		    &items[i]);
	}
	if ((rc = tx_begin(s, err, errlen)) != 0)
		goto out;
	if ((rc = upsert(s, recs, n, err, errlen)) != 0 ||
	    (rc = select_rows(s, sql, p, np, &live, err, errlen)) != 0)
		goto fail;
	for (size_t i = 0; i < live.n; i++) {
		HASH_FIND_STR(set, live.v[i].key, k);
		if (k != NULL)
			continue;
		if ((rc = terminate(s, live.v[i].key, "lost", now_us, err,
			 errlen)) != 0)
			goto fail;
		lost++;
	}
	if ((rc = tx_commit(s, err, errlen)) != 0)
		goto fail;
	if (lostp)
		*lostp = lost;
	goto out;
fail:
	tx_rollback(s);
out:
	HASH_CLEAR(hh, set);
	free(items);
	free(live.v);
	return rc;
}

int
dlg_store_expire(struct dlg_store *s, uint64_t created_before,
    uint64_t now_us, unsigned max, struct dlg_rec **outp, size_t *np,
    char *err, size_t errlen)
{
	struct dlg_filter f = {.live = 1, .created_before = created_before,
	    .limit = max};
	struct rows old = {0};
	struct param p[8];
	char sql[SQL_LEN];
	int n, rc;

	if ((rc = build_select(s, COLS, &f, " ORDER BY created_us", sql,
		 sizeof(sql), p, &n)) != 0) {
		snprintf(err, errlen, "query too long");
		return rc;
	}
	if ((rc = tx_begin(s, err, errlen)) != 0)
		return rc;
	if ((rc = select_rows(s, sql, p, n, &old, err, errlen)) != 0)
		goto fail;
	for (size_t i = 0; i < old.n; i++) {
		if ((rc = terminate(s, old.v[i].key, "expired", now_us, err,
			 errlen)) != 0)
			goto fail;
		old.v[i].state = DLG_TERMINATED;
		old.v[i].updated_us = now_us;
		snprintf(old.v[i].reason, sizeof(old.v[i].reason), "expired");
	}
	if ((rc = tx_commit(s, err, errlen)) != 0)
		goto fail;
	*outp = old.v;
	*np = old.n;
	return 0;
fail:
	tx_rollback(s);
	free(old.v);
	return rc;
}

int
dlg_store_query(struct dlg_store *s, const struct dlg_filter *f,
    struct dlg_rec **outp, size_t *np, char *err, size_t errlen)
{
	struct rows r = {0};
	struct param p[8];
	char sql[SQL_LEN];
	int n, rc;

	if ((rc = build_select(s, COLS, f, " ORDER BY `key`", sql, sizeof(sql),
		 p, &n)) != 0) {
		snprintf(err, errlen, "query too long");
		return rc;
	}
	if ((rc = select_rows(s, sql, p, n, &r, err, errlen)) != 0) {
		free(r.v);
		return rc;
	}
	*outp = r.v;
	*np = r.n;
	return 0;
}

static int
count_cmp(const void *a, const void *b)
{
	const struct dlg_count *x = a, *y = b;

	if (x->node_id != y->node_id)
		return x->node_id < y->node_id ? -1 : 1;
	return strcmp(x->resource, y->resource);
}

int
dlg_store_counts(struct dlg_store *s, const struct dlg_filter *fin,
    struct dlg_count **outp, size_t *np, char *err, size_t errlen)
{
	/* the row shape of every select, with the count in created_us:
	 * resources are stored joined, so the database groups by the joined
	 * text and we split it here */
	static const char cols[] = "'', '', node_id, 0, resources, 0, "
				   "COUNT(*), 0, '', '', '', ''";
	struct dlg_filter f = {.node_id = fin->node_id, .edge = fin->edge,
	    .live = 1};
	struct dlg_count *c = NULL;
	size_t n = 0, cap = 0;
	struct rows r = {0};
	struct param p[8];
	char sql[SQL_LEN];
	int npar, rc;

	if ((rc = build_select(s, cols, &f, " GROUP BY node_id, resources",
		 sql, sizeof(sql), p, &npar)) != 0) {
		snprintf(err, errlen, "query too long");
		return rc;
	}
	if ((rc = select_rows(s, sql, p, npar, &r, err, errlen)) != 0)
		goto out;
	for (size_t i = 0; i < r.n; i++) {
		char *save = NULL, *tok;

		for (tok = strtok_r(r.v[i].resources, ";", &save); tok;
		     tok = strtok_r(NULL, ";", &save)) {
			size_t j;

			for (j = 0; j < n; j++)
				if (c[j].node_id == r.v[i].node_id &&
				    strcmp(c[j].resource, tok) == 0)
					break;
			if (j == n) {
				if (n == cap) {
					size_t nc = cap ? cap * 2 : 16;
					void *nv = realloc(c, nc * sizeof(*c));

					if (nv == NULL) {
						snprintf(err, errlen,
						    "out of memory");
						rc = ENOMEM;
						goto out;
					}
					c = nv;
					cap = nc;
				}
				memset(&c[n], 0, sizeof(c[n]));
				c[n].node_id = r.v[i].node_id;
				snprintf(c[n].resource, sizeof(c[n].resource),
				    "%s", tok);
				n++;
			}
			c[j].count += r.v[i].created_us;
		}
	}
	if (n > 1)
		qsort(c, n, sizeof(*c), count_cmp);
	*outp = c;
	*np = n;
	c = NULL;
out:
	free(c);
	free(r.v);
	return rc;
}
