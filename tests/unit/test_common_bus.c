/* The bus: numbered pub/sub with snapshot recovery, REP on the loop, async
 * and blocking requests.  Real inproc:// sockets and the real loop. */

#include <errno.h>
#include <event2/event.h>
#include <nng/nng.h>
#include <nng/protocol/pubsub0/pub.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus.h"
#include "unit.h"

struct fx {
	struct event_base *base;
	struct slb_bridge *br;
	nng_socket pub; /* a hand-driven publisher */
	struct slb_rep *rep; /* its snapshot REP */
	uint64_t snap_epoch, snap_seq;
	int snap_requests;
	int snap_refuse;
	/* what the subscriber saw */
	uint64_t got_seq[64];
	int ngot;
	int nsnap;
	uint64_t last_snap_seq;
	int got_at_snap; /* deltas seen when the last snapshot came */
	char url_pub[64], url_rep[64];
};

static int url_n;

static void
on_snapshot_req(void *arg, nng_msg *req, nng_msg **replyp)
{
	struct fx *f = arg;
	Siplb__V1__SnapshotAnswer a = SIPLB__V1__SNAPSHOT_ANSWER__INIT;
	Siplb__V1__Snapshot s = SIPLB__V1__SNAPSHOT__INIT;
	Siplb__V1__NodeTable t = SIPLB__V1__NODE_TABLE__INIT;

	(void)req;
	f->snap_requests++;
	if (f->snap_refuse) {
		a.status = SIPLB__V1__STATUS__STATUS_INTERNAL;
		a.error = "not now";
	} else {
		a.status = SIPLB__V1__STATUS__STATUS_OK;
		s.stream = "test";
		s.epoch = f->snap_epoch;
		s.seq = f->snap_seq;
		s.body_case = SIPLB__V1__SNAPSHOT__BODY_TABLE;
		s.table = &t;
		a.snapshot = &s;
	}
	assert_int_equal(slb_msg_pack(&a.base, replyp), 0);
}

static void
publish(struct fx *f, uint64_t epoch, uint64_t seq)
{
	Siplb__V1__BusMessage m = SIPLB__V1__BUS_MESSAGE__INIT;
	Siplb__V1__NodeHealth h = SIPLB__V1__NODE_HEALTH__INIT;
	nng_msg *msg;

	m.stream = "test";
	m.epoch = epoch;
	m.seq = seq;
	m.body_case = SIPLB__V1__BUS_MESSAGE__BODY_HEALTH;
	m.health = &h;
	assert_int_equal(slb_msg_pack(&m.base, &msg), 0);
	assert_int_equal(nng_sendmsg(f->pub, msg, 0), 0);
}

static void
sub_msg(void *arg, const Siplb__V1__BusMessage *m)
{
	struct fx *f = arg;

	if (f->ngot < 64)
		f->got_seq[f->ngot++] = m->seq;
}

static void
sub_snap(void *arg, const Siplb__V1__Snapshot *s)
{
	struct fx *f = arg;

	f->nsnap++;
	f->last_snap_seq = s->seq;
	f->got_at_snap = f->ngot;
}

static const struct slb_sub_ops ops = { sub_msg, sub_snap, 0 };
static const struct slb_sub_ops history_ops = { sub_msg, sub_snap, 1 };

/* Run the loop until cond(f) holds or ms pass; returns cond(f). */
static int
run_until(struct fx *f, int (*cond)(struct fx *), int ms)
{
	uint64_t end = slb_now_us() + (uint64_t)ms * 1000u;

	while (!cond(f) && slb_now_us() < end) {
		struct timeval tv = { 0, 5000 };

		event_base_loopexit(f->base, &tv);
		event_base_dispatch(f->base);
	}
	return cond(f);
}

