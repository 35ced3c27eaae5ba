/*
 * siplb-admin's API handlers (api.c, api_nodes.c) against a fake
 * scheduler: an nng REP in this process whose answers each test chooses.
 * Every HTTP status the handlers give: 200, 201, 400, 404, 405, 409, 500,
 * 502, 503, and the warnings of a change that reached one scheduler of
 * two.  (401 and 413 are http.c's, before any handler: the integration
 * test admin_api_controls_the_suite shows them on the real socket.)
 */
#include <errno.h>
#include <jansson.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <pthread.h>

#include "admin.h"
#include "lb.h"
#include "lb_pb.h"
#include "log.h"
#include "msg.h"
#include "unit.h"

/* What the fake scheduler answers: its status for every admin request,
 * or, for STATUS_OK, a table of two nodes (LIST) or the node asked for. */
struct fake {
	nng_socket sock;
	pthread_t th;
	volatile int stop;
	volatile Siplb__V1__Status status;
	volatile int requests;
	volatile Siplb__V1__AdminRequest__Op last_op;
	volatile int ops[8]; /* the admin ops asked, in order */
	volatile int nops;
	volatile int last_pause;
	struct lb_table table;
};

struct fx {
	struct adm a;
	struct fake sched;
	struct adm_reply rp;
};

static int seq;

static void
answer(struct fake *fk, const Siplb__V1__SchedRequest *q, nng_msg **out)
{
	Siplb__V1__SchedReply r = SIPLB__V1__SCHED_REPLY__INIT;
	Siplb__V1__AdminReply ar = SIPLB__V1__ADMIN_REPLY__INIT;
	const Siplb__V1__AdminRequest *aq = q->admin;
	const struct lb_node *n = NULL;

	r.status = fk->status;
	r.error = r.status == SIPLB__V1__STATUS__STATUS_OK ? "" : "said no";
	r.body_case = SIPLB__V1__SCHED_REPLY__BODY_ADMIN;
	r.admin = &ar;
	if (aq != NULL && fk->nops < 8)
		fk->ops[fk->nops++] = aq->op;
	if (aq != NULL && r.status == SIPLB__V1__STATUS__STATUS_OK) {
		fk->last_op = aq->op;
		fk->last_pause = aq->pause_inbound;
		if (aq->op == SIPLB__V1__ADMIN_REQUEST__OP__OP_LIST)
			ar.table = lb_pb_table(&fk->table);
		else if ((n = lb_table_find(&fk->table,
			      aq->node_id ? aq->node_id : 1)) != NULL)
			ar.node = lb_pb_node(n);
	}
	assert_int_equal(slb_msg_pack(&r.base, out), 0);
	lb_pb_table_free(ar.table);
	lb_pb_node_free(ar.node);
}

static void *
fake_run(void *arg)
{
	struct fake *fk = arg;

	while (!fk->stop) {
		ProtobufCMessage *pm = NULL;
		nng_msg *m, *out = NULL;

		if (nng_recvmsg(fk->sock, &m, 0) != 0)
			continue; /* the receive timeout: check stop */
		if (slb_msg_unpack(&siplb__v1__sched_request__descriptor, m,
			SLB_MSG_MAX, &pm) == 0) {
			fk->requests++;
			answer(fk, (Siplb__V1__SchedRequest *)pm, &out);
			slb_msg_free(pm);
		}
		nng_msg_free(m);
		if (out != NULL && nng_sendmsg(fk->sock, out, 0) != 0)
			nng_msg_free(out);
	}
	return NULL;
}

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	seq++;
	snprintf(f->a.sched[0], sizeof(f->a.sched[0]), "inproc://adm-sched-%d",
	    seq);
	f->a.nsched = 1;
	lb_table_init(&f->sched.table, 1);
	unit_add_node(
	    &f->sched.table, 1, "sip:10.0.0.1:5060", 1, 1, "pstn=500");
	unit_add_node(
	    &f->sched.table, 2, "sip:10.0.0.2:5060", 1, 1, "pstn=500");
	f->sched.status = SIPLB__V1__STATUS__STATUS_OK;
	assert_int_equal(nng_rep0_open(&f->sched.sock), 0);
	nng_socket_set_ms(f->sched.sock, NNG_OPT_RECVTIMEO, 50);
	assert_int_equal(nng_listen(f->sched.sock, f->a.sched[0], NULL, 0), 0);
	assert_int_equal(
	    pthread_create(&f->sched.th, NULL, fake_run, &f->sched), 0);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	f->sched.stop = 1;
	pthread_join(f->sched.th, NULL);
	nng_close(f->sched.sock);
	lb_table_free(&f->sched.table);
	json_decref(f->rp.json);
	free(f->rp.text);
	free(f);
	return 0;
}

