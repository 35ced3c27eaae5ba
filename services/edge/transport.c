#define SLB_LOG_MODULE "transport"
#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "edge.h"
#include "etimer.h"
#include "log.h"
#include "sipaddr.h"

#define UDP_BUF 65536

static int
parse_hostport(const char *s, size_t len, char *host, size_t hlen, int *port)
{
	const char *colon;
	size_t hl;

	if (len > 0 && s[0] == '[') {
		const char *rb = memchr(s, ']', len);

		if (rb == NULL)
			return EINVAL;
		hl = (size_t)(rb - s - 1);
		if (hl >= hlen)
			return EINVAL;
		memcpy(host, s + 1, hl);
		host[hl] = '\0';
		colon =
		    (size_t)(rb - s) + 1 < len && rb[1] == ':' ? rb + 1 : NULL;
	} else {
		colon = memchr(s, ':', len);
		hl = colon ? (size_t)(colon - s) : len;
		if (hl == 0 || hl >= hlen)
			return EINVAL;
		memcpy(host, s, hl);
		host[hl] = '\0';
	}
	*port = 5060;
	if (colon) {
		long v;
		char buf[8];
		size_t pl = len - (size_t)(colon + 1 - s);

		if (pl == 0 || pl >= sizeof(buf))
			return EINVAL;
		memcpy(buf, colon + 1, pl);
		buf[pl] = '\0';
		if (slb_parse_long(buf, 1, 65535, &v) != 0)
			return EINVAL;
		*port = (int)v;
	}
	return 0;
}

/* An address, or with dns a name looked up (blocking: at start and on
 * node-table updates only, never for a message). */
static int
resolve(const char *host, int port, struct sockaddr_storage *ss,
    socklen_t *len, bool dns)
{
	struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
	struct addrinfo hints, *res;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons((uint16_t)port);
		*len = sizeof(*in4);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*in6);
		return 0;
	}
	if (!dns)
		return EHOSTUNREACH;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_DGRAM;
	if (getaddrinfo(host, NULL, &hints, &res) != 0)
		return EHOSTUNREACH;
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*len = res->ai_addrlen;
	if (ss->ss_family == AF_INET)
		in4->sin_port = htons((uint16_t)port);
	else
		in6->sin6_port = htons((uint16_t)port);
	freeaddrinfo(res);
	return 0;
}

bool
edge_same_addr(const struct sockaddr_storage *a,
    const struct sockaddr_storage *b, bool port_too)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)a,
					 *y = (const void *)b;
		return x->sin_addr.s_addr == y->sin_addr.s_addr &&
		    (!port_too || x->sin_port == y->sin_port);
	} else {
		const struct sockaddr_in6 *x = (const void *)a,
					  *y = (const void *)b;
		return memcmp(&x->sin6_addr, &y->sin6_addr, 16) == 0 &&
		    (!port_too || x->sin6_port == y->sin6_port);
	}
}

void
edge_peer_str(const struct edge_peer *p, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN] = "?";
	int port = 0;

	if (p->ss.ss_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)&p->ss;
		inet_ntop(AF_INET, &in->sin_addr, a, sizeof(a));
		port = ntohs(in->sin_port);
		snprintf(buf, len, "%s:%s:%d",
		    p->proto == EP_TCP ? "tcp" : "udp", a, port);
	} else {
		const struct sockaddr_in6 *in = (const void *)&p->ss;
		inet_ntop(AF_INET6, &in->sin6_addr, a, sizeof(a));
		port = ntohs(in->sin6_port);
		snprintf(buf, len, "%s:[%s]:%d",
		    p->proto == EP_TCP ? "tcp" : "udp", a, port);
	}
}

static int
uri_peer(
    struct edge *e, const char *uri, size_t len, struct edge_peer *p, bool dns)
{
	struct slb_sip_addr a;
	int rc;

