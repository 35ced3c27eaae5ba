#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "sipcheck.h"

static int
verdict(struct edge_check *c, int code, const char *reason)
{
	c->code = code;
	c->reason = reason;
	return code;
}

/* token (RFC 3261 §25.1): alphanum and -.!%*_+`'~ */
static bool
is_token_char(unsigned char ch)
{
	return isalnum(ch) || (ch != '\0' && strchr("-.!%*_+`'~", ch) != NULL);
}

/* "SIP/" 1*DIGIT "." 1*DIGIT */
static bool
is_sip_version(const char *p, size_t n)
{
	size_t i = 4, d;

	if (n < 7 || strncasecmp(p, "SIP/", 4) != 0)
		return false;
	for (d = i; i < n && isdigit((unsigned char)p[i]); i++)
		;
	if (i == d || i >= n || p[i] != '.')
		return false;
	for (d = ++i; i < n && isdigit((unsigned char)p[i]); i++)
		;
	return i > d && i == n;
}

int
edge_check_start(const char *buf, const struct slb_sipscan *sc,
    struct edge_str *method, struct edge_str *ruri, struct edge_check *c)
{
	const char *end = buf + sc->line_len, *p = buf, *sp;

	memset(c, 0, sizeof(*c));
	while (end > buf && (end[-1] == '\r' || end[-1] == '\n'))
		end--;
	sp = memchr(p, ' ', (size_t)(end - p));
	if (sp == NULL || sp == p)
		return verdict(c, 400, "Bad Request Line");
	method->p = p;
	method->n = (size_t)(sp - p);
	for (size_t i = 0; i < method->n; i++)
		if (!is_token_char((unsigned char)method->p[i]))
			return verdict(c, 400, "Bad Request Line");
	p = sp + 1;
	sp = memchr(p, ' ', (size_t)(end - p));
	if (sp == NULL || sp == p)
		return verdict(c, 400, "Bad Request Line");
	ruri->p = p;
	ruri->n = (size_t)(sp - p);
	p = sp + 1;
	if (slb_sip_eq(p, (size_t)(end - p), "SIP/2.0"))
		return 0;
	if (is_sip_version(p, (size_t)(end - p)))
		return verdict(c, 505, "Version Not Supported");
	return verdict(c, 400, "Bad Request Line");
}

int
edge_check_ruri(struct edge_str ruri, struct edge_check *c)
{
	const char *colon = memchr(ruri.p, ':', ruri.n), *at, *hp;
	size_t sn, rest;

	/* scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) */
	if (colon == NULL || colon == ruri.p ||
	    !isalpha((unsigned char)ruri.p[0]))
		return verdict(c, 400, "Bad Request-URI");
	sn = (size_t)(colon - ruri.p);
	for (size_t i = 1; i < sn; i++) {
		unsigned char ch = (unsigned char)ruri.p[i];

		if (!isalnum(ch) && ch != '+' && ch != '-' && ch != '.')
			return verdict(c, 400, "Bad Request-URI");
	}
	for (size_t i = 0; i < ruri.n; i++)
		if ((unsigned char)ruri.p[i] <= ' ' || ruri.p[i] == '<' ||
		    ruri.p[i] == '>' || ruri.p[i] == '"')
			return verdict(c, 400, "Bad Request-URI");
	if (!slb_sip_eq(ruri.p, sn, "sip") && !slb_sip_eq(ruri.p, sn, "sips"))
		return verdict(c, 416, NULL);
	/* the host part: after the userinfo, which may hold '?' itself */
	hp = colon + 1;
	rest = ruri.n - sn - 1;
	at = NULL;
	for (const char *q = hp; q < hp + rest; q++)
		if (*q == '@')
			at = q;
	if (at != NULL) {
		rest -= (size_t)(at + 1 - hp);
		hp = at + 1;
	}
	if (rest == 0 || *hp == ';' || *hp == '?')
		return verdict(c, 400, "Bad Request-URI");
	if (memchr(hp, '?', rest) != NULL)
		return verdict(c, 400, "Headers Not Allowed In Request-URI");
	return 0;
}

/* Quotes closed (quoted-pair minded) and every '<' closed by '>'. */
static bool
balanced(const char *v, size_t n)
{
	bool quote = false;
	int angle = 0;

	for (size_t i = 0; i < n; i++) {
		if (quote) {
			if (v[i] == '\\')
				i++;
			else if (v[i] == '"')
				quote = false;
		} else if (v[i] == '"') {
			quote = true;
		} else if (v[i] == '<') {
			angle++;
		} else if (v[i] == '>') {
			angle--;
		}
	}
	return !quote && angle == 0;
}

/* The top Via element's parameters: none empty (";;" or a trailing ';'),
 * and no empty element after a comma. */
