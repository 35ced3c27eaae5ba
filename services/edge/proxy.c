#define SLB_LOG_MODULE "proxy"
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <event2/event.h>
#include <osipparser2/osip_message.h>
#include <osipparser2/osip_parser.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "edge.h"
#include "log.h"

/*
 * The proxy core: RFC 3261 §16 (proxy behaviour) and §17 (transactions).
 * Server transactions are keyed by (branch, sent-by, method) per §17.2.3,
 * our client transactions by the branch we generate; both live in hash
 * tables.  Relayed messages are the received bytes, edited.
 */

#define MAGIC "z9hG4bK"
#define OUR_BRANCH "z9hG4bKslb"
#define OUT_SLACK 2048

/* ------------------------------------------------------------ small */

struct str {
	const char *p;
	size_t n;
};

static struct str
hval(const char *buf, const struct slb_sip_hdr *h)
{
	struct str s = {NULL, 0};

	if (h) {
		s.p = buf + h->voff;
		s.n = h->vlen;
	}
	return s;
}

static void
copy_str(char *dst, size_t len, struct str s)
{
	size_t n = s.n < len - 1 ? s.n : len - 1;

	memcpy(dst, s.p ? s.p : "", n);
	dst[n] = '\0';
}

static int
peer_ip(const struct edge_peer *p, char *ip, size_t len, int *port)
{
	if (p->ss.ss_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)&p->ss;
		inet_ntop(AF_INET, &in->sin_addr, ip, (socklen_t)len);
		*port = ntohs(in->sin_port);
	} else {
		const struct sockaddr_in6 *in = (const void *)&p->ss;
		inet_ntop(AF_INET6, &in->sin6_addr, ip, (socklen_t)len);
		*port = ntohs(in->sin6_port);
	}
	return 0;
}

static const char *
reason_of(int code)
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
	case 481: return "Call/Transaction Does Not Exist";
	case 483: return "Too Many Hops";
	case 487: return "Request Terminated";
	case 500: return "Server Internal Error";
	case 503: return "Service Unavailable";
	case 513: return "Message Too Large";
	default: return "Unknown";
	}
}

/* Top Via's first element, its sent-by, branch and rport. */
struct via_info {
	struct str elem;	/* "SIP/2.0/UDP host:port;branch=..." */
	struct str sent_by;
	struct str branch;
	bool has_rport;
	bool rport_empty;
};

