#define SLB_LOG_MODULE "prober"
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "log.h"
#include "prober.h"
#include "lb_pb.h"
#include "sipaddr.h"
#include "sipmsg.h"

/* A state the scheduler shows that disagrees with ours is taken over only
 * when our own last transition is older than this: a table published
 * before our NodeHealth reached the scheduler must not undo it. */
#define ADOPT_GUARD_US 2000000u
/* The first probe of a node we just learnt goes out within this. */
#define FIRST_PROBE_MAX_MS 1000

#define OFF(f) offsetof(struct prb_cfg, f)

static const struct slb_cfg_key keys[] = {
    SLB_CFG_GENERAL_KEYS(struct prb_cfg),
    {"prober", "pub", SLB_CFG_ADDR, 0, 0, SLB_ADDR_PROBER_PUB, OFF(pub),
	"health events (NodeHealth, HealthSnapshot)"},
    {"prober", "rep", SLB_CFG_ADDR, 0, 0, SLB_ADDR_PROBER_REP, OFF(rep),
	"health snapshots for subscribers that (re)start"},
    {"prober", "scheduler_pub", SLB_CFG_ADDR, 0, 0, SLB_ADDR_SCHEDULER_PUB,
	OFF(scheduler_pub), "scheduler node-table PUB"},
    {"prober", "scheduler_rep", SLB_CFG_ADDR, 0, 0, SLB_ADDR_SCHEDULER_REP,
	OFF(scheduler_rep), "scheduler REP, for node-table snapshots"},
    {"prober", "listen", SLB_CFG_STR, 0, 0, "udp:127.0.0.1:0", OFF(listen),
	"UDP socket the probes leave from: udp:ADDR:PORT (port 0: any)"},
    {"prober", "interval", SLB_CFG_INT, 100, 3600000, "5000",
	OFF(interval_ms), "ms between probes of a node (ds_ping_interval)"},
    {"prober", "timeout", SLB_CFG_INT, 10, 60000, "1000", OFF(timeout_ms),
	"ms to wait for a reply; less than interval"},
    {"prober", "threshold_down", SLB_CFG_INT, 1, 1000, "2",
	OFF(threshold_down),
	"consecutive failed probes that mark a node down "
	"(ds_probing_threshold)"},
    {"prober", "threshold_up", SLB_CFG_INT, 1, 1000, "1", OFF(threshold_up),
	"consecutive answered probes that mark a node up again"},
    {"prober", "reply_codes", SLB_CFG_STR, 0, 0, "200", OFF(reply_codes),
	"codes that count as an answer: 200, 404, 2xx ... (100..699; "
	"ds_ping_reply_codes)"},
    {"prober", "from", SLB_CFG_STR, 0, 0, "", OFF(from),
	"From URI of the probes; empty: sip:siplb-prober@HOSTNAME"},
    {"prober", "mode", SLB_CFG_STR, 0, 0, "all", OFF(mode_s),
	"all: by each node's probe_mode; down-only: only nodes that are down"},
    {"prober", "shard", SLB_CFG_STR, 0, 0, "1/1", OFF(shard_s),
	"i/n: probe the nodes with id % n == i - 1 (--shard wins)"},
    {"prober", "esl_password", SLB_CFG_STR, 0, 0, "ClueCon",
	OFF(esl_password),
	"event-socket password of nodes whose attrs give esl= but no "
	"esl_password"},
    {"prober", "esl_interval", SLB_CFG_INT, 1000, 3600000, "20000",
	OFF(esl_interval_ms),
	"ms between a node's HEARTBEATs: its event-heartbeat-interval "
	"(attrs esl_interval=S win); figures two intervals old are stale"},
    {"prober", "esl_retry_max", SLB_CFG_INT, 1000, 600000, "30000",
	OFF(esl_retry_max_ms),
	"ms at most between attempts to link a node's event socket again"},
    {NULL, NULL, 0, 0, 0, NULL, 0, NULL},
};

/* ------------------------------------------------------------ config */

