#define SLB_LOG_MODULE "store"
#include "store_priv.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* The SQLite backend of the dialog store (store_priv.h). */

#define BUSY_TIMEOUT_MS 5000

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

/* A live row takes what the event says (empty fields keep the stored
 * value); a TERMINATED row keeps everything; the state only goes up.
 * SQLite evaluates every SET expression on the old row. */
static const char sqlite_upsert[] =
    "INSERT INTO %1$s (" DLG_COLS ") VALUES (?,?,?,?,?,?,?,?,?,?,?,?) "
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

static int
sq_fail(struct dlg_store *s, const char *what, char *err, size_t errlen)
{
	snprintf(
	    err, errlen, "%s: %s: %s", s->name, what, sqlite3_errmsg(s->db));
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
sq_bind_rec(sqlite3_stmt *st, const struct slb_dialog *r)
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
sq_upsert(struct dlg_store *s, const struct slb_dialog *recs, size_t n,
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

	slb_dialog_copy_field(dst, len, (const char *)t);
}

static int
sq_select(struct dlg_store *s, const char *sql, const struct param *p, int np,
    struct rows *out, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int rc;

	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
		return sq_fail(s, "select", err, errlen);
	for (int i = 0; i < np; i++) {
		if (p[i].str)
			sqlite3_bind_text(
			    st, i + 1, p[i].s, -1, SQLITE_STATIC);
		else
			sqlite3_bind_int64(st, i + 1, p[i].i);
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct slb_dialog *r = dlg_rows_add(out);

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
		r->state = (enum slb_dialog_state)sqlite3_column_int(st, 5);
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
sq_open(struct dlg_store *s, const struct dlg_store_cfg *c, char *err,
    size_t errlen)
{
	const char *path = c->sqlite_path ? c->sqlite_path : "";
	char sql[DLG_SQL_LEN];
	sqlite3_stmt *st = NULL;
	const unsigned char *mode;
	int rc;

	snprintf(s->name, sizeof(s->name), "sqlite %s", path);
	if (sqlite3_open_v2(path, &s->db,
		SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
		    SQLITE_OPEN_NOMUTEX,
		NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s: cannot open: %s", s->name,
		    s->db ? sqlite3_errmsg(s->db) : "out of memory");
		return EIO;
	}
	sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);
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
	if (dlg_sql_fmt(sql, sizeof(sql), sqlite_schema, s->table) != 0 ||
	    (rc = sq_exec(s, sql, err, errlen)) != 0)
		return rc ? rc : ENAMETOOLONG;
	if (dlg_sql_fmt(sql, sizeof(sql), sqlite_upsert, s->table) != 0 ||
	    sqlite3_prepare_v2(s->db, sql, -1, &s->sq_upsert, NULL) !=
		SQLITE_OK)
		return sq_fail(s, "prepare upsert", err, errlen);
	if (dlg_sql_fmt(sql, sizeof(sql), DLG_TERMINATE_SQL, s->table) != 0 ||
	    sqlite3_prepare_v2(s->db, sql, -1, &s->sq_term, NULL) != SQLITE_OK)
		return sq_fail(s, "prepare update", err, errlen);
	return 0;
}

static void
sq_close(struct dlg_store *s)
{
	sqlite3_finalize(s->sq_upsert);
	sqlite3_finalize(s->sq_term);
	s->sq_upsert = s->sq_term = NULL;
	if (s->db)
		sqlite3_close(s->db);
	s->db = NULL;
}

static int
sq_begin(struct dlg_store *s, char *err, size_t errlen)
{
	return sq_exec(s, "BEGIN IMMEDIATE", err, errlen);
}

static int
sq_commit(struct dlg_store *s, char *err, size_t errlen)
{
	return sq_exec(s, "COMMIT", err, errlen);
}

static void
sq_rollback(struct dlg_store *s)
{
	char e[1024];

	if (!sqlite3_get_autocommit(s->db))
		sq_exec(s, "ROLLBACK", e, sizeof(e));
}

const struct dlg_store_ops dlg_sqlite_ops = {
	.open = sq_open,
	.close = sq_close,
	.begin = sq_begin,
	.commit = sq_commit,
	.rollback = sq_rollback,
	.upsert = sq_upsert,
	.terminate = sq_terminate,
	.select = sq_select,
};