static int
has_snap1(struct fx *f)
{
	return f->nsnap >= 1;
}
static int
has_snap2(struct fx *f)
{
	return f->nsnap >= 2;
}
static int
has_3(struct fx *f)
{
	return f->ngot >= 3;
}
static int
never(struct fx *f)
{
	(void)f;
	return 0;
}

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_int_equal(slb_loop_new(&f->base), 0);
	assert_int_equal(slb_bridge_new(&f->br, f->base), 0);
	url_n++;
	snprintf(f->url_pub, sizeof(f->url_pub), "inproc://pub%d", url_n);
	snprintf(f->url_rep, sizeof(f->url_rep), "inproc://rep%d", url_n);
	assert_int_equal(nng_pub0_open(&f->pub), 0);
	/* pub drops per subscriber when this queue is full */
	assert_int_equal(nng_socket_set_int(f->pub, NNG_OPT_SENDBUF, 1024), 0);
	assert_int_equal(nng_listen(f->pub, f->url_pub, NULL, 0), 0);
	assert_int_equal(
	    slb_rep_open(&f->rep, f->base, f->url_rep, on_snapshot_req, f), 0);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	slb_rep_close(f->rep);
	nng_close(f->pub);
	slb_bridge_free(f->br);
	slb_loop_free(f->base);
	free(f);
	return 0;
}

/* Wait for the subscriber's connection before publishing (pub/sub drops
 * what is sent before a subscriber is attached). */
static void
settle(struct fx *f)
{
	run_until(f, never, 50);
}

static void
test_subscriber_starts_from_snapshot_then_follows_deltas(void **state)
{
	struct fx *f = *state;
	struct slb_sub *s;
	struct slb_sub_stats st;

	f->snap_epoch = 7;
	f->snap_seq = 10;
	assert_int_equal(slb_sub_open(&s, f->base, f->br, "t", f->url_pub,
			     f->url_rep, &ops, f),
	    0);
	assert_true(run_until(f, has_snap1, 2000));
	assert_int_equal(f->last_snap_seq, 10);
	settle(f);
	publish(f, 7, 9); /* older than the snapshot: ignored */
	publish(f, 7, 10);
	publish(f, 7, 11);
	publish(f, 7, 12);
	publish(f, 7, 13);
	assert_true(run_until(f, has_3, 2000));
	assert_int_equal(f->ngot, 3);
	assert_int_equal(f->got_seq[0], 11);
	assert_int_equal(f->got_seq[2], 13);
	slb_sub_get_stats(s, &st);
	assert_int_equal(st.gaps, 0);
	assert_int_equal(st.resyncs, 1);
	assert_int_equal(st.dropped, 2);
	slb_sub_close(s);
}

static void
test_gap_triggers_snapshot_and_replays_what_follows(void **state)
{
	struct fx *f = *state;
	struct slb_sub *s;
	struct slb_sub_stats st;

	f->snap_epoch = 7;
	f->snap_seq = 10;
	assert_int_equal(slb_sub_open(&s, f->base, f->br, "t", f->url_pub,
			     f->url_rep, &ops, f),
	    0);
	assert_true(run_until(f, has_snap1, 2000));
	settle(f);
	publish(f, 7, 11);
	/* 12 and 13 lost; the publisher's state is now at 13 */
	f->snap_seq = 13;
	publish(f, 7, 14);
	publish(f, 7, 15);
	assert_true(run_until(f, has_3, 2000));
	assert_int_equal(f->nsnap, 2);
	assert_int_equal(f->got_seq[0], 11);
	assert_int_equal(f->got_seq[1], 14);
	assert_int_equal(f->got_seq[2], 15);
	slb_sub_get_stats(s, &st);
	assert_int_equal(st.gaps, 1);
	assert_int_equal(st.resyncs, 2);
	slb_sub_close(s);
}

