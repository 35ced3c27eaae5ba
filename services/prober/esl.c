#define SLB_LOG_MODULE "esl"
#include "esl.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void
esl_parser_init(struct esl_parser *p)
{
	memset(p, 0, sizeof(*p));
}

void
esl_parser_free(struct esl_parser *p)
{
	free(p->buf);
	memset(p, 0, sizeof(*p));
}

int
esl_feed(struct esl_parser *p, const void *data, size_t n)
{
	if (n > ESL_MAX_MSG || p->len + n > ESL_MAX_MSG)
		return ENOBUFS;
	if (p->len + n + 1 > p->cap) {
		size_t cap = p->cap ? p->cap : 4096;
		char *nb;

		while (cap < p->len + n + 1)
			cap *= 2;
		if ((nb = realloc(p->buf, cap)) == NULL)
			return ENOMEM;
		p->buf = nb;
		p->cap = cap;
	}
	memcpy(p->buf + p->len, data, n);
	p->len += n;
	p->buf[p->len] = '\0';
	return 0;
}

void
esl_msg_free(struct esl_msg *m)
{
	free(m->buf);
	memset(m, 0, sizeof(*m));
}

const char *
esl_get(const struct esl_msg *m, const char *name)
{
	for (int i = 0; i < m->nh; i++)
		if (strcasecmp(m->h[i].name, name) == 0)
			return m->h[i].value;
	return NULL;
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* switch_url_decode: %XX and '+'; a bad escape stays as it is */
static void
url_decode(char *s)
{
	char *o = s;

	for (; *s; s++) {
		if (*s == '+') {
			*o++ = ' ';
		} else if (*s == '%' && hexval(s[1]) >= 0 &&
		    hexval(s[2]) >= 0) {
			int v = hexval(s[1]) * 16 + hexval(s[2]);

			/* a decoded NUL would cut the value short: keep it out */
			*o++ = v ? (char)v : ' ';
			s += 2;
		} else {
			*o++ = *s;
		}
	}
	*o = '\0';
}

int
esl_parse_headers(char *s, struct esl_hdr *h, int max, bool urldecode)
{
	int n = 0;

	while (*s != '\0') {
		char *nl = strchr(s, '\n'), *colon, *v, *e;

		if (nl != NULL)
			*nl = '\0';
		e = s + strlen(s);
		if (e > s && e[-1] == '\r')
			*--e = '\0';
		if (*s == '\0') {
			/* an empty line ends the block */
			break;
		}
		colon = strchr(s, ':');
		if (colon == NULL || colon == s || n >= max)
			return -1;
		*colon = '\0';
		for (char *c = s; *c; c++)
			if (!isgraph((unsigned char)*c))
				return -1; /* names are tokens */
		v = colon + 1;
		while (*v == ' ' || *v == '\t')
			v++;
		if (urldecode)
			url_decode(v);
		h[n].name = s;
		h[n].value = v;
		n++;
		if (nl == NULL)
			break;
		s = nl + 1;
	}
	return n;
}

int
esl_u32(const char *s, uint32_t max, uint32_t *out)
{
	uint64_t v = 0;

	if (s == NULL || *s == '\0')
		return EINVAL;
	for (; *s; s++) {
		if (!isdigit((unsigned char)*s))
			return EINVAL;
		v = v * 10 + (uint64_t)(*s - '0');
		if (v > max)
			return EINVAL;
	}
	*out = (uint32_t)v;
	return 0;
}

int
esl_percent_milli(const char *s, uint32_t *out)
{
	uint64_t ip = 0, frac = 0, scale = 1000;
	const char *p = s;

	if (s == NULL || !isdigit((unsigned char)*p))
		return EINVAL;
	for (; isdigit((unsigned char)*p); p++) {
		ip = ip * 10 + (uint64_t)(*p - '0');
		if (ip > 100)
			return EINVAL;
	}
	if (*p == '.') {
		/* thousandths of a percent: three digits, then round */
		p++;
		for (int i = 0; isdigit((unsigned char)*p); p++, i++) {
			if (i < 3) {
				scale /= 10;
				frac += (uint64_t)(*p - '0') * scale;
			} else if (i == 3 && *p >= '5') {
				frac++;
			}
		}
	}
	if (*p != '\0' || ip * 1000 + frac > 100000)
		return EINVAL;
	*out = (uint32_t)(ip * 1000 + frac);
	return 0;
}

/* Where the header block of buf ends: the offset after its empty line,
 * 0 when none yet. */
static size_t
block_end(const char *buf, size_t len)
{
	for (size_t i = 0; i + 1 < len; i++) {
		if (buf[i] != '\n')
			continue;
		if (buf[i + 1] == '\n')
			return i + 2;
		if (buf[i + 1] == '\r' && i + 2 < len && buf[i + 2] == '\n')
			return i + 3;
	}
	return 0;
}

static void
consume(struct esl_parser *p, size_t n)
{
	memmove(p->buf, p->buf + n, p->len - n);
	p->len -= n;
	if (p->buf)
		p->buf[p->len] = '\0';
}

int
esl_next(struct esl_parser *p, struct esl_msg *m)
{
	size_t skip = 0, hend, blen = 0, total;
	const char *cl;

	memset(m, 0, sizeof(*m));
	/* blank lines between messages are not a message */
	while (skip < p->len && (p->buf[skip] == '\n' || p->buf[skip] == '\r'))
		skip++;
	if (skip)
		consume(p, skip);
	if (p->len == 0)
		return 0;
	if (memchr(p->buf, '\0', p->len) != NULL)
		goto bad; /* the protocol is text */
	hend = block_end(p->buf, p->len);
	if (hend == 0)
		return p->len > ESL_MAX_HDR_BLOCK ? (p->refused++, -1) : 0;
	if (hend > ESL_MAX_HDR_BLOCK)
		goto bad;
	if ((m->buf = malloc(hend + 1)) == NULL)
		return -1;
	memcpy(m->buf, p->buf, hend);
	m->buf[hend] = '\0';
	m->nh = esl_parse_headers(m->buf, m->h, ESL_MAX_HDRS, false);
	if (m->nh <= 0)
		goto bad;
	if ((cl = esl_get(m, "Content-Length")) != NULL) {
		uint32_t v;

		if (esl_u32(cl, ESL_MAX_MSG, &v) != 0)
			goto bad;
		blen = v;
	}
	total = hend + blen;
	if (total > ESL_MAX_MSG)
		goto bad;
	if (p->len < total) {
		esl_msg_free(m);
		return 0;
	}
	if (blen > 0) {
		/* the header block is parsed in place: the body goes after */
		size_t off[ESL_MAX_HDRS][2];
		char *nb;

		for (int i = 0; i < m->nh; i++) {
			off[i][0] = (size_t)(m->h[i].name - m->buf);
			off[i][1] = (size_t)(m->h[i].value - m->buf);
		}
		if ((nb = realloc(m->buf, hend + 1 + blen + 1)) == NULL)
			goto bad;
		/* the header pointers move with the block */
		for (int i = 0; i < m->nh; i++) {
			m->h[i].name = nb + off[i][0];
			m->h[i].value = nb + off[i][1];
		}
		m->buf = nb;
		memcpy(nb + hend + 1, p->buf + hend, blen);
		nb[hend + 1 + blen] = '\0';
		m->body = nb + hend + 1;
		m->body_len = blen;
	} else {
		m->body = m->buf + hend; /* "" */
	}
	consume(p, total);
	return 1;
bad:
	esl_msg_free(m);
	p->refused++;
	return -1;
}

/* ------------------------------------------------------------ events */

int
esl_heartbeat_parse(const char *body, size_t len, struct esl_heartbeat *hb)
{
	struct esl_hdr h[160];
	char *copy;
	const char *name = NULL, *v;
	int n, rc = 0;
	bool have_sessions = false;

	memset(hb, 0, sizeof(*hb));
	if (len > ESL_MAX_MSG || memchr(body, '\0', len) != NULL)
		return EBADMSG;
	if ((copy = malloc(len + 1)) == NULL)
		return ENOMEM;
	memcpy(copy, body, len);
	copy[len] = '\0';
	n = esl_parse_headers(copy, h, (int)(sizeof(h) / sizeof(h[0])), true);
	if (n <= 0) {
		rc = EBADMSG;
		goto out;
	}
	for (int i = 0; i < n; i++) {
		v = h[i].value;
		if (strcasecmp(h[i].name, "Event-Name") == 0) {
			name = v;
		} else if (strcasecmp(h[i].name, "Session-Count") == 0) {
			if (esl_u32(v, 100000000, &hb->sessions) != 0)
				rc = EBADMSG;
			have_sessions = true;
		} else if (strcasecmp(h[i].name, "Max-Sessions") == 0) {
			if (esl_u32(v, 100000000, &hb->max_sessions) != 0)
				rc = EBADMSG;
			hb->have_max = true;
		} else if (strcasecmp(h[i].name, "Session-Per-Sec") == 0) {
			if (esl_u32(v, 100000000, &hb->sps_left) != 0)
				rc = EBADMSG;
			hb->have_sps = true;
		} else if (strcasecmp(h[i].name, "Idle-CPU") == 0) {
			if (esl_percent_milli(v, &hb->idle_milli) != 0)
				rc = EBADMSG;
			hb->have_idle = true;
		} else if (strcasecmp(h[i].name, "FreeSWITCH-Hostname") == 0) {
			snprintf(hb->hostname, sizeof(hb->hostname), "%s", v);
		}
	}
	if (rc != 0)
		goto out;
	if (name == NULL || strcmp(name, "HEARTBEAT") != 0) {
		rc = name == NULL ? EBADMSG : ENOENT;
		goto out;
	}
	if (!have_sessions)
		rc = EBADMSG;
out:
	free(copy);
	return rc;
}

/* The unsigned number that ends right before s + at (skipping spaces). */
static bool
num_before(const char *start, const char *at, uint32_t *out)
{
	const char *e = at, *b;
	char tmp[16];

	while (e > start && e[-1] == ' ')
		e--;
	b = e;
	while (b > start && isdigit((unsigned char)b[-1]))
		b--;
	if (b == e || (size_t)(e - b) >= sizeof(tmp))
		return false;
	memcpy(tmp, b, (size_t)(e - b));
	tmp[e - b] = '\0';
	return esl_u32(tmp, 100000000, out) == 0;
}

int
esl_status_parse(const char *body, size_t len, struct esl_status *st)
{
	char *copy, *line, *save = NULL;

	memset(st, 0, sizeof(*st));
	if (len > ESL_MAX_MSG || memchr(body, '\0', len) != NULL)
		return EBADMSG;
	if ((copy = malloc(len + 1)) == NULL)
		return ENOMEM;
	memcpy(copy, body, len);
	copy[len] = '\0';
	for (line = strtok_r(copy, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		const char *at;

		if (strstr(line, ") is ready") != NULL)
			st->ready = true;
		if ((at = strstr(line, " session(s) - peak")) != NULL)
			st->have_sessions =
			    num_before(line, at, &st->sessions);
		else if ((at = strstr(line, " session(s) max")) != NULL)
			st->have_max = num_before(line, at, &st->max_sessions);
		if ((at = strstr(line, " session(s) per Sec out of max ")) !=
		    NULL) {
			char tmp[16];
			size_t k = 0;

			/* the last second's count with the max, or neither:
			 * a max alone says nothing of what is left */
			if (!num_before(line, at, &st->sps_last))
				continue;
			at += strlen(" session(s) per Sec out of max ");
			while (isdigit((unsigned char)at[k]) &&
			    k < sizeof(tmp) - 1) {
				tmp[k] = at[k];
				k++;
			}
			tmp[k] = '\0';
			st->have_sps =
			    esl_u32(tmp, 100000000, &st->sps_max) == 0;
		}
		if (strncmp(line, "min idle cpu ", 13) == 0 &&
		    (at = strchr(line + 13, '/')) != NULL) {
			char tmp[32];
			size_t k = 0;

			at++;
			while (
			    (isdigit((unsigned char)at[k]) || at[k] == '.') &&
			    k < sizeof(tmp) - 1) {
				tmp[k] = at[k];
				k++;
			}
			tmp[k] = '\0';
			st->have_idle =
			    esl_percent_milli(tmp, &st->idle_milli) == 0;
		}
	}
	free(copy);
	return st->have_sessions || st->have_max || st->have_sps ||
		st->have_idle
	    ? 0
	    : EBADMSG;
}

/* ------------------------------------------------------------ attrs */

/* The value of key in "k=v;k=v" attrs, copied into out; false if absent. */
static bool
attr(const char *attrs, const char *key, char *out, size_t outlen)
{
	size_t kl = strlen(key);
	const char *p = attrs;

	while (p && *p) {
		const char *end = strchr(p, ';');
		size_t n = end ? (size_t)(end - p) : strlen(p);

		while (n > 0 && *p == ' ') {
			p++;
			n--;
		}
		if (n > kl && strncmp(p, key, kl) == 0 && p[kl] == '=') {
			size_t vl = n - kl - 1;

			if (vl >= outlen)
				return false;
			memcpy(out, p + kl + 1, vl);
			out[vl] = '\0';
			return true;
		}
		p = end ? end + 1 : NULL;
	}
	return false;
}

static int
hostport(const char *s, char *host, size_t hostlen, int *port)
{
	const char *colon;
	size_t hl;
	uint32_t v;

	*port = 8021;
	if (*s == '[') {
		const char *rb = strchr(s, ']');

		if (rb == NULL)
			return EINVAL;
		hl = (size_t)(rb - s - 1);
		if (hl == 0 || hl >= hostlen)
			return EINVAL;
		memcpy(host, s + 1, hl);
		host[hl] = '\0';
		if (rb[1] == '\0')
			return 0;
		if (rb[1] != ':' || esl_u32(rb + 2, 65535, &v) != 0 || v == 0)
			return EINVAL;
		*port = (int)v;
		return 0;
	}
	colon = strrchr(s, ':');
	hl = colon ? (size_t)(colon - s) : strlen(s);
	if (hl == 0 || hl >= hostlen)
		return EINVAL;
	memcpy(host, s, hl);
	host[hl] = '\0';
	for (size_t i = 0; i < hl; i++)
		if (!isalnum((unsigned char)host[i]) && host[i] != '.' &&
		    host[i] != '-' && host[i] != '_')
			return EINVAL;
	if (colon != NULL) {
		if (esl_u32(colon + 1, 65535, &v) != 0 || v == 0)
			return EINVAL;
		*port = (int)v;
	}
	return 0;
}

int
esl_attrs_parse(const char *attrs, char *host, size_t hostlen, int *port,
    char *password, size_t pwlen, uint32_t *interval_s)
{
	char v[256], iv[16];

	if (attrs == NULL || !attr(attrs, "esl", v, sizeof(v)))
		return ENOENT;
	if (strncmp(v, "fs://", 5) == 0) {
		/* fs://[user]:password@host[:port] */
		char *at = strrchr(v + 5, '@'), *colon;

		if (at == NULL)
			return EINVAL;
		*at = '\0';
		colon = strchr(v + 5, ':');
		if (colon != NULL) {
			if (strlen(colon + 1) >= pwlen)
				return EINVAL;
			strcpy(password, colon + 1);
		}
		if (hostport(at + 1, host, hostlen, port) != 0)
			return EINVAL;
	} else if (hostport(v, host, hostlen, port) != 0) {
		return EINVAL;
	}
	if (attr(attrs, "esl_password", v, sizeof(v))) {
		if (strlen(v) >= pwlen)
			return EINVAL;
		strcpy(password, v);
	}
	if (attr(attrs, "esl_interval", iv, sizeof(iv)) &&
	    (esl_u32(iv, 3600, interval_s) != 0 || *interval_s == 0))
		return EINVAL;
	return 0;
}