static bool
via_params_ok(
    const char *buf, const struct slb_sip_hdr *h, const struct edge_via *v)
{
	const char *p = v->sent_by.p + v->sent_by.n;
	const char *end = v->elem.p + v->elem.n;
	const char *vend = buf + h->voff + h->vlen;

	while (p < end) {
		if (*p++ != ';')
			continue;
		while (p < end && isspace((unsigned char)*p))
			p++;
		if (p >= end || !is_token_char((unsigned char)*p))
			return false;
	}
	if (end < vend) { /* ", next-via": it must not be empty */
		p = end + 1;
		while (p < vend && isspace((unsigned char)*p))
			p++;
		if (p >= vend || *p == ',' || *p == ';')
			return false;
	}
	return true;
}

/* Content-Length: digits that fit the datagram; len cut to the body. */
static int
check_length(const char *buf, size_t *len, const struct slb_sipscan *sc,
    bool datagram, struct edge_check *c)
{
	const struct slb_sip_hdr *h = slb_sip_find(sc, SLB_H_CONTENT_LENGTH);
	size_t cl = 0, have = *len - sc->body_off;

	if (h == NULL)
		return 0; /* a datagram's body runs to its end */
	if (h->vlen == 0 || h->vlen > 9)
		return verdict(c, 400, "Bad Content-Length");
	for (size_t i = 0; i < h->vlen; i++) {
		unsigned char ch = (unsigned char)buf[h->voff + i];

		if (!isdigit(ch))
			return verdict(c, 400, "Bad Content-Length");
		cl = cl * 10 + (size_t)(ch - '0');
	}
	if (cl > have)
		return datagram
		    ? verdict(c, 400, "Content-Length Past Datagram")
		    : 0;
	*len = sc->body_off + cl;
	return 0;
}

int
edge_check_headers(const char *buf, size_t *len, const struct slb_sipscan *sc,
    bool datagram, struct edge_str method, struct edge_via *v,
    struct edge_check *c)
{
	static const enum slb_sip_hdr_type once[] = { SLB_H_FROM, SLB_H_TO,
		SLB_H_CALL_ID, SLB_H_CSEQ, SLB_H_MAX_FORWARDS,
		SLB_H_CONTENT_LENGTH };
	int count[SLB_H_PATH + 1] = { 0 };
	struct edge_str cm;
	unsigned long num;

	memset(c, 0, sizeof(*c));
	for (int i = 0; i < sc->nhdrs; i++)
		count[sc->h[i].type]++;
	if (count[SLB_H_VIA] == 0 || count[SLB_H_FROM] == 0 ||
	    count[SLB_H_TO] == 0 || count[SLB_H_CALL_ID] == 0 ||
	    count[SLB_H_CSEQ] == 0)
		return verdict(c, 400, "Missing Required Header");
	for (size_t i = 0; i < sizeof(once) / sizeof(once[0]); i++)
		if (count[once[i]] > 1)
			return verdict(c, 400, "Header Repeated");
	if (edge_cseq_method(buf, sc, &cm, &num) != 0 || num > 2147483647ul)
		return verdict(c, 400, "Bad CSeq");
	if (cm.n != method.n || memcmp(cm.p, method.p, method.n) != 0)
		return verdict(c, 400, "CSeq Method Mismatch");
	if (edge_top_via(buf, sc, v) != 0 ||
	    !via_params_ok(buf, slb_sip_find(sc, SLB_H_VIA), v))
		return verdict(c, 400, "Bad Via");
	for (int i = 0; i < sc->nhdrs; i++) {
		const struct slb_sip_hdr *h = &sc->h[i];

		if ((h->type == SLB_H_FROM || h->type == SLB_H_TO) &&
		    (h->vlen == 0 || !balanced(buf + h->voff, h->vlen)))
			return verdict(c, 400,
			    h->type == SLB_H_FROM ? "Bad From" : "Bad To");
	}
	return check_length(buf, len, sc, datagram, c);
}

int
edge_check_proxy_require(
    const char *buf, const struct slb_sipscan *sc, struct edge_check *c)
{
	size_t n = 0;

	memset(c, 0, sizeof(*c));
	for (int i = 0; i < sc->nhdrs; i++) {
		const struct slb_sip_hdr *h = &sc->h[i];
		int w;

		if (h->type != SLB_H_OTHER ||
		    !slb_sip_eq(buf + h->noff, h->nlen, "Proxy-Require") ||
		    h->vlen == 0)
			continue;
		w = snprintf(c->extra + n, sizeof(c->extra) - n, "%s%.*s",
		    n ? ", " : "Unsupported: ", (int)h->vlen, buf + h->voff);
		if (w < 0 || (size_t)w >= sizeof(c->extra) - n - 2)
			return verdict(c, 400, "Proxy-Require Too Long");
		n += (size_t)w;
	}
	if (n == 0)
		return 0;
	/* folded values stay on one line */
	for (size_t i = 0; i < n; i++)
		if (c->extra[i] == '\r' || c->extra[i] == '\n')
			c->extra[i] = ' ';
	memcpy(c->extra + n, "\r\n", 3);
	return verdict(c, 420, NULL);
}
