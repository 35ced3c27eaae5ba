#include "sipmsg.h"

#include <ctype.h>
#include <errno.h>
#include <string.h>
#include <strings.h>

static const struct {
	const char *name;
	char compact;
	enum slb_sip_hdr_type type;
} hdr_names[] = {
	{ "via", 'v', SLB_H_VIA },
	{ "route", 0, SLB_H_ROUTE },
	{ "record-route", 0, SLB_H_RECORD_ROUTE },
	{ "max-forwards", 0, SLB_H_MAX_FORWARDS },
	{ "from", 'f', SLB_H_FROM },
	{ "to", 't', SLB_H_TO },
	{ "call-id", 'i', SLB_H_CALL_ID },
	{ "cseq", 0, SLB_H_CSEQ },
	{ "content-length", 'l', SLB_H_CONTENT_LENGTH },
	{ "contact", 'm', SLB_H_CONTACT },
	{ "path", 0, SLB_H_PATH },
};

int
slb_sip_eq(const char *a, size_t alen, const char *b)
{
	return strlen(b) == alen && strncasecmp(a, b, alen) == 0;
}

static enum slb_sip_hdr_type
hdr_type(const char *n, size_t len)
{
	for (size_t i = 0; i < sizeof(hdr_names) / sizeof(hdr_names[0]); i++) {
		if (len == 1 && hdr_names[i].compact &&
		    tolower((unsigned char)n[0]) == hdr_names[i].compact)
			return hdr_names[i].type;
		if (slb_sip_eq(n, len, hdr_names[i].name))
			return hdr_names[i].type;
	}
	return SLB_H_OTHER;
}

/* End of the line starting at p (index of '\n'), or -1. */
static long
line_end(const char *buf, size_t len, size_t p)
{
	const char *nl = memchr(buf + p, '\n', len - p);

	return nl ? nl - buf : -1;
}

int
slb_sip_scan(const char *buf, size_t len, struct slb_sipscan *s)
{
	size_t p;
	long e;

	s->nhdrs = 0;
	e = line_end(buf, len, 0);
	if (e < 0)
		return EBADMSG;
	s->line_len = (uint32_t)e + 1;
	p = (size_t)e + 1;
	for (;;) {
		struct slb_sip_hdr *h;
		size_t nb, ne, vb, ve, end;
		const char *colon;

		if (p >= len)
			return EBADMSG;
		if (buf[p] == '\n' ||
		    (buf[p] == '\r' && p + 1 < len && buf[p + 1] == '\n')) {
			/* the empty line */
			s->hdrs_end = (uint32_t)p;
			s->body_off = (uint32_t)(p + (buf[p] == '\r' ? 2 : 1));
			if (s->body_off > len)
				return EBADMSG;
			return 0;
		}
		if (buf[p] == ' ' || buf[p] == '\t')
			return EBADMSG; /* folding with no header */
		e = line_end(buf, len, p);
		if (e < 0)
			return EBADMSG;
		end = (size_t)e + 1;
		/* folded continuation lines belong to this header */
		while (end < len && (buf[end] == ' ' || buf[end] == '\t')) {
			e = line_end(buf, len, end);
			if (e < 0)
				return EBADMSG;
			end = (size_t)e + 1;
		}
		if (s->nhdrs >= SLB_SIP_MAX_HDRS)
			return E2BIG;
		colon = memchr(buf + p, ':', end - p);
		if (colon == NULL)
			return EBADMSG;
		nb = p;
		ne = (size_t)(colon - buf);
		while (ne > nb && (buf[ne - 1] == ' ' || buf[ne - 1] == '\t'))
			ne--;
		if (ne == nb)
			return EBADMSG;
		vb = (size_t)(colon - buf) + 1;
		ve = end;
		while (ve > vb && isspace((unsigned char)buf[ve - 1]))
			ve--;
		/* LWS may fold before the value (RFC 3261 §7.3.1) */
		while (vb < ve && isspace((unsigned char)buf[vb]))
			vb++;
		h = &s->h[s->nhdrs++];
		h->type = (uint8_t)hdr_type(buf + nb, ne - nb);
		h->off = (uint32_t)p;
		h->len = (uint32_t)(end - p);
		h->noff = (uint32_t)nb;
		h->nlen = (uint32_t)(ne - nb);
		h->voff = (uint32_t)vb;
		h->vlen = (uint32_t)(ve - vb);
		p = end;
	}
}