static int
top_via(const char *buf, const struct slb_sipscan *sc, struct via_info *v)
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
	/* skip "SIP / 2.0 / UDP" */
	while (p < end && !isspace((unsigned char)*p))
		p++;
	while (p < end && isspace((unsigned char)*p))
		p++;
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
static int
cseq_method(const char *buf, const struct slb_sipscan *sc, struct str *m,
    unsigned long *num)
{
	struct str v = hval(buf, slb_sip_find(sc, SLB_H_CSEQ));
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

static struct str
tag_of(const char *buf, const struct slb_sip_hdr *h)
{
	struct str t = {NULL, 0};
	const char *v;
	size_t n;
	struct str hv = hval(buf, h);
	size_t i = 0;

	if (hv.p == NULL)
		return t;
	/* params after the URI: skip a <...> part so URI params are not
	 * taken for header params */
	{
		const char *lt = memchr(hv.p, '<', hv.n);
		if (lt) {
			const char *gt = memchr(lt, '>', hv.n - (size_t)(lt - hv.p));
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

static uint64_t
fnv64(const char *a, size_t an, const char *b, size_t bn)
{
	uint64_t h = 1469598103934665603ull;

	for (size_t i = 0; i < an; i++)
		h = (h ^ (unsigned char)a[i]) * 1099511628211ull;
	h = (h ^ '|') * 1099511628211ull;
	for (size_t i = 0; i < bn; i++)
		h = (h ^ (unsigned char)b[i]) * 1099511628211ull;
	return h;
}

/* ------------------------------------------------------------ output */

struct out {
	char *p;
	size_t n, cap;
	bool failed;
};

static void
out_put(struct out *o, const char *s, size_t n)
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

static void
out_str(struct out *o, const char *s)
{
	out_put(o, s, strlen(s));
}

__attribute__((format(printf, 2, 3))) static void
out_fmt(struct out *o, const char *fmt, ...)
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
	out_put(o, buf, (size_t)n);
}

/* ------------------------------------------------------------ replies */

static void
send_upstream(struct edge *e, struct edge_tx *tx, const struct edge_peer *to,
    const char *buf, size_t len, int code)
{
	if (edge_send(e, to, buf, len) == 0) {
		e->st.tx_responses++;
		if (code >= 100 && code < 700)
			e->st.resp_class[code / 100]++;
	}
	/* the last response sent is what a retransmitted request gets
	 * (§17.2.1: the most recent provisional, or the final) */
	if (tx != NULL && code >= 100) {
		free(tx->resp);
		tx->resp = malloc(len);
		if (tx->resp) {
			memcpy(tx->resp, buf, len);
			tx->resp_len = len;
			tx->resp_code = code;
		}
	}
}

/*
 * A reply the edge originates, built with libosip2 from the parsed request:
 * Via (top one with received/rport, RFC 3581), From, To (with our tag for a
 * final reply), Call-ID, CSeq, plus `extra` header lines.
 */
static int
build_reply(struct edge *e, osip_message_t *req, const struct edge_peer *src,
    int code, const char *reason, const char *extra, struct out *o)
{
	osip_message_t *r = NULL;
	char *str = NULL, ip[64], tag[32];
	size_t len;
	int port, rc = ENOMEM, pos = 0;
	osip_via_t *via;

	if (osip_message_init(&r) != 0)
		return ENOMEM;
	osip_message_set_version(r, osip_strdup("SIP/2.0"));
	osip_message_set_status_code(r, code);
	osip_message_set_reason_phrase(r, osip_strdup(reason ? reason
							     : reason_of(code)));
	while (osip_message_get_via(req, pos, &via) >= 0) {
		osip_via_t *copy;

		if (osip_via_clone(via, &copy) != 0)
			goto out;
		if (pos == 0) {
			osip_generic_param_t *rp = NULL;

			peer_ip(src, ip, sizeof(ip), &port);
			if (via->host == NULL || strcmp(via->host, ip) != 0)
				osip_via_set_received(copy, osip_strdup(ip));
			osip_via_param_get_byname(copy, "rport", &rp);
			if (rp != NULL) {
				char pb[8];

				snprintf(pb, sizeof(pb), "%d", port);
				osip_free(rp->gvalue);
				rp->gvalue = osip_strdup(pb);
			}
		}
		osip_list_add(&r->vias, copy, -1);
		pos++;
	}
	if (osip_from_clone(req->from, &r->from) != 0 ||
	    osip_to_clone(req->to, &r->to) != 0 ||
	    osip_call_id_clone(req->call_id, &r->call_id) != 0 ||
	    osip_cseq_clone(req->cseq, &r->cseq) != 0)
		goto out;
	if (code > 100) {
		osip_generic_param_t *t = NULL;

		osip_to_get_tag(r->to, &t);
		if (t == NULL) {
			/* the same tag for retransmissions of the request */
			snprintf(tag, sizeof(tag), "slb%08x",
			    (unsigned)(fnv64(req->call_id->number
				    ? req->call_id->number : "",
				    strlen(req->call_id->number
					    ? req->call_id->number : ""),
				    "", 0) & 0xffffffffu));
			osip_to_set_tag(r->to, osip_strdup(tag));
		}
	}
	osip_message_set_header(r, "Server", "siplb-edge");
	osip_message_set_content_length(r, "0");
	if (osip_message_to_str(r, &str, &len) != 0)
		goto out;
	/* extra lines go before the empty line */
	{
		char *blank = strstr(str, "\r\n\r\n");

		if (blank == NULL)
			goto out;
		out_put(o, str, (size_t)(blank - str) + 2);
		if (extra)
			out_str(o, extra);
		out_put(o, "\r\n", 2);
	}
	rc = o->failed ? ENOMEM : 0;
out:
	if (str) {
		osip_free(str);
	}
	osip_message_free(r);
	return rc;
}

/* Reply to a request with no transaction (or before one exists). */
static void
reply(struct edge *e, struct edge_tx *tx, osip_message_t *req,
    const struct edge_peer *src, int code, const char *reason,
    const char *extra)
{
	struct out o = {0};

	if (build_reply(e, req, src, code, reason, extra, &o) == 0)
		send_upstream(e, tx, src, o.p, o.n, code);
	free(o.p);
	switch (code) {
	case 400: e->st.replied_400++; break;
	case 403: e->st.replied_403++; break;
	case 405: e->st.replied_405++; break;
	case 481: e->st.replied_481++; break;
	case 483: e->st.replied_483++; break;
	case 503: e->st.replied_503++; break;
	}
}

/*
 * A reply built from the request's own lines (§8.2.6.2: Via, From, To,
 * Call-ID, CSeq copied): the 100 Trying every INVITE gets (on the hot path,
 * where building it with libosip2 cost 15 % of the edge's CPU), and a 400
 * for what libosip2 cannot parse.  The request's top Via must already carry
 * received/rport.  False when the lines a reply needs are missing.
 */
static bool
reply_raw(struct edge *e, struct edge_tx *tx, const char *buf,
    const struct slb_sipscan *sc, const struct edge_peer *src, int code,
    const char *reason)
{
	static const enum slb_sip_hdr_type need[] = {SLB_H_FROM, SLB_H_TO,
	    SLB_H_CALL_ID, SLB_H_CSEQ};
	struct out o = {0};
	bool ok = slb_sip_find(sc, SLB_H_VIA) != NULL;

	for (size_t i = 0; ok && i < sizeof(need) / sizeof(need[0]); i++)
		ok = slb_sip_find(sc, need[i]) != NULL;
	if (!ok)
		return false;
	out_fmt(&o, "SIP/2.0 %d %s\r\n", code, reason);
	for (int i = 0; i < sc->nhdrs; i++) {
		const struct slb_sip_hdr *h = &sc->h[i];

		if (h->type == SLB_H_VIA || h->type == SLB_H_FROM ||
		    h->type == SLB_H_TO || h->type == SLB_H_CALL_ID ||
		    h->type == SLB_H_CSEQ)
			out_put(&o, buf + h->off, h->len);
	}
	out_str(&o, "Server: siplb-edge\r\nContent-Length: 0\r\n\r\n");
	if (!o.failed)
		send_upstream(e, tx, src, o.p, o.n, code);
	free(o.p);
	if (code == 400)
		e->st.replied_400++;
	return true;
}

static bool
reply_400_raw(struct edge *e, const char *buf, const struct slb_sipscan *sc,
    const struct edge_peer *src, const char *why)
{
	return reply_raw(e, NULL, buf, sc, src, 400, why);
}

/* The 100 Trying of an INVITE transaction (§16.2), from its stored copy. */
static void
reply_trying(struct edge *e, struct edge_tx *tx)
{
	struct slb_sipscan sc;

	if (slb_sip_scan(tx->req, tx->req_len, &sc) == 0)
		reply_raw(e, tx, tx->req, &sc, &tx->src, 100, "Trying");
}

/* ------------------------------------------------------------ timers */

static void
timer_set(struct edge *e, struct event **ev, event_callback_fn fn, void *arg,
    int ms)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

	if (*ev == NULL)
		*ev = evtimer_new(e->base, fn, arg);
	if (*ev != NULL)
		evtimer_add(*ev, &tv);
}

static void
timer_stop(struct event *ev)
{
	if (ev != NULL)
		evtimer_del(ev);
}

static void
timer_free(struct event **ev)
{
	if (*ev != NULL) {
		event_free(*ev);
		*ev = NULL;
	}
}

/* ------------------------------------------------------------ tx */

void
edge_branch_free(struct edge *e, struct edge_branch *b)
{
	if (b == NULL)
		return;
	timer_free(&b->t_retx);
	timer_free(&b->t_fr);
	timer_free(&b->t_end);
	HASH_DEL(e->branches, b);
	e->nbranches--;
	if (b->tx && b->tx->cur == b)
		b->tx->cur = NULL;
	free(b->out);
	free(b);
}

void
edge_tx_free(struct edge *e, struct edge_tx *tx)
{
	if (tx == NULL)
		return;
	edge_sel_forget(e, tx);
	timer_free(&tx->t_retx);
	timer_free(&tx->t_end);
	if (tx->cur)
		tx->cur->tx = NULL;	/* the branch finishes on its own */
	HASH_DEL(e->txs, tx);
	e->ntx--;
	free(tx->req);
	free(tx->resp);
	free(tx);
}

static void
tx_end_cb(evutil_socket_t fd, short what, void *arg)
{
	struct edge_tx *tx = arg;

	(void)fd;
	(void)what;
	edge_tx_free(tx->e, tx);
}

/* Timer G: retransmit a final non-2xx to INVITE until the ACK (UDP). */
static void
tx_retx_cb(evutil_socket_t fd, short what, void *arg)
{
	struct edge_tx *tx = arg;
	struct edge *e = tx->e;

	(void)fd;
	(void)what;
	if (tx->state != TX_COMPLETED || tx->resp == NULL)
		return;
	edge_send(e, &tx->src, tx->resp, tx->resp_len);
	e->st.retransmissions++;
	tx->retx_ms = tx->retx_ms * 2 < e->cfg.t2_ms ? tx->retx_ms * 2
						      : e->cfg.t2_ms;
	timer_set(e, &tx->t_retx, tx_retx_cb, tx, tx->retx_ms);
}

/* The server transaction sent a final response: wind it down (§17.2). */
static void
tx_completed(struct edge *e, struct edge_tx *tx, int code)
{
	bool udp = tx->src.proto == EP_UDP;

	tx->answered = true;
	free(tx->req);
	tx->req = NULL;
	if (tx->invite && code >= 300) {
		tx->state = TX_COMPLETED;
		if (udp) {
			tx->retx_ms = e->cfg.t1_ms;
			timer_set(e, &tx->t_retx, tx_retx_cb, tx, tx->retx_ms);
		}
		/* timer H: give up waiting for the ACK */
		timer_set(e, &tx->t_end, tx_end_cb, tx, 64 * e->cfg.t1_ms);
		return;
	}
	/* 2xx to INVITE (RFC 6026 "Accepted") and non-INVITE "Completed":
	 * linger to absorb retransmitted requests (timer J, 64*T1 on UDP).
	 * An accepted INVITE is absorbed silently (the UAS retransmits its
	 * 2xx itself), so its copy of the 2xx is not kept. */
	tx->state = TX_TERMINATED;
	if (tx->invite) {
		free(tx->resp);
		tx->resp = NULL;
	}
	/* 64*T1 would keep 32 s of transactions (hundreds of MB at a few
	 * thousand calls/s); retransmissions stop long before, so linger for
	 * tx_linger like Kamailio's wait timer (5 s) */
	timer_set(e, &tx->t_end, tx_end_cb, tx,
	    udp || tx->invite ? e->cfg.tx_linger_ms : 0);
}

/* ------------------------------------------------------------ keys */

static int
server_key(char *key, size_t len, const char *buf, const struct slb_sipscan *sc,
    const struct via_info *v, struct str method)
{
	int n;

	if (v->branch.n > 7 && strncmp(v->branch.p, MAGIC, 7) == 0) {
		n = snprintf(key, len, "%.*s|%.*s|%.*s", (int)v->branch.n,
		    v->branch.p, (int)v->sent_by.n, v->sent_by.p, (int)method.n,
		    method.p);
	} else {
		/* RFC 2543 peers: Call-ID, CSeq number, From tag, sent-by */
		struct str cid = hval(buf, slb_sip_find(sc, SLB_H_CALL_ID));
		struct str ftag = tag_of(buf, slb_sip_find(sc, SLB_H_FROM));
		struct str m;
		unsigned long num = 0;

		cseq_method(buf, sc, &m, &num);
		n = snprintf(key, len, "2543|%.*s|%lu|%.*s|%.*s|%.*s",
		    (int)cid.n, cid.p ? cid.p : "", num, (int)ftag.n,
		    ftag.p ? ftag.p : "", (int)v->sent_by.n, v->sent_by.p,
		    (int)method.n, method.p);
	}
	return n > 0 && (size_t)n < len ? 0 : E2BIG;
}

static struct edge_tx *
tx_find(struct edge *e, const char *key)
{
	struct edge_tx *tx = NULL;

	HASH_FIND_STR(e->txs, key, tx);
	return tx;
}

/* ------------------------------------------------------------ routes */

/* A URI naming this edge: its advertised address or a bound one. */
static bool
is_us(struct edge *e, const char *uri, size_t n)
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

/* Route values at the top that name us (at most two: double RR). */
struct our_routes {
	int count;		/* how many elements to drop */
	uint32_t nid;
	char dk[24];
	bool have_nid;
};

static void
find_our_routes(struct edge *e, const char *buf, const struct slb_sipscan *sc,
    struct our_routes *r)
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

			if (!is_us(e, v, el) || el >= sizeof(uri))
				return;
			if (!r->have_nid &&
			    slb_sip_param(v, el, "nid", &pv, &pn) == 0 && pn > 0 &&
			    pn < 11) {
				char tmp[12];
				long id;

				memcpy(tmp, pv, pn);
				tmp[pn] = '\0';
				if (slb_parse_long(tmp, 1, UINT32_MAX, &id) == 0) {
					r->nid = (uint32_t)id;
					r->have_nid = true;
				}
			}
			if (!r->dk[0] && slb_sip_param(v, el, "dk", &pv, &pn) == 0 &&
			    pn > 0 && pn < sizeof(r->dk))
				copy_str(r->dk, sizeof(r->dk), (struct str){pv, pn});
			r->count++;
			/* next element of the same header */
			v += el;
			left -= el;
			while (left > 0 && (*v == ',' || isspace((unsigned char)*v))) {
				v++;
				left--;
			}
		}
	}
}

