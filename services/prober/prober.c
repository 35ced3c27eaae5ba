/*
 * siplb-prober's life: the nodes it probes (learnt from the scheduler's
 * table, in its shard), their addresses, the UDP socket the probes leave
 * from, HealthSnapshots (every interval, and on request over REP), and
 * the loop.  The probes and their thresholds are probe.c's, the config
 * is config.c's, the event-socket links are esl_link.c's.
 */
#define SLB_LOG_MODULE "prober"
#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "prober.h"
#include "lb_pb.h"
#include "sipaddr.h"

/* A state the scheduler shows that disagrees with ours is taken over only
 * when our own last transition is older than this: a table published
 * before our NodeHealth reached the scheduler must not undo it. */
#define ADOPT_GUARD_US 2000000u
/* The first probe of a node we just learnt goes out within this. */
#define FIRST_PROBE_MAX_MS 1000

/* ------------------------------------------------------------ addresses */

static void
addr_host(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	if (ss->ss_family == AF_INET6) {
		inet_ntop(AF_INET6,
		    &((const struct sockaddr_in6 *)ss)->sin6_addr, a,
		    sizeof(a));
		snprintf(buf, len, "[%s]", a);
	} else {
		inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr,
		    a, sizeof(a));
		snprintf(buf, len, "%s", a);
	}
}

/* Resolve the node's URI into dst, hostport and our Via sent-by. */
static void
node_resolve(struct prb *p, struct prb_node *n)
{
	struct addrinfo hints = { 0 }, *ai = NULL;
	struct slb_sip_addr a;
	const char *bare = a.host;
	int port, rc;

	n->addr_ok = false;
	if (slb_sip_addr_parse(n->uri, strlen(n->uri), &a) != 0 ||
	    slb_sip_addr_format(&a, n->hostport, sizeof(n->hostport), false) !=
		0) {
		slb_log_warn(
		    "node %u %s: cannot read host and port of the URI; "
		    "not probed",
		    n->id, n->uri);
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
			     "address family: %s; not probed",
		    n->id, n->uri, bare, gai_strerror(rc));
		return;
	}
	memcpy(&n->dst, ai->ai_addr, ai->ai_addrlen);
	n->dstlen = ai->ai_addrlen;
	freeaddrinfo(ai);
	if (n->dst.ss_family == AF_INET)
		((struct sockaddr_in *)&n->dst)->sin_port =
		    htons((uint16_t)port);
	else
		((struct sockaddr_in6 *)&n->dst)->sin6_port =
		    htons((uint16_t)port);
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

		if (fd >= 0 &&
		    connect(fd, (struct sockaddr *)&n->dst, n->dstlen) == 0 &&
		    getsockname(fd, (struct sockaddr *)&me, &ml) == 0)
			addr_host(&me, mh, sizeof(mh));
		else
			snprintf(mh, sizeof(mh), "%.70s", p->hostname);
		if (fd >= 0)
			close(fd);
		snprintf(n->via, sizeof(n->via), "%s:%d", mh, p->local_port);
	}
}

