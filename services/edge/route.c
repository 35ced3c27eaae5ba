#define SLB_LOG_MODULE "route"
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edge.h"
#include "reply.h"
#include "route.h"

/* A URI naming this edge: its advertised address or a bound one. */
bool
edge_is_us(struct edge *e, const char *uri, size_t n)
{
	struct edge_peer p;

	if (edge_uri_peer(e, uri, n, &p) != 0)
		return false;
	for (int i = 0; i < e->nsocks; i++)
		if (edge_same_addr(&e->socks[i].adv_ss, &p.ss, true) ||
		    edge_same_addr(&e->socks[i].bound_ss, &p.ss, true))
			return true;
	return false;
}

void
edge_our_routes(struct edge *e, const char *buf, const struct slb_sipscan *sc,
    struct edge_our_routes *r)
{
	memset(r, 0, sizeof(*r));
	for (int i = 0; i < sc->nhdrs && r->count < 2; i++) {
		const struct slb_sip_hdr *h = &sc->h[i];
		const char *v = buf + h->voff;
		size_t left = h->vlen;

		if (h->type != SLB_H_ROUTE)
			continue;
		while (left > 0 && r->count < 2) {
			size_t el = slb_sip_first_elem(v, left);
			char uri[256];
			const char *pv;
			size_t pn;

			if (!edge_is_us(e, v, el) || el >= sizeof(uri))
				return;
			if (!r->have_nid &&
			    slb_sip_param(v, el, "nid", &pv, &pn) == 0 &&
			    pn > 0 && pn < 11) {
				char tmp[12];
				long id;

				memcpy(tmp, pv, pn);
				tmp[pn] = '\0';
				if (slb_parse_long(tmp, 1, UINT32_MAX, &id) ==
				    0) {
					r->nid = (uint32_t)id;
					r->have_nid = true;
				}
			}
			if (!r->dk[0] &&
			    slb_sip_param(v, el, "dk", &pv, &pn) == 0 &&
			    pn > 0 && pn < sizeof(r->dk))
				edge_copy_str(r->dk, sizeof(r->dk),
				    (struct edge_str){ pv, pn });
			r->count++;
			/* next element of the same header */
			v += el;
			left -= el;
			while (left > 0 &&
			    (*v == ',' || isspace((unsigned char)*v))) {
				v++;
				left--;
			}
		}
	}
}

/* The first Route element not ours (the next hop), if any. */
struct edge_str
edge_next_route(const char *buf, const struct slb_sipscan *sc, int skip)
{
	struct edge_str s = { NULL, 0 };

	for (int i = 0; i < sc->nhdrs; i++) {
		const struct slb_sip_hdr *h = &sc->h[i];
		const char *v = buf + h->voff;
		size_t left = h->vlen;

		if (h->type != SLB_H_ROUTE)
			continue;
		while (left > 0) {
			size_t el = slb_sip_first_elem(v, left);

			if (skip == 0) {
				s.p = v;
				s.n = el;
				return s;
			}
			skip--;
			v += el;
			left -= el;
			while (left > 0 &&
			    (*v == ',' || isspace((unsigned char)*v))) {
				v++;
				left--;
			}
		}
	}
	return s;
}

static void
rr_line(struct edge *e, struct edge_out *o, const struct edge_sock *sk,
    const struct edge_fwd *f)
{
	edge_out_fmt(o, "Record-Route: <sip:%s;%slr", sk->adv,
	    sk->proto == EP_TCP ? "transport=tcp;" : "");
	if (f->ftag && *f->ftag)
		edge_out_fmt(o, ";ftag=%s", f->ftag);
	if (f->nid)
		edge_out_fmt(o, ";nid=%u", f->nid);
	if (f->dk && *f->dk)
		edge_out_fmt(o, ";dk=%s", f->dk);
	edge_out_str(o, ">\r\n");
	(void)e;
}

static bool
is_auth_header(struct edge *e, const char *buf, const struct slb_sip_hdr *h)
{
	return (e->cfg.auth_ip_header[0] &&
		   slb_sip_eq(
		       buf + h->noff, h->nlen, e->cfg.auth_ip_header)) ||
	    (e->cfg.auth_port_header[0] &&
		slb_sip_eq(buf + h->noff, h->nlen, e->cfg.auth_port_header));
}

