#include "dbstmt.h"

#include <errno.h>
#include <errmsg.h>
#include <mysqld_error.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dburl.h"

int
slb_db_connect(const char *url, const char *label, unsigned long flags,
    MYSQL **myp, char *err, size_t errlen)
{
	unsigned int timeout = SLB_DB_TIMEOUT_S;
	struct slb_db_url u;
	MYSQL *my;
	int rc;

	if ((rc = slb_db_url_parse(url, &u, err, errlen)) != 0)
		return rc;
	if ((my = mysql_init(NULL)) == NULL) {
		snprintf(err, errlen, "%s: mysql_init: out of memory", label);
		rc = ENOMEM;
		goto out;
	}
	mysql_options(my, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
	mysql_options(my, MYSQL_OPT_READ_TIMEOUT, &timeout);
	mysql_options(my, MYSQL_OPT_WRITE_TIMEOUT, &timeout);
	mysql_options(my, MYSQL_SET_CHARSET_NAME, "utf8mb4");
	/* A value too long for its column must fail, not be cut short with
	 * a warning, whatever the server's global sql_mode says. */
	mysql_options(my, MYSQL_INIT_COMMAND,
	    "SET SESSION sql_mode = CONCAT_WS(',', "
	    "NULLIF(@@SESSION.sql_mode, ''), 'STRICT_ALL_TABLES')");
	if (mysql_real_connect(my, u.host, u.user[0] ? u.user : NULL,
		u.pass[0] ? u.pass : NULL, u.db, u.port, NULL,
		flags) == NULL) {
		unsigned int e = mysql_errno(my);

		snprintf(
		    err, errlen, "%s: connect: %s", label, mysql_error(my));
		mysql_close(my);
		rc = e == ER_ACCESS_DENIED_ERROR ||
			e == ER_DBACCESS_DENIED_ERROR || e == ER_BAD_DB_ERROR
		    ? EACCES
		    : ECONNREFUSED;
		goto out;
	}
	*myp = my;
out:
	memset(&u, 0, sizeof(u)); /* the password */
	return rc;
}

int
slb_db_conn_lost(unsigned int e)
{
	return e >= CR_MIN_ERROR && e <= CR_MAX_ERROR;
}

void
slb_db_bind_str(MYSQL_BIND *b, unsigned long *len, const char *s)
{
	memset(b, 0, sizeof(*b));
	b->buffer_type = MYSQL_TYPE_STRING;
	b->buffer = (void *)s;
	b->buffer_length = strlen(s);
	*len = b->buffer_length;
	b->length = len;
}

void
slb_db_bind_u32(MYSQL_BIND *b, const uint32_t *v)
{
	memset(b, 0, sizeof(*b));
	b->buffer_type = MYSQL_TYPE_LONG;
	b->buffer = (void *)v;
	b->is_unsigned = 1;
}

void
slb_db_bind_i32(MYSQL_BIND *b, const int32_t *v)
{
	memset(b, 0, sizeof(*b));
	b->buffer_type = MYSQL_TYPE_LONG;
	b->buffer = (void *)v;
}

void
slb_db_bind_u64(MYSQL_BIND *b, const uint64_t *v)
{
	memset(b, 0, sizeof(*b));
	b->buffer_type = MYSQL_TYPE_LONGLONG;
	b->buffer = (void *)v;
	b->is_unsigned = 1;
}

void
slb_db_bind_i64(MYSQL_BIND *b, const long long *v)
{
	memset(b, 0, sizeof(*b));
	b->buffer_type = MYSQL_TYPE_LONGLONG;
	b->buffer = (void *)v;
}

void
slb_db_bind_null(MYSQL_BIND *b)
{
	memset(b, 0, sizeof(*b));
	b->buffer_type = MYSQL_TYPE_NULL;
}

static unsigned
par_next(struct slb_db_params *p)
{
	if (p->n >= SLB_DB_MAX_PARAMS)
		abort(); /* a programmer bug: more ? than slots */
	return p->n++;
}

void
slb_db_par_u32(struct slb_db_params *p, const uint32_t *v)
{
	slb_db_bind_u32(&p->b[par_next(p)], v);
}

void
slb_db_par_i32(struct slb_db_params *p, const int32_t *v)
{
	slb_db_bind_i32(&p->b[par_next(p)], v);
}

void
slb_db_par_i64(struct slb_db_params *p, const long long *v)
{
	slb_db_bind_i64(&p->b[par_next(p)], v);
}

void
slb_db_par_str(struct slb_db_params *p, const char *s)
{
	unsigned i = par_next(p);

	slb_db_bind_str(&p->b[i], &p->len[i], s);
}

void
slb_db_par_null(struct slb_db_params *p)
{
	slb_db_bind_null(&p->b[par_next(p)]);
}

int
slb_db_stmt_errno(MYSQL_STMT *st)
{
	return mysql_stmt_errno(st) == ER_NO_SUCH_TABLE ? ENOENT : EIO;
}

int
slb_db_prepare(MYSQL *my, const char *sql, const char *what, MYSQL_STMT **stp,
    char *err, size_t errlen)
{
	MYSQL_STMT *st = mysql_stmt_init(my);
	int rc = 0;

	if (st == NULL) {
		snprintf(err, errlen, "%s: %s", what, mysql_error(my));
		return ENOMEM;
	}
	if (mysql_stmt_prepare(st, sql, (unsigned long)strlen(sql)) != 0) {
		snprintf(err, errlen, "%s: %s", what, mysql_stmt_error(st));
		rc = slb_db_stmt_errno(st);
		mysql_stmt_close(st);
		return rc;
	}
	*stp = st;
	return 0;
}

int
slb_db_execute(
    MYSQL_STMT *st, MYSQL_BIND *b, const char *what, char *err, size_t errlen)
{
	if ((b != NULL && mysql_stmt_bind_param(st, b) != 0) ||
	    mysql_stmt_execute(st) != 0) {
		snprintf(err, errlen, "%s: %s", what, mysql_stmt_error(st));
		return slb_db_stmt_errno(st);
	}
	return 0;
}

int
slb_db_run(MYSQL *my, const char *sql, struct slb_db_params *p,
    const char *what, MYSQL_STMT **stp, char *err, size_t errlen)
{
	MYSQL_STMT *st = NULL;
	int rc;

	if ((rc = slb_db_prepare(my, sql, what, &st, err, errlen)) != 0)
		return rc;
	rc = slb_db_execute(st, p && p->n ? p->b : NULL, what, err, errlen);
	if (rc != 0) {
		mysql_stmt_close(st);
		return rc;
	}
	*stp = st;
	return 0;
}

int
slb_db_do(MYSQL *my, const char *sql, struct slb_db_params *p,
    const char *what, unsigned long long *affectedp, char *err, size_t errlen)
{
	MYSQL_STMT *st = NULL;
	int rc;

	if ((rc = slb_db_run(my, sql, p, what, &st, err, errlen)) != 0)
		return rc;
	if (affectedp)
		*affectedp = mysql_stmt_affected_rows(st);
	mysql_stmt_close(st);
	return 0;
}

void
slb_db_col_int(MYSQL_BIND *b, struct slb_db_col *c)
{
	memset(b, 0, sizeof(*b));
	b->buffer_type = MYSQL_TYPE_LONGLONG;
	b->buffer = &c->v;
	b->is_null = &c->null;
	b->error = &c->trunc;
	b->length = &c->len;
}

void
slb_db_col_str(MYSQL_BIND *b, struct slb_db_col *c)
{
	memset(b, 0, sizeof(*b));
	b->buffer_type = MYSQL_TYPE_STRING;
	b->buffer = c->buf;
	b->buffer_length = sizeof(c->buf) - 1;
	b->is_null = &c->null;
	b->error = &c->trunc;
	b->length = &c->len;
}

const char *
slb_db_col_cstr(struct slb_db_col *c)
{
	size_t n = c->null ? 0 : c->len;

	c->buf[n < sizeof(c->buf) ? n : sizeof(c->buf) - 1] = '\0';
	return c->buf;
}

int
slb_db_result(MYSQL_STMT *st, MYSQL_BIND *res, const char *what, char *err,
    size_t errlen)
{
	if (mysql_stmt_field_count(st) == 0) {
		snprintf(err, errlen, "%s: returned no columns", what);
		return EIO;
	}
	if (mysql_stmt_bind_result(st, res) != 0 ||
	    mysql_stmt_store_result(st) != 0) {
		snprintf(err, errlen, "%s: %s", what, mysql_stmt_error(st));
		return EIO;
	}
	return 0;
}

int
slb_db_fetch(MYSQL_STMT *st, const char *what, char *err, size_t errlen)
{
	int r = mysql_stmt_fetch(st);

	if (r == 0 || r == MYSQL_DATA_TRUNCATED)
		return 1;
	if (r == MYSQL_NO_DATA)
		return 0;
	snprintf(err, errlen, "%s: fetch: %s", what, mysql_stmt_error(st));
	return -1;
}
