#define SLB_LOG_MODULE "bus"
#include "bus.h"

#include <errno.h>
#include <event2/event.h>
#include <nng/protocol/pubsub0/pub.h>
#include <stdlib.h>
#include <string.h>

#include "bus_priv.h"
#include "log.h"

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
	int keep; /* a REP replays from the ring: fill it */
	struct ring_ent *ring; /* PUB_RING_MSGS slots, oldest at head */
	size_t head, n, bytes;
	uint64_t replays;
};

void
slb_pub_keep_ring(struct slb_pub *p)
{
	p->keep = 1;
}

static struct ring_ent *
ring_at(struct slb_pub *p, size_t i) /* i-th oldest */
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
		return; /* no history: subscribers fall back on snapshots */
	if (nng_msg_dup(&copy, m) != 0)
		return;
	while (p->n > 0 &&
	    (p->n == PUB_RING_MSGS ||
		p->bytes + nng_msg_len(copy) > PUB_RING_BYTES))
		ring_drop_oldest(p);
	*ring_at(p, p->n) = (struct ring_ent){ seq, copy };
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
int
slb_pub_replay(struct slb_pub *p, const nng_msg *req, nng_msg **replyp)
{
	Siplb__V1__ReplayAnswer a = SIPLB__V1__REPLAY_ANSWER__INIT;
	ProtobufCBinaryData *bins = NULL;
	ProtobufCMessage *pm = NULL;
	const Siplb__V1__ReplayRequest *q;
	uint64_t after, upto;
	size_t i, k = 0, bytes = 0;
	int rc;

	rc = slb_msg_unpack(&siplb__v1__replay_call__descriptor,
	    (nng_msg *)req, SLB_MSG_MAX, &pm);
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
	if ((err = slb_bus_listen(p->sock, url)) != 0) {
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
	m.seq = p->seq; /* the last one used: heartbeats take none */
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
