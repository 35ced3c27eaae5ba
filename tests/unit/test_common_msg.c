
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "msg.h"
#include "unit.h"

/*
 * Message framing (services/common/msg.c): protobuf-c bodies in nng
 * messages, with the `version` check every top-level message gets.  The
 * fuzz tests are seeded (FUZZ_SEED) so a crash replays exactly.
 */

#define FUZZ_SEED 0x51b1b5eedULL
#define FUZZ_ROUNDS 100000
#define FUZZ_MAXLEN 512
#define MUTATE_ROUNDS 30000

#define D_SCHED_REQ (&siplb__v1__sched_request__descriptor)
#define D_BUS (&siplb__v1__bus_message__descriptor)
#define D_DIALOGD_REP (&siplb__v1__dialogd_reply__descriptor)
#define D_SNAP_REQ (&siplb__v1__snapshot_request__descriptor)
#define D_EDGE_REQ (&siplb__v1__edge_request__descriptor)
#define D_DIALOGD_REQ (&siplb__v1__dialogd_request__descriptor)
#define D_SNAP_ANS (&siplb__v1__snapshot_answer__descriptor)

/* What a test allocated, freed in teardown even when an assert fails. */
struct fixture {
	nng_msg *msg;
	ProtobufCMessage *out;
	uint8_t *buf;
};

UNIT_CALLOC_SETUP(setup, struct fixture)

static int
teardown(void **state)
{
	struct fixture *f = *state;

	if (f->msg != NULL)
		nng_msg_free(f->msg);
	slb_msg_free(f->out);
	free(f->buf);
	free(f);
	return 0;
}

