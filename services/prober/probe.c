/*
 * The probes of siplb-prober: an OPTIONS to each eligible node every
 * interval, its answer (or its timeout) matched by the Via branch, and
 * the rise/fall thresholds that turn consecutive results into up or
 * down; a NodeHealth goes out on each transition.  The nodes, their
 * timers and the socket are prober.c's; this file only uses them.
 */
#define SLB_LOG_MODULE "prober"
#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "log.h"
#include "prober.h"
#include "sipmsg.h"

uint64_t
prb_rand(struct prb *p)
{
	/* xorshift64* */
	p->rng ^= p->rng >> 12;
	p->rng ^= p->rng << 25;
	p->rng ^= p->rng >> 27;
	return p->rng * 2685821657736338717ull;
}

/* ------------------------------------------------------------ publish */

void
prb_health_fill(
    struct prb *p, const struct prb_node *n, Siplb__V1__NodeHealth *h)
{
	(void)p;
	siplb__v1__node_health__init(h);
	h->node_id = n->id;
	h->up = n->up;
	h->rtt_us = n->rtt_us;
	h->last_code = n->last_code;
	h->uri = (char *)n->uri;
}

static void
publish_health(struct prb *p, const struct prb_node *n, bool requested)
{
	Siplb__V1__BusMessage m = SIPLB__V1__BUS_MESSAGE__INIT;
	Siplb__V1__NodeHealth h;

	prb_health_fill(p, n, &h);
	h.requested = requested;
	m.body_case = SIPLB__V1__BUS_MESSAGE__BODY_HEALTH;
	m.health = &h;
	if (slb_pub_send(p->pub, &m) != 0)
		slb_log_warn(
		    "node %u: health change could not be published", n->id);
}

/* ------------------------------------------------------------ probing */

static bool
node_eligible(const struct prb *p, const struct prb_node *n)
{
	if (n->probe_mode == 0 || !n->addr_ok)
		return false;
	if (p->cfg.mode == PRB_MODE_DOWN_ONLY)
		return !n->up;
	if (n->probe_mode == 1)
		return !n->up || !n->enabled;
	return true;
}

/* The outcome of a probe the scheduler asked for: a failure is down at
 * once (the edges' reports were the other failures), and either way the
 * scheduler hears it. */
static void
requested_result(struct prb *p, struct prb_node *n, bool success,
    uint32_t code, uint32_t rtt_us)
{
	n->requested = false;
	n->probed = true;
	n->last_code = code;
	if (success) {
		n->rtt_us = rtt_us ? rtt_us : 1;
		n->fails = 0;
		n->oks++;
		slb_log_info("node %u %s: the probe the scheduler asked for "
			     "answered %u in %.1f ms",
		    n->id, n->uri, code, rtt_us / 1000.0);
	} else {
		n->oks = 0;
		n->fails++;
		if (n->up) {
			n->up = false;
			n->changed_us = slb_now_us();
			slb_log_notice(
			    "node %u %s is down: the probe the "
			    "scheduler asked for (passive reports) failed "
			    "(%u)",
			    n->id, n->uri, code);
		}
	}
	publish_health(p, n, true);
}

static void
node_result(struct prb *p, struct prb_node *n, bool success, uint32_t code,
    uint32_t rtt_us)
{
	if (n->requested) {
		requested_result(p, n, success, code, rtt_us);
		return;
	}
	n->probed = true;
	n->last_code = code;
	if (success) {
		n->rtt_us = rtt_us ? rtt_us : 1;
		n->fails = 0;
		n->oks++;
		if (!n->up && n->oks >= p->cfg.threshold_up) {
			n->up = true;
			n->changed_us = slb_now_us();
			slb_log_notice(
			    "node %u %s is up: probe answered %u in "
			    "%.1f ms",
			    n->id, n->uri, code, rtt_us / 1000.0);
			publish_health(p, n, false);
		}
		return;
	}
	n->oks = 0;
	n->fails++;
	if (n->up && n->fails >= p->cfg.threshold_down) {
		n->up = false;
		n->changed_us = slb_now_us();
		slb_log_notice(
		    "node %u %s is down: %d probes failed (last %u)", n->id,
		    n->uri, n->fails, code);
		publish_health(p, n, false);
	} else if (n->up) {
		slb_log_info("node %u %s: probe failed (%u), %d of %d", n->id,
		    n->uri, code, n->fails, p->cfg.threshold_down);
	}
}

