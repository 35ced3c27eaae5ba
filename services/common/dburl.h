#ifndef SIPLB_COMMON_DBURL_H
#define SIPLB_COMMON_DBURL_H

#include <stddef.h>

/* mysql://user:password@host[:port]/db, as OpenSIPS's db_url. */
struct slb_db_url {
	char user[128];
	char pass[128];
	char host[256];
	char db[128];
	unsigned port;
};

/* Parse url into u (port 3306 by default); EINVAL with a message that never
 * shows the password. */
int slb_db_url_parse(
    const char *url, struct slb_db_url *u, char *err, size_t errlen);

/* "mysql://user:***@host:port/db" for logs: the last '@' ends the user
 * info, so a password holding '@' is masked whole. */
void slb_db_url_masked(const char *url, char *buf, size_t len);

/* Table names go into SQL text (they cannot be bound), so they get a strict
 * alphabet: 1..63 of [A-Za-z0-9_]; EINVAL naming `what` otherwise. */
int slb_db_table_check(
    const char *what, const char *name, char *err, size_t errlen);

#endif