/*
 * The relayed request: our Via on top, Record-Route when asked, our Route
 * elements gone, Max-Forwards one less (70 when missing), X-AUTH-* copies
 * from outside stripped and ours added, Path on REGISTER.  (§16.6)
 */
int
edge_build_forward(struct edge *e, const char *buf, size_t len,
    const struct slb_sipscan *sc, const struct edge_fwd *f, struct edge_out *o)
{
	const struct edge_sock *out_sk = &e->socks[f->to->sock];
	const struct edge_sock *in_sk = &e->socks[f->src->sock];
	int dropped = 0;
	bool had_mf = false;

	edge_out_put(o, buf, sc->line_len);
	if (f->record_route) {
		rr_line(e, o, out_sk, f);
		if (in_sk != out_sk &&
		    (in_sk->proto != out_sk->proto ||
			strcmp(in_sk->adv, out_sk->adv) != 0))
			rr_line(e, o, in_sk, f); /* double RR */
	}
	edge_out_fmt(o, "Via: SIP/2.0/%s %s;branch=%s\r\n",
	    out_sk->proto == EP_TCP ? "TCP" : "UDP", out_sk->adv, f->branch);
	for (int i = 0; i < sc->nhdrs; i++) {
		const struct slb_sip_hdr *h = &sc->h[i];

		if (h->type == SLB_H_ROUTE && dropped < f->drop_routes) {
			/* drop our elements, keep the rest of the header */
			const char *v = buf + h->voff;
			size_t left = h->vlen;

			while (left > 0 && dropped < f->drop_routes) {
				size_t el = slb_sip_first_elem(v, left);

				v += el;
				left -= el;
				while (left > 0 &&
				    (*v == ',' ||
					isspace((unsigned char)*v))) {
					v++;
					left--;
				}
				dropped++;
			}
			if (left > 0) {
				edge_out_put(o, buf + h->noff, h->nlen);
				edge_out_str(o, ": ");
				edge_out_put(o, v, left);
				edge_out_str(o, "\r\n");
			}
			continue;
		}
		if (h->type == SLB_H_MAX_FORWARDS) {
			long mf = 0;
			char tmp[12];

			had_mf = true;
			if (h->vlen > 0 && h->vlen < sizeof(tmp)) {
				memcpy(tmp, buf + h->voff, h->vlen);
				tmp[h->vlen] = '\0';
				slb_parse_long(tmp, 0, 255, &mf);
			}
			edge_out_fmt(
			    o, "Max-Forwards: %ld\r\n", mf > 0 ? mf - 1 : 0);
			continue;
		}
		if (!f->from_node && is_auth_header(e, buf, h))
			continue; /* never trust a copy from outside */
		edge_out_put(o, buf + h->off, h->len);
	}
	if (!had_mf)
		edge_out_str(o, "Max-Forwards: 70\r\n");
	if (!f->from_node &&
	    (e->cfg.auth_ip_header[0] || e->cfg.auth_port_header[0])) {
		char ip[64];
		int port;

		edge_addr_ip(&(f->src)->ss, ip, sizeof(ip), &port);
		if (e->cfg.auth_ip_header[0])
			edge_out_fmt(
			    o, "%s: %s\r\n", e->cfg.auth_ip_header, ip);
		if (e->cfg.auth_port_header[0])
			edge_out_fmt(
			    o, "%s: %d\r\n", e->cfg.auth_port_header, port);
	}
	if (f->is_register && e->cfg.add_path)
		edge_out_fmt(o, "Path: <sip:%s;%slr>\r\n", in_sk->adv,
		    in_sk->proto == EP_TCP ? "transport=tcp;" : "");
	edge_out_put(o, buf + sc->hdrs_end, len - sc->hdrs_end);
	return o->failed ? ENOMEM : 0;
}