void
prb_on_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct prb_node *n = arg;

	(void)fd;
	(void)what;
	if (!n->outstanding)
		return;
	n->outstanding = false;
	n->p->st.timeouts++;
	node_result(n->p, n, false, 408, 0);
}

static void
probe_send(struct prb *p, struct prb_node *n)
{
	char buf[2048];
	int len;
	ssize_t w;
	struct timeval tv;

	if (n->outstanding) {
		/* timeout < interval makes this rare: the timer of the last
		 * probe has not run yet; count it now */
		n->outstanding = false;
		event_del(n->t_timeout);
		p->st.timeouts++;
		node_result(p, n, false, 408, 0);
	}
	n->seq++;
	snprintf(n->branch, sizeof(n->branch), "z9hG4bKprb%08x.%ux%llu",
	    p->salt, n->id, (unsigned long long)n->seq);
	len = snprintf(buf, sizeof(buf),
	    "OPTIONS sip:%s SIP/2.0\r\n"
	    "Via: SIP/2.0/UDP %s;branch=%s;rport\r\n"
	    "Max-Forwards: 70\r\n"
	    "From: %s;tag=prb%08llx\r\n"
	    "To: <sip:%s>\r\n"
	    "Call-ID: prb-%uof%u-%u-%llu.%08x@%s\r\n"
	    "CSeq: %llu OPTIONS\r\n"
	    "User-Agent: siplb-prober\r\n"
	    "Content-Length: 0\r\n\r\n",
	    n->hostport, n->via, n->branch, p->cfg.from_hdr,
	    (unsigned long long)(prb_rand(p) & 0xffffffffu), n->hostport,
	    p->cfg.shard_i, p->cfg.shard_n, n->id, (unsigned long long)n->seq,
	    p->salt, p->hostname, (unsigned long long)n->seq);
	if (len < 0 || (size_t)len >= sizeof(buf)) {
		slb_log_err("node %u: probe too long, not sent", n->id);
		p->st.send_errors++;
		return;
	}
	n->sent_us = slb_now_us();
	w = sendto(
	    p->fd, buf, (size_t)len, 0, (struct sockaddr *)&n->dst, n->dstlen);
	if (w != (ssize_t)len) {
		/* our trouble, not the node's: count it, never report down */
		int e = w < 0 ? errno : EMSGSIZE;

		p->st.send_errors++;
		if (!n->send_failing)
			slb_log_warn_errno(e,
			    "node %u %s: cannot send a probe; "
			    "its state is left as it is",
			    n->id, n->uri);
		n->send_failing = true;
		return;
	}
	if (n->send_failing)
		slb_log_notice(
		    "node %u %s: probes can be sent again", n->id, n->uri);
	n->send_failing = false;
	n->outstanding = true;
	p->st.sent++;
	tv.tv_sec = p->cfg.timeout_ms / 1000;
	tv.tv_usec = (p->cfg.timeout_ms % 1000) * 1000;
	evtimer_add(n->t_timeout, &tv);
}

void
prb_on_probe(evutil_socket_t fd, short what, void *arg)
{
	struct prb_node *n = arg;
	struct prb *p = n->p;
	struct timeval tv = { p->cfg.interval_ms / 1000,
		(p->cfg.interval_ms % 1000) * 1000 };

	(void)fd;
	(void)what;
	evtimer_add(n->t_probe, &tv);
	if (node_eligible(p, n))
		probe_send(p, n);
}