/* method path [body]: the reply's status; f->rp holds the reply. */
static unsigned
call(struct fx *f, const char *method, const char *path, const char *body)
{
	json_decref(f->rp.json);
	free(f->rp.text);
	memset(&f->rp, 0, sizeof(f->rp));
	adm_api_handle(
	    &f->a, method, path, body, body ? strlen(body) : 0, NULL, &f->rp);
	return f->rp.status;
}

static const char *
error_of(const struct fx *f)
{
	json_t *e = f->rp.json ? json_object_get(f->rp.json, "error") : NULL;

	return e ? json_string_value(e) : "";
}

/* ------------------------------------------------------------ tests */

static void
test_node_list_and_one_node_are_200(void **state)
{
	struct fx *f = *state;
	json_t *nodes;

	assert_int_equal(call(f, "GET", "/api/v1/nodes", NULL), 200);
	nodes = json_object_get(f->rp.json, "nodes");
	assert_true(json_is_array(nodes));
	assert_int_equal(json_array_size(nodes), 2);
	assert_int_equal(call(f, "GET", "/api/v1/nodes/2", NULL), 200);
	assert_string_equal(
	    json_string_value(json_object_get(f->rp.json, "uri")),
	    "sip:10.0.0.2:5060");
}

static void
test_unknown_node_or_path_is_404(void **state)
{
	struct fx *f = *state;

	assert_int_equal(call(f, "GET", "/api/v1/nodes/9", NULL), 404);
	assert_non_null(strstr(error_of(f), "node 9 does not exist"));
	assert_int_equal(call(f, "GET", "/api/v1/nodes/abc", NULL), 404);
	assert_int_equal(call(f, "GET", "/api/v1/nodes/0", NULL), 404);
	assert_int_equal(call(f, "GET", "/api/v2/nodes", NULL), 404);
	assert_non_null(strstr(error_of(f), "no such path"));
	/* and what the scheduler says does not exist */
	f->sched.status = SIPLB__V1__STATUS__STATUS_NOT_FOUND;
	assert_int_equal(call(f, "DELETE", "/api/v1/nodes/7", NULL), 404);
	assert_string_equal(error_of(f), "said no");
}

static void
test_wrong_method_is_405_with_allow(void **state)
{
	struct fx *f = *state;

	assert_int_equal(call(f, "PUT", "/api/v1/nodes", "{}"), 405);
	assert_string_equal(f->rp.allow, "GET, HEAD, POST");
	assert_int_equal(call(f, "POST", "/api/v1/nodes/1", "{}"), 405);
	assert_string_equal(f->rp.allow, "GET, HEAD, PATCH, DELETE");
	assert_int_equal(call(f, "GET", "/api/v1/reload", NULL), 405);
	assert_string_equal(f->rp.allow, "POST");
	assert_int_equal(call(f, "DELETE", "/metrics", NULL), 405);
	assert_int_equal(f->sched.requests, 0); /* nothing was asked */
}

static void
test_add_is_201_and_bad_bodies_are_400_before_the_scheduler(void **state)
{
	struct fx *f = *state;
	static const char *bad[] = {
		"{\"uri\": ", /* not JSON */
		"[1, 2]", /* not an object */
		"{\"group\": 1}", /* no uri */
		"{\"uri\": 5}", /* uri not a string */
		"{\"uri\": \"sip:10.0.0.3\", \"weight\": -1}", /* out of range */
		"{\"uri\": \"sip:10.0.0.3\", \"colour\": \"red\"}", /* unknown */
		"{\"uri\": \"sip:10.0.0.3\", \"resources\": \"pstn\"}",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(
		    call(f, "POST", "/api/v1/nodes", bad[i]), 400);
		assert_true(strlen(error_of(f)) > 0);
	}
	assert_int_equal(f->sched.requests, 0);
	assert_int_equal(call(f, "POST", "/api/v1/nodes",
			     "{\"uri\": \"sip:10.0.0.1:5060\", \"group\": 1, "
			     "\"resources\": \"pstn=500\"}"),
	    201);
	assert_int_equal(
	    f->sched.last_op, SIPLB__V1__ADMIN_REQUEST__OP__OP_ADD);
	assert_null(json_object_get(f->rp.json, "warnings"));
}

static void
test_scheduler_refusals_map_to_400_409_500_502(void **state)
{
	struct fx *f = *state;
	static const struct {
		Siplb__V1__Status st;
		unsigned http;
	} map[] = {
		{ SIPLB__V1__STATUS__STATUS_BAD_REQUEST, 400 },
		{ SIPLB__V1__STATUS__STATUS_CONFLICT, 409 },
		{ SIPLB__V1__STATUS__STATUS_INTERNAL, 500 },
		{ SIPLB__V1__STATUS__STATUS_UNSUPPORTED_VERSION, 502 },
	};

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		f->sched.status = map[i].st;
		assert_int_equal(call(f, "POST", "/api/v1/nodes",
				     "{\"uri\": \"sip:10.0.0.9\"}"),
		    map[i].http);
		assert_string_equal(error_of(f), "said no");
		assert_int_equal(call(f, "PATCH", "/api/v1/nodes/1",
				     "{\"enabled\": false}"),
		    map[i].http);
		assert_string_equal(error_of(f), "said no");
	}
}