const struct slb_sip_hdr *
slb_sip_find(const struct slb_sipscan *s, enum slb_sip_hdr_type t)
{
	for (int i = 0; i < s->nhdrs; i++)
		if (s->h[i].type == t)
			return &s->h[i];
	return NULL;
}

size_t
slb_sip_first_elem(const char *v, size_t len)
{
	int quote = 0, angle = 0;

	for (size_t i = 0; i < len; i++) {
		char c = v[i];

		if (quote) {
			if (c == '\\' && i + 1 < len)
				i++;
			else if (c == '"')
				quote = 0;
		} else if (c == '"') {
			quote = 1;
		} else if (c == '<') {
			angle = 1;
		} else if (c == '>') {
			angle = 0;
		} else if (c == ',' && !angle) {
			size_t e = i;

			while (e > 0 && isspace((unsigned char)v[e - 1]))
				e--;
			return e;
		}
	}
	return len;
}

int
slb_sip_param(const char *v, size_t len, const char *name, const char **val,
    size_t *vlen)
{
	size_t nlen = strlen(name);
	int quote = 0;

	for (size_t i = 0; i < len; i++) {
		size_t j, b;

		if (quote && v[i] == '\\') {
			i++; /* quoted-pair (RFC 3261 §25.1) */
			continue;
		}
		if (v[i] == '"')
			quote = !quote;
		if (quote || v[i] != ';')
			continue;
		/* SEMI and EQUAL take LWS, which may fold (RFC 3261 §25.1) */
		j = i + 1;
		while (j < len && isspace((unsigned char)v[j]))
			j++;
		if (j + nlen > len || strncasecmp(v + j, name, nlen) != 0)
			continue;
		j += nlen;
		while (j < len && isspace((unsigned char)v[j]))
			j++;
		if (j < len && v[j] != '=' && v[j] != ';' && v[j] != '>' &&
		    v[j] != ',' && v[j] != '?')
			continue; /* a longer name */
		if (j >= len || v[j] != '=') {
			*val = v + j;
			*vlen = 0;
			return 0;
		}
		j++;
		while (j < len && isspace((unsigned char)v[j]))
			j++;
		b = j;
		while (j < len && v[j] != ';' && v[j] != '>' && v[j] != ',' &&
		    !isspace((unsigned char)v[j]) && v[j] != '?')
			j++;
		*val = v + b;
		*vlen = j - b;
		return 0;
	}
	return ENOENT;
}

long
slb_sip_frame(const char *buf, size_t len, size_t max)
{
	struct slb_sipscan s;
	const struct slb_sip_hdr *cl;
	const char *end;
	size_t hdr_len;
	long body = 0;
	size_t i;

	/* the header section ends at the first CRLFCRLF (keep-alive CRLFs
	 * between messages are stripped by the caller, RFC 5626 §3.5.1) */
	end = NULL;
	for (i = 0; i + 3 < len; i++)
		if (buf[i] == '\r' && buf[i + 1] == '\n' &&
		    buf[i + 2] == '\r' && buf[i + 3] == '\n') {
			end = buf + i + 4;
			break;
		}
	if (end == NULL)
		return len > max ? -1 : 0;
	hdr_len = (size_t)(end - buf);
	if (slb_sip_scan(buf, hdr_len, &s) != 0)
		return -1;
	cl = slb_sip_find(&s, SLB_H_CONTENT_LENGTH);
	if (cl == NULL)
		return -1; /* mandatory on streams (RFC 3261 §18.3) */
	for (i = 0; i < cl->vlen; i++) {
		char c = buf[cl->voff + i];

		if (!isdigit((unsigned char)c) || body > 100000000)
			return -1;
		body = body * 10 + (c - '0');
	}
	if (cl->vlen == 0 || hdr_len + (size_t)body > max)
		return -1;
	if (len < hdr_len + (size_t)body)
		return 0;
	return (long)(hdr_len + (size_t)body);
}
