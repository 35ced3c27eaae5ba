#define SLB_LOG_MODULE "flood"
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "edge.h"
#include "log.h"
#include "proxy.h"
#include "reply.h"
#include "sipmsg.h"

int
edge_flood_open(struct edge *e)
{
	struct edge_pike_cfg c = {
		.requests = e->cfg.pike_requests,
		.window_ms = e->cfg.pike_window_ms,
		.block_s = e->cfg.pike_block_s,
		.max_sources = e->cfg.pike_max_sources,
		.conns_per_source = e->cfg.tcp_max_conns_per_source,
	};
	char err[256];

	if (edge_pike_reaction_parse(e->cfg.pike_reaction, &c.reaction) != 0) {
		slb_log_err("[edge] pike_reaction: \"%s\": give drop, 503 or "
			    "block",
		    e->cfg.pike_reaction);
		return EINVAL;
	}
	if (edge_pike_init(
		&e->pike, &c, e->cfg.pike_allow, err, sizeof(err)) != 0) {
		slb_log_err("[edge] pike_allow: %s", err);
		return EINVAL;
	}
	if (c.requests > 0)
		slb_log_notice(
		    "at most %d requests per %d ms per source address, "
		    "then %s%s; %d addresses or CIDRs allowed besides "
		    "the nodes",
		    c.requests, c.window_ms, e->cfg.pike_reaction,
		    c.reaction == PIKE_REACT_BLOCK ? " (for pike_block s)"
						   : "",
		    e->pike.nallow);
	return 0;
}

void
edge_flood_close(struct edge *e)
{
	edge_pike_free(&e->pike);
}

/* A 503 with Retry-After from the request's own lines (RFC 3261
 * §8.2.6.2, a To tag added), without the proxy's parse; not to an ACK. */
static void
reply_503(
    struct edge *e, const char *buf, size_t len, const struct edge_peer *src)
{
	static struct slb_sipscan sc;
	struct edge_out o = { 0 };
	const struct slb_sip_hdr *to, *cid;
	int retry = (e->cfg.pike_window_ms + 999) / 1000;

	if (len >= 4 && memcmp(buf, "ACK ", 4) == 0)
		goto drop;
	if (slb_sip_scan(buf, len, &sc) != 0 ||
	    slb_sip_find(&sc, SLB_H_VIA) == NULL ||
	    slb_sip_find(&sc, SLB_H_FROM) == NULL ||
	    (to = slb_sip_find(&sc, SLB_H_TO)) == NULL ||
	    (cid = slb_sip_find(&sc, SLB_H_CALL_ID)) == NULL ||
	    slb_sip_find(&sc, SLB_H_CSEQ) == NULL)
		goto drop;
	edge_out_str(&o, "SIP/2.0 503 Service Unavailable\r\n");
	for (int i = 0; i < sc.nhdrs; i++) {
		const struct slb_sip_hdr *h = &sc.h[i];

		if (h == to && edge_tag_of(buf, h).n == 0) {
			/* the header's line without its CRLF, then a tag */
			edge_out_put(
			    &o, buf + h->off, h->voff + h->vlen - h->off);
			edge_out_fmt(&o, ";tag=slb%08x\r\n",
			    (unsigned)(edge_fnv64(buf + cid->voff, cid->vlen,
					   "503", 3) &
				0xffffffffu));
		} else if (h->type == SLB_H_VIA || h->type == SLB_H_FROM ||
		    h->type == SLB_H_TO || h->type == SLB_H_CALL_ID ||
		    h->type == SLB_H_CSEQ) {
			edge_out_put(&o, buf + h->off, h->len);
		}
	}
	edge_out_fmt(&o,
	    "Retry-After: %d\r\nServer: siplb-edge\r\n"
	    "Content-Length: 0\r\n\r\n",
	    retry > 0 ? retry : 1);
	if (!o.failed) {
		edge_send_upstream(e, NULL, src, o.p, o.n, 503);
		e->st.flood_503++;
	}
	free(o.p);
	if (!o.failed)
		return;
drop:
	e->st.flood_dropped++;
}

void
edge_flood_on_message(
    struct edge *e, char *buf, size_t len, const struct edge_peer *src)
{
	uint64_t now = slb_now_us();

	if (len >= 8 && memcmp(buf, "SIP/2.0 ", 8) == 0) {
		/* responses are never counted: dropped only from a source
		 * that is blocked (never a node) */
		if (!edge_pike_blocked(&e->pike, &src->ss, now))
			edge_on_message(e, buf, len, src);
		return;
	}
	switch (edge_pike_request(&e->pike, &src->ss, now)) {
	case PIKE_PASS: edge_on_message(e, buf, len, src); break;
	case PIKE_BLOCKED: break; /* counted by the limiter */
	case PIKE_OVER:
		if (e->pike.cfg.reaction == PIKE_REACT_503)
			reply_503(e, buf, len, src);
		else
			e->st.flood_dropped++;
		break;
	}
}