/* The first Route element not ours (the next hop), if any. */
static struct str
next_route(const char *buf, const struct slb_sipscan *sc, int skip)
{
	struct str s = {NULL, 0};

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
			while (left > 0 && (*v == ',' || isspace((unsigned char)*v))) {
				v++;
				left--;
			}
		}
	}
	return s;
}

/* ------------------------------------------------------------ forward */

struct fwd {
	const struct edge_peer *to;
	int drop_routes;	/* our Route elements to remove */
	bool record_route;
	const char *branch;
	bool from_node;
	bool is_register;
	const char *ftag;
	uint32_t nid;
	const char *dk;
	const struct edge_peer *src;
};

static void
rr_line(struct edge *e, struct out *o, const struct edge_sock *sk,
    const struct fwd *f)
{
	out_fmt(o, "Record-Route: <sip:%s;%slr", sk->adv,
	    sk->proto == EP_TCP ? "transport=tcp;" : "");
	if (f->ftag && *f->ftag)
		out_fmt(o, ";ftag=%s", f->ftag);
	if (f->nid)
		out_fmt(o, ";nid=%u", f->nid);
	if (f->dk && *f->dk)
		out_fmt(o, ";dk=%s", f->dk);
	out_str(o, ">\r\n");
	(void)e;
}

static bool
is_auth_header(struct edge *e, const char *buf, const struct slb_sip_hdr *h)
{
	return (e->cfg.auth_ip_header[0] &&
		   slb_sip_eq(buf + h->noff, h->nlen, e->cfg.auth_ip_header)) ||
	    (e->cfg.auth_port_header[0] &&
		slb_sip_eq(buf + h->noff, h->nlen, e->cfg.auth_port_header));
}

/*
 * The relayed request: our Via on top, Record-Route when asked, our Route
 * elements gone, Max-Forwards one less (70 when missing), X-AUTH-* copies
 * from outside stripped and ours added, Path on REGISTER.  (§16.6)
 */
static int
build_forward(struct edge *e, const char *buf, size_t len,
    const struct slb_sipscan *sc, const struct fwd *f, struct out *o)
{
	const struct edge_sock *out_sk = &e->socks[f->to->sock];
	const struct edge_sock *in_sk = &e->socks[f->src->sock];
	int dropped = 0;
	bool had_mf = false;

	out_put(o, buf, sc->line_len);
	if (f->record_route) {
		rr_line(e, o, out_sk, f);
		if (in_sk != out_sk && (in_sk->proto != out_sk->proto ||
					   strcmp(in_sk->adv, out_sk->adv) != 0))
			rr_line(e, o, in_sk, f);	/* double RR */
	}
	out_fmt(o, "Via: SIP/2.0/%s %s;branch=%s\r\n",
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
				    (*v == ',' || isspace((unsigned char)*v))) {
					v++;
					left--;
				}
				dropped++;
			}
			if (left > 0) {
				out_put(o, buf + h->noff, h->nlen);
				out_str(o, ": ");
				out_put(o, v, left);
				out_str(o, "\r\n");
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
			out_fmt(o, "Max-Forwards: %ld\r\n", mf > 0 ? mf - 1 : 0);
			continue;
		}
		if (!f->from_node && is_auth_header(e, buf, h))
			continue;	/* never trust a copy from outside */
		out_put(o, buf + h->off, h->len);
	}
	if (!had_mf)
		out_str(o, "Max-Forwards: 70\r\n");
	if (!f->from_node && (e->cfg.auth_ip_header[0] || e->cfg.auth_port_header[0])) {
		char ip[64];
		int port;

		peer_ip(f->src, ip, sizeof(ip), &port);
		if (e->cfg.auth_ip_header[0])
			out_fmt(o, "%s: %s\r\n", e->cfg.auth_ip_header, ip);
		if (e->cfg.auth_port_header[0])
			out_fmt(o, "%s: %d\r\n", e->cfg.auth_port_header, port);
	}
	if (f->is_register && e->cfg.add_path)
		out_fmt(o, "Path: <sip:%s;%slr>\r\n", in_sk->adv,
		    in_sk->proto == EP_TCP ? "transport=tcp;" : "");
	out_put(o, buf + sc->hdrs_end, len - sc->hdrs_end);
	return o->failed ? ENOMEM : 0;
}

