#ifndef SIPLB_COMMON_DBSTMT_H
#define SIPLB_COMMON_DBSTMT_H

#include <mysql.h>
#include <stddef.h>
#include <stdint.h>

/*
 * MySQL/MariaDB prepared statements (libmysqlclient API), for the two
 * programs that talk to a database: the scheduler (the OpenSIPS tables,
 * nodes_mysql.c) and dialogd (its store).  Every value is a bound
 * parameter; errors read "what: <the server's text>".
 */

#define SLB_DB_TIMEOUT_S 5 /* connect, read and write */
#define SLB_DB_MAX_PARAMS 16
/* Large enough for any CHAR(255) in utf8mb4. */
#define SLB_DB_COL_LEN 1024

/* Connect to url (mysql://user:pass@host:port/db) with the timeouts above,
 * utf8mb4, and STRICT_ALL_TABLES so that a value too long for its column
 * fails instead of being cut; flags go to mysql_real_connect.  label names
 * the server in err (a masked URL).  0, ENOMEM, EINVAL (bad url), EACCES
 * (credentials or database refused) or ECONNREFUSED. */
int slb_db_connect(const char *url, const char *label, unsigned long flags,
    MYSQL **myp, char *err, size_t errlen);
/* 1 for a client-side error (CR_*, 2000..2999: server gone, lost, out of
 * sync): the connection is unusable, open another. */
int slb_db_conn_lost(unsigned int mysql_errno_value);

/* One parameter; the value (and len) must live until the statement runs. */
void slb_db_bind_str(MYSQL_BIND *b, unsigned long *len, const char *s);
void slb_db_bind_u32(MYSQL_BIND *b, const uint32_t *v);
void slb_db_bind_i32(MYSQL_BIND *b, const int32_t *v);
void slb_db_bind_u64(MYSQL_BIND *b, const uint64_t *v);
void slb_db_bind_i64(MYSQL_BIND *b, const long long *v);
void slb_db_bind_null(MYSQL_BIND *b);

/* Parameters in order of their `?`; more than SLB_DB_MAX_PARAMS is a
 * programmer bug (abort). */
struct slb_db_params {
	MYSQL_BIND b[SLB_DB_MAX_PARAMS];
	unsigned long len[SLB_DB_MAX_PARAMS];
	unsigned n;
};
void slb_db_par_u32(struct slb_db_params *p, const uint32_t *v);
void slb_db_par_i32(struct slb_db_params *p, const int32_t *v);
void slb_db_par_i64(struct slb_db_params *p, const long long *v);
void slb_db_par_str(struct slb_db_params *p, const char *s);
void slb_db_par_null(struct slb_db_params *p);

/* ENOENT for a missing table, else EIO. */
int slb_db_stmt_errno(MYSQL_STMT *st);
/* Prepare sql into *stp (the caller closes it).  ENOMEM, ENOENT or EIO. */
int slb_db_prepare(MYSQL *my, const char *sql, const char *what,
    MYSQL_STMT **stp, char *err, size_t errlen);
/* Bind b (NULL: no parameters) and execute a prepared statement. */
int slb_db_execute(
    MYSQL_STMT *st, MYSQL_BIND *b, const char *what, char *err, size_t errlen);
/* Prepare, bind p (may be NULL) and execute; on success *stp holds the
 * statement (the caller closes it). */
int slb_db_run(MYSQL *my, const char *sql, struct slb_db_params *p,
    const char *what, MYSQL_STMT **stp, char *err, size_t errlen);
/* The same for a statement without rows; *affectedp (may be NULL) gets
 * the affected (with CLIENT_FOUND_ROWS: matched) row count. */
int slb_db_do(MYSQL *my, const char *sql, struct slb_db_params *p,
    const char *what, unsigned long long *affectedp, char *err, size_t errlen);

/* One result column: integers as 64-bit, everything else as text. */
struct slb_db_col {
	char buf[SLB_DB_COL_LEN];
	long long v;
	unsigned long len;
	my_bool null;
	my_bool trunc;
};
void slb_db_col_int(MYSQL_BIND *b, struct slb_db_col *c);
void slb_db_col_str(MYSQL_BIND *b, struct slb_db_col *c);
/* The text column as a C string ("" for NULL), cut at SLB_DB_COL_LEN - 1. */
const char *slb_db_col_cstr(struct slb_db_col *c);
/* Bind res and buffer the result of an executed SELECT. */
int slb_db_result(MYSQL_STMT *st, MYSQL_BIND *res, const char *what, char *err,
    size_t errlen);
/* 1 for a row, 0 at the end, -1 with err set.  Truncation is left to the
 * caller's per-column checks (c->trunc). */
int slb_db_fetch(MYSQL_STMT *st, const char *what, char *err, size_t errlen);

#endif