/* splitmix64: the same stream on every libc. */
static uint64_t
rnd(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Pack with protobuf-c alone, leaving `version` as the caller set it. */
static uint8_t *
raw_pack(const ProtobufCMessage *m, size_t *lenp)
{
	size_t len = protobuf_c_message_get_packed_size(m);
	uint8_t *buf = malloc(len ? len : 1);

	assert_non_null(buf);
	assert_int_equal(protobuf_c_message_pack(m, buf), len);
	*lenp = len;
	return buf;
}

/* ------------------------------------------------------------ samples */

static char *select_resources[] = { "pstn", "vm" };
static uint32_t select_exclude[] = { 3, 5, 4000000000u };

static void
sample_select(Siplb__V1__SchedRequest *req, Siplb__V1__SelectRequest *sel)
{
	siplb__v1__sched_request__init(req);
	siplb__v1__select_request__init(sel);
	sel->algorithm = "least-load";
	sel->group = 7;
	sel->n_resources = 2;
	sel->resources = select_resources;
	sel->key = "edge1:call-42@host:tag9";
	sel->hash_key = "call-42@host";
	sel->n_exclude = 3;
	sel->exclude = select_exclude;
	sel->max_results = 2;
	sel->overcommit = 1;
	sel->relative = 0;
	sel->reserve = 1;
	sel->tie_first = 1;
	req->body_case = SIPLB__V1__SCHED_REQUEST__BODY_SELECT;
	req->select = sel;
}

/*
 * A valid packed message for each decoder the fuzz tests feed, with
 * nested messages, repeated fields and strings so truncations and
 * mutations reach every wire type.
 */
static uint8_t *
packed_sample(const ProtobufCMessageDescriptor *desc, size_t *lenp)
{
	static char *dres[] = { "pstn" };
	Siplb__V1__SchedRequest req;
	Siplb__V1__SelectRequest sel;
	Siplb__V1__BusMessage bus = SIPLB__V1__BUS_MESSAGE__INIT;
	Siplb__V1__NodeTable table = SIPLB__V1__NODE_TABLE__INIT;
	Siplb__V1__Node n1 = SIPLB__V1__NODE__INIT, n2 = SIPLB__V1__NODE__INIT;
	Siplb__V1__Node *nodes[] = { &n1, &n2 };
	Siplb__V1__Resource r1 = SIPLB__V1__RESOURCE__INIT;
	Siplb__V1__Resource *res[] = { &r1 };
	Siplb__V1__DialogdReply rep = SIPLB__V1__DIALOGD_REPLY__INIT;
	Siplb__V1__DialogEvent d1 = SIPLB__V1__DIALOG_EVENT__INIT;
	Siplb__V1__DialogEvent *dialogs[] = { &d1 };
	Siplb__V1__DialogCount c1 = SIPLB__V1__DIALOG_COUNT__INIT;
	Siplb__V1__DialogCount *counts[] = { &c1 };
	Siplb__V1__Snapshot snap = SIPLB__V1__SNAPSHOT__INIT;

	if (desc == D_SCHED_REQ) {
		sample_select(&req, &sel);
		req.version = SLB_PROTO_VERSION;
		return raw_pack(&req.base, lenp);
	}
	if (desc == D_BUS) {
		r1.name = "pstn";
		r1.capacity = 500;
		r1.load = -3;
		n1.id = 1;
		n1.uri = "sip:10.0.0.1:5060;transport=tcp";
		n1.n_resources = 1;
		n1.resources = res;
		n1.weight = 10;
		n1.priority = -1;
		n1.enabled = 1;
		n1.up = 1;
		n1.selected = 1ULL << 40;
		n2.id = 2;
		n2.uri = "sip:10.0.0.2";
		table.n_nodes = 2;
		table.nodes = nodes;
		bus.version = SLB_PROTO_VERSION;
		bus.stream = "scheduler";
		bus.epoch = 1700000000123456ULL;
		bus.seq = 42;
		bus.body_case = SIPLB__V1__BUS_MESSAGE__BODY_TABLE;
		bus.table = &table;
		return raw_pack(&bus.base, lenp);
	}
	assert_ptr_equal(desc, D_DIALOGD_REP);
	d1.key = "k1";
	d1.state = SIPLB__V1__DIALOG_STATE__DIALOG_CONFIRMED;
	d1.node_id = 9;
	d1.n_resources = 1;
	d1.resources = dres;
	d1.call_id = "abc@host";
	d1.created_us = 123456789;
	c1.node_id = 9;
	c1.resource = "pstn";
	c1.count = 17;
	snap.stream = "dialogd";
	snap.epoch = 5;
	snap.seq = 6;
	rep.version = SLB_PROTO_VERSION;
	rep.status = SIPLB__V1__STATUS__STATUS_OK;
	rep.error = "none";
	rep.n_dialogs = 1;
	rep.dialogs = dialogs;
	rep.n_counts = 1;
	rep.counts = counts;
	rep.snapshot = &snap;
	return raw_pack(&rep.base, lenp);
}

static const ProtobufCMessageDescriptor *const fuzzed[] = {
	D_SCHED_REQ,
	D_BUS,
	D_DIALOGD_REP,
};
#define N_FUZZED (sizeof(fuzzed) / sizeof(fuzzed[0]))

/*
 * One decode of untrusted bytes: 0 with a supported version, or EBADMSG /
 * EPROTONOSUPPORT with nothing allocated.  Returns the result.
 */
static int
unpack_untrusted(
    const ProtobufCMessageDescriptor *desc, const uint8_t *buf, size_t len)
{
	ProtobufCMessage *m = NULL;
	int rc;

	rc = slb_msg_unpack_buf(desc, buf, len, SLB_MSG_MAX, &m);
	if (rc == 0) {
		assert_non_null(m);
		assert_ptr_equal(m->descriptor, desc);
		assert_int_equal(slb_msg_version(m), SLB_PROTO_VERSION);
		slb_msg_free(m);
		return rc;
	}
	if (rc != EBADMSG && rc != EPROTONOSUPPORT)
		fail_msg("unpack of %zu bytes as %s: unexpected %d", len,
		    desc->name, rc);
	assert_null(m);
	return rc;
}

/* ------------------------------------------------------------ pack */

static void
test_pack_unpack_round_trips_select_request(void **state)
{
	struct fixture *f = *state;
	Siplb__V1__SchedRequest req, *got;
	Siplb__V1__SelectRequest sel, *s;

	sample_select(&req, &sel);
	assert_int_equal(slb_msg_pack(&req.base, &f->msg), 0);
	assert_non_null(f->msg);
	assert_int_equal(nng_msg_len(f->msg),
	    protobuf_c_message_get_packed_size(&req.base));
	assert_int_equal(
	    slb_msg_unpack(D_SCHED_REQ, f->msg, SLB_MSG_MAX, &f->out), 0);

	got = (Siplb__V1__SchedRequest *)f->out;
	assert_ptr_equal(got->base.descriptor, D_SCHED_REQ);
	assert_int_equal(got->version, SLB_PROTO_VERSION);
	assert_int_equal(
	    got->body_case, SIPLB__V1__SCHED_REQUEST__BODY_SELECT);
	s = got->select;
	assert_non_null(s);
	assert_string_equal(s->algorithm, "least-load");
	assert_int_equal(s->group, 7);
	assert_int_equal(s->n_resources, 2);
	assert_string_equal(s->resources[0], "pstn");
	assert_string_equal(s->resources[1], "vm");
	assert_string_equal(s->key, "edge1:call-42@host:tag9");
	assert_string_equal(s->hash_key, "call-42@host");
	assert_int_equal(s->n_exclude, 3);
	assert_int_equal(s->exclude[0], 3);
	assert_int_equal(s->exclude[1], 5);
	assert_int_equal(s->exclude[2], 4000000000u);
	assert_int_equal(s->max_results, 2);
	assert_int_equal(s->overcommit, 1);
	assert_int_equal(s->relative, 0);
	assert_int_equal(s->reserve, 1);
	assert_int_equal(s->tie_first, 1);
	/* unpacking leaves the nng message to its owner, unchanged */
	assert_int_equal(nng_msg_len(f->msg),
	    protobuf_c_message_get_packed_size(&req.base));
}

static void
test_pack_sets_version_to_proto_version(void **state)
{
	struct fixture *f = *state;
	Siplb__V1__SchedRequest req = SIPLB__V1__SCHED_REQUEST__INIT;
	Siplb__V1__BusMessage bus = SIPLB__V1__BUS_MESSAGE__INIT;

	assert_int_equal(slb_msg_version(&req.base), 0);
	assert_int_equal(slb_msg_pack(&req.base, &f->msg), 0);
	assert_int_equal(req.version, SLB_PROTO_VERSION);
	assert_int_equal(slb_msg_version(&req.base), SLB_PROTO_VERSION);
	/* field 1, varint: 0x08 0x01 */
	assert_int_equal(nng_msg_len(f->msg), 2);
	assert_memory_equal(nng_msg_body(f->msg), "\x08\x01", 2);
	nng_msg_free(f->msg);
	f->msg = NULL;

	/* a caller's stale or foreign version is overwritten too */
	bus.version = 99;
	bus.stream = "edge:1";
	assert_int_equal(slb_msg_pack(&bus.base, &f->msg), 0);
	assert_int_equal(bus.version, SLB_PROTO_VERSION);
	assert_int_equal(
	    slb_msg_unpack(D_BUS, f->msg, SLB_MSG_MAX, &f->out), 0);
	assert_int_equal(slb_msg_version(f->out), SLB_PROTO_VERSION);
	assert_string_equal(
	    ((Siplb__V1__BusMessage *)f->out)->stream, "edge:1");
}

static void
test_pack_and_unpack_message_without_version_field(void **state)
{
	struct fixture *f = *state;
	Siplb__V1__SnapshotRequest sr = SIPLB__V1__SNAPSHOT_REQUEST__INIT;
	Siplb__V1__SnapshotRequest empty = SIPLB__V1__SNAPSHOT_REQUEST__INIT;

	sr.stream = "prober:0/2";
	assert_int_equal(slb_msg_pack(&sr.base, &f->msg), 0);
	assert_int_equal(slb_msg_version(&sr.base), 0);
	assert_int_equal(
	    slb_msg_unpack(D_SNAP_REQ, f->msg, SLB_MSG_MAX, &f->out), 0);
	assert_string_equal(
	    ((Siplb__V1__SnapshotRequest *)f->out)->stream, "prober:0/2");
	nng_msg_free(f->msg);
	f->msg = NULL;

	/* an empty body is a valid empty message */
	assert_int_equal(slb_msg_pack(&empty.base, &f->msg), 0);
	assert_int_equal(nng_msg_len(f->msg), 0);
	slb_msg_free(f->out);
	f->out = NULL;
	assert_int_equal(
	    slb_msg_unpack(D_SNAP_REQ, f->msg, SLB_MSG_MAX, &f->out), 0);
	assert_string_equal(
	    ((Siplb__V1__SnapshotRequest *)f->out)->stream, "");
}

/* ------------------------------------------------------------ unpack */

static void
test_unpack_refuses_unsupported_versions(void **state)
{
	struct fixture *f = *state;
	static const uint32_t bad[] = { 0, SLB_PROTO_VERSION + 1, 99,
		UINT32_MAX };
	Siplb__V1__SchedRequest req;
	Siplb__V1__SelectRequest sel;
	ProtobufCMessage *m;
	size_t len;

	sample_select(&req, &sel);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		req.version = bad[i];
		f->buf = raw_pack(&req.base, &len);
		m = NULL;
		assert_int_equal(slb_msg_unpack_buf(D_SCHED_REQ, f->buf, len,
				     SLB_MSG_MAX, &m),
		    EPROTONOSUPPORT);
		assert_null(m);
		free(f->buf);
		f->buf = NULL;
	}

	/* the same bytes at version 1 are fine */
	req.version = SLB_PROTO_VERSION;
	f->buf = raw_pack(&req.base, &len);
	assert_int_equal(
	    slb_msg_unpack_buf(D_SCHED_REQ, f->buf, len, SLB_MSG_MAX, &f->out),
	    0);
}