int
prb_codes_parse(const char *s, uint8_t codes[700], char *err, size_t errlen)
{
	char tok[32][SLB_CFG_STRLEN];
	int n = slb_cfg_split(s, ',', tok, 32);

	memset(codes, 0, 700);
	if (n <= 0) {
		snprintf(err, errlen, "must list codes 100..699, such as "
		    "\"200, 404\" or \"2xx\"");
		return EINVAL;
	}
	for (int i = 0; i < n; i++) {
		const char *t = tok[i];
		long v;

		if (strlen(t) == 3 && t[0] >= '1' && t[0] <= '6' &&
		    (t[1] == 'x' || t[1] == 'X') && (t[2] == 'x' || t[2] == 'X')) {
			int c0 = (t[0] - '0') * 100;

			memset(codes + c0, 1, 100);
			continue;
		}
		if (slb_parse_long(t, 100, 699, &v) != 0) {
			snprintf(err, errlen, "\"%s\": must be a code 100..699 "
			    "or a class such as 2xx", t);
			return EINVAL;
		}
		codes[v] = 1;
	}
	return 0;
}

static int
shard_parse(const char *s, unsigned *ip, unsigned *np)
{
	unsigned i, n;
	char extra;

	if (sscanf(s, "%u/%u%c", &i, &n, &extra) != 2 || n < 1 || n > 1000 ||
	    i < 1 || i > n)
		return EINVAL;
	*ip = i;
	*np = n;
	return 0;
}

int
prb_cfg_set_shard(struct prb_cfg *c, const char *s)
{
	if (shard_parse(s, &c->shard_i, &c->shard_n) != 0) {
		slb_log_err("--shard %s: must be i/n with 1 <= i <= n <= 1000",
		    s);
		return EINVAL;
	}
	snprintf(c->shard_s, sizeof(c->shard_s), "%s", s);
	return 0;
}

static int
from_check(struct prb_cfg *c, const char *host)
{
	const char *f = c->from;

	if (*f == '\0') {
		snprintf(c->from_hdr, sizeof(c->from_hdr),
		    "<sip:siplb-prober@%.200s>", host);
		return 0;
	}
	if (strchr(f, '<') != NULL) {
		/* a whole name-addr: "Prober" <sip:x@y> */
		if (strchr(f, '>') == NULL || strstr(f, "sip") == NULL)
			return EINVAL;
		snprintf(c->from_hdr, sizeof(c->from_hdr), "%s", f);
		return 0;
	}
	if (strncasecmp(f, "sip:", 4) != 0 && strncasecmp(f, "sips:", 5) != 0)
		return EINVAL;
	for (const char *q = f; *q; q++)
		if (isspace((unsigned char)*q) || *q == ';' || *q == '>')
			return EINVAL;
	snprintf(c->from_hdr, sizeof(c->from_hdr), "<%s>", f);
	return 0;
}