/* Fill received= and rport= into the top Via of a request (RFC 3581). */
static int
fix_via(const char *buf, size_t len, const struct slb_sipscan *sc,
    const struct edge_peer *src, struct out *o)
{
	struct via_info v;
	char ip[64];
	int port;
	const char *rp = NULL;
	size_t rn = 0;
	bool need_received;

	if (top_via(buf, sc, &v) != 0)
		return EBADMSG;
	peer_ip(src, ip, sizeof(ip), &port);
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
		out_put(o, buf, len);
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
		out_put(o, buf, (size_t)(rp - buf));
		out_fmt(o, "=%d", port);
		out_put(o, rp, (size_t)(v.elem.p + v.elem.n - rp));
	} else {
		out_put(o, buf, (size_t)(v.elem.p + v.elem.n - buf));
	}
	if (need_received)
		out_fmt(o, ";received=%s", ip);
	out_put(o, v.elem.p + v.elem.n, len - (size_t)(v.elem.p + v.elem.n - buf));
	return o->failed ? ENOMEM : 0;
}

/* ------------------------------------------------------------ branches */

static void branch_fr_cb(evutil_socket_t fd, short what, void *arg);
static void try_next(struct edge *e, struct edge_tx *tx, int code,
    const char *why);

static void
branch_end_cb(evutil_socket_t fd, short what, void *arg)
{
	struct edge_branch *b = arg;

	(void)fd;
	(void)what;
	edge_branch_free(b->e, b);
}

/* Timers A and E: retransmit over UDP, doubling up to T2 (E) (§17.1). */
static void
branch_retx_cb(evutil_socket_t fd, short what, void *arg)
{
	struct edge_branch *b = arg;
	struct edge *e = b->e;

	(void)fd;
	(void)what;
	if (b->state != BR_CALLING &&
	    !(b->state == BR_PROCEEDING && !b->invite))
		return;
	edge_send(e, &b->dst, b->out, b->out_len);
	e->st.retransmissions++;
	b->retx_ms *= 2;
	if (!b->invite && b->retx_ms > e->cfg.t2_ms)
		b->retx_ms = e->cfg.t2_ms;
	if (b->state == BR_PROCEEDING)
		b->retx_ms = e->cfg.t2_ms;
	timer_set(e, &b->t_retx, branch_retx_cb, b, b->retx_ms);
}

static struct edge_branch *
branch_new(struct edge *e, struct edge_tx *tx, const char *method, bool cancel)
{
	struct edge_branch *b = calloc(1, sizeof(*b));

	if (b == NULL)
		return NULL;
	b->e = e;
	b->tx = tx;
	b->cancel = cancel;
	b->invite = strcmp(method, "INVITE") == 0;
	if (!cancel) {
		e->branch_seq++;
		snprintf(b->branch, sizeof(b->branch), OUR_BRANCH "%08x%llx",
		    e->branch_salt, (unsigned long long)e->branch_seq);
	}
	return b;
}

static int
branch_start(struct edge *e, struct edge_branch *b, const char *method)
{
	snprintf(b->key, sizeof(b->key), "%s|%s", b->branch, method);
	HASH_ADD_STR(e->branches, key, b);
	e->nbranches++;
	b->state = BR_CALLING;
	if (edge_send(e, &b->dst, b->out, b->out_len) != 0)
		return EIO;
	e->st.tx_requests++;
	if (b->dst.proto == EP_UDP) {
		b->retx_ms = e->cfg.t1_ms;
		timer_set(e, &b->t_retx, branch_retx_cb, b, b->retx_ms);
	}
	/* the no-provisional timer (fr); timer B/F is 64*T1 past it */
	timer_set(e, &b->t_fr, branch_fr_cb, b,
	    b->tx ? e->cfg.fr_ms : 64 * e->cfg.t1_ms);
	return 0;
}

/*
 * A CANCEL or an ACK for a branch, built from the request we sent on it
 * (§9.1, §17.1.1.3): same request line target, our Via with the same
 * branch, Route as sent, From, Call-ID, To (with the response's tag for
 * an ACK), CSeq number with the new method.
 */
static int
build_hop_request(const struct edge_branch *b, const char *method,
    const char *to_hdr_line, size_t to_len, struct out *o)
{
	struct slb_sipscan sc;
	const char *sp;
	unsigned long num;
	struct str m;

	if (slb_sip_scan(b->out, b->out_len, &sc) != 0)
		return EBADMSG;
	sp = memchr(b->out, ' ', sc.line_len);
	if (sp == NULL)
		return EBADMSG;
	out_str(o, method);
	out_put(o, sp, sc.line_len - (size_t)(sp - b->out));
	bool via_done = false;

	for (int i = 0; i < sc.nhdrs; i++) {
		const struct slb_sip_hdr *h = &sc.h[i];

		switch (h->type) {
		case SLB_H_VIA:
			/* ours only: the first Via, which we wrote */
			if (!via_done) {
				size_t el = slb_sip_first_elem(b->out + h->voff,
				    h->vlen);
				out_str(o, "Via: ");
				out_put(o, b->out + h->voff, el);
				out_str(o, "\r\n");
				via_done = true;
			}
			break;
		case SLB_H_ROUTE:
		case SLB_H_FROM:
		case SLB_H_CALL_ID:
			out_put(o, b->out + h->off, h->len);
			break;
		case SLB_H_TO:
			if (to_hdr_line)
				out_put(o, to_hdr_line, to_len);
			else
				out_put(o, b->out + h->off, h->len);
			break;
		case SLB_H_CSEQ:
			if (cseq_method(b->out, &sc, &m, &num) != 0)
				return EBADMSG;
			out_fmt(o, "CSeq: %lu %s\r\n", num, method);
			break;
		default:
			break;
		}
	}
	out_str(o, "Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n");
	return o->failed ? ENOMEM : 0;
}

static void
branch_send_cancel(struct edge *e, struct edge_branch *b)
{
	struct edge_branch *c;
	struct out o = {0};

	if (b->cancel || !b->invite || b->state >= BR_COMPLETED)
		return;
	if (build_hop_request(b, "CANCEL", NULL, 0, &o) != 0) {
		free(o.p);
		return;
	}
	c = branch_new(e, NULL, "CANCEL", true);
	if (c == NULL) {
		free(o.p);
		return;
	}
	memcpy(c->branch, b->branch, sizeof(c->branch));
	c->dst = b->dst;
	c->node_id = b->node_id;
	c->out = o.p;
	c->out_len = o.n;
	if (branch_start(e, c, "CANCEL") != 0)
		edge_branch_free(e, c);
}

static void
branch_send_ack(struct edge *e, struct edge_branch *b, const char *resp,
    const struct slb_sipscan *rsc)
{
	const struct slb_sip_hdr *to = slb_sip_find(rsc, SLB_H_TO);
	struct out o = {0};

	if (build_hop_request(b, "ACK", to ? resp + to->off : NULL,
		to ? to->len : 0, &o) == 0)
		edge_send(e, &b->dst, o.p, o.n);
	free(o.p);
}

