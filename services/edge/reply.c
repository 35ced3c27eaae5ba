#define SLB_LOG_MODULE "reply"
#include <errno.h>
#include <osipparser2/osip_parser.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edge.h"
#include "reply.h"

void
edge_send_upstream(struct edge *e, struct edge_tx *tx,
    const struct edge_peer *to, const char *buf, size_t len, int code)
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

static void
count_reply(struct edge *e, int code)
{
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
 * A reply the edge originates, built with libosip2 from the parsed request:
 * Via (top one with received/rport, RFC 3581), From, To (with our tag for a
 * final reply), Call-ID, CSeq, plus `extra` header lines.
 */
static int
build_reply(struct edge *e, osip_message_t *req, const struct edge_peer *src,
    int code, const char *reason, const char *extra, struct edge_out *o)
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
	osip_message_set_reason_phrase(
	    r, osip_strdup(reason ? reason : edge_reason_of(code)));
	while (osip_message_get_via(req, pos, &via) >= 0) {
		osip_via_t *copy;

		if (osip_via_clone(via, &copy) != 0)
			goto out;
		if (pos == 0) {
			osip_generic_param_t *rp = NULL;

			edge_addr_ip(&(src)->ss, ip, sizeof(ip), &port);
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
			    (unsigned)(edge_fnv64(req->call_id->number
					       ? req->call_id->number
					       : "",
					   strlen(req->call_id->number
						   ? req->call_id->number
						   : ""),
					   "", 0) &
				0xffffffffu));
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
		edge_out_put(o, str, (size_t)(blank - str) + 2);
		if (extra)
			edge_out_str(o, extra);
		edge_out_put(o, "\r\n", 2);
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
void
edge_reply(struct edge *e, struct edge_tx *tx, osip_message_t *req,
    const struct edge_peer *src, int code, const char *reason,
    const char *extra)
{
	struct edge_out o = { 0 };

	if (build_reply(e, req, src, code, reason, extra, &o) == 0)
		edge_send_upstream(e, tx, src, o.p, o.n, code);
	free(o.p);
	count_reply(e, code);
}

/* The To line of a reply: with our tag when the request's To has none
 * and the reply is final or a provisional above 100 (§8.2.6.2). */
static void
raw_to(struct edge_out *o, const char *buf, const struct slb_sipscan *sc,
    const struct slb_sip_hdr *h, int code)
{
	struct edge_str cid = edge_hval(buf, slb_sip_find(sc, SLB_H_CALL_ID));

	if (code <= 100 || edge_tag_of(buf, h).n > 0) {
		edge_out_put(o, buf + h->off, h->len);
		return;
	}
	edge_out_put(o, buf + h->off, h->voff + h->vlen - h->off);
	edge_out_fmt(o, ";tag=slb%08x\r\n",
	    (unsigned)(edge_fnv64(cid.p ? cid.p : "", cid.n, "", 0) &
		0xffffffffu));
}

/*
 * A reply built from the request's own lines (§8.2.6.2: Via, From, To,
 * Call-ID, CSeq copied, those it has): the 100 Trying every INVITE gets
 * (on the hot path, where building it with libosip2 cost 15 % of the
 * edge's CPU), and the answers to what libosip2 cannot parse or the edge
 * refuses before parsing (a 400 for a request without From, say).  The
 * request's top Via must already carry received/rport.  False without a
 * Via: there is nowhere to send a reply.
 */
bool
edge_reply_raw(struct edge *e, struct edge_tx *tx, const char *buf,
    const struct slb_sipscan *sc, const struct edge_peer *src, int code,
    const char *reason, const char *extra)
{
	struct edge_out o = { 0 };

	if (slb_sip_find(sc, SLB_H_VIA) == NULL)
		return false;
	edge_out_fmt(&o, "SIP/2.0 %d %s\r\n", code,
	    reason ? reason : edge_reason_of(code));
	for (int i = 0; i < sc->nhdrs; i++) {
		const struct slb_sip_hdr *h = &sc->h[i];

		if (h->type == SLB_H_TO)
			raw_to(&o, buf, sc, h, code);
		else if (h->type == SLB_H_VIA || h->type == SLB_H_FROM ||
		    h->type == SLB_H_CALL_ID || h->type == SLB_H_CSEQ)
			edge_out_put(&o, buf + h->off, h->len);
	}
	edge_out_str(&o, "Server: siplb-edge\r\n");
	if (extra)
		edge_out_str(&o, extra);
	edge_out_str(&o, "Content-Length: 0\r\n\r\n");
	if (!o.failed)
		edge_send_upstream(e, tx, src, o.p, o.n, code);
	free(o.p);
	count_reply(e, code);
	return true;
}

/* The 100 Trying of an INVITE transaction (§16.2), from its stored copy. */
void
edge_reply_trying(struct edge *e, struct edge_tx *tx)
{
	struct slb_sipscan sc;

	if (slb_sip_scan(tx->req, tx->req_len, &sc) == 0)
		edge_reply_raw(
		    e, tx, tx->req, &sc, &tx->src, 100, "Trying", NULL);
}

/* Content-Length, Content-Type (or its compact c): what would make
 * libosip2 look for a body. */
static bool
body_header(const char *buf, const struct slb_sip_hdr *h)
{
	return h->type == SLB_H_CONTENT_LENGTH ||
	    slb_sip_eq(buf + h->noff, h->nlen, "Content-Type") ||
	    slb_sip_eq(buf + h->noff, h->nlen, "c");
}

/*
 * libosip2 parses a request only when a reply must be built, and then
 * only its start line and header fields: a copy without the body and
 * without Content-Length and Content-Type, so that libosip2's body and
 * MIME parsers (osip_body_parse, osip_content_type_parse: they lose
 * memory on some cut multipart bodies) never see a byte of it.  A reply
 * needs none of it.
 */
osip_message_t *
edge_lazy_parse(osip_message_t **mp, const char *buf, size_t len)
{
	struct slb_sipscan sc;
	struct edge_out o = { 0 };

	if (*mp != NULL)
		return *mp;
	if (slb_sip_scan(buf, len, &sc) != 0)
		return NULL;
	edge_out_put(&o, buf, sc.line_len);
	for (int i = 0; i < sc.nhdrs; i++)
		if (!body_header(buf, &sc.h[i]))
			edge_out_put(&o, buf + sc.h[i].off, sc.h[i].len);
	edge_out_put(&o, "\r\n", 2);
	if (!o.failed && memchr(o.p, '\0', o.n) == NULL &&
	    osip_message_init(mp) == 0 &&
	    osip_message_parse(*mp, o.p, o.n) != 0) {
		osip_message_free(*mp);
		*mp = NULL;
	}
	free(o.p);
	return *mp;
}

void
edge_reply_lazy(struct edge *e, struct edge_tx *tx, osip_message_t **mp,
    const char *buf, size_t len, const struct slb_sipscan *sc,
    const struct edge_peer *src, int code, const char *reason,
    const char *extra)
{
	osip_message_t *m = edge_lazy_parse(mp, buf, len);

	/* libosip2 may take a request that lacks what a reply copies */
	if (m != NULL && m->from && m->to && m->call_id && m->cseq &&
	    osip_list_size(&m->vias) > 0)
		edge_reply(e, tx, m, src, code, reason, extra);
	else
		edge_reply_raw(e, tx, buf, sc, src, code, reason, extra);
}