/* "udp:ADDR:PORT", ADDR an IPv4 or [IPv6] literal. */
static int
listen_parse(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[128];
	const char *h, *colon;
	size_t hl;
	long port;
	struct addrinfo hints = {0}, *ai = NULL;

	if (strncasecmp(s, "udp:", 4) != 0)
		return EINVAL;
	h = s + 4;
	if (*h == '[') {
		const char *e = strchr(h, ']');

		if (e == NULL || e[1] != ':')
			return EINVAL;
		hl = (size_t)(e - h - 1);
		h++;
		colon = e + 1;
	} else {
		colon = strrchr(h, ':');
		if (colon == NULL)
			return EINVAL;
		hl = (size_t)(colon - h);
	}
	if (hl == 0 || hl >= sizeof(host))
		return EINVAL;
	memcpy(host, h, hl);
	host[hl] = '\0';
	if (slb_parse_long(colon + 1, 0, 65535, &port) != 0)
		return EINVAL;
	hints.ai_flags = AI_NUMERICHOST;
	hints.ai_socktype = SOCK_DGRAM;
	if (getaddrinfo(host, NULL, &hints, &ai) != 0)
		return EINVAL;
	memcpy(ss, ai->ai_addr, ai->ai_addrlen);
	*len = ai->ai_addrlen;
	freeaddrinfo(ai);
	if (ss->ss_family == AF_INET)
		((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
	else
		((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
	return 0;
}

int
prb_cfg_load(struct prb_cfg *c, const char *path)
{
	char err[1024], why[512], host[256];
	struct sockaddr_storage ss;
	socklen_t sl;
	const char *file = path ? path : "(defaults)";

	if (slb_cfg_load(path, keys, c, 0, NULL, NULL, err, sizeof(err)) != 0) {
		slb_log_err("%s", err);
		return EINVAL;
	}
	slb_log_configure(c->log_level, c->log_facility, c->log_syslog);
	if (prb_codes_parse(c->reply_codes, c->codes, why, sizeof(why)) != 0) {
		slb_log_err("%s: [prober] reply_codes: %s", file, why);
		return EINVAL;
	}
	if (strcmp(c->mode_s, "all") == 0)
		c->mode = PRB_MODE_ALL;
	else if (strcmp(c->mode_s, "down-only") == 0)
		c->mode = PRB_MODE_DOWN_ONLY;
	else {
		slb_log_err("%s: [prober] mode: must be all or down-only, "
		    "not \"%s\"", file, c->mode_s);
		return EINVAL;
	}
	if (shard_parse(c->shard_s, &c->shard_i, &c->shard_n) != 0) {
		slb_log_err("%s: [prober] shard: must be i/n with "
		    "1 <= i <= n <= 1000, not \"%s\"", file, c->shard_s);
		return EINVAL;
	}
	if (c->timeout_ms >= c->interval_ms) {
		slb_log_err("%s: [prober] timeout: must be less than interval "
		    "(%d ms)", file, c->interval_ms);
		return EINVAL;
	}
	if (listen_parse(c->listen, &ss, &sl) != 0) {
		slb_log_err("%s: [prober] listen: must be udp:ADDR:PORT with an "
		    "IP address, not \"%s\"", file, c->listen);
		return EINVAL;
	}
	if (gethostname(host, sizeof(host)) != 0 || host[0] == '\0')
		snprintf(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = '\0';
	if (from_check(c, host) != 0) {
		slb_log_err("%s: [prober] from: must be a sip: or sips: URI "
		    "(or a name-addr with one), not \"%s\"", file, c->from);
		return EINVAL;
	}
	return 0;
}

/* ------------------------------------------------------------ helpers */

static uint64_t
prb_rand(struct prb *p)
{
	/* xorshift64* */
	p->rng ^= p->rng >> 12;
	p->rng ^= p->rng << 25;
	p->rng ^= p->rng >> 27;
	return p->rng * 2685821657736338717ull;
}

static void
addr_host(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	if (ss->ss_family == AF_INET6) {
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)ss)->sin6_addr,
		    a, sizeof(a));
		snprintf(buf, len, "[%s]", a);
	} else {
		inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr, a,
		    sizeof(a));
		snprintf(buf, len, "%s", a);
	}
}

/* Resolve the node's URI into dst, hostport and our Via sent-by. */
static void
node_resolve(struct prb *p, struct prb_node *n)
{
	struct addrinfo hints = {0}, *ai = NULL;
	struct slb_sip_addr a;
	const char *bare = a.host;
	int port, rc;

	n->addr_ok = false;
	if (slb_sip_addr_parse(n->uri, strlen(n->uri), &a) != 0 ||
	    slb_sip_addr_format(&a, n->hostport, sizeof(n->hostport),
		false) != 0) {
		slb_log_warn("node %u %s: cannot read host and port of the URI; "
		    "not probed", n->id, n->uri);
		return;
	}
	port = slb_sip_addr_port(&a);
	hints.ai_family = p->local.ss_family;
	hints.ai_socktype = SOCK_DGRAM;
	hints.ai_flags = AI_NUMERICHOST;
	rc = getaddrinfo(bare, NULL, &hints, &ai);
	if (rc == EAI_NONAME) {
		/* a host name: nodes are addresses in practice, so a
		 * blocking lookup when a node is learnt is acceptable */
		hints.ai_flags = 0;
		rc = getaddrinfo(bare, NULL, &hints, &ai);
	}
	if (rc != 0 || ai == NULL) {
		slb_log_warn("node %u %s: cannot resolve %s for this socket's "
		    "address family: %s; not probed", n->id, n->uri, bare,
		    gai_strerror(rc));
		return;
	}
	memcpy(&n->dst, ai->ai_addr, ai->ai_addrlen);
	n->dstlen = ai->ai_addrlen;
	freeaddrinfo(ai);
	if (n->dst.ss_family == AF_INET)
		((struct sockaddr_in *)&n->dst)->sin_port = htons((uint16_t)port);
	else
		((struct sockaddr_in6 *)&n->dst)->sin6_port = htons((uint16_t)port);
	n->addr_ok = true;

	if (p->local_host[0]) {
		snprintf(n->via, sizeof(n->via), "%s:%d", p->local_host,
		    p->local_port);
	} else {
		/* bound to a wildcard: the address the kernel would send
		 * from towards this node (a connected UDP socket tells) */
		struct sockaddr_storage me;
		socklen_t ml = sizeof(me);
		char mh[80];
		int fd = socket(n->dst.ss_family, SOCK_DGRAM, 0);

		if (fd >= 0 && connect(fd, (struct sockaddr *)&n->dst,
				   n->dstlen) == 0 &&
		    getsockname(fd, (struct sockaddr *)&me, &ml) == 0)
			addr_host(&me, mh, sizeof(mh));
		else
			snprintf(mh, sizeof(mh), "%.70s", p->hostname);
		if (fd >= 0)
			close(fd);
		snprintf(n->via, sizeof(n->via), "%s:%d", mh, p->local_port);
	}
}

/* ------------------------------------------------------------ publish */

static void
health_fill(struct prb *p, const struct prb_node *n, Siplb__V1__NodeHealth *h)
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
publish_health(struct prb *p, const struct prb_node *n)
{
	Siplb__V1__BusMessage m = SIPLB__V1__BUS_MESSAGE__INIT;
	Siplb__V1__NodeHealth h;

	health_fill(p, n, &h);
	m.body_case = SIPLB__V1__BUS_MESSAGE__BODY_HEALTH;
	m.health = &h;
	if (slb_pub_send(p->pub, &m) != 0)
		slb_log_warn("node %u: health change could not be published",
		    n->id);
}

/* The nodes we have an opinion on: probed since we learnt them (or took
 * the scheduler's word for them).  Others are left to whoever set them. */
static int
snapshot_build(struct prb *p, Siplb__V1__HealthSnapshot *hs,
    Siplb__V1__NodeHealth **hp, Siplb__V1__NodeHealth ***pp)
{
	struct prb_node *n, *tmp;
	size_t cnt = HASH_COUNT(p->nodes), i = 0;

	*hp = calloc(cnt + 1, sizeof(**hp));
	*pp = calloc(cnt + 1, sizeof(**pp));
	if (*hp == NULL || *pp == NULL)
		return ENOMEM;
	HASH_ITER(hh, p->nodes, n, tmp) {
		if (!n->probed)
			continue;
		health_fill(p, n, &(*hp)[i]);
		(*pp)[i] = &(*hp)[i];
		i++;
	}
	hs->nodes = *pp;
	hs->n_nodes = i;
	hs->shard = p->shard;
	return 0;
}

static void
on_snap_tick(evutil_socket_t fd, short what, void *arg)
{
	struct prb *p = arg;
	Siplb__V1__BusMessage m = SIPLB__V1__BUS_MESSAGE__INIT;
	Siplb__V1__HealthSnapshot hs = SIPLB__V1__HEALTH_SNAPSHOT__INIT;
	Siplb__V1__NodeHealth *h = NULL, **hp = NULL;
	struct prb_esl_snap es = {0};

	(void)fd;
	(void)what;
	if (snapshot_build(p, &hs, &h, &hp) == 0 &&
	    prb_esl_snapshot(p, &hs, &es) == 0) {
		m.body_case = SIPLB__V1__BUS_MESSAGE__BODY_HEALTH_SNAPSHOT;
		m.health_snapshot = &hs;
		if (slb_pub_send(p->pub, &m) != 0)
			slb_log_warn("health snapshot could not be published");
	}
	prb_esl_snapshot_free(&es);
	free(h);
	free(hp);
	slb_log_debug("%u nodes; probes sent %llu, replies %llu, timeouts "
	    "%llu, send errors %llu, stray replies %llu",
	    HASH_COUNT(p->nodes), (unsigned long long)p->st.sent,
	    (unsigned long long)p->st.replies,
	    (unsigned long long)p->st.timeouts,
	    (unsigned long long)p->st.send_errors,
	    (unsigned long long)p->st.stray);
}

static void
on_rep(void *arg, nng_msg *req, nng_msg **replyp)
{
	struct prb *p = arg;
	Siplb__V1__SnapshotAnswer r = SIPLB__V1__SNAPSHOT_ANSWER__INIT;
	Siplb__V1__Snapshot snap = SIPLB__V1__SNAPSHOT__INIT;
	Siplb__V1__HealthSnapshot hs = SIPLB__V1__HEALTH_SNAPSHOT__INIT;
	Siplb__V1__NodeHealth *h = NULL, **hp = NULL;
	struct prb_esl_snap es = {0};
	ProtobufCMessage *pm = NULL;
	Siplb__V1__SnapshotCall *q;
	int rc;

	rc = slb_msg_unpack(&siplb__v1__snapshot_call__descriptor, req,
	    SLB_MSG_MAX, &pm);
	if (rc != 0) {
		const char *why;

		r.status = slb_msg_refusal(rc, &why);
		r.error = (char *)why;
		goto send;
	}
	q = (Siplb__V1__SnapshotCall *)pm;
	if (q->snapshot == NULL) {
		r.status = SIPLB__V1__STATUS__STATUS_BAD_REQUEST;
		r.error = "the prober answers snapshot requests only";
		goto send;
	}
	if (snapshot_build(p, &hs, &h, &hp) != 0 ||
	    prb_esl_snapshot(p, &hs, &es) != 0) {
		r.status = SIPLB__V1__STATUS__STATUS_INTERNAL;
		r.error = "out of memory";
		goto send;
	}
	snap.stream = p->stream;
	snap.epoch = slb_pub_epoch(p->pub);
	snap.seq = slb_pub_seq(p->pub);
	snap.body_case = SIPLB__V1__SNAPSHOT__BODY_HEALTH;
	snap.health = &hs;
	r.status = SIPLB__V1__STATUS__STATUS_OK;
	r.snapshot = &snap;
send:
	if (slb_msg_pack(&r.base, replyp) != 0)
		*replyp = NULL;
	prb_esl_snapshot_free(&es);
	free(h);
	free(hp);
	slb_msg_free(pm);
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

static void
node_result(struct prb *p, struct prb_node *n, bool success, uint32_t code,
    uint32_t rtt_us)
{
	n->probed = true;
	n->last_code = code;
	if (success) {
		n->rtt_us = rtt_us ? rtt_us : 1;
		n->fails = 0;
		n->oks++;
		if (!n->up && n->oks >= p->cfg.threshold_up) {
			n->up = true;
			n->changed_us = slb_now_us();
			slb_log_notice("node %u %s is up: probe answered %u in "
			    "%.1f ms", n->id, n->uri, code, rtt_us / 1000.0);
			publish_health(p, n);
		}
		return;
	}
	n->oks = 0;
	n->fails++;
	if (n->up && n->fails >= p->cfg.threshold_down) {
		n->up = false;
		n->changed_us = slb_now_us();
		slb_log_notice("node %u %s is down: %d probes failed (last %u)",
		    n->id, n->uri, n->fails, code);
		publish_health(p, n);
	} else if (n->up) {
		slb_log_info("node %u %s: probe failed (%u), %d of %d", n->id,
		    n->uri, code, n->fails, p->cfg.threshold_down);
	}
}

static void
on_timeout(evutil_socket_t fd, short what, void *arg)
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
	    p->cfg.shard_i, p->cfg.shard_n, n->id,
	    (unsigned long long)n->seq, p->salt, p->hostname,
	    (unsigned long long)n->seq);
	if (len < 0 || (size_t)len >= sizeof(buf)) {
		slb_log_err("node %u: probe too long, not sent", n->id);
		p->st.send_errors++;
		return;
	}
	n->sent_us = slb_now_us();
	w = sendto(p->fd, buf, (size_t)len, 0, (struct sockaddr *)&n->dst,
	    n->dstlen);
	if (w != (ssize_t)len) {
		/* our trouble, not the node's: count it, never report down */
		int e = w < 0 ? errno : EMSGSIZE;

		p->st.send_errors++;
		if (!n->send_failing)
			slb_log_warn_errno(e, "node %u %s: cannot send a probe; "
			    "its state is left as it is", n->id, n->uri);
		n->send_failing = true;
		return;
	}
	if (n->send_failing)
		slb_log_notice("node %u %s: probes can be sent again", n->id,
		    n->uri);
	n->send_failing = false;
	n->outstanding = true;
	p->st.sent++;
	tv.tv_sec = p->cfg.timeout_ms / 1000;
	tv.tv_usec = (p->cfg.timeout_ms % 1000) * 1000;
	evtimer_add(n->t_timeout, &tv);
}