	if ((rc = slb_sip_addr_parse(uri, len, &a)) != 0)
		return rc;
	memset(p, 0, sizeof(*p));
	p->proto = strcmp(a.transport, "tcp") == 0 ? EP_TCP : EP_UDP;
	p->sock = p->proto == EP_UDP ? e->udp_out : -1;
	for (int i = 0; i < e->nsocks && p->sock < 0; i++)
		if (e->socks[i].proto == p->proto)
			p->sock = i;
	if (p->sock < 0)
		return EPROTONOSUPPORT;
	/* no TLS here: a sips: URI without a port is sent to 5060 as well */
	return resolve(a.host, a.port ? a.port : 5060, &p->ss, &p->sslen, dns);
}

int
edge_uri_peer(struct edge *e, const char *uri, size_t len, struct edge_peer *p)
{
	/* the message path never waits for DNS: an attacker could make it */
	return uri_peer(e, uri, len, p, false);
}

int
edge_uri_peer_dns(
    struct edge *e, const char *uri, size_t len, struct edge_peer *p)
{
	return uri_peer(e, uri, len, p, true);
}

/* ------------------------------------------------------------ UDP */

static void
udp_readable(evutil_socket_t fd, short what, void *arg)
{
	struct edge_sock *sk = arg;
	struct edge *e = sk->e;
	static char buf[UDP_BUF + 1];

	(void)what;
	/* drain a bounded batch, then let the loop breathe */
	for (int i = 0; i < 64; i++) {
		struct edge_peer src;
		ssize_t n;

		memset(&src, 0, sizeof(src));
		src.sslen = sizeof(src.ss);
		n = recvfrom(fd, buf, UDP_BUF, 0, (struct sockaddr *)&src.ss,
		    &src.sslen);
		if (n < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK &&
			    errno != EINTR)
				slb_log_warn_errno(errno, "udp %s:%d: receive",
				    sk->host, sk->port);
			return;
		}
		src.proto = EP_UDP;
		src.sock = sk->idx;
		if ((size_t)n > (size_t)e->cfg.max_message) {
			e->st.drop_too_big++;
			continue;
		}
		if (n < 4) /* keep-alive CRLFs and noise */
			continue;
		buf[n] = '\0';
		e->recv_h(e, buf, (size_t)n, &src);
	}
}

static int
open_socket(struct edge *e, struct edge_sock *sk)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int one = 1, fd, rc;

	if ((rc = resolve(sk->host, sk->port, &ss, &sl, false)) != 0) {
		slb_log_err(
		    "listen %s:%d: not an address", sk->host, sk->port);
		return rc;
	}
	fd = socket(ss.ss_family,
	    (sk->proto == EP_UDP ? SOCK_DGRAM : SOCK_STREAM) | SOCK_NONBLOCK |
		SOCK_CLOEXEC,
	    0);
	if (fd < 0)
		return errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	/* bind the VIP before keepalived brings it (no sysctl needed) */
	if (e->cfg.freebind && ss.ss_family == AF_INET)
		setsockopt(fd, IPPROTO_IP, IP_FREEBIND, &one, sizeof(one));
	if (sk->proto == EP_UDP) {
		int sz = 4 << 20;

		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	}
	sk->bound_ss = ss;
	if (bind(fd, (struct sockaddr *)&ss, sl) != 0 ||
	    (sk->proto == EP_TCP && listen(fd, 1024) != 0)) {
		rc = errno;
		slb_log_err_errno(rc, "cannot listen on %s:%s:%d",
		    sk->proto == EP_UDP ? "udp" : "tcp", sk->host, sk->port);
		close(fd);
		return rc;
	}
	sk->fd = fd;
	return 0;
}

/* ------------------------------------------------------------ TCP */

static void
conn_free(struct edge *e, struct edge_conn *c)
{
	HASH_DEL(e->conns, c);
	e->nconns--;
	e->st.tcp_closed++;
	if (c->per_source)
		edge_pike_conn_close(&e->pike, &c->peer.ss);
	edge_timer_free(&c->msg_ev);
	bufferevent_free(c->bev); /* closes the fd */
	free(c);
}

/* A message begun tcp_msg_timeout ago is still not whole: a slowloris
 * (or a link too slow for SIP), closed. */
