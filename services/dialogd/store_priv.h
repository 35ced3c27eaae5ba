#ifndef SIPLB_DIALOGD_STORE_PRIV_H
#define SIPLB_DIALOGD_STORE_PRIV_H

/*
 * Between store.c (the store's logic, written once) and its two backends,
 * store_sqlite.c and store_mysql.c, each a table of the same small set of
 * primitives: open, close, transactions, upsert, terminate one key, and
 * select rows.  Every value travels as a bound parameter; only the table
 * name (checked against [A-Za-z0-9_]) and numbers we format ourselves
 * (LIMIT) are pasted into SQL text.
 *
 * The schemas are the text of deploy/sql/siplb-dialogs.{sqlite,mysql}.sql
 * with the table name as a parameter: keep them the same.
 */

#include <mysql.h>
#include <sqlite3.h>
#include <stdbool.h>

#include "cfg.h"
#include "store.h"

#define DLG_SQL_LEN 2048
#define DLG_NCOLS 12
#define DLG_COLS \
	"`key`, edge, node_id, group_id, resources, state, " \
	"created_us, updated_us, call_id, from_tag, to_tag, reason"
/* state 3 is SLB_DIALOG_TERMINATED */
#define DLG_TERMINATE_SQL \
	"UPDATE %1$s SET state = 3, reason = ?, " \
	"updated_us = ? WHERE `key` = ? AND state < 3"

/* A query parameter: a string or an integer. */
struct param {
	bool str;
	const char *s;
	long long i;
};

/* Rows a select returns, grown as they come. */
struct rows {
	struct slb_dialog *v;
	size_t n, cap;
};
/* A zeroed new row at the end, or NULL without memory. */
struct slb_dialog *dlg_rows_add(struct rows *r);
/* fmt with the table name into sql; ENAMETOOLONG when it does not fit. */
int dlg_sql_fmt(char *sql, size_t len, const char *fmt, const char *table);

struct dlg_store_ops {
	/* s->table is set; s->name is the backend's to set, for errors */
	int (*open)(struct dlg_store *s, const struct dlg_store_cfg *c,
	    char *err, size_t errlen);
	void (*close)(struct dlg_store *s); /* what open made, if any */
	int (*begin)(struct dlg_store *s, char *err, size_t errlen);
	int (*commit)(struct dlg_store *s, char *err, size_t errlen);
	void (*rollback)(struct dlg_store *s);
	int (*upsert)(struct dlg_store *s, const struct slb_dialog *recs,
	    size_t n, char *err, size_t errlen);
	int (*terminate)(struct dlg_store *s, const char *key,
	    const char *reason, uint64_t now_us, char *err, size_t errlen);
	/* sql selects DLG_COLS (or columns of that shape) */
	int (*select)(struct dlg_store *s, const char *sql,
	    const struct param *p, int np, struct rows *out, char *err,
	    size_t errlen);
};

extern const struct dlg_store_ops dlg_sqlite_ops;
extern const struct dlg_store_ops dlg_mysql_ops;

struct dlg_store {
	const struct dlg_store_ops *ops;
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

#endif
