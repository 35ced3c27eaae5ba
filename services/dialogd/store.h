#ifndef SIPLB_DIALOGD_STORE_H
#define SIPLB_DIALOGD_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "dialog.h"

/*
 * The dialog store: one row per dialog key in table `siplb_dialogs`, in
 * SQLite (embedded default) or MySQL/MariaDB (libmysqlclient, prepared
 * statements only).  Rows are never deleted: a TERMINATED dialog stays as
 * history.  A row's state never goes backwards (CONFIRMED never becomes
 * CREATED, TERMINATED stays), so events that cross, and a snapshot that
 * still holds a dialog this store already ended, change nothing.
 * Every call blocks; dialogd batches writes so that this costs one
 * transaction per batch.
 */

/* One row is a struct slb_dialog (dialog.h). */

enum dlg_store_kind { DLG_STORE_SQLITE, DLG_STORE_MYSQL };

struct dlg_store_cfg {
	enum dlg_store_kind kind;
	const char *sqlite_path; /* DLG_STORE_SQLITE */
	const char *db_url; /* DLG_STORE_MYSQL: mysql://u:p@h:port/db */
	const char *table; /* [A-Za-z0-9_], 1..63 */
};

/* Query filters; 0 or "" = any. */
struct dlg_filter {
	const char *key;
	uint32_t node_id;
	enum slb_dialog_state state; /* SLB_DIALOG_ANY = any */
	int live; /* CREATED or CONFIRMED only */
	const char *edge;
	uint64_t created_before; /* created_us < this */
	const char *after_key; /* `key` > this (paging) */
	uint64_t updated_after; /* updated_us > this */
	unsigned limit; /* 0 = no limit */
};

struct dlg_count {
	uint32_t node_id;
	char resource[SLB_DIALOG_RES_MAX + 1];
	uint64_t count;
};

struct dlg_store;

/* Open (and for SQLite create) the database, switch SQLite to WAL with
 * synchronous=NORMAL, and CREATE TABLE IF NOT EXISTS.  Returns 0, EINVAL
 * (bad config), EACCES, ECONNREFUSED or EIO with why in err (passwords
 * masked). */
int dlg_store_open(struct dlg_store **sp, const struct dlg_store_cfg *c,
    char *err, size_t errlen);
/* NULL-safe. */
void dlg_store_close(struct dlg_store *s);

/* Upsert recs in order, in one transaction.  0, or EIO with err (the
 * transaction is rolled back: nothing was written). */
int dlg_store_write(struct dlg_store *s, const struct slb_dialog *recs,
    size_t n, char *err, size_t errlen);

/* Edge `edge` says recs are all its live dialogs: upsert them and mark
 * TERMINATED (reason "lost", updated_us now_us) every stored live dialog
 * of that edge they do not hold, in one transaction.  *lostp (may be NULL)
 * gets how many were marked. */
int dlg_store_apply_snapshot(struct dlg_store *s, const char *edge,
    const struct slb_dialog *recs, size_t n, uint64_t now_us, size_t *lostp,
    char *err, size_t errlen);

/* Mark at most max live dialogs created before created_before TERMINATED,
 * reason "expired", updated_us now_us; *outp (free() it) gets them as
 * stored now.  On error nothing changed and *outp is untouched. */
int dlg_store_expire(struct dlg_store *s, uint64_t created_before,
    uint64_t now_us, unsigned max, struct slb_dialog **outp, size_t *np,
    char *err, size_t errlen);

/* Rows matching f, ordered by key; *outp is free()d by the caller. */
int dlg_store_query(struct dlg_store *s, const struct dlg_filter *f,
    struct slb_dialog **outp, size_t *np, char *err, size_t errlen);

/* Live (CREATED/CONFIRMED) dialogs per node and resource, filtered by
 * f->node_id and f->edge; ordered by node then resource. */
int dlg_store_counts(struct dlg_store *s, const struct dlg_filter *f,
    struct dlg_count **outp, size_t *np, char *err, size_t errlen);

/* "mysql://user:***@host/db" or the SQLite path, for logs. */
const char *dlg_store_name(const struct dlg_store *s);

#endif