static void
test_unpack_refuses_body_over_max_with_e2big(void **state)
{
	struct fixture *f = *state;
	Siplb__V1__SchedRequest req;
	Siplb__V1__SelectRequest sel;
	ProtobufCMessage *m = NULL;
	size_t len;

	sample_select(&req, &sel);
	assert_int_equal(slb_msg_pack(&req.base, &f->msg), 0);
	len = nng_msg_len(f->msg);
	assert_int_equal(
	    slb_msg_unpack(D_SCHED_REQ, f->msg, len - 1, &m), E2BIG);
	assert_null(m);
	assert_int_equal(slb_msg_unpack(D_SCHED_REQ, f->msg, 0, &m), E2BIG);
	assert_null(m);
	/* exactly max is allowed */
	assert_int_equal(slb_msg_unpack(D_SCHED_REQ, f->msg, len, &f->out), 0);

	/* the size check comes before any decoding: zeroes would be valid */
	f->buf = calloc(1, SLB_MSG_MAX + 1);
	assert_non_null(f->buf);
	assert_int_equal(slb_msg_unpack_buf(
			     D_BUS, f->buf, SLB_MSG_MAX + 1, SLB_MSG_MAX, &m),
	    E2BIG);
	assert_null(m);
}

static void
test_unpack_rejects_garbage_without_crash(void **state)
{
	uint64_t seed = FUZZ_SEED;
	uint8_t buf[FUZZ_MAXLEN];
	unsigned ok[N_FUZZED] = { 0 }, bad[N_FUZZED] = { 0 };

	for (int i = 0; i < FUZZ_ROUNDS; i++) {
		size_t len = (size_t)(rnd(&seed) % (FUZZ_MAXLEN + 1));

		for (size_t j = 0; j < len; j += 8) {
			uint64_t r = rnd(&seed);

			memcpy(buf + j, &r, len - j < 8 ? len - j : 8);
		}
		for (size_t d = 0; d < N_FUZZED; d++) {
			if (unpack_untrusted(fuzzed[d], buf, len) == 0)
				ok[d]++;
			else
				bad[d]++;
		}
	}
	for (size_t d = 0; d < N_FUZZED; d++) {
		assert_int_equal(ok[d] + bad[d], FUZZ_ROUNDS);
		/* random bytes are almost never a version 1 message */
		assert_true(bad[d] > ok[d]);
	}
}