static void
on_probe(evutil_socket_t fd, short what, void *arg)
{
	struct prb_node *n = arg;
	struct prb *p = n->p;
	struct timeval tv = {p->cfg.interval_ms / 1000,
	    (p->cfg.interval_ms % 1000) * 1000};

	(void)fd;
	(void)what;
	evtimer_add(n->t_probe, &tv);
	if (node_eligible(p, n))
		probe_send(p, n);
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
		goto stray;	/* requests are not for us */
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
		goto stray;	/* late (after its timeout) or forgotten */
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

static void
on_readable(evutil_socket_t fd, short what, void *arg)
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

/* ------------------------------------------------------------ the table */

static void
node_free(struct prb *p, struct prb_node *n)
{
	if (n == NULL)
		return;
	if (n->t_probe)
		event_free(n->t_probe);
	if (n->t_timeout)
		event_free(n->t_timeout);
	prb_esl_forget(n);
	HASH_DEL(p->nodes, n);
	free(n);
}

static bool
in_shard(const struct prb *p, uint32_t id)
{
	return id % p->cfg.shard_n == p->cfg.shard_i - 1;
}

/* Learn a node, or apply what the scheduler now says about it. */
static void
node_upsert(struct prb *p, const struct lb_node *sn)
{
	struct prb_node *n = NULL;
	uint32_t id = sn->id;

	HASH_FIND(hh, p->nodes, &id, sizeof(id), n);
	if (n == NULL) {
		struct timeval tv;
		int first_ms = p->cfg.interval_ms < FIRST_PROBE_MAX_MS
		    ? p->cfg.interval_ms
		    : FIRST_PROBE_MAX_MS;

		n = calloc(1, sizeof(*n));
		if (n == NULL) {
			slb_log_err("out of memory: node %u not probed", id);
			return;
		}
		n->id = id;
		n->p = p;
		n->t_probe = evtimer_new(p->base, on_probe, n);
		n->t_timeout = evtimer_new(p->base, on_timeout, n);
		if (n->t_probe == NULL || n->t_timeout == NULL) {
			if (n->t_probe)
				event_free(n->t_probe);
			if (n->t_timeout)
				event_free(n->t_timeout);
			free(n);
			slb_log_err("out of memory: node %u not probed", id);
			return;
		}
		HASH_ADD(hh, p->nodes, id, sizeof(n->id), n);
		snprintf(n->uri, sizeof(n->uri), "%s", sn->uri);
		/* start from what the scheduler says, so that starting a
		 * prober changes nothing until a threshold is crossed */
		n->up = sn->up;
		n->enabled = sn->enabled;
		n->probe_mode = sn->probe_mode;
		n->rtt_us = sn->rtt_us;
		n->last_code = sn->last_code;
		node_resolve(p, n);
		/* spread first probes over up to a second */
		first_ms = (int)(prb_rand(p) % (uint64_t)first_ms);
		tv.tv_sec = first_ms / 1000;
		tv.tv_usec = (first_ms % 1000) * 1000;
		evtimer_add(n->t_probe, &tv);
		slb_log_info("node %u %s: learnt (%s, %s, probe_mode %u)", id,
		    n->uri, n->up ? "up" : "down",
		    n->enabled ? "enabled" : "disabled", n->probe_mode);
		n->seen = true;
		prb_esl_sync(p, n, sn);
		return;
	}
	n->seen = true;
	prb_esl_sync(p, n, sn);
	n->enabled = sn->enabled;
	n->probe_mode = sn->probe_mode;
	if (strcmp(n->uri, sn->uri) != 0) {
		/* another destination: what we knew was about the old one */
		slb_log_info("node %u: uri %s -> %s", id, n->uri, sn->uri);
		snprintf(n->uri, sizeof(n->uri), "%s", sn->uri);
		n->outstanding = false;
		event_del(n->t_timeout);
		n->fails = n->oks = 0;
		n->probed = false;
		n->up = sn->up;
		node_resolve(p, n);
		return;
	}
	if (n->up != sn->up &&
	    slb_now_us() - n->changed_us > ADOPT_GUARD_US) {
		/* someone else (edge reports, an admin reload) changed it:
		 * take their word, and let the probes decide from there */
		slb_log_info("node %u %s: scheduler says %s; probing from "
		    "there", id, n->uri, sn->up ? "up" : "down");
		n->up = sn->up;
		n->fails = n->oks = 0;
		n->probed = false;
	}
}

static void
node_forget(struct prb *p, uint32_t id)
{
	struct prb_node *n = NULL;

	HASH_FIND(hh, p->nodes, &id, sizeof(id), n);
	if (n == NULL)
		return;
	slb_log_info("node %u %s: removed from the table; forgotten", id,
	    n->uri);
	node_free(p, n);
}

static void
apply_table(struct prb *p, const Siplb__V1__NodeTable *pt)
{
	struct lb_table t;
	struct prb_node *n, *tmp;

	lb_table_init(&t, 1);
	if (lb_pb_table_from(pt, &t) != 0) {
		slb_log_warn("node table from the scheduler refused");
		lb_table_free(&t);
		return;
	}
	HASH_ITER(hh, p->nodes, n, tmp)
		n->seen = false;
	for (size_t i = 0; i < t.n; i++)
		if (in_shard(p, t.nodes[i].id))
			node_upsert(p, &t.nodes[i]);
	HASH_ITER(hh, p->nodes, n, tmp)
		if (!n->seen)
			node_forget(p, n->id);
	lb_table_free(&t);
}

static void
table_message(void *arg, const Siplb__V1__BusMessage *m)
{
	struct prb *p = arg;

	if (m->body_case == SIPLB__V1__BUS_MESSAGE__BODY_TABLE) {
		apply_table(p, m->table);
	} else if (m->body_case == SIPLB__V1__BUS_MESSAGE__BODY_CHANGE &&
	    m->change->node != NULL) {
		struct lb_node n;

		if (m->change->kind == SIPLB__V1__CHANGE_KIND__CHANGE_REMOVED) {
			node_forget(p, m->change->node->id);
			return;
		}
		if (lb_pb_node_from(m->change->node, &n) != 0)
			return;
		if (in_shard(p, n.id))
			node_upsert(p, &n);
	}
}

static void
table_snapshot(void *arg, const Siplb__V1__Snapshot *s)
{
	struct prb *p = arg;

	if (s->body_case != SIPLB__V1__SNAPSHOT__BODY_TABLE)
		return;
	apply_table(p, s->table);
	slb_log_info("node table from the scheduler: %u nodes in shard %s",
	    HASH_COUNT(p->nodes), p->shard);
}

static const struct slb_sub_ops table_ops = {table_message, table_snapshot, 0};

/* ------------------------------------------------------------ life */

static int
sock_open(struct prb *p)
{
	struct sockaddr_storage ss;
	socklen_t sl, bl;
	int fl;

	if (listen_parse(p->cfg.listen, &ss, &sl) != 0)
		return EINVAL;
	p->fd = socket(ss.ss_family, SOCK_DGRAM, 0);
	if (p->fd < 0) {
		slb_log_err_errno(errno, "socket");
		return errno;
	}
	fl = fcntl(p->fd, F_GETFL);
	if (fl < 0 || fcntl(p->fd, F_SETFL, fl | O_NONBLOCK) != 0 ||
	    fcntl(p->fd, F_SETFD, FD_CLOEXEC) != 0) {
		slb_log_err_errno(errno, "fcntl");
		return errno;
	}
	if (bind(p->fd, (struct sockaddr *)&ss, sl) != 0) {
		int e = errno;

		slb_log_err_errno(e, "cannot bind %s", p->cfg.listen);
		return e;
	}
	bl = sizeof(p->local);
	if (getsockname(p->fd, (struct sockaddr *)&p->local, &bl) != 0) {
		slb_log_err_errno(errno, "getsockname");
		return errno;
	}
	if (p->local.ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (void *)&p->local;

		p->local_port = ntohs(s4->sin_port);
		if (s4->sin_addr.s_addr != htonl(INADDR_ANY))
			addr_host(&p->local, p->local_host,
			    sizeof(p->local_host));
	} else {
		const struct sockaddr_in6 *s6 = (void *)&p->local;

		p->local_port = ntohs(s6->sin6_port);
		if (!IN6_IS_ADDR_UNSPECIFIED(&s6->sin6_addr))
			addr_host(&p->local, p->local_host,
			    sizeof(p->local_host));
	}
	p->sock_ev = event_new(p->base, p->fd, EV_READ | EV_PERSIST,
	    on_readable, p);
	if (p->sock_ev == NULL || event_add(p->sock_ev, NULL) != 0)
		return ENOMEM;
	return 0;
}

static void
on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct prb *p = arg;

	(void)fd;
	(void)what;
	slb_pub_heartbeat(p->pub);
}

