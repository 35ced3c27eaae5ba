#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sipbuf.h"

/* most messages fit the first allocation */
#define OUT_SLACK 2048

struct edge_str
edge_hval(const char *buf, const struct slb_sip_hdr *h)
{
	struct edge_str s = { NULL, 0 };

	if (h) {
		s.p = buf + h->voff;
		s.n = h->vlen;
	}
	return s;
}

void
edge_copy_str(char *dst, size_t len, struct edge_str s)
{
	size_t n = s.n < len - 1 ? s.n : len - 1;

	memcpy(dst, s.p ? s.p : "", n);
	dst[n] = '\0';
}

const char *
edge_reason_of(int code)
{
	switch (code) {
	case 100: return "Trying";
	case 200: return "OK";
	case 400: return "Bad Request";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 416: return "Unsupported URI Scheme";
	case 420: return "Bad Extension";
	case 481: return "Call/Transaction Does Not Exist";
	case 483: return "Too Many Hops";
	case 487: return "Request Terminated";
	case 500: return "Server Internal Error";
	case 503: return "Service Unavailable";
	case 505: return "Version Not Supported";
	case 513: return "Message Too Large";
	default: return "Unknown";
	}
}

static const char *
skip_lws(const char *p, const char *end)
{
	while (p < end && isspace((unsigned char)*p))
		p++;
	return p;
}

int
edge_top_via(const char *buf, const struct slb_sipscan *sc, struct edge_via *v)
{
	const struct slb_sip_hdr *h = slb_sip_find(sc, SLB_H_VIA);
	const char *p, *end;
	const char *val;
	size_t vlen;

	memset(v, 0, sizeof(*v));
	if (h == NULL)
		return ENOENT;
	v->elem.p = buf + h->voff;
	v->elem.n = slb_sip_first_elem(v->elem.p, h->vlen);
	p = v->elem.p;
	end = p + v->elem.n;
	/* "SIP / 2.0 / UDP" (LWS may stand around the slashes, §25.1) */
	for (int part = 0; part < 3; part++) {
		if (part > 0) {
			p = skip_lws(p, end);
			if (p >= end || *p != '/')
				return EBADMSG;
			p = skip_lws(p + 1, end);
		}
		if (p >= end || *p == '/' || *p == ';')
			return EBADMSG;
		while (p < end && *p != '/' && *p != ';' &&
		    !isspace((unsigned char)*p))
			p++;
	}
	p = skip_lws(p, end);
	v->sent_by.p = p;
	while (p < end && *p != ';' && !isspace((unsigned char)*p))
		p++;
	v->sent_by.n = (size_t)(p - v->sent_by.p);
	if (v->sent_by.n == 0)
		return EBADMSG;
	if (slb_sip_param(p, (size_t)(end - p), "branch", &val, &vlen) == 0) {
		v->branch.p = val;
		v->branch.n = vlen;
	}
	if (slb_sip_param(p, (size_t)(end - p), "rport", &val, &vlen) == 0) {
		v->has_rport = true;
		v->rport_empty = vlen == 0;
	}
	return 0;
}

/* "num METHOD" */
int
edge_cseq_method(const char *buf, const struct slb_sipscan *sc,
    struct edge_str *m, unsigned long *num)
{
	struct edge_str v = edge_hval(buf, slb_sip_find(sc, SLB_H_CSEQ));
	size_t i = 0;

	if (v.p == NULL)
		return ENOENT;
	*num = 0;
	while (i < v.n && isdigit((unsigned char)v.p[i])) {
		*num = *num * 10 + (unsigned long)(v.p[i] - '0');
		i++;
	}
	if (i == 0 || i > 10)
		return EBADMSG;
	while (i < v.n && isspace((unsigned char)v.p[i]))
		i++;
	m->p = v.p + i;
	m->n = v.n - i;
	while (m->n && isspace((unsigned char)m->p[m->n - 1]))
		m->n--;
	return m->n ? 0 : EBADMSG;
}

struct edge_str
edge_tag_of(const char *buf, const struct slb_sip_hdr *h)
{
	struct edge_str t = { NULL, 0 };
	const char *v;
	size_t n;
	struct edge_str hv = edge_hval(buf, h);
	size_t i = 0;

	if (hv.p == NULL)
		return t;
	/* params after the URI: skip a <...> part so URI params are not
	 * taken for header params */
	{
		const char *lt = memchr(hv.p, '<', hv.n);
		if (lt) {
			const char *gt =
			    memchr(lt, '>', hv.n - (size_t)(lt - hv.p));
			if (gt)
				i = (size_t)(gt - hv.p);
		}
	}
	if (slb_sip_param(hv.p + i, hv.n - i, "tag", &v, &n) == 0 && n > 0) {
		t.p = v;
		t.n = n;
	}
	return t;
}

uint64_t
edge_fnv64(const char *a, size_t an, const char *b, size_t bn)
{
	uint64_t h = 1469598103934665603ull;

	for (size_t i = 0; i < an; i++)
		h = (h ^ (unsigned char)a[i]) * 1099511628211ull;
	h = (h ^ '|') * 1099511628211ull;
	for (size_t i = 0; i < bn; i++)
		h = (h ^ (unsigned char)b[i]) * 1099511628211ull;
	return h;
}

void
edge_out_put(struct edge_out *o, const char *s, size_t n)
{
	if (o->failed)
		return;
	if (o->n + n + 1 > o->cap) {
		/* most messages fit the first allocation */
		size_t cap = (o->n + n + 1) * 2 < OUT_SLACK
		    ? OUT_SLACK
		    : (o->n + n + 1) * 2;
		char *np = realloc(o->p, cap);

		if (np == NULL) {
			o->failed = true;
			return;
		}
		o->p = np;
		o->cap = cap;
	}
	memcpy(o->p + o->n, s, n);
	o->n += n;
	o->p[o->n] = '\0';
}

void
edge_out_str(struct edge_out *o, const char *s)
{
	edge_out_put(o, s, strlen(s));
}


void
edge_out_fmt(struct edge_out *o, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(buf)) {
		o->failed = true;
		return;
	}
	edge_out_put(o, buf, (size_t)n);
}

int
edge_addr_ip(
    const struct sockaddr_storage *ss, char *ip, size_t len, int *port)
{
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)ss;
		inet_ntop(AF_INET, &in->sin_addr, ip, (socklen_t)len);
		*port = ntohs(in->sin_port);
	} else {
		const struct sockaddr_in6 *in = (const void *)ss;
		inet_ntop(AF_INET6, &in->sin6_addr, ip, (socklen_t)len);
		*port = ntohs(in->sin6_port);
	}
	return 0;
}