static void
conn_msg_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct edge_conn *c = arg;
	char who[80];

	(void)fd;
	(void)what;
	edge_peer_str(&c->peer, who, sizeof(who));
	slb_log_info("%s: message not whole %d ms after its first byte, "
		     "closing",
	    who, c->e->cfg.tcp_msg_timeout_ms);
	c->e->st.tcp_slow_closed++;
	conn_free(c->e, c);
}

/* After a read: a partial message left (its first byte came now when a
 * message was taken in this read, or the timer is not running yet) arms
 * the timer; none left stops it. */
static void
conn_msg_timer(struct edge *e, struct edge_conn *c, bool took)
{
	if (e->cfg.tcp_msg_timeout_ms <= 0)
		return;
	if (evbuffer_get_length(bufferevent_get_input(c->bev)) == 0)
		edge_timer_stop(c->msg_ev);
	else if (took || c->msg_ev == NULL ||
	    !evtimer_pending(c->msg_ev, NULL))
		edge_timer_set(e->base, &c->msg_ev, conn_msg_timeout, c,
		    e->cfg.tcp_msg_timeout_ms);
}

static void
conn_read(struct bufferevent *bev, void *arg)
{
	struct edge_conn *c = arg;
	struct edge *e = c->e;
	struct evbuffer *in = bufferevent_get_input(bev);
	static char msg[UDP_BUF + 1];
	bool took = false;

	c->last_us = slb_now_us();
	for (;;) {
		size_t avail = evbuffer_get_length(in);
		const char *p;
		long n;
		size_t skip = 0;

		if (avail == 0)
			break;
		p = (const char *)evbuffer_pullup(in,
		    (ev_ssize_t)(avail < (size_t)e->cfg.max_message + 4
			    ? avail
			    : (size_t)e->cfg.max_message + 4));
		/* CRLF keep-alives between messages (RFC 5626): answer
		 * "\r\n\r\n" with "\r\n", skip a lone "\r\n" */
		while (skip + 1 < avail && p[skip] == '\r' &&
		    p[skip + 1] == '\n') {
			if (skip + 3 < avail && p[skip + 2] == '\r' &&
			    p[skip + 3] == '\n') {
				bufferevent_write(bev, "\r\n", 2);
				skip += 4;
			} else {
				skip += 2;
			}
		}
		if (skip) {
			evbuffer_drain(in, skip);
			continue;
		}
		n = slb_sip_frame(p,
		    avail < (size_t)e->cfg.max_message + 4
			? avail
			: (size_t)e->cfg.max_message + 4,
		    (size_t)e->cfg.max_message);
		if (n < 0) {
			char who[80];

			edge_peer_str(&c->peer, who, sizeof(who));
			slb_log_info("%s: unframeable or oversized stream, "
				     "closing",
			    who);
			e->st.drop_parse++;
			conn_free(e, c);
			return;
		}
		if (n == 0)
			break; /* wait for the rest */
		memcpy(msg, p, (size_t)n);
		msg[n] = '\0';
		evbuffer_drain(in, (size_t)n);
		took = true;
		e->recv_h(e, msg, (size_t)n, &c->peer);
		/* the handler may have closed c: look it up again */
		{
			struct edge_conn *again;
			uint32_t id = c->peer.conn;

			HASH_FIND(hh, e->conns, &id, sizeof(id), again);
			if (again != c)
				return;
		}
	}
	conn_msg_timer(e, c, took);
}

static void
conn_event(struct bufferevent *bev, short what, void *arg)
{
	struct edge_conn *c = arg;

	(void)bev;
	if (what & BEV_EVENT_CONNECTED)
		return;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT))
		conn_free(c->e, c);
}