int
prb_init(struct prb *p)
{
	struct timeval one = {1, 0};
	struct timeval iv = {p->cfg.interval_ms / 1000,
	    (p->cfg.interval_ms % 1000) * 1000};
	int rc;

	p->fd = -1;
	if (gethostname(p->hostname, sizeof(p->hostname)) != 0 ||
	    p->hostname[0] == '\0')
		snprintf(p->hostname, sizeof(p->hostname), "localhost");
	p->hostname[sizeof(p->hostname) - 1] = '\0';
	p->rng = slb_wall_us() ^ ((uint64_t)getpid() << 32) ^
	    0x9e3779b97f4a7c15ull;
	p->salt = (uint32_t)prb_rand(p);
	snprintf(p->shard, sizeof(p->shard), "%u/%u", p->cfg.shard_i,
	    p->cfg.shard_n);
	snprintf(p->stream, sizeof(p->stream), "prober:%s", p->shard);
	if ((rc = slb_loop_new(&p->base)) != 0)
		return rc;
	if ((rc = slb_bridge_new(&p->br, p->base)) != 0)
		return rc;
	if ((rc = sock_open(p)) != 0)
		return rc;
	if ((rc = slb_pub_open(&p->pub, p->cfg.pub, p->stream)) != 0 ||
	    (rc = slb_rep_open(&p->rep, p->base, p->cfg.rep, on_rep, p)) != 0)
		return rc;
	if ((rc = slb_sub_open(&p->table_sub, p->base, p->br, "node table",
		 p->cfg.scheduler_pub,
		 p->cfg.scheduler_rep[0] ? p->cfg.scheduler_rep : NULL,
		 &table_ops, p)) != 0)
		return rc;
	p->tick = event_new(p->base, -1, EV_PERSIST, on_tick, p);
	p->snap_tick = event_new(p->base, -1, EV_PERSIST, on_snap_tick, p);
	if (p->tick == NULL || p->snap_tick == NULL ||
	    event_add(p->tick, &one) != 0 || event_add(p->snap_tick, &iv) != 0)
		return ENOMEM;
	slb_log_notice("ready: %s, udp %s:%d, every %d ms (timeout %d ms, "
	    "down after %d, up after %d), mode %s, From %s", p->stream,
	    p->local_host[0] ? p->local_host : "*", p->local_port,
	    p->cfg.interval_ms, p->cfg.timeout_ms, p->cfg.threshold_down,
	    p->cfg.threshold_up, p->cfg.mode_s, p->cfg.from_hdr);
	return 0;
}

void
prb_close(struct prb *p)
{
	struct prb_node *n, *tmp;

	HASH_ITER(hh, p->nodes, n, tmp)
		node_free(p, n);
	if (p->tick)
		event_free(p->tick);
	if (p->snap_tick)
		event_free(p->snap_tick);
	if (p->sock_ev)
		event_free(p->sock_ev);
	slb_sub_close(p->table_sub);
	slb_rep_close(p->rep);
	slb_pub_close(p->pub);
	if (p->fd >= 0)
		close(p->fd);
	slb_bridge_free(p->br);
	if (p->base)
		slb_loop_free(p->base);
	memset(p, 0, sizeof(*p));
	p->fd = -1;
}