/* Fill received= and rport= into the top Via of a request (RFC 3581). */
int
edge_fix_via(const char *buf, size_t len, const struct slb_sipscan *sc,
    const struct edge_peer *src, struct edge_out *o)
{
	struct edge_via v;
	char ip[64];
	int port;
	const char *rp = NULL;
	size_t rn = 0;
	bool need_received;

	if (edge_top_via(buf, sc, &v) != 0)
		return EBADMSG;
	edge_addr_ip(&(src)->ss, ip, sizeof(ip), &port);
	{
		/* sent-by host (without port) differs from the source? */
		const char *h = v.sent_by.p;
		size_t hn = v.sent_by.n;
		const char *c;

		if (hn && h[0] == '[') {
			c = memchr(h, ']', hn);
			hn = c ? (size_t)(c - h + 1) : hn;
		} else if ((c = memchr(h, ':', hn)) != NULL) {
			hn = (size_t)(c - h);
		}
		need_received = !(hn == strlen(ip) && strncmp(h, ip, hn) == 0);
	}
	if (!need_received && !v.rport_empty) {
		edge_out_put(o, buf, len);
		return o->failed ? ENOMEM : 0;
	}
	if (v.rport_empty) {
		const char *end = v.elem.p + v.elem.n;

		slb_sip_param(v.sent_by.p + v.sent_by.n,
		    (size_t)(end - (v.sent_by.p + v.sent_by.n)), "rport", &rp,
		    &rn);
	}
	/* copy up to the end of the top Via element, adding the params; an
	 * empty rport is filled in place */
	if (rp != NULL) {
		edge_out_put(o, buf, (size_t)(rp - buf));
		edge_out_fmt(o, "=%d", port);
		edge_out_put(o, rp, (size_t)(v.elem.p + v.elem.n - rp));
	} else {
		edge_out_put(o, buf, (size_t)(v.elem.p + v.elem.n - buf));
	}
	if (need_received)
		edge_out_fmt(o, ";received=%s", ip);
	edge_out_put(
	    o, v.elem.p + v.elem.n, len - (size_t)(v.elem.p + v.elem.n - buf));
	return o->failed ? ENOMEM : 0;
}

/* The response without our top Via element. */
int
edge_strip_top_via(const char *buf, size_t len, const struct slb_sipscan *sc,
    struct edge_out *o)
{
	const struct slb_sip_hdr *h = slb_sip_find(sc, SLB_H_VIA);
	size_t el;

	if (h == NULL)
		return EBADMSG;
	el = slb_sip_first_elem(buf + h->voff, h->vlen);
	if (el >= h->vlen) {
		edge_out_put(o, buf, h->off);
		edge_out_put(o, buf + h->off + h->len, len - h->off - h->len);
	} else {
		const char *rest = buf + h->voff + el;
		size_t rn = h->vlen - el;

		while (rn && (*rest == ',' || isspace((unsigned char)*rest))) {
			rest++;
			rn--;
		}
		edge_out_put(o, buf, h->voff);
		edge_out_put(o, rest, len - (size_t)(rest - buf));
	}
	return o->failed ? ENOMEM : 0;
}

void
edge_relay_stateless(struct edge *e, const char *buf, size_t len,
    const struct slb_sipscan *sc, int code)
{
	/* pop our Via, send per the next one (received/rport first) */
	struct slb_sipscan sc2;
	struct edge_via next;
	struct edge_peer to;
	struct edge_out o = { 0 };
	char uri[300];
	const char *v;
	size_t vn;
	int port = 0;

	if (edge_strip_top_via(buf, len, sc, &o) != 0 ||
	    slb_sip_scan(o.p, o.n, &sc2) != 0 ||
	    edge_top_via(o.p, &sc2, &next) != 0) {
		e->st.drop_no_tx++;
		free(o.p);
		return;
	}
	if (slb_sip_param(next.elem.p, next.elem.n, "rport", &v, &vn) == 0 &&
	    vn > 0 && vn < 6) {
		char pb[8];
		long lp;

		memcpy(pb, v, vn);
		pb[vn] = '\0';
		if (slb_parse_long(pb, 1, 65535, &lp) == 0)
			port = (int)lp;
	}
	if (slb_sip_param(next.elem.p, next.elem.n, "received", &v, &vn) ==
		0 &&
	    vn > 0 && vn < 64) {
		snprintf(uri, sizeof(uri), "sip:%.*s", (int)vn, v);
		if (port)
			snprintf(uri + strlen(uri), sizeof(uri) - strlen(uri),
			    ":%d", port);
	} else {
		snprintf(uri, sizeof(uri), "sip:%.*s", (int)next.sent_by.n,
		    next.sent_by.p);
	}
	if (memmem(next.elem.p, next.elem.n, "/TCP", 4) != NULL)
		strncat(uri, ";transport=tcp", sizeof(uri) - strlen(uri) - 1);
	if (edge_uri_peer(e, uri, strlen(uri), &to) == 0)
		edge_send_upstream(e, NULL, &to, o.p, o.n, code);
	free(o.p);
}