/* No provisional above 100 in time (fr), or timer B/F/C: the node is
 * silent. */
static void
branch_fr_cb(evutil_socket_t fd, short what, void *arg)
{
	struct edge_branch *b = arg;
	struct edge *e = b->e;
	struct edge_tx *tx = b->tx;

	(void)fd;
	(void)what;
	timer_stop(b->t_retx);
	if (tx == NULL || tx->cur != b) {
		edge_branch_free(e, b);
		return;
	}
	if (b->state == BR_PROCEEDING && b->invite)
		branch_send_cancel(e, b);	/* it said 100: tell it to stop */
	tx->cur = NULL;
	b->tx = NULL;
	b->state = BR_TERMINATED;
	/* keep the branch a while to ACK a late final response */
	timer_set(e, &b->t_end, branch_end_cb, b, 64 * e->cfg.t1_ms);
	if (tx->got_prov) {
		/* timer C after a provisional: the caller gets 408 */
		edge_route_failed(e, tx, 408, NULL);
		return;
	}
	edge_report_failure(e, b->node_id, 408);
	try_next(e, tx, 408, "no provisional response in time");
}

/* ------------------------------------------------------------ routing */

static void
send_branch(struct edge *e, struct edge_tx *tx, const struct edge_peer *to,
    uint32_t node_id, int drop_routes, uint32_t nid, const char *dk)
{
	struct edge_branch *b = branch_new(e, tx, tx->method, false);
	struct slb_sipscan sc;
	struct out o = {0};
	struct fwd f = {0};

	if (b == NULL || slb_sip_scan(tx->req, tx->req_len, &sc) != 0) {
		free(b);
		edge_route_failed(e, tx, 500, NULL);
		return;
	}
	f.to = to;
	f.src = &tx->src;
	f.branch = b->branch;
	f.drop_routes = drop_routes;
	f.record_route = tx->initial && strcmp(tx->method, "REGISTER") != 0;
	f.from_node = tx->from_node;
	f.is_register = strcmp(tx->method, "REGISTER") == 0;
	f.ftag = tx->from_tag;
	f.nid = nid;
	f.dk = dk;
	if (build_forward(e, tx->req, tx->req_len, &sc, &f, &o) != 0) {
		free(o.p);
		free(b);
		edge_route_failed(e, tx, 500, NULL);
		return;
	}
	b->dst = *to;
	b->node_id = node_id;
	b->out = o.p;
	b->out_len = o.n;
	tx->cur = b;
	tx->attempts++;
	if (branch_start(e, b, tx->method) != 0) {
		char who[80];

		edge_peer_str(to, who, sizeof(who));
		slb_log_info("cannot send to %s", who);
		tx->cur = NULL;
		b->tx = NULL;
		edge_branch_free(e, b);
		if (node_id && tx->initial) {
			edge_report_failure(e, node_id, 503);
			try_next(e, tx, 503, "transport error");
		} else {
			edge_route_failed(e, tx, 503, NULL);
		}
	}
}

void
edge_route_chosen(struct edge *e, struct edge_tx *tx, uint32_t node_id,
    const char *uri)
{
	struct edge_peer to;

	if (tx->cancelled || tx->answered) {
		/* the caller gave up while we asked: say so to the scheduler
		 * too, which reserved load for this dialog */
		if (tx->dkey[0])
			edge_dlg_event(e, tx->dkey, 3 /* TERMINATED */, node_id,
			    tx->rule, tx->call_id, tx->from_tag, NULL, "cancel");
		edge_route_failed(e, tx, 487, NULL);
		return;
	}
	if (edge_node_peer(e, node_id, &to) != 0 &&
	    edge_uri_peer(e, uri, strlen(uri), &to) != 0) {
		slb_log_warn("node %u: cannot reach \"%s\"", node_id, uri);
		if (tx->nexclude < EDGE_MAX_ATTEMPTS)
			tx->exclude[tx->nexclude++] = node_id;
		try_next(e, tx, 503, "bad node URI");
		return;
	}
	if (tx->nexclude < EDGE_MAX_ATTEMPTS)
		tx->exclude[tx->nexclude++] = node_id;
	if (tx->dkey[0])
		edge_dlg_event(e, tx->dkey, 1 /* CREATED */, node_id, tx->rule,
		    tx->call_id, tx->from_tag, NULL, NULL);
	send_branch(e, tx, &to, node_id, tx->drop_routes, node_id, tx->dkey);
}

/* Final failure of a transaction the edge routes: the caller gets code. */
void
edge_route_failed(struct edge *e, struct edge_tx *tx, int code,
    const char *reason)
{
	osip_message_t *m = NULL;

	edge_sel_forget(e, tx);
	if (tx->answered)
		return;
	if (tx->dkey[0])
		edge_dlg_event(e, tx->dkey, 3 /* TERMINATED */, 0, tx->rule,
		    tx->call_id, tx->from_tag, NULL,
		    code == 487 ? "cancel" : "failed");
	if (tx->req && osip_message_init(&m) == 0 &&
	    osip_message_parse(m, tx->req, tx->req_len) == 0)
		reply(e, tx, m, &tx->src, code, reason, NULL);
	osip_message_free(m);
	tx_completed(e, tx, code);
}

static void
try_next(struct edge *e, struct edge_tx *tx, int code, const char *why)
{
	if (tx->cancelled) {
		edge_route_failed(e, tx, 487, NULL);
		return;
	}
	if (tx->rule == NULL || tx->rule->kind == RULE_REPLY || !tx->initial ||
	    tx->attempts >= e->cfg.max_attempts) {
		edge_route_failed(e, tx, 503, tx->attempts
			? "No Node Left"
			: NULL);
		return;
	}
	e->st.failovers++;
	slb_log_info("%s %s: %s (%d) from node %u, trying another", tx->method,
	    tx->call_id, why, code,
	    tx->nexclude ? tx->exclude[tx->nexclude - 1] : 0);
	edge_select(e, tx);
}

/* ------------------------------------------------------------ responses */

/* The response without our top Via element. */
static int
strip_top_via(const char *buf, size_t len, const struct slb_sipscan *sc,
    struct out *o)
{
	const struct slb_sip_hdr *h = slb_sip_find(sc, SLB_H_VIA);
	size_t el;

	if (h == NULL)
		return EBADMSG;
	el = slb_sip_first_elem(buf + h->voff, h->vlen);
	if (el >= h->vlen) {
		out_put(o, buf, h->off);
		out_put(o, buf + h->off + h->len, len - h->off - h->len);
	} else {
		const char *rest = buf + h->voff + el;
		size_t rn = h->vlen - el;

		while (rn && (*rest == ',' || isspace((unsigned char)*rest))) {
			rest++;
			rn--;
		}
		out_put(o, buf, h->voff);
		out_put(o, rest, len - (size_t)(rest - buf));
	}
	return o->failed ? ENOMEM : 0;
}