/* accepted: whether it is an inbound one, limited per source address */
static struct edge_conn *
conn_new(struct edge *e, int fd, const struct edge_peer *peer, bool accepted)
{
	struct edge_conn *c;
	struct timeval idle;
	bool counted = false;

	if (e->nconns >= e->cfg.tcp_max_conns) {
		e->st.tcp_refused++;
		return NULL;
	}
	if (accepted && !edge_pike_conn_open(&e->pike, &peer->ss, &counted))
		return NULL; /* counted by the limiter */
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		if (counted)
			edge_pike_conn_close(&e->pike, &peer->ss);
		return NULL;
	}
	c->per_source = counted;
	c->e = e;
	c->bev = bufferevent_socket_new(e->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL) {
		if (counted)
			edge_pike_conn_close(&e->pike, &peer->ss);
		free(c);
		return NULL;
	}
	c->id = ++e->next_conn ? e->next_conn : ++e->next_conn;
	c->peer = *peer;
	c->peer.conn = c->id;
	c->last_us = slb_now_us();
	bufferevent_setcb(c->bev, conn_read, NULL, conn_event, c);
	/* bound what one connection may hold unread */
	bufferevent_setwatermark(
	    c->bev, EV_READ, 0, (size_t)e->cfg.max_message * 4);
	idle.tv_sec = e->cfg.tcp_idle_ms / 1000;
	idle.tv_usec = (e->cfg.tcp_idle_ms % 1000) * 1000;
	bufferevent_set_timeouts(c->bev, &idle, NULL);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	HASH_ADD(hh, e->conns, id, sizeof(c->id), c);
	e->nconns++;
	return c;
}