void
prb_probe_now(struct prb *p, const Siplb__V1__ProbeNow *q,
    Siplb__V1__ProberReply *r, Siplb__V1__ProbeNowReply *pr)
{
	struct prb_node *n = NULL;
	uint32_t id = q->node_id;

	r->body_case = SIPLB__V1__PROBER_REPLY__BODY_PROBE_NOW;
	r->probe_now = pr;
	HASH_FIND(hh, p->nodes, &id, sizeof(id), n);
	if (n == NULL) {
		r->status = SIPLB__V1__STATUS__STATUS_NOT_FOUND;
		r->error = "not a node of this prober's shard";
		return;
	}
	if (n->probe_mode == 0 || !n->addr_ok) {
		/* probe_mode 0: the operator wants it never probed */
		r->status = SIPLB__V1__STATUS__STATUS_CONFLICT;
		r->error = n->addr_ok ? "probe_mode 0: never probed"
				      : "its address cannot be probed";
		return;
	}
	slb_log_info("node %u %s: probing it now, as the scheduler asks (%s)",
	    n->id, n->uri, q->reason ? q->reason : "");
	r->status = SIPLB__V1__STATUS__STATUS_OK;
	pr->accepted = true;
	pr->timeout_ms = (uint32_t)p->cfg.timeout_ms;
	/* a probe out already answers within its timeout: it will do */
	n->requested = true;
	if (!n->outstanding)
		probe_send(p, n);
	if (!n->outstanding) {
		/* could not be sent (our socket's trouble): say so at once */
		n->requested = false;
		pr->accepted = false;
		r->status = SIPLB__V1__STATUS__STATUS_INTERNAL;
		r->error = "the probe could not be sent";
	}
}

/* One received datagram: a response to one of our probes, or dropped. */
static void
on_datagram(struct prb *p, const char *buf, size_t len)
{
	struct slb_sipscan sc;
	const struct slb_sip_hdr *via;
	const char *br;
	size_t brlen;
	unsigned id;
	unsigned long long seq;
	uint32_t salt;
	long code;
	char cbuf[4], bcopy[64];
	struct prb_node *n = NULL;
	uint64_t now = slb_now_us();

	if (len < 12 || memcmp(buf, "SIP/2.0 ", 8) != 0)
		goto stray; /* requests are not for us */
	memcpy(cbuf, buf + 8, 3);
	cbuf[3] = '\0';
	if (slb_parse_long(cbuf, 100, 699, &code) != 0)
		goto stray;
	if (slb_sip_scan(buf, len, &sc) != 0 ||
	    (via = slb_sip_find(&sc, SLB_H_VIA)) == NULL)
		goto stray;
	if (slb_sip_param(buf + via->voff,
		slb_sip_first_elem(buf + via->voff, via->vlen), "branch", &br,
		&brlen) != 0 ||
	    brlen == 0 || brlen >= sizeof(bcopy))
		goto stray;
	memcpy(bcopy, br, brlen);
	bcopy[brlen] = '\0';
	if (sscanf(bcopy, "z9hG4bKprb%8x.%ux%llu", &salt, &id, &seq) != 3 ||
	    salt != p->salt)
		goto stray;
	HASH_FIND(hh, p->nodes, &id, sizeof(id), n);
	if (n == NULL || !n->outstanding || strcmp(n->branch, bcopy) != 0)
		goto stray; /* late (after its timeout) or forgotten */
	if (code < 200 && !p->cfg.codes[code]) {
		p->st.ignored_1xx++;
		return;
	}
	p->st.replies++;
	n->outstanding = false;
	event_del(n->t_timeout);
	node_result(p, n, p->cfg.codes[code] != 0, (uint32_t)code,
	    (uint32_t)(now - n->sent_us));
	return;
stray:
	p->st.stray++;
}

void
prb_on_readable(evutil_socket_t fd, short what, void *arg)
{
	struct prb *p = arg;
	char buf[65536];

	(void)what;
	for (int i = 0; i < 256; i++) {
		ssize_t r = recv(fd, buf, sizeof(buf), 0);

		if (r < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK &&
			    errno != EINTR)
				slb_log_debug("recv: %s", strerror(errno));
			return;
		}
		on_datagram(p, buf, (size_t)r);
	}
}
