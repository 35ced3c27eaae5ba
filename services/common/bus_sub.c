#define SLB_LOG_MODULE "bus"
#include "bus.h"

#include <errno.h>
#include <event2/event.h>
#include <nng/protocol/pubsub0/sub.h>
#include <stdlib.h>
#include <string.h>

#include "bus_priv.h"
#include "log.h"

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
	struct slb_reqc *reqc; /* NULL: no snapshots, gaps are only counted */
	const struct slb_sub_ops *ops;
	void *arg;

	int synced; /* have a base state to apply deltas to */
	int pending; /* a snapshot request is out */
	uint64_t epoch, seq; /* last applied */
	Siplb__V1__BusMessage **buf; /* deltas held while syncing */
	size_t nbuf, capbuf;
	int overflow;
	struct slb_sub_stats st;
	struct sub_token *tok; /* outlives us while a request is out */
	int quiet; /* failures already reported */
	char pub_url[256];
	uint64_t last_rx_us; /* anything heard from the publisher */
	struct event *watch_ev;
	/* history: the snapshot answer held while the replay runs */
	ProtobufCMessage *held;
	uint64_t hist_epoch, hist_after, hist_upto;
};

struct sub_token {
	struct slb_sub *s; /* NULL once the subscriber is closed */
};

static void sub_request_snapshot(struct slb_sub *s);
static void
sub_apply_snapshot(struct slb_sub *s, const Siplb__V1__Snapshot *snap);

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
		s->st.dropped++; /* duplicate or older than our state */
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
			slb_log_warn(
			    "%s: receive: %s", s->name, nng_strerror(rv));
			return;
		}
		s->last_rx_us = slb_now_us();
		err = slb_msg_unpack(&siplb__v1__bus_message__descriptor, msg,
		    SLB_MSG_MAX, &pm);
		nng_msg_free(msg);
		if (err != 0) {
			s->st.dropped++;
			slb_log_warn_errno(
			    err, "%s: message dropped", s->name);
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
	slb_log_info(
	    "%s: synced at seq %llu", s->name, (unsigned long long)s->seq);
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
	struct slb_sub *s = sub_reply(
	    tok, &err, reply, &siplb__v1__replay_answer__descriptor, &pm);
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
			     "snapshot holds their outcome, not their history",
		    s->name, (unsigned long long)s->hist_after + 1,
		    (unsigned long long)s->hist_upto,
		    err                             ? strerror(err)
			: a->epoch != s->hist_epoch ? "the publisher restarted"
			: a->error && *a->error     ? a->error
						    : "refused");
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
			     "publisher's ring: their history is lost",
		    s->name, (unsigned long long)asked + 1,
		    (unsigned long long)(first - 1 < s->hist_upto
			    ? first - 1
			    : s->hist_upto));
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
	struct slb_sub *s = sub_reply(
	    tok, &err, reply, &siplb__v1__snapshot_answer__descriptor, &pm);
	Siplb__V1__SnapshotAnswer *ans;
	struct timeval tv = { 0, SUB_RETRY_MS * 1000 };

	if (s == NULL)
		return;
	if (err != 0) {
		/* a peer that is not up yet is normal at start: say it once */
		if (!s->quiet)
			slb_log_notice("%s: no snapshot yet (%s); will keep "
				       "asking",
			    s->name, strerror(err));
		s->quiet = 1;
		evtimer_add(s->retry_ev, &tv);
		return;
	}
	s->quiet = 0;
	ans = (Siplb__V1__SnapshotAnswer *)pm;
	if (ans->status != SIPLB__V1__STATUS__STATUS_OK ||
	    ans->snapshot == NULL) {
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
	struct timeval tv = { 0, SUB_RETRY_MS * 1000 };
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
		err = slb_nng_errno(rv);
		goto out;
	}
	err = slb_bus_recv_fd_event(s->sock, s->base, sub_readable, s, &s->ev);
out:
	if (err != 0) {
		/* leave nothing half made: no event, no socket */
		if (s->ev != NULL)
			event_free(s->ev);
		s->ev = NULL;
		nng_close(s->sock);
		s->sock = (nng_socket)NNG_SOCKET_INITIALIZER;
	}
	return err;
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
		return; /* tried again at the next watch */
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
	snprintf(s->pub_url, sizeof(s->pub_url), "%s", pub_url);
	/* one cleanup path: slb_sub_close frees whatever was made so far,
	 * and err is set before every jump (it was 0 when evtimer_new
	 * failed, so the caller saw success with *sp unset) */
	s->tok = calloc(1, sizeof(*s->tok));
	if (s->tok == NULL)
		goto out;
	s->tok->s = s;
	if ((err = sub_connect(s)) != 0)
		goto out;
	err = ENOMEM;
	s->retry_ev = evtimer_new(base, sub_retry, s);
	s->watch_ev = event_new(base, -1, EV_PERSIST, sub_watch, s);
	if (s->retry_ev == NULL || s->watch_ev == NULL ||
	    event_add(s->watch_ev, &(struct timeval){ 1, 0 }) != 0)
		goto out;
	s->last_rx_us = slb_now_us();
	if (rep_url != NULL && *rep_url != '\0') {
		if ((err = slb_reqc_open(&s->reqc, br, rep_url, 1000)) != 0)
			goto out;
		sub_request_snapshot(s);
	}
	err = 0;
out:
	if (err != 0)
		slb_sub_close(s);
	else
		*sp = s;
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
