#ifndef SIPLB_SCHEDULER_NODES_MYSQL_PRIV_H
#define SIPLB_SCHEDULER_NODES_MYSQL_PRIV_H

#include <mysql.h>
#include <stddef.h>

#include "sched_db.h"

/* Shared by nodes_mysql.c (load) and nodes_mysql_save.c (save). */

#define SQL_LEN 1024
/* the node fields are smaller and each copy checks: nothing is cut short */
#define COL_LEN SLB_DB_COL_LEN

/* Check the table names and connect (CLIENT_FOUND_ROWS). */
int sched_db_open(
    const struct sched_db *db, MYSQL **myp, char *err, size_t errlen);
/* fmt with the table name into sql (SQL_LEN); ENAMETOOLONG when cut. */
int sched_db_sql_fmt(char *sql, const char *fmt, const char *table);
/* CREATE TABLE IF NOT EXISTS for the state table. */
int sched_db_state_create(
    MYSQL *my, const struct sched_db *db, char *err, size_t errlen);

#endif
