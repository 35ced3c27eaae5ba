#define SLB_LOG_MODULE "bus"
#include "bus.h"

#include <errno.h>
#include <event2/event.h>
#include <nng/protocol/pubsub0/pub.h>
#include <nng/protocol/pubsub0/sub.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

/* ------------------------------------------------------------ the loop */

static void
on_stop_signal(evutil_socket_t sig, short what, void *arg)
{
	struct event_base *base = arg;

	(void)what;
	slb_log_notice("%s received, stopping", strsignal((int)sig));
	event_base_loopbreak(base);
}

/* The signal events live as long as the base; kept here to free them. */
static struct event *sig_ev[2];

int
slb_loop_new(struct event_base **basep)
{
	struct event_base *base = event_base_new();

	if (base == NULL)
		return ENOMEM;
	signal(SIGPIPE, SIG_IGN);
	sig_ev[0] = evsignal_new(base, SIGTERM, on_stop_signal, base);
	sig_ev[1] = evsignal_new(base, SIGINT, on_stop_signal, base);
	if (sig_ev[0] == NULL || sig_ev[1] == NULL ||
	    evsignal_add(sig_ev[0], NULL) != 0 ||
	    evsignal_add(sig_ev[1], NULL) != 0) {
		slb_loop_free(base);
		return ENOMEM;
	}
	*basep = base;
	return 0;
}

int
slb_loop_run(struct event_base *base)
{
	return event_base_dispatch(base) < 0 ? EIO : 0;
}

void
slb_loop_free(struct event_base *base)
{
	for (int i = 0; i < 2; i++) {
		if (sig_ev[i] != NULL)
			event_free(sig_ev[i]);
		sig_ev[i] = NULL;
	}
	if (base != NULL)
		event_base_free(base);
}

uint64_t
slb_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

uint64_t
slb_wall_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* ------------------------------------------------- closing off the loop */

static int closers;	/* closes still running (atomic) */

static void *
closer(void *arg)
{
	nng_socket s = *(nng_socket *)arg;

	free(arg);
	nng_close(s);
	__atomic_sub_fetch(&closers, 1, __ATOMIC_RELAXED);
	return NULL;
}

/*
 * nng 1.5 can hang in nng_close (nanomsg/nng#1543, #1813: a socket closed
 * while a connection is being set up or torn down), and a loop that waits
 * for it answers nothing again: seen once when an edge resumed after being
 * stopped and dialed its node table publisher again.  Sockets a running
 * loop replaces are closed on a thread of their own; a close that hangs
 * costs that thread, not the process.
 */
void
slb_nng_close_off_loop(nng_socket s)
{
	pthread_attr_t a;
	pthread_t t;
	nng_socket *p = malloc(sizeof(*p));

	if (p != NULL && pthread_attr_init(&a) == 0) {
		int n = __atomic_add_fetch(&closers, 1, __ATOMIC_RELAXED);

		*p = s;
		if (n > 1 && (n & (n - 1)) == 0)	/* 2, 4, 8, ...: say so */
			slb_log_warn("%d nng sockets still closing: nng_close "
			    "hangs (nng 1.5)", n - 1);
		pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
		if (pthread_create(&t, &a, closer, p) == 0) {
			pthread_attr_destroy(&a);
			return;
		}
		__atomic_sub_fetch(&closers, 1, __ATOMIC_RELAXED);
		pthread_attr_destroy(&a);
	}
	free(p);
	nng_close(s);
}

/* ------------------------------------------------- nng thread -> loop */

struct bridge_item {
	struct bridge_item *next;
	slb_bridge_h fn;
	void *arg;
	void *data;
	int err;
};

struct slb_bridge {
	pthread_mutex_t mtx;
	struct bridge_item *head, *tail;
	int efd;
	struct event *ev;
};