static void
test_patch_needs_a_known_field_and_is_200(void **state)
{
	struct fx *f = *state;

	assert_int_equal(call(f, "PATCH", "/api/v1/nodes/1", "{}"), 400);
	assert_int_equal(
	    call(f, "PATCH", "/api/v1/nodes/1", "{\"enabled\": \"no\"}"), 400);
	assert_int_equal(
	    call(f, "PATCH", "/api/v1/nodes/1", "{\"uri\": \"sip:x\"}"), 400);
	assert_int_equal(f->sched.requests, 0);
	assert_int_equal(
	    call(f, "PATCH", "/api/v1/nodes/1", "{\"enabled\": false}"), 200);
	assert_int_equal(
	    call(f, "POST", "/api/v1/reload", "{\"reset\": 1}"), 400);
	assert_int_equal(call(f, "POST", "/api/v1/reload", NULL), 200);
	assert_int_equal(
	    f->sched.last_op, SIPLB__V1__ADMIN_REQUEST__OP__OP_RELOAD);
}

static void
test_patch_of_several_fields_asks_in_order_and_stops_at_a_refusal(void **state)
{
	struct fx *f = *state;

	assert_int_equal(call(f, "PATCH", "/api/v1/nodes/1",
			     "{\"resources\": \"pstn=800\", \"weight\": 3, "
			     "\"enabled\": false, \"draining\": true, "
			     "\"pause_inbound\": true}"),
	    200);
	assert_int_equal(f->sched.nops, 4);
	assert_int_equal(
	    f->sched.ops[0], SIPLB__V1__ADMIN_REQUEST__OP__OP_RESIZE);
	assert_int_equal(
	    f->sched.ops[1], SIPLB__V1__ADMIN_REQUEST__OP__OP_UPDATE);
	assert_int_equal(
	    f->sched.ops[2], SIPLB__V1__ADMIN_REQUEST__OP__OP_DISABLE);
	assert_int_equal(
	    f->sched.ops[3], SIPLB__V1__ADMIN_REQUEST__OP__OP_DRAIN);
	assert_true(f->sched.last_pause);
	/* refused at the first step: nothing more is asked */
	f->sched.nops = 0;
	f->sched.status = SIPLB__V1__STATUS__STATUS_BAD_REQUEST;
	assert_int_equal(call(f, "PATCH", "/api/v1/nodes/1",
			     "{\"resources\": \"pstn=1\", \"enabled\": true}"),
	    400);
	assert_int_equal(f->sched.nops, 1);
}

static void
test_no_scheduler_answering_is_503(void **state)
{
	struct fx *f = *state;

	snprintf(
	    f->a.sched[0], sizeof(f->a.sched[0]), "inproc://nobody-%d", seq);
	assert_int_equal(call(f, "GET", "/api/v1/nodes", NULL), 503);
	assert_non_null(strstr(error_of(f), "no scheduler answered"));
	assert_int_equal(call(f, "DELETE", "/api/v1/nodes/1", NULL), 503);
}

static void
test_change_that_one_scheduler_missed_is_done_with_a_warning(void **state)
{
	struct fx *f = *state;
	json_t *w;

	snprintf(
	    f->a.sched[1], sizeof(f->a.sched[1]), "inproc://gone-%d", seq);
	f->a.nsched = 2;
	assert_int_equal(
	    call(f, "PATCH", "/api/v1/nodes/1", "{\"enabled\": true}"), 200);
	w = json_object_get(f->rp.json, "warnings");
	assert_true(json_is_array(w));
	assert_int_equal(json_array_size(w), 1);
	assert_non_null(strstr(json_string_value(json_array_get(w, 0)),
	    "does not have this change"));
}

int
main(void)
{
#define T(x) cmocka_unit_test_setup_teardown(x, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_node_list_and_one_node_are_200),
		T(test_unknown_node_or_path_is_404),
		T(test_wrong_method_is_405_with_allow),
		T(test_add_is_201_and_bad_bodies_are_400_before_the_scheduler),
		T(test_scheduler_refusals_map_to_400_409_500_502),
		T(test_patch_needs_a_known_field_and_is_200),
		T(test_patch_of_several_fields_asks_in_order_and_stops_at_a_refusal),
		T(test_no_scheduler_answering_is_503),
		T(test_change_that_one_scheduler_missed_is_done_with_a_warning),
	};
#undef T
	slb_log_configure("err", "daemon", 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