static void
relay_response_stateless(struct edge *e, const char *buf, size_t len,
    const struct slb_sipscan *sc, int code)
{
	/* pop our Via, send per the next one (received/rport first) */
	struct slb_sipscan sc2;
	struct via_info next;
	struct edge_peer to;
	struct out o = {0};
	char uri[300];
	const char *v;
	size_t vn;
	int port = 0;

	if (strip_top_via(buf, len, sc, &o) != 0 ||
	    slb_sip_scan(o.p, o.n, &sc2) != 0 ||
	    top_via(o.p, &sc2, &next) != 0) {
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
	if (slb_sip_param(next.elem.p, next.elem.n, "received", &v, &vn) == 0 &&
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
		send_upstream(e, NULL, &to, o.p, o.n, code);
	free(o.p);
}

static bool
failover_code(int code)
{
	return code == 408 || code == 503;
}

static void
on_response(struct edge *e, char *buf, size_t len, const struct slb_sipscan *sc,
    const struct edge_peer *src)
{
	struct via_info v;
	struct str method;
	unsigned long num;
	char key[EDGE_BRANCH_MAX + 32];
	struct edge_branch *b = NULL;
	struct edge_tx *tx;
	int code;

	e->st.rx_responses++;
	if (len < 12 || !isdigit((unsigned char)buf[8]) ||
	    !isdigit((unsigned char)buf[9]) || !isdigit((unsigned char)buf[10]) ||
	    top_via(buf, sc, &v) != 0 || cseq_method(buf, sc, &method, &num) != 0) {
		e->st.drop_parse++;
		return;
	}
	code = (buf[8] - '0') * 100 + (buf[9] - '0') * 10 + (buf[10] - '0');
	if (code < 100 || code > 699) {
		e->st.drop_parse++;
		return;
	}
	if (v.branch.n < sizeof(OUR_BRANCH) - 1 ||
	    strncmp(v.branch.p, OUR_BRANCH, sizeof(OUR_BRANCH) - 1) != 0 ||
	    v.branch.n >= EDGE_BRANCH_MAX) {
		e->st.drop_no_tx++;	/* not a Via of ours */
		return;
	}
	snprintf(key, sizeof(key), "%.*s|%.*s", (int)v.branch.n, v.branch.p,
	    (int)method.n, method.p);
	HASH_FIND_STR(e->branches, key, b);
	if (b == NULL) {
		/* 2xx retransmissions to INVITE outlive the transaction */
		if (code >= 200 && code < 300 && slb_sip_eq(method.p, method.n,
							    "INVITE"))
			relay_response_stateless(e, buf, len, sc, code);
		else
			e->st.drop_no_tx++;
		return;
	}
	(void)src;
	if (b->state >= BR_COMPLETED) {
		/* a retransmitted final: re-ACK a non-2xx */
		if (b->invite && code >= 300)
			branch_send_ack(e, b, buf, sc);
		return;
	}
	b->last_code = code;
	if (b->cancel) {
		/* the answer to our CANCEL: nothing to relay */
		if (code >= 200) {
			b->state = BR_COMPLETED;
			timer_stop(b->t_retx);
			timer_stop(b->t_fr);
			timer_set(e, &b->t_end, branch_end_cb, b,
			    b->dst.proto == EP_UDP ? e->cfg.t4_ms : 0);
		}
		return;
	}
	tx = b->tx;
	if (code < 200) {
		bool first = b->state == BR_CALLING;

		b->state = BR_PROCEEDING;
		if (b->invite)
			timer_stop(b->t_retx);	/* A stops on any 1xx */
		if (code > 100) {
			if (tx && !tx->got_prov) {
				tx->got_prov = true;
				/* fr done: timer C now */
				timer_set(e, &b->t_fr, branch_fr_cb, b,
				    b->invite ? e->cfg.timer_c_ms
					      : 64 * e->cfg.t1_ms);
			}
		}
		if (tx && tx->cancelled && first && b->invite)
			branch_send_cancel(e, b);
		if (tx == NULL || code == 100 || tx->answered)
			return;
		{
			struct out o = {0};

			if (strip_top_via(buf, len, sc, &o) == 0)
				send_upstream(e, tx, &tx->src, o.p, o.n, code);
			free(o.p);
		}
		return;
	}

	/* a final response */
	timer_stop(b->t_retx);
	timer_stop(b->t_fr);
	b->state = BR_COMPLETED;
	if (b->invite && code >= 300) {
		branch_send_ack(e, b, buf, sc);	/* hop by hop (§17.1.1.3) */
		timer_set(e, &b->t_end, branch_end_cb, b,
		    b->dst.proto == EP_UDP ? 64 * e->cfg.t1_ms : 0);
	} else if (b->invite) {
		/* 2xx: the ACK is end to end; later 2xx go stateless */
		b->tx = NULL;
		if (tx && tx->cur == b)
			tx->cur = NULL;
		edge_branch_free(e, b);
		b = NULL;
	} else {
		timer_set(e, &b->t_end, branch_end_cb, b,
		    b->dst.proto == EP_UDP ? e->cfg.t4_ms : 0);
	}
	if (tx == NULL || tx->answered) {
		/* an abandoned branch answered late */
		if (tx == NULL && code >= 200 && code < 300)
			relay_response_stateless(e, buf, len, sc, code);
		return;
	}
	if (b != NULL && tx->cur == b) {
		tx->cur = NULL;
		b->tx = NULL;
	}
	if (code >= 300 && failover_code(code) && tx->initial && !tx->got_prov &&
	    !tx->cancelled && tx->rule && tx->rule->kind != RULE_REPLY) {
		try_next(e, tx, code, "refused");
		return;
	}
	{
		struct out o = {0};

		if (strip_top_via(buf, len, sc, &o) == 0)
			send_upstream(e, tx, &tx->src, o.p, o.n, code);
		free(o.p);
	}
	if (tx->dkey[0] && tx->invite) {
		if (code < 300) {
			struct str tt = tag_of(buf, slb_sip_find(sc, SLB_H_TO));
			char to_tag[64];

			copy_str(to_tag, sizeof(to_tag), tt);
			edge_dlg_event(e, tx->dkey, 2 /* CONFIRMED */, 0,
			    tx->rule, tx->call_id, tx->from_tag, to_tag, NULL);
		} else {
			edge_dlg_event(e, tx->dkey, 3 /* TERMINATED */, 0,
			    tx->rule, tx->call_id, tx->from_tag, NULL,
			    code == 487 ? "cancel" : "failed");
		}
	}
	/* a BYE that got its answer ends the dialog it names */
	tx_completed(e, tx, code);
}

/* ------------------------------------------------------------ requests */

static int
rule_index(const char *method)
{
	static const char *names[] = {"INVITE", "REGISTER", "OPTIONS",
	    "MESSAGE", "SUBSCRIBE", "NOTIFY", "REFER", "INFO", "PUBLISH"};

	for (int i = 0; i < 9; i++)
		if (strcmp(method, names[i]) == 0)
			return i;
	return 9;
}

static void
on_cancel(struct edge *e, osip_message_t *m, const char *buf,
    const struct slb_sipscan *sc, const struct via_info *v,
    const struct edge_peer *src)
{
	char key[EDGE_KEY_MAX];
	struct edge_tx *tx;
	struct str inv = {"INVITE", 6};

	if (server_key(key, sizeof(key), buf, sc, v, inv) != 0 ||
	    (tx = tx_find(e, key)) == NULL) {
		reply(e, NULL, m, src, 481, NULL, NULL);
		return;
	}
	reply(e, NULL, m, src, 200, NULL, NULL);
	if (tx->answered || tx->cancelled)
		return;
	tx->cancelled = true;
	if (tx->cur == NULL) {
		/* still choosing a node: the answer will find it cancelled
		 * (and release the load the scheduler reserved for it) */
		if (tx->sel_wait == NULL && !tx->sel_queued)
			edge_route_failed(e, tx, 487, NULL);
		return;
	}
	if (tx->cur->state == BR_PROCEEDING)
		branch_send_cancel(e, tx->cur);
	/* else: sent once a provisional arrives (§9.1) */
}

/* libosip2 parses an in-dialog request only when a reply must be built. */
static osip_message_t *
lazy_parse(osip_message_t **mp, const char *buf, size_t len)
{
	if (*mp == NULL) {
		if (osip_message_init(mp) != 0)
			return NULL;
		if (osip_message_parse(*mp, buf, len) != 0) {
			osip_message_free(*mp);
			*mp = NULL;
		}
	}
	return *mp;
}

static void
reply_m(struct edge *e, osip_message_t **mp, const char *buf, size_t len,
    const struct slb_sipscan *sc, const struct edge_peer *src, int code,
    const char *reason, const char *extra)
{
	if (lazy_parse(mp, buf, len) != NULL)
		reply(e, NULL, *mp, src, code, reason, extra);
	else
		reply_raw(e, NULL, buf, sc, src, code,
		    reason ? reason : reason_of(code));
}

/* "METHOD SP Request-URI SP SIP/2.0" */
static int
start_line(const char *buf, const struct slb_sipscan *sc, struct str *method,
    struct str *ruri)
{
	const char *end = buf + sc->line_len, *p = buf, *sp;

	while (end > buf && (end[-1] == '\r' || end[-1] == '\n'))
		end--;
	sp = memchr(p, ' ', (size_t)(end - p));
	if (sp == NULL || sp == p)
		return EBADMSG;
	method->p = p;
	method->n = (size_t)(sp - p);
	p = sp + 1;
	sp = memchr(p, ' ', (size_t)(end - p));
	if (sp == NULL || sp == p)
		return EBADMSG;
	ruri->p = p;
	ruri->n = (size_t)(sp - p);
	if (!slb_sip_eq(sp + 1, (size_t)(end - sp - 1), "SIP/2.0"))
		return EBADMSG;
	for (size_t i = 0; i < method->n; i++)
		if (!isupper((unsigned char)method->p[i]))
			return EBADMSG;
	return 0;
}

static void
on_request(struct edge *e, char *buf, size_t len, struct slb_sipscan *sc,
    const struct edge_peer *src)
{
	osip_message_t *m = NULL;
	struct via_info v;
	struct str cm, ftag, totag, cid, rm, ruri;
	unsigned long num;
	char key[EDGE_KEY_MAX], method[16];
	struct edge_tx *tx;
	const struct slb_sip_hdr *mfh;
	bool in_dialog;
	int ri;

	e->st.rx_requests++;
	if (start_line(buf, sc, &rm, &ruri) != 0) {
		if (!reply_400_raw(e, buf, sc, src, "Bad Request Line"))
			e->st.drop_parse++;
		goto out;
	}
	totag = tag_of(buf, slb_sip_find(sc, SLB_H_TO));
	/* initial requests and CANCEL are parsed whole by libosip2 for the
	 * routing decision; in-dialog ones follow their Route, and the
	 * line index is all they need */
	if (totag.n == 0 || slb_sip_eq(rm.p, rm.n, "CANCEL")) {
		if (lazy_parse(&m, buf, len) == NULL || m->sip_method == NULL ||
		    m->req_uri == NULL || m->from == NULL || m->to == NULL ||
		    m->call_id == NULL || m->cseq == NULL) {
			if (!reply_400_raw(e, buf, sc, src, "Malformed Request"))
				e->st.drop_parse++;
			goto out;
		}
	}
	if (top_via(buf, sc, &v) != 0 || !slb_sip_find(sc, SLB_H_FROM) ||
	    !slb_sip_find(sc, SLB_H_TO) || !slb_sip_find(sc, SLB_H_CALL_ID) ||
	    cseq_method(buf, sc, &cm, &num) != 0 || cm.n != rm.n ||
	    memcmp(cm.p, rm.p, rm.n) != 0) {
		if (!reply_400_raw(e, buf, sc, src, "Missing or Bad Header"))
			e->st.drop_parse++;
		goto out;
	}
	if (rm.n >= sizeof(method)) {
		reply_m(e, &m, buf, len, sc, src, 405, NULL, NULL);
		goto out;
	}
	memcpy(method, rm.p, rm.n);
	method[rm.n] = '\0';
	if (strcmp(method, "ACK") != 0 &&
	    !(ruri.n > 4 && strncasecmp(ruri.p, "sip:", 4) == 0) &&
	    !(ruri.n > 5 && strncasecmp(ruri.p, "sips:", 5) == 0)) {
		reply_m(e, &m, buf, len, sc, src, 416, NULL, NULL);
		goto out;
	}

	/* Max-Forwards (§16.3 step 3) */
	mfh = slb_sip_find(sc, SLB_H_MAX_FORWARDS);
	if (mfh != NULL) {
		char tmp[12];
		long mf = -1;

		if (mfh->vlen > 0 && mfh->vlen < sizeof(tmp)) {
			memcpy(tmp, buf + mfh->voff, mfh->vlen);
			tmp[mfh->vlen] = '\0';
			slb_parse_long(tmp, 0, 255, &mf);
		}
		if (mf < 0) {
			reply_m(e, &m, buf, len, sc, src, 400, "Bad Max-Forwards", NULL);
			goto out;
		}
		if (mf == 0 && strcmp(method, "ACK") != 0) {
			if (strcmp(method, "OPTIONS") == 0 && is_us(e, ruri.p, ruri.n))
				reply_m(e, &m, buf, len, sc, src, 200, NULL,
				    "Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, "
				    "REGISTER\r\n");
			else
				reply_m(e, &m, buf, len, sc, src, 483, NULL, NULL);
			goto out;
		}
	}

	if (strcmp(method, "CANCEL") == 0) {
		on_cancel(e, m, buf, sc, &v, src);
		goto out;
	}

	/* retransmission of a request we already handle (§17.2.3) */
	if (server_key(key, sizeof(key), buf, sc, &v,
		strcmp(method, "ACK") == 0 ? (struct str){"INVITE", 6}
					   : (struct str){method,
						 strlen(method)}) != 0) {
		reply_m(e, &m, buf, len, sc, src, 400, "Via Too Long", NULL);
		goto out;
	}
	tx = tx_find(e, key);
	if (tx != NULL) {
		if (strcmp(method, "ACK") == 0) {
			if (tx->state == TX_COMPLETED) {
				/* ACK for our non-2xx: absorbed (§17.2.1) */
				tx->state = TX_CONFIRMED;
				timer_stop(tx->t_retx);
				timer_set(e, &tx->t_end, tx_end_cb, tx,
				    tx->src.proto == EP_UDP ? e->cfg.t4_ms : 0);
				goto out;
			}
			/* ACK for a 2xx with the INVITE's branch (RFC 2543
			 * style): route it like any 2xx ACK below */
		} else {
			if (tx->resp != NULL)
				edge_send(e, &tx->src, tx->resp, tx->resp_len);
			e->st.retransmissions++;
			goto out;
		}
	}

	ftag = tag_of(buf, slb_sip_find(sc, SLB_H_FROM));
	cid = hval(buf, slb_sip_find(sc, SLB_H_CALL_ID));
	in_dialog = totag.n > 0;

	if (in_dialog || strcmp(method, "ACK") == 0) {
		/* loose routing (§16.4, §16.12) */
		struct our_routes r;
		struct str next;
		struct edge_peer to;
		const struct sched_node *src_node, *dst_node;
		int rc;

		find_our_routes(e, buf, sc, &r);
		if (r.count == 0) {
			if (strcmp(method, "ACK") == 0) {
				e->st.drop_no_tx++;	/* stray ACK */
				goto out;
			}
			reply_m(e, &m, buf, len, sc, src, 403, "Not Routed Through Us",
			    NULL);
			goto out;
		}
		next = next_route(buf, sc, r.count);
		if (next.p != NULL)
			rc = edge_uri_peer(e, next.p, next.n, &to);
		else
			rc = edge_uri_peer(e, ruri.p, ruri.n, &to);
		if (rc != 0) {
			if (strcmp(method, "ACK") != 0)
				reply_m(e, &m, buf, len, sc, src, 404, "Next Hop Unknown",
				    NULL);
			goto out;
		}
		/* never an open relay: one end must be one of our nodes */
		src_node = edge_node_by_addr(e, &src->ss, true);
		dst_node = edge_node_by_addr(e, &to.ss, true);
		if (src_node == NULL && dst_node == NULL) {
			if (strcmp(method, "ACK") == 0)
				e->st.drop_loop++;
			else if (!e->have_cache)
				/* no node table yet (just started): we cannot
				 * tell, so not a final no */
				reply_m(e, &m, buf, len, sc, src, 503,
				    "Node Table Not Loaded Yet", "Retry-After: 1\r\n");
			else
				reply_m(e, &m, buf, len, sc, src, 403,
				    "Target Is Not Ours", NULL);
			goto out;
		}
		if (strcmp(method, "BYE") == 0 && r.dk[0])
			edge_dlg_event(e, r.dk, 3 /* TERMINATED */,
			    r.have_nid ? r.nid : 0, NULL, NULL, NULL, NULL,
			    "bye");
		if (strcmp(method, "ACK") == 0) {
			/* 2xx ACK: its own transaction, forwarded as is */
			struct out fixed = {0}, o = {0};
			struct slb_sipscan fsc;
			struct fwd f = {0};
			char br[EDGE_BRANCH_MAX];

			snprintf(br, sizeof(br), OUR_BRANCH "a%016llx",
			    (unsigned long long)fnv64(v.branch.p, v.branch.n,
				v.sent_by.p, v.sent_by.n));
			if (fix_via(buf, len, sc, src, &fixed) == 0 &&
			    slb_sip_scan(fixed.p, fixed.n, &fsc) == 0) {
				f.to = &to;
				f.src = src;
				f.branch = br;
				f.drop_routes = r.count;
				f.from_node = src_node != NULL;
				if (build_forward(e, fixed.p, fixed.n, &fsc, &f,
					&o) == 0 &&
				    edge_send(e, &to, o.p, o.n) == 0)
					e->st.tx_requests++;
			}
			free(fixed.p);
			free(o.p);
			goto out;
		}
		/* a stateful in-dialog transaction to a fixed next hop */
		tx = calloc(1, sizeof(*tx));
		if (tx == NULL)
			goto out;
		tx->e = e;
		snprintf(tx->key, sizeof(tx->key), "%s", key);
		tx->src = *src;
		snprintf(tx->method, sizeof(tx->method), "%s", method);
		tx->invite = strcmp(method, "INVITE") == 0;
		tx->state = TX_PROCEEDING;
		tx->from_node = src_node != NULL;
		copy_str(tx->call_id, sizeof(tx->call_id), cid);
		copy_str(tx->from_tag, sizeof(tx->from_tag), ftag);
		{
			struct out fixed = {0};

			if (fix_via(buf, len, sc, src, &fixed) != 0) {
				free(fixed.p);
				free(tx);
				goto out;
			}
			tx->req = fixed.p;
			tx->req_len = fixed.n;
		}
		HASH_ADD_STR(e->txs, key, tx);
		e->ntx++;
		if (tx->invite)
			reply_trying(e, tx);
		send_branch(e, tx, &to, dst_node ? dst_node->id : 0, r.count, 0,
		    NULL);
		goto out;
	}

	/* an initial request */
	if (strcmp(method, "OPTIONS") == 0 && is_us(e, ruri.p, ruri.n) &&
	    memchr(ruri.p, '@', ruri.n) == NULL) {
		reply_m(e, &m, buf, len, sc, src, 200, NULL,
		    "Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER\r\n");
		goto out;
	}
	ri = rule_index(method);
	if (e->rules[ri].kind == RULE_REPLY) {
		int code = e->rules[ri].code;

		reply_m(e, &m, buf, len, sc, src, code,
		    e->rules[ri].reason[0] ? e->rules[ri].reason : NULL,
		    code == 405 ? "Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, "
				  "REGISTER\r\n"
				: NULL);
		goto out;
	}
	tx = calloc(1, sizeof(*tx));
	if (tx == NULL)
		goto out;
	tx->e = e;
	snprintf(tx->key, sizeof(tx->key), "%s", key);
	tx->src = *src;
	snprintf(tx->method, sizeof(tx->method), "%s", method);
	tx->invite = strcmp(method, "INVITE") == 0;
	tx->state = TX_PROCEEDING;
	tx->initial = true;
	tx->rule = &e->rules[ri];
	tx->from_node = edge_node_by_addr(e, &src->ss, true) != NULL;
	copy_str(tx->call_id, sizeof(tx->call_id), cid);
	copy_str(tx->from_tag, sizeof(tx->from_tag), ftag);
	if (tx->invite && tx->rule->kind == RULE_LB)
		snprintf(tx->dkey, sizeof(tx->dkey), "%016llx",
		    (unsigned long long)fnv64(cid.p, cid.n, ftag.p ? ftag.p : "",
			ftag.n));
	{
		struct out fixed = {0};

		if (fix_via(buf, len, sc, src, &fixed) != 0) {
			free(fixed.p);
			free(tx);
			goto out;
		}
		tx->req = fixed.p;
		tx->req_len = fixed.n;
	}
	HASH_ADD_STR(e->txs, key, tx);
	e->ntx++;
	if (tx->invite)
		reply_trying(e, tx);	/* §16.2 */
	{
		/* a preloaded Route to us is popped on the way */
		struct our_routes r;

		find_our_routes(e, buf, sc, &r);
		tx->drop_routes = r.count;
	}
	edge_select(e, tx);
out:
	osip_message_free(m);
}

void
edge_on_message(struct edge *e, char *buf, size_t len,
    const struct edge_peer *src)
{
	static struct slb_sipscan sc;
	int rc;

	rc = slb_sip_scan(buf, len, &sc);
	if (rc != 0) {
		e->st.drop_parse++;
		return;
	}
	if (len >= 8 && strncmp(buf, "SIP/2.0 ", 8) == 0)
		on_response(e, buf, len, &sc, src);
	else
		on_request(e, buf, len, &sc, src);
}