static void
bridge_run(evutil_socket_t fd, short what, void *arg)
{
	struct slb_bridge *b = arg;
	struct bridge_item *it;
	uint64_t n;

	(void)what;
	if (read(fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		slb_log_warn_errno(errno, "bridge: read");
	pthread_mutex_lock(&b->mtx);
	it = b->head;
	b->head = b->tail = NULL;
	pthread_mutex_unlock(&b->mtx);
	while (it != NULL) {
		struct bridge_item *next = it->next;

		it->fn(it->arg, it->data, it->err);
		free(it);
		it = next;
	}
}

int
slb_bridge_new(struct slb_bridge **bp, struct event_base *base)
{
	struct slb_bridge *b = calloc(1, sizeof(*b));

	if (b == NULL)
		return ENOMEM;
	pthread_mutex_init(&b->mtx, NULL);
	b->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (b->efd < 0) {
		int err = errno;
		pthread_mutex_destroy(&b->mtx);
		free(b);
		return err;
	}
	b->ev = event_new(base, b->efd, EV_READ | EV_PERSIST, bridge_run, b);
	if (b->ev == NULL || event_add(b->ev, NULL) != 0) {
		slb_bridge_free(b);
		return ENOMEM;
	}
	*bp = b;
	return 0;
}

void
slb_bridge_post(struct slb_bridge *b, slb_bridge_h fn, void *arg, void *data,
    int err)
{
	struct bridge_item *it = calloc(1, sizeof(*it));
	uint64_t one = 1;

	if (it == NULL) {
		/* Cannot queue: run the completion with the error at once
		 * is not allowed off the loop, so this is a hard failure. */
		slb_log_err("bridge: out of memory, aborting");
		abort();
	}
	it->fn = fn;
	it->arg = arg;
	it->data = data;
	it->err = err;
	pthread_mutex_lock(&b->mtx);
	if (b->tail)
		b->tail->next = it;
	else
		b->head = it;
	b->tail = it;
	pthread_mutex_unlock(&b->mtx);
	if (write(b->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		slb_log_warn_errno(errno, "bridge: write");
}

void
slb_bridge_free(struct slb_bridge *b)
{
	struct bridge_item *it;

	if (b == NULL)
		return;
	if (b->ev)
		event_free(b->ev);
	if (b->efd >= 0)
		close(b->efd);
	/* completions still queued run now (cancelled requests free what
	 * they hold); nothing posts any more once every socket is closed */
	for (it = b->head; it != NULL;) {
		struct bridge_item *next = it->next;

		it->fn(it->arg, it->data, it->err);
		free(it);
		it = next;
	}
	pthread_mutex_destroy(&b->mtx);
	free(b);
}

/* ------------------------------------------------------------ helpers */

static int
recv_fd_event(nng_socket s, struct event_base *base, event_callback_fn fn,
    void *arg, struct event **evp)
{
	int fd, rv;

	rv = nng_socket_get_int(s, NNG_OPT_RECVFD, &fd);
	if (rv != 0)
		return slb_nng_errno(rv);
	*evp = event_new(base, fd, EV_READ | EV_PERSIST, fn, arg);
	if (*evp == NULL || event_add(*evp, NULL) != 0)
		return ENOMEM;
	return 0;
}

/* Give ipc:// files to the group too so a client in the same group can
 * connect; nng creates them with the umask. */
static int
listen_url(nng_socket s, const char *url)
{
	int rv = nng_listen(s, url, NULL, 0);

	if (rv != 0) {
		slb_log_err("cannot listen on %s: %s", url, nng_strerror(rv));
		return slb_nng_errno(rv);
	}
	return 0;
}

/* ------------------------------------------------------------ REP */

/* A raw REP socket drained on the loop: requests are read without
 * blocking through NNG_OPT_RECVFD and answered at once, the reply carrying
 * the request's backtrace header.  No thread hand-off, no ordering
 * constraint between requests, and a slow client cannot block the loop
 * (its replies wait in its pipe's queue, or are dropped and it resends). */
struct slb_rep {
	nng_socket sock;
	struct event *ev;
	slb_rep_h h;
	void *arg;
	uint64_t served, send_fail;
	struct slb_pub *pub;	/* answers ReplayCall from its ring */
};

static int pub_replay(struct slb_pub *p, const nng_msg *req, nng_msg **replyp);

/* Field `want` at the top level of a protobuf message, length-delimited:
 * ReplayCall is told from a service's own request by its field 8 without
 * unpacking anything. */
static int
pb_has_field(const uint8_t *b, size_t n, uint32_t want)
{
	size_t i = 0;

	while (i < n) {
		uint64_t key = 0, v = 0;
		int sh = 0;

		do {	/* the key, a varint */
			if (i >= n || sh > 63)
				return 0;
			key |= (uint64_t)(b[i] & 0x7f) << sh;
			sh += 7;
		} while (b[i++] & 0x80);
		if ((key >> 3) == want)
			return (key & 7) == 2;
		switch (key & 7) {
		case 0:
		case 2:
			sh = 0;
			do {
				if (i >= n || sh > 63)
					return 0;
				v |= (uint64_t)(b[i] & 0x7f) << sh;
				sh += 7;
			} while (b[i++] & 0x80);
			if ((key & 7) == 2) {
				if (v > n - i)
					return 0;
				i += (size_t)v;
			}
			break;
		case 1:
			i += 8;
			break;
		case 5:
			i += 4;
			break;
		default:
			return 0;
		}
	}
	return 0;
}

#define REPLAY_FIELD 8

static void
rep_readable(evutil_socket_t fd, short what, void *arg)
{
	struct slb_rep *r = arg;

	(void)fd;
	(void)what;
	/* bounded, so a flood cannot starve the rest of the loop */
	for (int i = 0; i < 256; i++) {
		nng_msg *req = NULL, *reply = NULL;
		int rv = nng_recvmsg(r->sock, &req, NNG_FLAG_NONBLOCK);

		if (rv == NNG_EAGAIN)
			return;
		if (rv != 0) {
			slb_log_warn("rep: receive: %s", nng_strerror(rv));
			return;
		}
		if (r->pub != NULL && pb_has_field(nng_msg_body(req),
					  nng_msg_len(req), REPLAY_FIELD))
			pub_replay(r->pub, req, &reply);
		else
			r->h(r->arg, req, &reply);
		if (reply != NULL &&
		    nng_msg_header_append(reply, nng_msg_header(req),
			nng_msg_header_len(req)) != 0) {
			nng_msg_free(reply);
			reply = NULL;
		}
		nng_msg_free(req);
		if (reply == NULL)
			continue;
		rv = nng_sendmsg(r->sock, reply, NNG_FLAG_NONBLOCK);
		if (rv != 0) {
			r->send_fail++;
			nng_msg_free(reply);
			slb_log_debug("rep: reply dropped: %s", nng_strerror(rv));
			continue;
		}
		r->served++;
	}
}

int
slb_rep_open(struct slb_rep **rp, struct event_base *base, const char *url,
    slb_rep_h h, void *arg)
{
	struct slb_rep *r = calloc(1, sizeof(*r));
	int rv, err;

	if (r == NULL)
		return ENOMEM;
	r->h = h;
	r->arg = arg;
	if ((rv = nng_rep0_open_raw(&r->sock)) != 0) {
		free(r);
		return slb_nng_errno(rv);
	}
	nng_socket_set_size(r->sock, NNG_OPT_RECVMAXSZ, SLB_MSG_MAX);
	nng_socket_set_int(r->sock, NNG_OPT_RECVBUF, 1024);
	nng_socket_set_int(r->sock, NNG_OPT_SENDBUF, 1024);
	if ((err = listen_url(r->sock, url)) != 0 ||
	    (err = recv_fd_event(r->sock, base, rep_readable, r, &r->ev)) != 0) {
		slb_rep_close(r);
		return err;
	}
	*rp = r;
	return 0;
}

uint64_t
slb_rep_served(const struct slb_rep *r)
{
	return r->served;
}

void
slb_rep_close(struct slb_rep *r)
{
	if (r == NULL)
		return;
	if (r->ev)
		event_free(r->ev);
	nng_close(r->sock);
	free(r);
}

/* ------------------------------------------------------------ PUB */

/* The last messages sent, for replays: PUB_RING_MSGS at most and
 * PUB_RING_BYTES in all (at the edge's busiest, one DialogBatch per 2 ms,
 * that is over a minute of history). */
#define PUB_RING_MSGS 32768u
#define PUB_RING_BYTES (32u << 20)
/* what one ReplayAnswer carries at most; the rest on the next ask */
#define REPLAY_ANSWER_BYTES (SLB_MSG_MAX / 2)

struct ring_ent {
	uint64_t seq;
	nng_msg *m;
};

struct slb_pub {
	nng_socket sock;
	char stream[64];
	uint64_t epoch, seq;
	int keep;		/* a REP replays from the ring: fill it */
	struct ring_ent *ring;	/* PUB_RING_MSGS slots, oldest at head */
	size_t head, n, bytes;
	uint64_t replays;
};

void
slb_rep_set_pub(struct slb_rep *r, struct slb_pub *p)
{
	r->pub = p;
	if (p != NULL)
		p->keep = 1;
}

static struct ring_ent *
ring_at(struct slb_pub *p, size_t i)	/* i-th oldest */
{
	return &p->ring[(p->head + i) % PUB_RING_MSGS];
}

static void
ring_drop_oldest(struct slb_pub *p)
{
	struct ring_ent *e = ring_at(p, 0);

	p->bytes -= nng_msg_len(e->m);
	nng_msg_free(e->m);
	e->m = NULL;
	p->head = (p->head + 1) % PUB_RING_MSGS;
	p->n--;
}

static void
ring_push(struct slb_pub *p, uint64_t seq, const nng_msg *m)
{
	nng_msg *copy;

	if (!p->keep)
		return;
	if (p->ring == NULL &&
	    (p->ring = calloc(PUB_RING_MSGS, sizeof(*p->ring))) == NULL)
		return;		/* no history: subscribers fall back on snapshots */
	if (nng_msg_dup(&copy, m) != 0)
		return;
	while (p->n > 0 && (p->n == PUB_RING_MSGS ||
			       p->bytes + nng_msg_len(copy) > PUB_RING_BYTES))
		ring_drop_oldest(p);
	*ring_at(p, p->n) = (struct ring_ent){seq, copy};
	p->n++;
	p->bytes += nng_msg_len(copy);
}

/* Index of the first message with a seq above `after` (p->n: none). */
static size_t
ring_find_after(struct slb_pub *p, uint64_t after)
{
	size_t lo = 0, hi = p->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (ring_at(p, mid)->seq <= after)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Answer a ReplayCall from the ring: the messages after the asked seq of
 * this epoch (of another epoch: from the start of this one), up to the
 * asked one, as far as the ring holds them. */
static int
pub_replay(struct slb_pub *p, const nng_msg *req, nng_msg **replyp)
{
	Siplb__V1__ReplayAnswer a = SIPLB__V1__REPLAY_ANSWER__INIT;
	ProtobufCBinaryData *bins = NULL;
	ProtobufCMessage *pm = NULL;
	const Siplb__V1__ReplayRequest *q;
	uint64_t after, upto;
	size_t i, k = 0, bytes = 0;
	int rc;

	rc = slb_msg_unpack(&siplb__v1__replay_call__descriptor, (nng_msg *)req,
	    SLB_MSG_MAX, &pm);
	if (rc != 0 || ((Siplb__V1__ReplayCall *)pm)->replay == NULL) {
		const char *why = "replay: no request";

		a.status = rc != 0 ? slb_msg_refusal(rc, &why)
				   : SIPLB__V1__STATUS__STATUS_BAD_REQUEST;
		a.error = (char *)why;
		goto send;
	}
	q = ((Siplb__V1__ReplayCall *)pm)->replay;
	after = q->epoch == p->epoch ? q->after_seq : 0;
	upto = q->upto_seq == 0 || q->upto_seq > p->seq ? p->seq : q->upto_seq;
	a.status = SIPLB__V1__STATUS__STATUS_OK;
	a.epoch = p->epoch;
	a.oldest_seq = p->n ? ring_at(p, 0)->seq : 0;
	i = ring_find_after(p, after);
	if (i < p->n && (bins = calloc(p->n - i, sizeof(*bins))) == NULL) {
		a.status = SIPLB__V1__STATUS__STATUS_INTERNAL;
		a.error = "out of memory";
		goto send;
	}
	for (; i < p->n && ring_at(p, i)->seq <= upto; i++) {
		nng_msg *m = ring_at(p, i)->m;

		if (k > 0 && bytes + nng_msg_len(m) > REPLAY_ANSWER_BYTES) {
			a.more = 1;
			break;
		}
		bins[k].data = nng_msg_body(m);
		bins[k].len = nng_msg_len(m);
		bytes += nng_msg_len(m);
		k++;
	}
	a.messages = bins;
	a.n_messages = k;
	p->replays++;
send:
	rc = slb_msg_pack(&a.base, replyp);
	if (rc != 0)
		*replyp = NULL;
	free(bins);
	slb_msg_free(pm);
	return rc;
}

int
slb_pub_open(struct slb_pub **pp, const char *url, const char *stream)
{
	struct slb_pub *p = calloc(1, sizeof(*p));
	int rv, err;

	if (p == NULL)
		return ENOMEM;
	snprintf(p->stream, sizeof(p->stream), "%s", stream);
	/* Wall-clock microseconds: a restarted publisher always gets a new
	 * epoch, and a larger one. */
	p->epoch = slb_wall_us();
	if ((rv = nng_pub0_open(&p->sock)) != 0) {
		free(p);
		return slb_nng_errno(rv);
	}
	/* pub drops for a subscriber whose queue is full; a deep queue
	 * rides out bursts, the numbering catches the rest */
	nng_socket_set_int(p->sock, NNG_OPT_SENDBUF, 8192);
	if ((err = listen_url(p->sock, url)) != 0) {
		slb_pub_close(p);
		return err;
	}
	*pp = p;
	return 0;
}

int
slb_pub_send(struct slb_pub *p, Siplb__V1__BusMessage *m)
{
	nng_msg *msg;
	int err, rv;

	m->stream = p->stream;
	m->epoch = p->epoch;
	m->seq = ++p->seq;
	if ((err = slb_msg_pack(&m->base, &msg)) != 0)
		return err;
	ring_push(p, m->seq, msg);
	rv = nng_sendmsg(p->sock, msg, NNG_FLAG_NONBLOCK);
	if (rv != 0) {
		nng_msg_free(msg);
		return slb_nng_errno(rv);
	}
	return 0;
}

int
slb_pub_heartbeat(struct slb_pub *p)
{
	Siplb__V1__BusMessage m = SIPLB__V1__BUS_MESSAGE__INIT;
	nng_msg *msg;
	int err, rv;

	m.stream = p->stream;
	m.epoch = p->epoch;
	m.seq = p->seq;		/* the last one used: heartbeats take none */
	if ((err = slb_msg_pack(&m.base, &msg)) != 0)
		return err;
	if ((rv = nng_sendmsg(p->sock, msg, NNG_FLAG_NONBLOCK)) != 0) {
		nng_msg_free(msg);
		return slb_nng_errno(rv);
	}
	return 0;
}

void
slb_pub_skip(struct slb_pub *p)
{
	p->seq++;
}

uint64_t
slb_pub_seq(const struct slb_pub *p)
{
	return p->seq;
}

uint64_t
slb_pub_epoch(const struct slb_pub *p)
{
	return p->epoch;
}

const char *
slb_pub_stream(const struct slb_pub *p)
{
	return p->stream;
}

uint64_t
slb_pub_replays(const struct slb_pub *p)
{
	return p->replays;
}

void
slb_pub_close(struct slb_pub *p)
{
	if (p == NULL)
		return;
	nng_close(p->sock);
	while (p->n > 0)
		ring_drop_oldest(p);
	free(p->ring);
	free(p);
}

/* ------------------------------------------------------------ REQ async */

struct req_call;

struct slb_reqc {
	nng_socket sock;
	struct slb_bridge *br;
	struct req_call *calls;		/* outstanding, for close */
};

struct req_call {
	nng_ctx ctx;
	nng_aio *aio;
	struct slb_bridge *br;
	struct slb_reqc *rc;		/* NULL once the socket closed */
	struct req_call *prev, *next;
	int sent;
	slb_reply_h cb;
	void *arg;
};

static void
req_call_done(void *arg, void *data, int err)
{
	struct req_call *c = arg;

	if (c->rc != NULL) {
		if (c->prev)
			c->prev->next = c->next;
		else
			c->rc->calls = c->next;
		if (c->next)
			c->next->prev = c->prev;
	}
	/* On the loop.  nng_aio_free waits for the aio callback to return
	 * and must not be called from inside it. */
	nng_aio_free(c->aio);
	nng_ctx_close(c->ctx);
	c->cb(c->arg, err, data);
	free(c);
}

static void
req_call_aio(void *arg)
{
	struct req_call *c = arg;
	int rv = nng_aio_result(c->aio);

	if (rv != 0) {
		if (!c->sent) {
			nng_msg *m = nng_aio_get_msg(c->aio);
			if (m != NULL)
				nng_msg_free(m);
		}
		slb_bridge_post(c->br, req_call_done, c, NULL,
		    rv == NNG_ECLOSED ? ECANCELED : slb_nng_errno(rv));
		return;
	}
	if (!c->sent) {
		c->sent = 1;
		nng_ctx_recv(c->ctx, c->aio);
		return;
	}
	slb_bridge_post(c->br, req_call_done, c, nng_aio_get_msg(c->aio), 0);
}

int
slb_reqc_open(struct slb_reqc **rcp, struct slb_bridge *br, const char *url,
    int resend_ms)
{
	struct slb_reqc *rc = calloc(1, sizeof(*rc));
	int rv;

	if (rc == NULL)
		return ENOMEM;
	rc->br = br;
	if ((rv = nng_req0_open(&rc->sock)) != 0) {
		free(rc);
		return slb_nng_errno(rv);
	}
	nng_socket_set_size(rc->sock, NNG_OPT_RECVMAXSZ, SLB_MSG_MAX);
	nng_socket_set_ms(rc->sock, NNG_OPT_REQ_RESENDTIME,
	    resend_ms > 0 ? resend_ms : NNG_DURATION_INFINITE);
	nng_socket_set_ms(rc->sock, NNG_OPT_RECONNMINT, 50);
	nng_socket_set_ms(rc->sock, NNG_OPT_RECONNMAXT, 1000);
	/* NONBLOCK: keep retrying in the background until the peer is up */
	rv = nng_dial(rc->sock, url, NULL, NNG_FLAG_NONBLOCK);
	if (rv != 0) {
		slb_log_err("cannot dial %s: %s", url, nng_strerror(rv));
		nng_close(rc->sock);
		free(rc);
		return slb_nng_errno(rv);
	}
	*rcp = rc;
	return 0;
}

int
slb_reqc_send(struct slb_reqc *rc, nng_msg *req, int timeout_ms,
    slb_reply_h cb, void *arg)
{
	struct req_call *c = calloc(1, sizeof(*c));
	int rv;

	if (c == NULL)
		return ENOMEM;
	c->br = rc->br;
	c->rc = rc;
	c->cb = cb;
	c->arg = arg;
	if ((rv = nng_ctx_open(&c->ctx, rc->sock)) != 0) {
		free(c);
		return slb_nng_errno(rv);
	}
	if ((rv = nng_aio_alloc(&c->aio, req_call_aio, c)) != 0) {
		nng_ctx_close(c->ctx);
		free(c);
		return slb_nng_errno(rv);
	}
	c->next = rc->calls;
	if (rc->calls)
		rc->calls->prev = c;
	rc->calls = c;
	/* one deadline for send and receive together */
	nng_aio_set_timeout(c->aio, timeout_ms);
	nng_aio_set_msg(c->aio, req);
	nng_ctx_send(c->ctx, c->aio);
	return 0;
}

void
slb_reqc_close(struct slb_reqc *rc)
{
	if (rc == NULL)
		return;
	/* let every outstanding call finish (cancelled) into the bridge,
	 * which runs its completion on the loop or when it is freed */
	for (struct req_call *c = rc->calls; c != NULL; c = c->next) {
		nng_aio_stop(c->aio);
		c->rc = NULL;
	}
	nng_close(rc->sock);
	free(rc);
}

/*
 * Blocking calls reuse one REQ socket per address for the life of the
 * process: nng 1.5's nng_close can hang (see slb_nng_close_off_loop), and
 * a call that opened and closed a socket each time hung an edge's loop
 * after it had been stopped and resumed.  A handful of addresses at most.
 */
#define REQ_SOCKETS 32

static struct {
	char url[256];
	nng_socket s;
} req_socks[REQ_SOCKETS];
static int n_req_socks;
static pthread_mutex_t req_mu = PTHREAD_MUTEX_INITIALIZER;

static int
req_socket(const char *url, nng_socket *sp)
{
	nng_socket s;
	int rv, err = 0;

	if (strlen(url) >= sizeof(req_socks[0].url))
		return ENAMETOOLONG;
	pthread_mutex_lock(&req_mu);
	for (int i = 0; i < n_req_socks; i++)
		if (strcmp(req_socks[i].url, url) == 0) {
			*sp = req_socks[i].s;
			goto out;
		}
	if (n_req_socks == REQ_SOCKETS) {
		err = ENOBUFS;
		goto out;
	}
	if ((rv = nng_req0_open(&s)) != 0) {
		err = slb_nng_errno(rv);
		goto out;
	}
	nng_socket_set_size(s, NNG_OPT_RECVMAXSZ, SLB_MSG_MAX);
	nng_socket_set_ms(s, NNG_OPT_RECONNMINT, 20);
	nng_socket_set_ms(s, NNG_OPT_RECONNMAXT, 200);
	if ((rv = nng_dial(s, url, NULL, NNG_FLAG_NONBLOCK)) != 0) {
		nng_close(s);	/* never connected: nothing to wait for */
		err = slb_nng_errno(rv);
		goto out;
	}
	snprintf(req_socks[n_req_socks].url, sizeof(req_socks[0].url), "%s",
	    url);
	req_socks[n_req_socks++].s = s;
	*sp = s;
out:
	pthread_mutex_unlock(&req_mu);
	return err;
}

/* ------------------------------------------------------------ REQ sync */

int
slb_req_call(const char *url, ProtobufCMessage *req,
    const ProtobufCMessageDescriptor *reply_desc, int timeout_ms, int retries,
    ProtobufCMessage **replyp)
{
	nng_socket s;
	nng_msg *msg = NULL;
	int rv, err;

	if ((err = req_socket(url, &s)) != 0)
		return err;
	nng_socket_set_ms(s, NNG_OPT_REQ_RESENDTIME,
	    timeout_ms / (retries + 1) > 0 ? timeout_ms / (retries + 1) : 1);
	nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, timeout_ms);
	nng_socket_set_ms(s, NNG_OPT_SENDTIMEO, timeout_ms);
	if ((err = slb_msg_pack(req, &msg)) != 0)
		goto out;
	if ((rv = nng_sendmsg(s, msg, 0)) != 0) {
		nng_msg_free(msg);
		err = slb_nng_errno(rv);
		goto out;
	}
	msg = NULL;
	if ((rv = nng_recvmsg(s, &msg, 0)) != 0) {
		err = slb_nng_errno(rv);
		goto out;
	}
	err = slb_msg_unpack(reply_desc, msg, SLB_MSG_MAX, replyp);
	nng_msg_free(msg);
out:
	/* the socket stays for the next call: a new request cancels one
	 * that timed out, and a late reply to it is discarded by its id */
	return err;
}

/* ------------------------------------------------------------ SUB */

#define SUB_BUFFER_MAX 65536
/* Publishers send at least a heartbeat a second; silence this long means
 * the connection is stuck (seen once with nng 1.5 after a publisher was
 * killed and restarted on the same ipc path): dial again and resync. */
#define SUB_SILENCE_US 3500000u
#define SUB_RETRY_MS 500
#define SUB_SNAPSHOT_TIMEOUT_MS 3000

struct slb_sub {
	char name[64];
	nng_socket sock;
	struct event *ev;
	struct event *retry_ev;
	struct event_base *base;
	struct slb_reqc *reqc;	/* NULL: no snapshots, gaps are only counted */
	const struct slb_sub_ops *ops;
	void *arg;

	int synced;		/* have a base state to apply deltas to */
	int pending;		/* a snapshot request is out */
	uint64_t epoch, seq;	/* last applied */
	Siplb__V1__BusMessage **buf;	/* deltas held while syncing */
	size_t nbuf, capbuf;
	int overflow;
	struct slb_sub_stats st;
	struct sub_token *tok;	/* outlives us while a request is out */
	int quiet;		/* failures already reported */
	char pub_url[256];
	uint64_t last_rx_us;	/* anything heard from the publisher */
	struct event *watch_ev;
	/* history: the snapshot answer held while the replay runs */
	ProtobufCMessage *held;
	uint64_t hist_epoch, hist_after, hist_upto;
};

struct sub_token {
	struct slb_sub *s;	/* NULL once the subscriber is closed */
};

static void sub_request_snapshot(struct slb_sub *s);
static void sub_apply_snapshot(struct slb_sub *s,
    const Siplb__V1__Snapshot *snap);

static void
sub_buf_clear(struct slb_sub *s)
{
	for (size_t i = 0; i < s->nbuf; i++)
		slb_msg_free(&s->buf[i]->base);
	s->nbuf = 0;
	s->overflow = 0;
}

static void
sub_buf_push(struct slb_sub *s, Siplb__V1__BusMessage *m)
{
	if (s->nbuf == s->capbuf) {
		size_t cap = s->capbuf ? s->capbuf * 2 : 64;
		void *nb;

		if (cap > SUB_BUFFER_MAX ||
		    (nb = realloc(s->buf, cap * sizeof(*s->buf))) == NULL) {
			/* the snapshot reply will be followed by a new one */
			slb_msg_free(&m->base);
			s->overflow = 1;
			s->st.dropped++;
			return;
		}
		s->buf = nb;
		s->capbuf = cap;
	}
	s->buf[s->nbuf++] = m;
}

static void
sub_deliver(struct slb_sub *s, Siplb__V1__BusMessage *m)
{
	s->epoch = m->epoch;
	s->seq = m->seq;
	s->st.received++;
	s->ops->on_message(s->arg, m);
}

static void
sub_resync(struct slb_sub *s, const char *why)
{
	slb_log_notice("%s: %s, asking for a snapshot", s->name, why);
	s->synced = 0;
	if (!s->pending)
		sub_request_snapshot(s);
}

/* A heartbeat (no body) carries the publisher's epoch and last seq without
 * using a number: it reveals a restart or a lost last message even when
 * nothing else is being published. */
static void
sub_on_heartbeat(struct slb_sub *s, Siplb__V1__BusMessage *m)
{
	int restarted = s->synced && m->epoch != s->epoch;
	int gap = s->synced && !restarted && m->seq > s->seq;

	slb_msg_free(&m->base);
	if (s->reqc == NULL || !s->synced)
		return;
	if (restarted) {
		s->st.restarts++;
		sub_resync(s, "publisher restarted");
	} else if (gap) {
		s->st.gaps++;
		sub_resync(s, "sequence gap");
	}
}

/* A delta arrived (taken). */
static void
sub_on_delta(struct slb_sub *s, Siplb__V1__BusMessage *m)
{
	if (m->body_case == SIPLB__V1__BUS_MESSAGE__BODY__NOT_SET) {
		sub_on_heartbeat(s, m);
		return;
	}
	if (s->reqc == NULL) {
		/* no snapshot source: count and carry on */
		if (s->synced && m->epoch != s->epoch)
			s->st.restarts++;
		else if (s->synced && m->seq != s->seq + 1)
			s->st.gaps++;
		s->synced = 1;
		sub_deliver(s, m);
		slb_msg_free(&m->base);
		return;
	}
	if (!s->synced) {
		sub_buf_push(s, m);
		return;
	}
	if (m->epoch == s->epoch && m->seq <= s->seq) {
		s->st.dropped++;	/* duplicate or older than our state */
		slb_msg_free(&m->base);
		return;
	}
	if (m->epoch != s->epoch) {
		s->st.restarts++;
		sub_buf_push(s, m);
		sub_resync(s, "publisher restarted");
		return;
	}
	if (m->seq != s->seq + 1) {
		s->st.gaps++;
		sub_buf_push(s, m);
		sub_resync(s, "sequence gap");
		return;
	}
	sub_deliver(s, m);
	slb_msg_free(&m->base);
}

static void
sub_readable(evutil_socket_t fd, short what, void *arg)
{
	struct slb_sub *s = arg;

	(void)fd;
	(void)what;
	for (;;) {
		ProtobufCMessage *pm;
		nng_msg *msg;
		int rv, err;

		rv = nng_recvmsg(s->sock, &msg, NNG_FLAG_NONBLOCK);
		if (rv == NNG_EAGAIN)
			return;
		if (rv != 0) {
			slb_log_warn("%s: receive: %s", s->name, nng_strerror(rv));
			return;
		}
		s->last_rx_us = slb_now_us();
		err = slb_msg_unpack(&siplb__v1__bus_message__descriptor, msg,
		    SLB_MSG_MAX, &pm);
		nng_msg_free(msg);
		if (err != 0) {
			s->st.dropped++;
			slb_log_warn_errno(err, "%s: message dropped", s->name);
			continue;
		}
		sub_on_delta(s, (Siplb__V1__BusMessage *)pm);
	}
}

static void
sub_apply_snapshot(struct slb_sub *s, const Siplb__V1__Snapshot *snap)
{
	size_t i;

	s->ops->on_snapshot(s->arg, snap);
	s->st.resyncs++;
	s->synced = 1;
	s->epoch = snap->epoch;
	s->seq = snap->seq;
	if (s->overflow) {
		sub_buf_clear(s);
		sub_resync(s, "too many messages while syncing");
		return;
	}
	/* replay what came meanwhile, in order, skipping what the snapshot
	 * already holds */
	for (i = 0; i < s->nbuf; i++) {
		Siplb__V1__BusMessage *m = s->buf[i];

		s->buf[i] = NULL;
		if (!s->synced) {
			slb_msg_free(&m->base);
			continue;
		}
		sub_on_delta(s, m);
	}
	s->nbuf = 0;
	slb_log_info("%s: synced at seq %llu", s->name,
	    (unsigned long long)s->seq);
}

static void
sub_retry(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	sub_request_snapshot(arg);
}

/* The answer to a snapshot or replay request: the subscriber it is for
 * (NULL when it was closed meanwhile: then the token and reply are freed
 * here), with *pm unpacked as desc or *err set. */
static struct slb_sub *
sub_reply(struct sub_token *tok, int *err, nng_msg *reply,
    const ProtobufCMessageDescriptor *desc, ProtobufCMessage **pm)
{
	struct slb_sub *s = tok->s;

	if (s == NULL) {
		free(tok);
		if (reply)
			nng_msg_free(reply);
		return NULL;
	}
	s->pending = 0;
	if (*err == 0) {
		*err = slb_msg_unpack(desc, reply, SLB_MSG_MAX, pm);
		nng_msg_free(reply);
	}
	return s;
}

/* The replay is over (or failed): apply the snapshot held meanwhile. */
static void
sub_finish_history(struct slb_sub *s)
{
	ProtobufCMessage *pm = s->held;

	s->held = NULL;
	if (pm == NULL)
		return;
	sub_apply_snapshot(s, ((Siplb__V1__SnapshotAnswer *)pm)->snapshot);
	slb_msg_free(pm);
}

static void sub_request_replay(struct slb_sub *s);

static void
sub_on_replay_reply(void *arg, int err, nng_msg *reply)
{
	struct sub_token *tok = arg;
	ProtobufCMessage *pm = NULL;
	struct slb_sub *s = sub_reply(tok, &err, reply,
	    &siplb__v1__replay_answer__descriptor, &pm);
	Siplb__V1__ReplayAnswer *a;
	uint64_t first, from = 0, asked;
	size_t k = 0;

	if (s == NULL)
		return;
	a = (Siplb__V1__ReplayAnswer *)pm;
	if (err != 0 || a->status != SIPLB__V1__STATUS__STATUS_OK ||
	    a->epoch != s->hist_epoch) {
		s->st.history_lost++;
		slb_log_warn("%s: messages %llu..%llu not replayed (%s): the "
		    "snapshot holds their outcome, not their history", s->name,
		    (unsigned long long)s->hist_after + 1,
		    (unsigned long long)s->hist_upto,
		    err ? strerror(err)
			: a->epoch != s->hist_epoch ? "the publisher restarted"
			: a->error && *a->error ? a->error : "refused");
		slb_msg_free(pm);
		sub_finish_history(s);
		return;
	}
	asked = s->hist_after;
	for (size_t i = 0; i < a->n_messages; i++) {
		ProtobufCMessage *mp;
		Siplb__V1__BusMessage *m;
		nng_msg *raw;

		if (nng_msg_alloc(&raw, a->messages[i].len) != 0)
			break;
		memcpy(nng_msg_body(raw), a->messages[i].data,
		    a->messages[i].len);
		err = slb_msg_unpack(&siplb__v1__bus_message__descriptor, raw,
		    SLB_MSG_MAX, &mp);
		nng_msg_free(raw);
		if (err != 0) {
			s->st.dropped++;
			s->st.history_lost++;
			continue;
		}
		m = (Siplb__V1__BusMessage *)mp;
		if (m->epoch == s->hist_epoch && m->seq > s->hist_after &&
		    m->seq <= s->hist_upto) {
			if (k++ == 0)
				from = m->seq;
			s->ops->on_message(s->arg, m);
			s->st.replayed++;
			s->hist_after = m->seq;
		}
		slb_msg_free(mp);
	}
	/* a hole before the first one replayed: the ring had moved on (at
	 * our own start that is expected: we take what it has) */
	first = k ? from : a->oldest_seq ? a->oldest_seq : s->hist_upto + 1;
	if (first > asked + 1 && s->epoch != 0) {
		s->st.history_lost++;
		slb_log_warn("%s: messages %llu..%llu are no longer in the "
		    "publisher's ring: their history is lost", s->name,
		    (unsigned long long)asked + 1, (unsigned long long)(
		    first - 1 < s->hist_upto ? first - 1 : s->hist_upto));
	}
	if (k > 0)
		slb_log_info("%s: %zu missed messages replayed (%llu..%llu)",
		    s->name, k, (unsigned long long)from,
		    (unsigned long long)s->hist_after);
	if (a->more && k > 0) {
		slb_msg_free(pm);
		sub_request_replay(s);
		return;
	}
	slb_msg_free(pm);
	sub_finish_history(s);
}

static void
sub_request_replay(struct slb_sub *s)
{
	Siplb__V1__ReplayCall call = SIPLB__V1__REPLAY_CALL__INIT;
	Siplb__V1__ReplayRequest rq = SIPLB__V1__REPLAY_REQUEST__INIT;
	nng_msg *msg;

	if (s->hist_after >= s->hist_upto) {
		sub_finish_history(s);
		return;
	}
	call.replay = &rq;
	rq.epoch = s->hist_epoch;
	rq.after_seq = s->hist_after;
	rq.upto_seq = s->hist_upto;
	if (slb_msg_pack(&call.base, &msg) != 0 ||
	    slb_reqc_send(s->reqc, msg, SUB_SNAPSHOT_TIMEOUT_MS,
		sub_on_replay_reply, s->tok) != 0) {
		s->st.history_lost++;
		slb_log_warn("%s: cannot ask for a replay", s->name);
		sub_finish_history(s);
		return;
	}
	s->pending = 1;
}

static void
sub_on_snapshot_reply(void *arg, int err, nng_msg *reply)
{
	struct sub_token *tok = arg;
	ProtobufCMessage *pm = NULL;
	struct slb_sub *s = sub_reply(tok, &err, reply,
	    &siplb__v1__snapshot_answer__descriptor, &pm);
	Siplb__V1__SnapshotAnswer *ans;
	struct timeval tv = {0, SUB_RETRY_MS * 1000};

	if (s == NULL)
		return;
	if (err != 0) {
		/* a peer that is not up yet is normal at start: say it once */
		if (!s->quiet)
			slb_log_notice("%s: no snapshot yet (%s); will keep "
			    "asking", s->name, strerror(err));
		s->quiet = 1;
		evtimer_add(s->retry_ev, &tv);
		return;
	}
	s->quiet = 0;
	ans = (Siplb__V1__SnapshotAnswer *)pm;
	if (ans->status != SIPLB__V1__STATUS__STATUS_OK || ans->snapshot == NULL) {
		slb_log_warn("%s: snapshot refused: %s", s->name,
		    ans->error && *ans->error ? ans->error : "no snapshot");
		slb_msg_free(pm);
		evtimer_add(s->retry_ev, &tv);
		return;
	}
	if (s->ops->history) {
		/* what we missed first, then the snapshot */
		s->held = pm;
		s->hist_epoch = ans->snapshot->epoch;
		s->hist_upto = ans->snapshot->seq;
		s->hist_after = s->epoch == ans->snapshot->epoch ? s->seq : 0;
		sub_request_replay(s);
		return;
	}
	sub_apply_snapshot(s, ans->snapshot);
	slb_msg_free(pm);
}

static void
sub_request_snapshot(struct slb_sub *s)
{
	Siplb__V1__SnapshotCall call = SIPLB__V1__SNAPSHOT_CALL__INIT;
	Siplb__V1__SnapshotRequest rq = SIPLB__V1__SNAPSHOT_REQUEST__INIT;
	struct timeval tv = {0, SUB_RETRY_MS * 1000};
	nng_msg *msg;

	if (s->pending || s->reqc == NULL)
		return;
	call.snapshot = &rq;
	rq.stream = (char *)"";
	if (slb_msg_pack(&call.base, &msg) != 0 ||
	    slb_reqc_send(s->reqc, msg, SUB_SNAPSHOT_TIMEOUT_MS,
		sub_on_snapshot_reply, s->tok) != 0) {
		evtimer_add(s->retry_ev, &tv);
		return;
	}
	s->pending = 1;
}

/* A SUB socket dialing the publisher, read on the loop. */
static int
sub_connect(struct slb_sub *s)
{
	int rv, err;

	if ((rv = nng_sub0_open(&s->sock)) != 0)
		return slb_nng_errno(rv);
	nng_socket_set_size(s->sock, NNG_OPT_RECVMAXSZ, SLB_MSG_MAX);
	nng_socket_set(s->sock, NNG_OPT_SUB_SUBSCRIBE, "", 0);
	/* a deep queue: losing deltas costs a snapshot */
	nng_socket_set_int(s->sock, NNG_OPT_RECVBUF, 8192);
	nng_socket_set_ms(s->sock, NNG_OPT_RECONNMINT, 50);
	nng_socket_set_ms(s->sock, NNG_OPT_RECONNMAXT, 1000);
	rv = nng_dial(s->sock, s->pub_url, NULL, NNG_FLAG_NONBLOCK);
	if (rv != 0) {
		slb_log_err("%s: cannot dial %s: %s", s->name, s->pub_url,
		    nng_strerror(rv));
		nng_close(s->sock);
		return slb_nng_errno(rv);
	}
	if ((err = recv_fd_event(s->sock, s->base, sub_readable, s,
		 &s->ev)) != 0) {
		nng_close(s->sock);
		return err;
	}
	return 0;
}

static void
sub_watch(evutil_socket_t fd, short what, void *arg)
{
	struct slb_sub *s = arg;

	(void)fd;
	(void)what;
	/* what waits in the socket first: after the process itself stood
	 * still (stopped, paused), the publisher was not silent at all */
	if (s->ev != NULL)
		sub_readable(-1, 0, s);
	if (slb_now_us() - s->last_rx_us < SUB_SILENCE_US)
		return;
	slb_log_info("%s: nothing from %s for %u s: dialing again", s->name,
	    s->pub_url, SUB_SILENCE_US / 1000000u);
	if (s->ev != NULL) {
		event_free(s->ev);
		s->ev = NULL;
		slb_nng_close_off_loop(s->sock);
	}
	s->last_rx_us = slb_now_us();
	if (sub_connect(s) != 0)
		return;		/* tried again at the next watch */
	if (s->reqc != NULL)
		sub_resync(s, "publisher silent");
}

int
slb_sub_open(struct slb_sub **sp, struct event_base *base,
    struct slb_bridge *br, const char *name, const char *pub_url,
    const char *rep_url, const struct slb_sub_ops *ops, void *arg)
{
	struct slb_sub *s = calloc(1, sizeof(*s));
	int err = ENOMEM;

	if (s == NULL)
		return ENOMEM;
	snprintf(s->name, sizeof(s->name), "%s", name);
	s->base = base;
	s->ops = ops;
	s->arg = arg;
	s->tok = calloc(1, sizeof(*s->tok));
	if (s->tok == NULL) {
		free(s);
		return ENOMEM;
	}
	s->tok->s = s;
	snprintf(s->pub_url, sizeof(s->pub_url), "%s", pub_url);
	if ((err = sub_connect(s)) != 0) {
		free(s->tok);
		free(s);
		return err;
	}
	s->retry_ev = evtimer_new(base, sub_retry, s);
	s->watch_ev = event_new(base, -1, EV_PERSIST, sub_watch, s);
	if (s->retry_ev == NULL || s->watch_ev == NULL ||
	    event_add(s->watch_ev, &(struct timeval){1, 0}) != 0)
		goto fail;
	s->last_rx_us = slb_now_us();
	if (rep_url != NULL && *rep_url != '\0') {
		if ((err = slb_reqc_open(&s->reqc, br, rep_url, 1000)) != 0)
			goto fail;
		sub_request_snapshot(s);
	}
	*sp = s;
	return 0;
fail:
	slb_sub_close(s);
	return err;
}

void
slb_sub_get_stats(const struct slb_sub *s, struct slb_sub_stats *st)
{
	*st = s->st;
}

void
slb_sub_resync(struct slb_sub *s)
{
	if (s->reqc != NULL)
		sub_resync(s, "asked to resync");
}

int
slb_sub_synced(const struct slb_sub *s)
{
	return s->synced;
}

void
slb_sub_close(struct slb_sub *s)
{
	if (s == NULL)
		return;
	if (s->ev)
		event_free(s->ev);
	if (s->retry_ev)
		event_free(s->retry_ev);
	if (s->watch_ev)
		event_free(s->watch_ev);
	nng_close(s->sock);
	/* a pending request completes later with ECANCELED and frees tok */
	if (s->pending)
		s->tok->s = NULL;
	else
		free(s->tok);
	slb_reqc_close(s->reqc);
	sub_buf_clear(s);
	free(s->buf);
	slb_msg_free(s->held);
	free(s);
}

/* ------------------------------------------------------------ counters */

void
slb_counters_init(struct slb_counters *k, Siplb__V1__Counter *c,
    Siplb__V1__Counter **cp, size_t cap)
{
	siplb__v1__stats_reply__init(&k->sr);
	k->sr.counters = cp;
	k->c = c;
	k->cp = cp;
	k->cap = cap;
}

void
slb_counter_add(struct slb_counters *k, const char *name,
    const char *label, uint64_t v)
{
	Siplb__V1__Counter *c;

	if (k->sr.n_counters >= k->cap)
		return;
	c = &k->c[k->sr.n_counters];
	siplb__v1__counter__init(c);
	c->name = (char *)name;
	c->label = (char *)label;
	c->value = v;
	k->cp[k->sr.n_counters++] = c;
}

void
slb_counters_add_sub(struct slb_counters *k, const struct slb_sub *s,
    const char *label)
{
	struct slb_sub_stats st;

	slb_sub_get_stats(s, &st);
	slb_counter_add(k, "bus_received", label, st.received);
	slb_counter_add(k, "bus_gaps", label, st.gaps);
	slb_counter_add(k, "bus_restarts", label, st.restarts);
	slb_counter_add(k, "bus_resyncs", label, st.resyncs);
	slb_counter_add(k, "bus_dropped", label, st.dropped);
	slb_counter_add(k, "bus_replayed", label, st.replayed);
	slb_counter_add(k, "bus_history_lost", label, st.history_lost);
}