static void
tcp_accept(evutil_socket_t lfd, short what, void *arg)
{
	struct edge_sock *sk = arg;
	struct edge *e = sk->e;

	(void)what;
	for (int i = 0; i < 32; i++) {
		struct edge_peer p;
		int fd, one = 1;

		memset(&p, 0, sizeof(p));
		p.sslen = sizeof(p.ss);
		fd = accept4(lfd, (struct sockaddr *)&p.ss, &p.sslen,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		p.proto = EP_TCP;
		p.sock = sk->idx;
		/* nothing from a blocked source (counted by the limiter) */
		if (edge_pike_blocked(&e->pike, &p.ss, slb_now_us()) ||
		    conn_new(e, fd, &p, true) == NULL) {
			close(fd);
			continue;
		}
		e->st.tcp_accepted++;
	}
}

static struct edge_conn *
conn_by_addr(struct edge *e, const struct edge_peer *to)
{
	struct edge_conn *c, *tmp;

	HASH_ITER(hh, e->conns, c, tmp)
	if (c->peer.sslen == to->sslen &&
	    memcmp(&c->peer.ss, &to->ss, to->sslen) == 0)
		return c;
	return NULL;
}

static struct edge_conn *
conn_connect(struct edge *e, const struct edge_peer *to)
{
	struct edge_conn *c;
	struct edge_peer p = *to;
	int fd = socket(
	    to->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return NULL;
	if (connect(fd, (const struct sockaddr *)&to->ss, to->sslen) != 0 &&
	    errno != EINPROGRESS) {
		close(fd);
		return NULL;
	}
	c = conn_new(e, fd, &p, false);
	if (c == NULL)
		close(fd);
	return c;
}

int
edge_send(
    struct edge *e, const struct edge_peer *to, const char *buf, size_t len)
{
	if (to->proto == EP_UDP) {
		int sock = to->sock >= 0 && to->sock < e->nsocks &&
			e->socks[to->sock].proto == EP_UDP
		    ? to->sock
		    : e->udp_out;
		ssize_t n;

		if (sock < 0)
			return EPROTONOSUPPORT;
		n = sendto(e->socks[sock].fd, buf, len, 0,
		    (const struct sockaddr *)&to->ss, to->sslen);
		if (n < 0) {
			e->st.send_errors++;
			return errno;
		}
		return 0;
	} else {
		struct edge_conn *c = NULL;

		if (to->conn)
			HASH_FIND(
			    hh, e->conns, &to->conn, sizeof(to->conn), c);
		if (c == NULL)
			c = conn_by_addr(e, to);
		if (c == NULL)
			c = conn_connect(e, to);
		if (c == NULL) {
			e->st.send_errors++;
			return ECONNREFUSED;
		}
		if (bufferevent_write(c->bev, buf, len) != 0) {
			e->st.send_errors++;
			return EIO;
		}
		return 0;
	}
}

/* ------------------------------------------------------------ setup */

int
edge_transport_open(struct edge *e, edge_recv_h recv)
{
	char items[EDGE_MAX_SOCKS][SLB_CFG_STRLEN];
	char adv_host[128] = "";
	int adv_port = 0, n, rc;

	n = slb_cfg_split(e->cfg.listen, ',', items, EDGE_MAX_SOCKS);
	if (n <= 0) {
		slb_log_err("[edge] listen: give udp:ADDR:PORT and/or "
			    "tcp:ADDR:PORT (at most %d)",
		    EDGE_MAX_SOCKS);
		return EINVAL;
	}
	if (e->cfg.advertise[0] &&
	    parse_hostport(e->cfg.advertise, strlen(e->cfg.advertise),
		adv_host, sizeof(adv_host), &adv_port) != 0) {
		slb_log_err("[edge] advertise: \"%s\": give host or host:port",
		    e->cfg.advertise);
		return EINVAL;
	}
	if (e->cfg.advertise[0] && strchr(e->cfg.advertise, ':') == NULL)
		adv_port = 0; /* host only: keep each socket's port */
	e->recv_h = recv;
	e->udp_out = -1;
	for (int i = 0; i < n; i++) {
		struct edge_sock *sk = &e->socks[i];
		const char *s = items[i];

		memset(sk, 0, sizeof(*sk));
		sk->e = e;
		sk->idx = i;
		sk->fd = -1;
		if (strncasecmp(s, "udp:", 4) == 0)
			sk->proto = EP_UDP;
		else if (strncasecmp(s, "tcp:", 4) == 0)
			sk->proto = EP_TCP;
		else {
			slb_log_err("[edge] listen: \"%s\": must start with "
				    "udp: or tcp:",
			    s);
			return EINVAL;
		}
		if (parse_hostport(s + 4, strlen(s + 4), sk->host,
			sizeof(sk->host), &sk->port) != 0) {
			slb_log_err(
			    "[edge] listen: \"%s\": give ADDR:PORT", s);
			return EINVAL;
		}
		if ((rc = open_socket(e, sk)) != 0)
			return rc;
		e->nsocks++;
		{
			char h[128];
			int port = adv_port ? adv_port : sk->port;

			snprintf(h, sizeof(h), "%s",
			    adv_host[0] ? adv_host : sk->host);
			/* an IPv6 literal needs brackets in a URI */
			snprintf(sk->adv, sizeof(sk->adv),
			    strchr(h, ':') ? "[%s]:%d" : "%s:%d", h, port);
			/* resolved once: Route matching compares addresses */
			if (resolve(h, port, &sk->adv_ss, &(socklen_t){ 0 },
				true) != 0)
				sk->adv_ss = sk->bound_ss;
		}
		if (sk->proto == EP_UDP && e->udp_out < 0)
			e->udp_out = i;
		sk->ev = event_new(e->base, sk->fd, EV_READ | EV_PERSIST,
		    sk->proto == EP_UDP ? udp_readable : tcp_accept, sk);
		if (sk->ev == NULL || event_add(sk->ev, NULL) != 0)
			return ENOMEM;
		slb_log_notice("listening on %s:%s:%d, advertised as %s",
		    sk->proto == EP_UDP ? "udp" : "tcp", sk->host, sk->port,
		    sk->adv);
	}
	if (e->udp_out < 0) {
		slb_log_err(
		    "[edge] listen: at least one udp: socket is needed "
		    "to reach the nodes");
		return EINVAL;
	}
	return 0;
}

void
edge_transport_close(struct edge *e)
{
	struct edge_conn *c, *tmp;

	HASH_ITER(hh, e->conns, c, tmp)
	conn_free(e, c);
	for (int i = 0; i < e->nsocks; i++) {
		if (e->socks[i].ev)
			event_free(e->socks[i].ev);
		if (e->socks[i].fd >= 0)
			close(e->socks[i].fd);
	}
	e->nsocks = 0;
}