static void
test_publisher_restart_is_detected_by_epoch(void **state)
{
	struct fx *f = *state;
	struct slb_sub *s;
	struct slb_sub_stats st;

	f->snap_epoch = 7;
	f->snap_seq = 3;
	assert_int_equal(slb_sub_open(&s, f->base, f->br, "t", f->url_pub,
			     f->url_rep, &ops, f),
	    0);
	assert_true(run_until(f, has_snap1, 2000));
	settle(f);
	/* restarted publisher: new epoch, numbering from 1 */
	f->snap_epoch = 8;
	f->snap_seq = 0;
	publish(f, 8, 1);
	assert_true(run_until(f, has_snap2, 2000));
	slb_sub_get_stats(s, &st);
	assert_int_equal(st.restarts, 1);
	/* the snapshot holds nothing yet, so seq 1 is replayed after it */
	assert_int_equal(f->ngot, 1);
	assert_int_equal(f->got_seq[0], 1);
	slb_sub_close(s);
}

/* A real publisher (slb_pub) whose REP answers snapshots by hand and
 * replays from the publisher's ring. */
struct real_pub {
	struct slb_pub *pub;
	struct slb_rep *rep;
	char url_pub[64], url_rep[64];
};

static void
real_pub_open(struct fx *f, struct real_pub *r)
{
	snprintf(r->url_pub, sizeof(r->url_pub), "inproc://rpub%d", url_n);
	snprintf(r->url_rep, sizeof(r->url_rep), "inproc://rrep%d", url_n);
	assert_int_equal(slb_pub_open(&r->pub, r->url_pub, "test"), 0);
	assert_int_equal(
	    slb_rep_open(&r->rep, f->base, r->url_rep, on_snapshot_req, f), 0);
	slb_rep_set_pub(r->rep, r->pub);
	f->snap_epoch = slb_pub_epoch(r->pub);
}

static void
real_publish(struct fx *f, struct real_pub *r)
{
	Siplb__V1__BusMessage m = SIPLB__V1__BUS_MESSAGE__INIT;
	Siplb__V1__NodeHealth h = SIPLB__V1__NODE_HEALTH__INIT;

	m.body_case = SIPLB__V1__BUS_MESSAGE__BODY_HEALTH;
	m.health = &h;
	assert_int_equal(slb_pub_send(r->pub, &m), 0);
	f->snap_seq = slb_pub_seq(r->pub); /* the state includes it */
}

static void
real_pub_close(struct real_pub *r)
{
	slb_rep_close(r->rep);
	slb_pub_close(r->pub);
}

static int
has_snap1_6(struct fx *f)
{
	return f->nsnap >= 1 && f->ngot >= 6;
}
static int
has_snap2_4(struct fx *f)
{
	return f->nsnap >= 2 && f->ngot >= 4;
}

static void
test_history_subscriber_gets_what_it_missed_replayed_before_the_snapshot(
    void **state)
{
	struct fx *f = *state;
	struct real_pub r;
	struct slb_sub *s;
	struct slb_sub_stats st;

	real_pub_open(f, &r);
	/* published while nobody listened: only the ring has them */
	for (int i = 0; i < 3; i++)
		real_publish(f, &r);
	assert_int_equal(slb_sub_open(&s, f->base, f->br, "t", r.url_pub,
			     r.url_rep, &history_ops, f),
	    0);
	assert_true(run_until(f, has_snap1, 2000));
	assert_int_equal(f->ngot, 3);
	assert_int_equal(f->got_at_snap, 3); /* before the snapshot */
	assert_int_equal(f->got_seq[0], 1);
	assert_int_equal(f->got_seq[2], 3);
	assert_int_equal(f->last_snap_seq, 3);
	settle(f);
	/* then live, without replays */
	for (int i = 0; i < 3; i++)
		real_publish(f, &r);
	assert_true(run_until(f, has_snap1_6, 2000));
	assert_int_equal(f->got_seq[5], 6);
	slb_sub_get_stats(s, &st);
	assert_int_equal(st.replayed, 3);
	assert_int_equal(st.history_lost, 0);
	assert_int_equal(st.gaps, 0);
	assert_int_equal(slb_pub_replays(r.pub), 1);
	slb_sub_close(s);
	real_pub_close(&r);
}