static void
test_unpack_rejects_every_truncation_without_crash(void **state)
{
	struct fixture *f = *state;
	size_t len;

	for (size_t d = 0; d < N_FUZZED; d++) {
		f->buf = packed_sample(fuzzed[d], &len);
		assert_true(len > 40);
		/* no bytes: no version, so version 0 */
		assert_int_equal(
		    unpack_untrusted(fuzzed[d], f->buf, 0), EPROTONOSUPPORT);
		for (size_t l = 1; l < len; l++) {
			/* a fresh copy of exactly l bytes, so ASan sees any
			 * read past the cut */
			uint8_t *cut = malloc(l);

			assert_non_null(cut);
			memcpy(cut, f->buf, l);
			unpack_untrusted(fuzzed[d], cut, l);
			free(cut);
		}
		assert_int_equal(unpack_untrusted(fuzzed[d], f->buf, len), 0);
		/* cut inside the last field: never a whole message */
		assert_int_equal(
		    unpack_untrusted(fuzzed[d], f->buf, len - 1), EBADMSG);
		free(f->buf);
		f->buf = NULL;
	}
}

static void
test_unpack_survives_mutated_valid_messages(void **state)
{
	uint64_t seed = FUZZ_SEED ^ 0xa5a5a5a5ULL;
	uint8_t *orig[N_FUZZED], buf[FUZZ_MAXLEN];
	size_t olen[N_FUZZED];

	for (size_t d = 0; d < N_FUZZED; d++) {
		orig[d] = packed_sample(fuzzed[d], &olen[d]);
		assert_true(olen[d] <= FUZZ_MAXLEN);
	}
	for (int i = 0; i < MUTATE_ROUNDS; i++) {
		size_t d = (size_t)(rnd(&seed) % N_FUZZED);
		size_t len = olen[d];
		int flips = 1 + (int)(rnd(&seed) % 4);

		memcpy(buf, orig[d], len);
		for (int k = 0; k < flips; k++) {
			uint64_t r = rnd(&seed);

			buf[r % len] = (uint8_t)(r >> 32);
		}
		/* sometimes also cut or extend with junk */
		if (rnd(&seed) % 4 == 0)
			len = (size_t)(rnd(&seed) % (FUZZ_MAXLEN + 1));
		if (len > olen[d])
			for (size_t j = olen[d]; j < len; j++)
				buf[j] = (uint8_t)rnd(&seed);
		unpack_untrusted(fuzzed[d], buf, len);
	}
	for (size_t d = 0; d < N_FUZZED; d++)
		free(orig[d]);
}

