
#include <errno.h>
#include <string.h>

#include "dialog.h"
#include "lb_pb.h"
#include "unit.h"

/*
 * The dialog contract (services/common/dialog.c) and the SelectRequest
 * conversions (services/lb/lb_pb.c): what goes onto the bus comes back
 * as it was, and what a service cannot hold is refused, not cut.
 */

static Siplb__V1__DialogEvent
sample_event(char **res)
{
	Siplb__V1__DialogEvent e = SIPLB__V1__DIALOG_EVENT__INIT;

	res[0] = "pstn";
	res[1] = "vm";
	e.key = "00112233aabbccdd";
	e.state = SIPLB__V1__DIALOG_STATE__DIALOG_TERMINATED;
	e.node_id = 7;
	e.group = 2;
	e.resources = res;
	e.n_resources = 2;
	e.edge = "edge:1";
	e.call_id = "abc@host";
	e.from_tag = "ft";
	e.to_tag = "tt";
	e.created_us = 1000;
	e.updated_us = 2000;
	e.reason = "bye";
	return e;
}

static void
test_dialog_round_trips_through_the_proto(void **state)
{
	char *res[2], *back_res[SLB_DIALOG_NRES_MAX];
	Siplb__V1__DialogEvent e = sample_event(res), back;
	struct slb_dialog d;

	(void)state;
	assert_int_equal(slb_dialog_from_pb(&e, "stream", 5, &d), 0);
	assert_string_equal(d.resources, "pstn;vm");
	assert_int_equal(d.state, SLB_DIALOG_TERMINATED);
	slb_dialog_to_pb(&d, &back, back_res, SLB_DIALOG_NRES_MAX);
	assert_string_equal(back.key, e.key);
	assert_int_equal(back.state, e.state);
	assert_int_equal(back.node_id, 7);
	assert_int_equal(back.group, 2);
	assert_int_equal(back.n_resources, 2);
	assert_string_equal(back.resources[0], "pstn");
	assert_string_equal(back.resources[1], "vm");
	assert_string_equal(back.edge, "edge:1");
	assert_string_equal(back.call_id, "abc@host");
	assert_string_equal(back.from_tag, "ft");
	assert_string_equal(back.to_tag, "tt");
	assert_int_equal(back.created_us, 1000);
	assert_int_equal(back.updated_us, 2000);
	assert_string_equal(back.reason, "bye");
}

static void
test_dialog_from_pb_fills_edge_and_times_and_drops_live_reason(void **state)
{
	char *res[2];
	Siplb__V1__DialogEvent e = sample_event(res);
	struct slb_dialog d;

	(void)state;
	e.edge = "";
	e.created_us = e.updated_us = 0;
	e.state = SIPLB__V1__DIALOG_STATE__DIALOG_CONFIRMED;
	assert_int_equal(slb_dialog_from_pb(&e, "edge:9", 42, &d), 0);
	assert_string_equal(d.edge, "edge:9");
	assert_int_equal(d.created_us, 42);
	assert_int_equal(d.updated_us, 42);
	assert_string_equal(d.reason, "");
}

static void
test_dialog_key_over_the_limit_or_bad_state_is_refused(void **state)
{
	char *res[2], key[SLB_DIALOG_KEY_MAX + 2];
	Siplb__V1__DialogEvent e = sample_event(res);
	struct slb_dialog d;

	(void)state;
	memset(key, 'k', sizeof(key) - 1);
	key[sizeof(key) - 1] = '\0'; /* SLB_DIALOG_KEY_MAX + 1 characters */
	e.key = key;
	assert_int_equal(slb_dialog_from_pb(&e, "s", 1, &d), EINVAL);
	key[SLB_DIALOG_KEY_MAX] = '\0'; /* exactly the limit */
	assert_int_equal(slb_dialog_from_pb(&e, "s", 1, &d), 0);
	assert_int_equal(strlen(d.key), SLB_DIALOG_KEY_MAX);
	e.key = "";
	assert_int_equal(slb_dialog_from_pb(&e, "s", 1, &d), EINVAL);
	e.key = "k";
	e.state = 0;
	assert_int_equal(slb_dialog_from_pb(&e, "s", 1, &d), EINVAL);
	e.state = 4;
	assert_int_equal(slb_dialog_from_pb(&e, "s", 1, &d), EINVAL);
}

static void
test_dialog_fields_keep_printable_ascii_only(void **state)
{
	char *res[2];
	Siplb__V1__DialogEvent e = sample_event(res);
	struct slb_dialog d;

	(void)state;
	e.call_id = "a\x01"
		    "b\xc3\xa9";
	assert_int_equal(slb_dialog_from_pb(&e, "s", 1, &d), 0);
	assert_string_equal(d.call_id, "a?b??");
}

static void
test_dialog_state_names_parse_back(void **state)
{
	enum slb_dialog_state st;

	(void)state;
	for (int i = SLB_DIALOG_CREATED; i <= SLB_DIALOG_TERMINATED; i++) {
		assert_int_equal(
		    slb_dialog_state_parse(slb_dialog_state_name(i), &st), 0);
		assert_int_equal(st, i);
	}
	assert_string_equal(slb_dialog_state_name(0), "unknown");
	assert_string_equal(slb_dialog_state_name(9), "unknown");
	assert_int_equal(slb_dialog_state_parse("early", &st), EINVAL);
	assert_int_equal(slb_dialog_state_parse(NULL, &st), EINVAL);
}

static void
test_select_request_round_trips_through_the_proto(void **state)
{
	struct lb_select sel = { 0 }, back;
	Siplb__V1__SelectRequest q;
	uint32_t excl[] = { 3, 5 };
	char *res[LB_MAX_RES], err[128];

	(void)state;
	sel.alg = LB_ALG_LEAST_LOAD;
	sel.group = 4;
	strcpy(sel.res[0], "pstn");
	strcpy(sel.res[1], "vm");
	sel.nres = 2;
	sel.hash_key = "call-1";
	sel.exclude = excl;
	sel.nexclude = 2;
	sel.max_results = 3;
	sel.overcommit = true;
	sel.relative = true;
	lb_pb_select_request(&sel, &q, res);
	assert_string_equal(q.algorithm, "least-load");
	assert_int_equal(lb_pb_select(&q, &back, 0, err, sizeof(err)), 0);
	assert_int_equal(back.alg, LB_ALG_LEAST_LOAD);
	assert_int_equal(back.group, 4);
	assert_int_equal(back.nres, 2);
	assert_string_equal(back.res[0], "pstn");
	assert_string_equal(back.res[1], "vm");
	assert_string_equal(back.hash_key, "call-1");
	assert_int_equal(back.nexclude, 2);
	assert_int_equal(back.exclude[1], 5);
	assert_int_equal(back.max_results, 3);
	assert_true(back.overcommit);
	assert_true(back.relative);
	assert_false(back.tie_first);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dialog_round_trips_through_the_proto),
		cmocka_unit_test(
		    test_dialog_from_pb_fills_edge_and_times_and_drops_live_reason),
		cmocka_unit_test(
		    test_dialog_key_over_the_limit_or_bad_state_is_refused),
		cmocka_unit_test(test_dialog_fields_keep_printable_ascii_only),
		cmocka_unit_test(test_dialog_state_names_parse_back),
		cmocka_unit_test(
		    test_select_request_round_trips_through_the_proto),
	};

	return cmocka_run_group_tests_name("common_dialog", tests, NULL, NULL);
}