static void
test_gap_is_replayed_from_the_ring_and_a_hole_in_it_is_reported(void **state)
{
	struct fx *f = *state;
	struct real_pub r;
	struct slb_sub *s;
	struct slb_sub_stats st;

	real_pub_open(f, &r);
	assert_int_equal(slb_sub_open(&s, f->base, f->br, "t", r.url_pub,
			     r.url_rep, &history_ops, f),
	    0);
	assert_true(run_until(f, has_snap1, 2000));
	settle(f);
	real_publish(f, &r); /* 1 */
	real_publish(f, &r); /* 2 */
	slb_pub_skip(r.pub); /* 3: lost, and not in the ring */
	real_publish(f, &r); /* 4: a gap; replayed before snapshot 2 */
	real_publish(f, &r); /* 5 */
	assert_true(run_until(f, has_snap2_4, 2000));
	settle(f);
	assert_int_equal(f->got_seq[0], 1);
	assert_int_equal(f->got_seq[1], 2);
	assert_int_equal(f->got_seq[2], 4);
	assert_int_equal(f->got_seq[3], 5);
	assert_int_equal(f->ngot, 4);
	slb_sub_get_stats(s, &st);
	assert_int_equal(st.gaps, 1);
	assert_true(st.replayed >= 1);
	assert_int_equal(st.history_lost, 1); /* seq 3 */
	slb_sub_close(s);
	real_pub_close(&r);
}

static void
test_refused_snapshot_is_retried(void **state)
{
	struct fx *f = *state;
	struct slb_sub *s;

	f->snap_refuse = 1;
	assert_int_equal(slb_sub_open(&s, f->base, f->br, "t", f->url_pub,
			     f->url_rep, &ops, f),
	    0);
	run_until(f, never, 700);
	assert_int_equal(f->nsnap, 0);
	assert_true(f->snap_requests >= 2);
	assert_false(slb_sub_synced(s));
	f->snap_refuse = 0;
	assert_true(run_until(f, has_snap1, 2000));
	assert_true(slb_sub_synced(s));
	slb_sub_close(s);
}

static void
test_garbage_on_the_bus_is_counted_and_dropped(void **state)
{
	struct fx *f = *state;
	struct slb_sub *s;
	struct slb_sub_stats st;
	unsigned seed = 3;

	f->snap_epoch = 1;
	f->snap_seq = 0;
	assert_int_equal(slb_sub_open(&s, f->base, f->br, "t", f->url_pub,
			     f->url_rep, &ops, f),
	    0);
	assert_true(run_until(f, has_snap1, 2000));
	settle(f);
	for (int i = 0; i < 100; i++) {
		char buf[64];
		size_t len = 1 + (size_t)(rand_r(&seed) % sizeof(buf));

		for (size_t j = 0; j < len; j++)
			buf[j] = (char)rand_r(&seed);
		/* 0xff 0xff... is never a valid field key: force garbage */
		buf[0] = (char)0xff;
		nng_send(f->pub, buf, len, 0);
	}
	publish(f, 1, 1);
	publish(f, 1, 2);
	publish(f, 1, 3);
	assert_true(run_until(f, has_3, 2000));
	slb_sub_get_stats(s, &st);
	assert_int_equal(st.dropped, 100);
	assert_int_equal(f->got_seq[2], 3);
	slb_sub_close(s);
}

static void
test_silent_publisher_is_dialed_again_and_resynced(void **state)
{
	struct fx *f = *state;
	struct slb_sub *s;

	f->snap_epoch = 5;
	f->snap_seq = 1;
	assert_int_equal(slb_sub_open(&s, f->base, f->br, "t", f->url_pub,
			     f->url_rep, &ops, f),
	    0);
	assert_true(run_until(f, has_snap1, 2000));
	/* no message, not even a heartbeat, for longer than 3.5 s */
	assert_true(run_until(f, has_snap2, 6000));
	assert_int_equal(f->nsnap, 2);
	slb_sub_close(s);
}