/* ------------------------------------------------------------ snapshots */


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
	HASH_ITER(hh, p->nodes, n, tmp)
	{
		if (!n->probed)
			continue;
		prb_health_fill(p, n, &(*hp)[i]);
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
	struct prb_esl_snap es = { 0 };

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

/* The REP: health snapshots (what a subscriber asks, SnapshotCall) and
 * the scheduler's ProbeNow. */
static void
on_rep(void *arg, nng_msg *req, nng_msg **replyp)
{
	struct prb *p = arg;
	Siplb__V1__ProberReply r = SIPLB__V1__PROBER_REPLY__INIT;
	Siplb__V1__ProbeNowReply pr = SIPLB__V1__PROBE_NOW_REPLY__INIT;
	Siplb__V1__Snapshot snap = SIPLB__V1__SNAPSHOT__INIT;
	Siplb__V1__HealthSnapshot hs = SIPLB__V1__HEALTH_SNAPSHOT__INIT;
	Siplb__V1__NodeHealth *h = NULL, **hp = NULL;
	struct prb_esl_snap es = { 0 };
	ProtobufCMessage *pm = NULL;
	Siplb__V1__ProberRequest *q;
	int rc;

	rc = slb_msg_unpack(
	    &siplb__v1__prober_request__descriptor, req, SLB_MSG_MAX, &pm);
	if (rc != 0) {
		const char *why;

		r.status = slb_msg_refusal(rc, &why);
		r.error = (char *)why;
		goto send;
	}
	q = (Siplb__V1__ProberRequest *)pm;
	if (q->body_case == SIPLB__V1__PROBER_REQUEST__BODY_PROBE_NOW) {
		prb_probe_now(p, q->probe_now, &r, &pr);
		goto send;
	}
	if (q->body_case != SIPLB__V1__PROBER_REQUEST__BODY_SNAPSHOT) {
		r.status = SIPLB__V1__STATUS__STATUS_BAD_REQUEST;
		r.error = "the prober answers snapshot and probe-now requests "
			  "only";
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
	r.body_case = SIPLB__V1__PROBER_REPLY__BODY_SNAPSHOT;
	r.snapshot = &snap;
send:
	if (slb_msg_pack(&r.base, replyp) != 0)
		*replyp = NULL;
	prb_esl_snapshot_free(&es);
	free(h);
	free(hp);
	slb_msg_free(pm);
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
		n->t_probe = evtimer_new(p->base, prb_on_probe, n);
		n->t_timeout = evtimer_new(p->base, prb_on_timeout, n);
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
		n->requested = false;
		event_del(n->t_timeout);
		n->fails = n->oks = 0;
		n->probed = false;
		n->up = sn->up;
		node_resolve(p, n);
		return;
	}
	if (n->up != sn->up && slb_now_us() - n->changed_us > ADOPT_GUARD_US) {
		/* someone else (edge reports, an admin reload) changed it:
		 * take their word, and let the probes decide from there */
		slb_log_info("node %u %s: scheduler says %s; probing from "
			     "there",
		    id, n->uri, sn->up ? "up" : "down");
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
	slb_log_info(
	    "node %u %s: removed from the table; forgotten", id, n->uri);
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

		if (m->change->kind ==
		    SIPLB__V1__CHANGE_KIND__CHANGE_REMOVED) {
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

static const struct slb_sub_ops table_ops = { table_message, table_snapshot,
	0 };

/* ------------------------------------------------------------ life */

static int
sock_open(struct prb *p)
{
	struct sockaddr_storage ss;
	socklen_t sl, bl;
	int fl;

	if (prb_listen_parse(p->cfg.listen, &ss, &sl) != 0)
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
			addr_host(
			    &p->local, p->local_host, sizeof(p->local_host));
	} else {
		const struct sockaddr_in6 *s6 = (void *)&p->local;

		p->local_port = ntohs(s6->sin6_port);
		if (!IN6_IS_ADDR_UNSPECIFIED(&s6->sin6_addr))
			addr_host(
			    &p->local, p->local_host, sizeof(p->local_host));
	}
	p->sock_ev = event_new(
	    p->base, p->fd, EV_READ | EV_PERSIST, prb_on_readable, p);
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
	struct timeval one = { 1, 0 };
	struct timeval iv = { p->cfg.interval_ms / 1000,
		(p->cfg.interval_ms % 1000) * 1000 };
	int rc;

	p->fd = -1;
	if (gethostname(p->hostname, sizeof(p->hostname)) != 0 ||
	    p->hostname[0] == '\0')
		snprintf(p->hostname, sizeof(p->hostname), "localhost");
	p->hostname[sizeof(p->hostname) - 1] = '\0';
	p->rng =
	    slb_wall_us() ^ ((uint64_t)getpid() << 32) ^ 0x9e3779b97f4a7c15ull;
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
		       "down after %d, up after %d), mode %s, From %s",
	    p->stream, p->local_host[0] ? p->local_host : "*", p->local_port,
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