static void
test_msg_free_accepts_null(void **state)
{
	slb_msg_free(NULL);
}

/* ------------------------------------------------------------ errors */

static void
test_nng_errno_maps_nng_errors_to_errno(void **state)
{
	assert_int_equal(slb_nng_errno(0), 0);
	assert_int_equal(slb_nng_errno(NNG_ETIMEDOUT), ETIMEDOUT);
	assert_int_equal(slb_nng_errno(NNG_ECONNREFUSED), ECONNREFUSED);
	assert_int_equal(slb_nng_errno(NNG_ENOMEM), ENOMEM);
	assert_int_equal(slb_nng_errno(NNG_EADDRINUSE), EADDRINUSE);
	assert_int_equal(slb_nng_errno(NNG_ECLOSED), EBADF);
	assert_int_equal(slb_nng_errno(NNG_EMSGSIZE), EMSGSIZE);
	/* nng wraps system errors; the errno inside comes back */
	assert_int_equal(slb_nng_errno(NNG_ESYSERR | EACCES), EACCES);
	/* anything else is an I/O error, never 0 */
	assert_int_equal(slb_nng_errno(NNG_EINTERNAL), EIO);
	assert_int_equal(slb_nng_errno(NNG_ETRANERR | 1), EIO);
}

/* ------------------------------------------------------------ wire */

static void
test_snapshot_call_decodes_as_every_service_request(void **state)
{
	struct fixture *f = *state;
	Siplb__V1__SnapshotCall call = SIPLB__V1__SNAPSHOT_CALL__INIT;
	Siplb__V1__SnapshotRequest sr = SIPLB__V1__SNAPSHOT_REQUEST__INIT;
	Siplb__V1__SchedRequest *sq;
	Siplb__V1__EdgeRequest *eq;
	Siplb__V1__DialogdRequest *dq;

	sr.stream = "dialogd";
	call.snapshot = &sr;
	assert_int_equal(slb_msg_pack(&call.base, &f->msg), 0);

	assert_int_equal(
	    slb_msg_unpack(D_SCHED_REQ, f->msg, SLB_MSG_MAX, &f->out), 0);
	sq = (Siplb__V1__SchedRequest *)f->out;
	assert_int_equal(sq->version, SLB_PROTO_VERSION);
	assert_int_equal(
	    sq->body_case, SIPLB__V1__SCHED_REQUEST__BODY_SNAPSHOT);
	assert_string_equal(sq->snapshot->stream, "dialogd");
	slb_msg_free(f->out);
	f->out = NULL;

	assert_int_equal(
	    slb_msg_unpack(D_EDGE_REQ, f->msg, SLB_MSG_MAX, &f->out), 0);
	eq = (Siplb__V1__EdgeRequest *)f->out;
	assert_int_equal(eq->version, SLB_PROTO_VERSION);
	assert_int_equal(
	    eq->body_case, SIPLB__V1__EDGE_REQUEST__BODY_SNAPSHOT);
	assert_string_equal(eq->snapshot->stream, "dialogd");
	slb_msg_free(f->out);
	f->out = NULL;

	assert_int_equal(
	    slb_msg_unpack(D_DIALOGD_REQ, f->msg, SLB_MSG_MAX, &f->out), 0);
	dq = (Siplb__V1__DialogdRequest *)f->out;
	assert_int_equal(dq->version, SLB_PROTO_VERSION);
	assert_int_equal(
	    dq->body_case, SIPLB__V1__DIALOGD_REQUEST__BODY_SNAPSHOT);
	assert_string_equal(dq->snapshot->stream, "dialogd");
}