struct reply_box {
	int done, err;
	nng_msg *msg;
};

static void
on_reply(void *arg, int err, nng_msg *reply)
{
	struct reply_box *b = arg;

	b->done = 1;
	b->err = err;
	b->msg = reply;
}

static struct reply_box *box_for_cond;
static int
box_done(struct fx *f)
{
	(void)f;
	return box_for_cond->done;
}

static void
test_async_request_gets_reply_on_the_loop(void **state)
{
	struct fx *f = *state;
	struct slb_reqc *rc;
	struct reply_box b = { 0 };
	Siplb__V1__SnapshotCall c = SIPLB__V1__SNAPSHOT_CALL__INIT;
	ProtobufCMessage *pm;
	nng_msg *m;

	f->snap_seq = 42;
	assert_int_equal(slb_reqc_open(&rc, f->br, f->url_rep, 1000), 0);
	assert_int_equal(slb_msg_pack(&c.base, &m), 0);
	assert_int_equal(slb_reqc_send(rc, m, 2000, on_reply, &b), 0);
	box_for_cond = &b;
	assert_true(run_until(f, box_done, 2000));
	assert_int_equal(b.err, 0);
	assert_int_equal(
	    slb_msg_unpack(&siplb__v1__snapshot_answer__descriptor, b.msg,
		SLB_MSG_MAX, &pm),
	    0);
	assert_int_equal(((Siplb__V1__SnapshotAnswer *)pm)->snapshot->seq, 42);
	slb_msg_free(pm);
	nng_msg_free(b.msg);
	slb_reqc_close(rc);
}

static void
test_async_request_to_nobody_times_out(void **state)
{
	struct fx *f = *state;
	struct slb_reqc *rc;
	struct reply_box b = { 0 };
	Siplb__V1__SnapshotCall c = SIPLB__V1__SNAPSHOT_CALL__INIT;
	nng_msg *m;
	uint64_t t0 = slb_now_us();

	assert_int_equal(slb_reqc_open(&rc, f->br, "inproc://nobody", 0), 0);
	assert_int_equal(slb_msg_pack(&c.base, &m), 0);
	assert_int_equal(slb_reqc_send(rc, m, 100, on_reply, &b), 0);
	box_for_cond = &b;
	assert_true(run_until(f, box_done, 2000));
	assert_int_equal(b.err, ETIMEDOUT);
	assert_null(b.msg);
	assert_in_range(slb_now_us() - t0, 90000, 1000000);
	slb_reqc_close(rc);
}

static void
test_blocking_call_to_nobody_times_out(void **state)
{
	Siplb__V1__SnapshotCall c = SIPLB__V1__SNAPSHOT_CALL__INIT;
	ProtobufCMessage *pm = NULL;

	(void)state;
	assert_int_equal(
	    slb_req_call("ipc:///tmp/siplb-test-nobody.sock", &c.base,
		&siplb__v1__snapshot_answer__descriptor, 150, 1, &pm),
	    ETIMEDOUT);
	assert_null(pm);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(x) cmocka_unit_test_setup_teardown(x, setup, teardown)
		T(test_subscriber_starts_from_snapshot_then_follows_deltas),
		T(test_gap_triggers_snapshot_and_replays_what_follows),
		T(test_publisher_restart_is_detected_by_epoch),
		T(test_history_subscriber_gets_what_it_missed_replayed_before_the_snapshot),
		T(test_gap_is_replayed_from_the_ring_and_a_hole_in_it_is_reported),
		T(test_refused_snapshot_is_retried),
		T(test_garbage_on_the_bus_is_counted_and_dropped),
		T(test_silent_publisher_is_dialed_again_and_resynced),
		T(test_async_request_gets_reply_on_the_loop),
		T(test_async_request_to_nobody_times_out),
		T(test_blocking_call_to_nobody_times_out),
	};

	return cmocka_run_group_tests_name("common_bus", tests, NULL, NULL);
}
