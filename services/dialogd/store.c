#define SLB_LOG_MODULE "store"
#include "store_priv.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uthash.h>

#include "dburl.h"

/*
 * The store's logic, written once over the primitives of a backend
 * (store_sqlite.c, store_mysql.c; store_priv.h).
 */

int
dlg_sql_fmt(char *sql, size_t len, const char *fmt, const char *table)
{
	int w = snprintf(sql, len, fmt, table);

	return w < 0 || (size_t)w >= len ? ENAMETOOLONG : 0;
}

/* ------------------------------------------------------------ rows */

struct slb_dialog *
dlg_rows_add(struct rows *r)
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

/* ------------------------------------------------------------ primitives */

static int
tx_begin(struct dlg_store *s, char *err, size_t errlen)
{
	return s->ops->begin(s, err, errlen);
}

static int
tx_commit(struct dlg_store *s, char *err, size_t errlen)
{
	return s->ops->commit(s, err, errlen);
}

static void
tx_rollback(struct dlg_store *s)
{
	s->ops->rollback(s);
}

static int
upsert(struct dlg_store *s, const struct slb_dialog *recs, size_t n, char *err,
    size_t errlen)
{
	return s->ops->upsert(s, recs, n, err, errlen);
}

static int
terminate(struct dlg_store *s, const char *key, const char *reason,
    uint64_t now_us, char *err, size_t errlen)
{
	return s->ops->terminate(s, key, reason, now_us, err, errlen);
}

static int
select_rows(struct dlg_store *s, const char *sql, const struct param *p,
    int np, struct rows *out, char *err, size_t errlen)
{
	return s->ops->select(s, sql, p, np, out, err, errlen);
}

/* "SELECT <cols> FROM t WHERE ..." with the filters of f as parameters. */
static int
build_select(struct dlg_store *s, const char *cols, const struct dlg_filter *f,
    const char *tail, char *sql, size_t len, struct param *p, int *np)
{
	size_t off;
	int w, n = 0;

#define ADD(...) \
	do { \
		w = snprintf(sql + off, len - off, __VA_ARGS__); \
		if (w < 0 || (size_t)w >= len - off) \
			return ENAMETOOLONG; \
		off += (size_t)w; \
	} while (0)

	off = 0;
	ADD("SELECT %s FROM %s WHERE 1 = 1", cols, s->table);
	if (f->key && *f->key) {
		ADD(" AND `key` = ?");
		p[n++] = (struct param){ true, f->key, 0 };
	}
	if (f->node_id) {
		ADD(" AND node_id = ?");
		p[n++] = (struct param){ false, NULL, f->node_id };
	}
	if (f->state) {
		ADD(" AND state = ?");
		p[n++] = (struct param){ false, NULL, f->state };
	}
	if (f->live)
		ADD(" AND state < 3");
	if (f->edge && *f->edge) {
		ADD(" AND edge = ?");
		p[n++] = (struct param){ true, f->edge, 0 };
	}
	if (f->updated_after) {
		ADD(" AND updated_us > ?");
		p[n++] =
		    (struct param){ false, NULL, (long long)f->updated_after };
	}
	if (f->after_key && *f->after_key) {
		ADD(" AND `key` > ?");
		p[n++] = (struct param){ true, f->after_key, 0 };
	}
	if (f->created_before) {
		ADD(" AND created_us < ?");
		p[n++] = (struct param){ false, NULL,
			(long long)f->created_before };
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
dlg_store_open(struct dlg_store **sp, const struct dlg_store_cfg *c, char *err,
    size_t errlen)
{
	struct dlg_store *s;
	int rc;

	if ((rc = slb_db_table_check("table", c->table, err, errlen)) != 0)
		return rc;
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return ENOMEM;
	}
	s->ops =
	    c->kind == DLG_STORE_SQLITE ? &dlg_sqlite_ops : &dlg_mysql_ops;
	snprintf(s->table, sizeof(s->table), "%s", c->table);
	rc = s->ops->open(s, c, err, errlen);
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
	if (s->ops != NULL)
		s->ops->close(s);
	free(s);
}

const char *
dlg_store_name(const struct dlg_store *s)
{
	return s->name;
}

int
dlg_store_write(struct dlg_store *s, const struct slb_dialog *recs, size_t n,
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
    const struct slb_dialog *recs, size_t n, uint64_t now_us, size_t *lostp,
    char *err, size_t errlen)
{
	struct dlg_filter f = { .edge = edge, .live = 1 };
	struct keyset *set = NULL, *items = NULL, *k;
	struct rows live = { 0 };
	struct param p[8];
	char sql[DLG_SQL_LEN];
	size_t lost = 0;
	int np, rc;

	if (edge == NULL || *edge == '\0') {
		snprintf(err, errlen, "snapshot without a stream name");
		return EINVAL;
	}
	if ((rc = build_select(
		 s, DLG_COLS, &f, "", sql, sizeof(sql), p, &np)) != 0) {
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
		HASH_ADD_KEYPTR(
		    hh, set, items[i].key, strlen(items[i].key), &items[i]);
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
		if ((rc = terminate(s, live.v[i].key, SLB_DIALOG_REASON_LOST,
			 now_us, err, errlen)) != 0)
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
dlg_store_expire(struct dlg_store *s, uint64_t created_before, uint64_t now_us,
    unsigned max, struct slb_dialog **outp, size_t *np, char *err,
    size_t errlen)
{
	struct dlg_filter f = {
		.live = 1, .created_before = created_before, .limit = max
	};
	struct rows old = { 0 };
	struct param p[8];
	char sql[DLG_SQL_LEN];
	int n, rc;

	if ((rc = build_select(s, DLG_COLS, &f, " ORDER BY created_us", sql,
		 sizeof(sql), p, &n)) != 0) {
		snprintf(err, errlen, "query too long");
		return rc;
	}
	if ((rc = tx_begin(s, err, errlen)) != 0)
		return rc;
	if ((rc = select_rows(s, sql, p, n, &old, err, errlen)) != 0)
		goto fail;
	for (size_t i = 0; i < old.n; i++) {
		if ((rc = terminate(s, old.v[i].key, SLB_DIALOG_REASON_EXPIRED,
			 now_us, err, errlen)) != 0)
			goto fail;
		old.v[i].state = SLB_DIALOG_TERMINATED;
		old.v[i].updated_us = now_us;
		snprintf(old.v[i].reason, sizeof(old.v[i].reason), "%s",
		    SLB_DIALOG_REASON_EXPIRED);
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
    struct slb_dialog **outp, size_t *np, char *err, size_t errlen)
{
	struct rows r = { 0 };
	struct param p[8];
	char sql[DLG_SQL_LEN];
	int n, rc;

	if ((rc = build_select(s, DLG_COLS, f, " ORDER BY `key`", sql,
		 sizeof(sql), p, &n)) != 0) {
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
	struct dlg_filter f = {
		.node_id = fin->node_id, .edge = fin->edge, .live = 1
	};
	struct dlg_count *c = NULL;
	size_t n = 0, cap = 0;
	struct rows r = { 0 };
	struct param p[8];
	char sql[DLG_SQL_LEN];
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