/* And back: each service's reply reads as a SnapshotAnswer. */
static void
check_answer(struct fixture *f, ProtobufCMessage *reply, const char *stream)
{
	Siplb__V1__SnapshotAnswer *a;

	assert_int_equal(slb_msg_pack(reply, &f->msg), 0);
	assert_int_equal(
	    slb_msg_unpack(D_SNAP_ANS, f->msg, SLB_MSG_MAX, &f->out), 0);
	a = (Siplb__V1__SnapshotAnswer *)f->out;
	assert_int_equal(a->version, SLB_PROTO_VERSION);
	assert_int_equal(a->status, SIPLB__V1__STATUS__STATUS_NOT_FOUND);
	assert_string_equal(a->error, "partial");
	assert_non_null(a->snapshot);
	assert_string_equal(a->snapshot->stream, stream);
	assert_int_equal(a->snapshot->epoch, 1700000000000001ULL);
	assert_int_equal(a->snapshot->seq, 77);
	assert_int_equal(
	    a->snapshot->body_case, SIPLB__V1__SNAPSHOT__BODY_TABLE);
	assert_int_equal(a->snapshot->table->n_nodes, 1);
	assert_int_equal(a->snapshot->table->nodes[0]->id, 12);
	slb_msg_free(f->out);
	f->out = NULL;
	nng_msg_free(f->msg);
	f->msg = NULL;
}

static void
test_service_replies_decode_as_snapshot_answer(void **state)
{
	struct fixture *f = *state;
	Siplb__V1__Node n = SIPLB__V1__NODE__INIT;
	Siplb__V1__Node *nodes[] = { &n };
	Siplb__V1__NodeTable t = SIPLB__V1__NODE_TABLE__INIT;
	Siplb__V1__Snapshot snap = SIPLB__V1__SNAPSHOT__INIT;
	Siplb__V1__SchedReply sr = SIPLB__V1__SCHED_REPLY__INIT;
	Siplb__V1__EdgeReply er = SIPLB__V1__EDGE_REPLY__INIT;
	Siplb__V1__DialogdReply dr = SIPLB__V1__DIALOGD_REPLY__INIT;

	n.id = 12;
	n.uri = "sip:10.0.0.12";
	t.n_nodes = 1;
	t.nodes = nodes;
	snap.epoch = 1700000000000001ULL;
	snap.seq = 77;
	snap.body_case = SIPLB__V1__SNAPSHOT__BODY_TABLE;
	snap.table = &t;

	snap.stream = "scheduler";
	sr.status = SIPLB__V1__STATUS__STATUS_NOT_FOUND;
	sr.error = "partial";
	sr.body_case = SIPLB__V1__SCHED_REPLY__BODY_SNAPSHOT;
	sr.snapshot = &snap;
	check_answer(f, &sr.base, "scheduler");

	snap.stream = "edge:1";
	er.status = SIPLB__V1__STATUS__STATUS_NOT_FOUND;
	er.error = "partial";
	er.body_case = SIPLB__V1__EDGE_REPLY__BODY_SNAPSHOT;
	er.snapshot = &snap;
	check_answer(f, &er.base, "edge:1");

	snap.stream = "dialogd";
	dr.status = SIPLB__V1__STATUS__STATUS_NOT_FOUND;
	dr.error = "partial";
	dr.snapshot = &snap;
	check_answer(f, &dr.base, "dialogd");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_pack_unpack_round_trips_select_request),
		T(test_pack_sets_version_to_proto_version),
		T(test_pack_and_unpack_message_without_version_field),
		T(test_unpack_refuses_unsupported_versions),
		T(test_unpack_refuses_body_over_max_with_e2big),
		T(test_unpack_rejects_garbage_without_crash),
		T(test_unpack_rejects_every_truncation_without_crash),
		T(test_unpack_survives_mutated_valid_messages),
		T(test_msg_free_accepts_null),
		T(test_nng_errno_maps_nng_errors_to_errno),
		T(test_snapshot_call_decodes_as_every_service_request),
		T(test_service_replies_decode_as_snapshot_answer),
#undef T
	};

	return cmocka_run_group_tests_name("common_msg", tests, NULL, NULL);
}
