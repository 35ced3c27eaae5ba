#include "dburl.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cfg.h"


/* ------------------------------------------------------------ URL */

void
slb_db_url_masked(const char *url, char *buf, size_t len)
{
	const char *start, *at, *colon, *p;

	if (len == 0)
		return;
	if (url == NULL)
		url = "";
	p = strstr(url, "://");
	start = p ? p + 3 : url;
	/* The last '@' ends the user info, so a password holding '@' is
	 * masked whole; an '@' in the database name masks too much, which
	 * is the safe way to be wrong. */
	at = strrchr(start, '@');
	colon = at ? memchr(start, ':', (size_t)(at - start)) : NULL;
	if (colon == NULL) {
		snprintf(buf, len, "%s", url);
		return;
	}
	snprintf(buf, len, "%.*s***%s", (int)(colon + 1 - url), url, at);
}

static int
copy_part(char *dst, size_t dstlen, const char *b, const char *e)
{
	if ((size_t)(e - b) >= dstlen)
		return ENAMETOOLONG;
	memcpy(dst, b, (size_t)(e - b));
	dst[e - b] = '\0';
	return 0;
}

int
slb_db_url_parse(
    const char *url, struct slb_db_url *u, char *err, size_t errlen)
{
	char masked[SLB_CFG_STRLEN + 8];
	const char *rest, *at, *hb, *he, *slash, *colon, *pe;
	long port = 3306;

	memset(u, 0, sizeof(*u));
	slb_db_url_masked(url, masked, sizeof(masked));
	if (strncasecmp(url, "mysql://", 8) != 0) {
		snprintf(err, errlen,
		    "db_url \"%s\": only "
		    "mysql://user:pass@host[:port]/db is supported",
		    masked);
		return EINVAL;
	}
	rest = url + 8;
	at = strrchr(rest, '@');
	hb = rest;
	if (at != NULL) {
		const char *c = memchr(rest, ':', (size_t)(at - rest));

		if (copy_part(u->user, sizeof(u->user), rest, c ? c : at) !=
			0 ||
		    (c && copy_part(u->pass, sizeof(u->pass), c + 1, at) != 0))
			goto toolong;
		hb = at + 1;
	}
	slash = strchr(hb, '/');
	if (slash == NULL || slash[1] == '\0') {
		snprintf(err, errlen,
		    "db_url \"%s\": the database name is "
		    "missing (mysql://user:pass@host[:port]/db)",
		    masked);
		return EINVAL;
	}
	if (strchr(slash + 1, '/') != NULL || strchr(slash + 1, '?') != NULL) {
		snprintf(err, errlen,
		    "db_url \"%s\": the database name may "
		    "not hold '/' or '?'",
		    masked);
		return EINVAL;
	}
	if (copy_part(u->db, sizeof(u->db), slash + 1,
		slash + 1 + strlen(slash + 1)) != 0)
		goto toolong;
	he = slash;
	pe = NULL;
	if (*hb == '[') {
		/* [::1]:3306 */
		const char *rb = memchr(hb, ']', (size_t)(slash - hb));

		if (rb == NULL || (rb + 1 != slash && rb[1] != ':')) {
			snprintf(err, errlen, "db_url \"%s\": bad [IPv6] host",
			    masked);
			return EINVAL;
		}
		if (rb + 1 != slash)
			pe = rb + 1;
		hb++;
		he = rb;
	} else {
		colon = memchr(hb, ':', (size_t)(slash - hb));
		if (colon != NULL) {
			pe = colon;
			he = colon;
		}
	}
	if (he == hb) {
		snprintf(
		    err, errlen, "db_url \"%s\": the host is missing", masked);
		return EINVAL;
	}
	if (copy_part(u->host, sizeof(u->host), hb, he) != 0)
		goto toolong;
	if (pe != NULL) {
		char pbuf[8];

		if (copy_part(pbuf, sizeof(pbuf), pe + 1, slash) != 0 ||
		    slb_parse_long(pbuf, 1, 65535, &port) != 0) {
			snprintf(err, errlen,
			    "db_url \"%s\": port must be "
			    "1..65535",
			    masked);
			return EINVAL;
		}
	}
	u->port = (unsigned)port;
	return 0;
toolong:
	snprintf(err, errlen, "db_url \"%s\": a part is too long", masked);
	return EINVAL;
}

int
slb_db_table_check(
    const char *what, const char *name, char *err, size_t errlen)
{
	size_t len = name ? strnlen(name, 64) : 0;

	if (len == 0 || len > 63)
		goto bad;
	for (size_t i = 0; i < len; i++)
		if (!isalnum((unsigned char)name[i]) && name[i] != '_')
			goto bad;
	return 0;
bad:
	snprintf(err, errlen, "%s \"%.63s\": use 1..63 of [A-Za-z0-9_]", what,
	    name ? name : "");
	return EINVAL;
}
