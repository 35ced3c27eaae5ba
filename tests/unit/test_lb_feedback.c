
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "feedback.h"
#include "lb.h"
#include "unit.h"

/*
 * What nodes say about themselves (services/scheduler/feedback.c): load
 * modes, the 503 Retry-After backoff, staleness, the per-second budget,
 * and how they end in least-load selections.
 */

#define S 1000000ull /* one second in us */

static struct lb_fb_cfg
cfg_with(const char *modes)
{
	struct lb_fb_cfg c;
	char err[256];

	memset(&c, 0, sizeof(c));
	assert_int_equal(lb_fb_modes_parse(modes, &c, err, sizeof(err)), 0);
	c.backoff_max_us = 30 * S;
	c.sessions_per_call = 1;
	c.reconcile_min = 2;
	return c;
}

static void
two_nodes(struct lb_table *t)
{
	lb_table_init(t, 7);
	unit_add_node(t, 1, "sip:10.0.0.1", 1, 0, "pstn=500");
	unit_add_node(t, 2, "sip:10.0.0.2", 1, 0, "pstn=500");
}

static uint32_t
pick(struct lb_table *t)
{
	struct lb_select q;
	struct lb_node *out[1];
	unsigned n = 0;

	memset(&q, 0, sizeof(q));
	q.alg = LB_ALG_LEAST_LOAD;
	q.group = 1;
	q.nres = 1;
	strcpy(q.res[0], "pstn");
	q.tie_first = true;
	if (lb_select(t, &q, out, &n) != LB_SEL_OK)
		return 0;
	return out[0]->id;
}

static struct lb_fb_fig
fig(uint32_t sessions, uint32_t max, uint32_t idle_milli, uint64_t at)
{
	struct lb_fb_fig f;

	memset(&f, 0, sizeof(f));
	f.have = f.linked = true;
	f.sessions = sessions;
	f.max_sessions = max;
	f.idle_milli = idle_milli;
	f.sps_left = 30;
	f.interval_ms = 1000;
	f.at_us = at;
	return f;
}

static void
test_modes_parse(void **st)
{
	struct lb_fb_cfg c;
	char err[256];

	(void)st;
	memset(&c, 0, sizeof(c));
	assert_int_equal(
	    lb_fb_modes_parse(
		"reconciled, 1=reported , 7=counted", &c, err, sizeof(err)),
	    0);
	assert_int_equal(lb_fb_mode(&c, 1), LB_LOAD_REPORTED);
	assert_int_equal(lb_fb_mode(&c, 7), LB_LOAD_COUNTED);
	assert_int_equal(lb_fb_mode(&c, 2), LB_LOAD_RECONCILED);
	assert_int_equal(
	    lb_fb_modes_parse("counted", &c, err, sizeof(err)), 0);
	assert_int_equal(lb_fb_mode(&c, 1), LB_LOAD_COUNTED);
	assert_int_equal(
	    lb_fb_modes_parse("reportd", &c, err, sizeof(err)), EINVAL);
	assert_string_equal(err,
	    "load_mode: \"reportd\": give counted, reported, "
	    "reconciled or GROUP=one of them");
	assert_int_equal(
	    lb_fb_modes_parse("0=reported", &c, err, sizeof(err)), EINVAL);
	assert_int_equal(
	    lb_fb_modes_parse("x=reported", &c, err, sizeof(err)), EINVAL);
}

static void
test_reported_node_near_max_sessions_gets_no_calls(void **st)
{
	struct lb_fb_cfg c = cfg_with("1=reported");
	struct lb_fb_stats fs = { 0 };
	struct lb_table t;
	struct lb_node *n1;
	struct lb_fb_fig f;
	int64_t avail;

	(void)st;
	two_nodes(&t);
	n1 = lb_table_find(&t, 1);
	/* siplb counts nothing on node 1, it says 50 of 50 */
	f = fig(50, 50, 100000, 10 * S);
	lb_fb_apply(&c, n1, &f, 10 * S, &fs);
	assert_int_equal(n1->fb_extra, 50);
	assert_int_equal(n1->fb_cap, 50);
	assert_true(lb_node_avail(
	    n1, (const char(*)[LB_RES_NAME]) "pstn", 1, false, &avail));
	assert_int_equal(avail, 0);
	for (int i = 0; i < 10; i++)
		assert_int_equal(pick(&t), 2);
	/* Idle-CPU halves the capacity: 40 sessions of 100 at 50 % idle */
	f = fig(40, 100, 50000, 11 * S);
	lb_fb_apply(&c, n1, &f, 11 * S, &fs);
	assert_int_equal(n1->fb_cap, 50);
	assert_true(lb_node_avail(
	    n1, (const char(*)[LB_RES_NAME]) "pstn", 1, false, &avail));
	assert_int_equal(avail, 10);
	/* no idle CPU at all: a capacity of 0 */
	f = fig(0, 100, 0, 12 * S);
	lb_fb_apply(&c, n1, &f, 12 * S, &fs);
	assert_int_equal(n1->fb_cap, -1);
	assert_int_equal(pick(&t), 2);
	lb_table_free(&t);
}

static void
test_reconciled_node_is_loaded_with_calls_siplb_never_saw(void **st)
{
	struct lb_fb_cfg c = cfg_with("reconciled");
	struct lb_fb_stats fs = { 0 };
	struct lb_table t;
	struct lb_node *n1, *n2;
	struct lb_fb_fig f;

	(void)st;
	two_nodes(&t);
	n1 = lb_table_find(&t, 1);
	n2 = lb_table_find(&t, 2);
	n1->dialogs = 10;
	n1->res[0].load = 10;
	/* it placed 30 calls of its own: 40 in all */
	f = fig(40, 1000, 100000, 5 * S);
	lb_fb_apply(&c, n1, &f, 5 * S, &fs);
	assert_int_equal(n1->fb_extra, 30);
	assert_int_equal(fs.corrections, 1);
	assert_int_equal(n1->fb_cap, 0); /* capacity stays configured */
	n2->res[0].load = 35;
	assert_int_equal(pick(&t), 2); /* 465 free against 460 */
	/* restarted with its calls gone: siplb's 10 are corrected to 0 */
	f = fig(0, 1000, 100000, 6 * S);
	lb_fb_apply(&c, n1, &f, 6 * S, &fs);
	assert_int_equal(n1->fb_extra, -10);
	assert_int_equal(pick(&t), 1);
	/* a drift below reconcile_min is left alone */
	f = fig(11, 1000, 100000, 7 * S);
	lb_fb_apply(&c, n1, &f, 7 * S, &fs);
	assert_int_equal(n1->fb_extra, 0);
	lb_table_free(&t);
}

static void
test_two_sessions_per_call(void **st)
{
	struct lb_fb_cfg c = cfg_with("reconciled");
	struct lb_fb_stats fs = { 0 };
	struct lb_table t;
	struct lb_node *n1;
	struct lb_fb_fig f;

	(void)st;
	c.sessions_per_call = 2;
	two_nodes(&t);
	n1 = lb_table_find(&t, 1);
	n1->dialogs = 10;
	f = fig(20, 1000, 100000, S); /* bridged: 2 sessions a call */
	lb_fb_apply(&c, n1, &f, S, &fs);
	assert_int_equal(n1->fb_extra, 0);
	lb_table_free(&t);
}

static void
test_stale_figures_fall_back_to_counting(void **st)
{
	struct lb_fb_cfg c = cfg_with("reported");
	struct lb_fb_stats fs = { 0 };
	struct lb_table t;
	struct lb_node *n1;
	struct lb_fb_fig f;

	(void)st;
	two_nodes(&t);
	n1 = lb_table_find(&t, 1);
	f = fig(50, 50, 100000, 100 * S);
	lb_fb_apply(&c, n1, &f, 100 * S, &fs);
	assert_int_equal(pick(&t), 2);
	/* interval 1 s: 2 s later it is still live, past that stale */
	assert_false(lb_fb_refresh(&c, n1, 102 * S, &fs));
	assert_false(n1->fb.stale);
	assert_true(lb_fb_refresh(&c, n1, 102 * S + 1, &fs));
	assert_true(n1->fb.stale);
	assert_int_equal(fs.stale, 1);
	assert_int_equal(n1->fb.stale_count, 1);
	assert_int_equal(n1->fb_extra, 0);
	assert_int_equal(n1->fb_cap, 0);
	assert_int_equal(pick(&t), 1); /* counted: both empty */
	/* once stale, counted only once */
	assert_false(lb_fb_refresh(&c, n1, 110 * S, &fs));
	assert_int_equal(fs.stale, 1);
	/* fresh figures: live again */
	f = fig(50, 50, 100000, 111 * S);
	lb_fb_apply(&c, n1, &f, 111 * S, &fs);
	assert_false(n1->fb.stale);
	assert_int_equal(pick(&t), 2);
	/* a lost link falls back at once */
	f.linked = false;
	lb_fb_apply(&c, n1, &f, 111 * S, &fs);
	assert_int_equal(n1->fb_extra, 0);
	lb_table_free(&t);
}

static void
test_counted_mode_ignores_figures(void **st)
{
	struct lb_fb_cfg c = cfg_with("counted");
	struct lb_fb_stats fs = { 0 };
	struct lb_table t;
	struct lb_node *n1;
	struct lb_fb_fig f;

	(void)st;
	two_nodes(&t);
	n1 = lb_table_find(&t, 1);
	f = fig(50, 50, 100000, S);
	lb_fb_apply(&c, n1, &f, S, &fs);
	assert_int_equal(n1->fb_extra, 0);
	assert_int_equal(n1->fb_cap, 0);
	assert_false(lb_fb_refresh(&c, n1, 100 * S, &fs));
	assert_false(n1->fb.stale);
	lb_table_free(&t);
}

static void
test_retry_after_backs_off_bounded_and_ends(void **st)
{
	struct lb_fb_cfg c = cfg_with("counted");
	struct lb_fb_stats fs = { 0 };
	struct lb_table t;
	struct lb_node *n1;

	(void)st;
	two_nodes(&t);
	n1 = lb_table_find(&t, 1);
	assert_int_equal(lb_fb_backoff(&c, n1, 300, 50 * S, &fs), 30000);
	assert_true(n1->held);
	assert_true(n1->up);
	assert_int_equal(n1->backoffs, 1);
	assert_int_equal(lb_fb_backoff_left_ms(n1, 60 * S), 20000);
	for (int i = 0; i < 5; i++)
		assert_int_equal(pick(&t), 2);
	/* a shorter one later does not shorten it */
	lb_fb_backoff(&c, n1, 1, 51 * S, &fs);
	assert_int_equal(lb_fb_backoff_left_ms(n1, 60 * S), 20000);
	assert_false(lb_fb_refresh(&c, n1, 79 * S, &fs));
	assert_true(lb_fb_refresh(&c, n1, 80 * S, &fs));
	assert_false(n1->held);
	assert_int_equal(lb_fb_backoff_left_ms(n1, 80 * S), 0);
	assert_int_equal(fs.backoffs, 2);
	/* backoff_max 0: Retry-After ignored */
	c.backoff_max_us = 0;
	assert_int_equal(lb_fb_backoff(&c, n1, 300, 90 * S, &fs), 0);
	assert_false(n1->held);
	lb_table_free(&t);
}

static void
test_session_per_sec_budget_caps_new_calls(void **st)
{
	struct lb_fb_cfg c = cfg_with("reported");
	struct lb_fb_stats fs = { 0 };
	struct lb_table t;
	struct lb_node *n1;
	struct lb_fb_fig f;

	(void)st;
	two_nodes(&t);
	n1 = lb_table_find(&t, 1);
	f = fig(0, 1000, 100000, 200 * S);
	f.sps_max = 3;
	lb_fb_apply(&c, n1, &f, 200 * S, &fs);
	for (int i = 0; i < 3; i++) {
		assert_false(n1->held);
		lb_fb_selected(&c, n1, 200 * S + 100000 * (uint64_t)i, &fs);
	}
	assert_true(n1->held);
	assert_int_equal(fs.sps_holds, 1);
	/* the next second gives a new budget */
	assert_true(lb_fb_refresh(&c, n1, 201 * S, &fs));
	assert_false(n1->held);
	/* the HEARTBEAT of this second says none is left */
	f = fig(0, 1000, 100000, 202 * S + 10);
	f.sps_max = 30;
	f.sps_left = 0;
	lb_fb_apply(&c, n1, &f, 202 * S + 10, &fs);
	assert_true(n1->held);
	assert_true(lb_fb_refresh(&c, n1, 203 * S, &fs));
	assert_false(n1->held);
	lb_table_free(&t);
}

static void
test_drain_holds_until_undrained(void **st)
{
	struct lb_fb_cfg c = cfg_with("counted");
	struct lb_fb_stats fs = { 0 };
	struct lb_table t, t2;
	struct lb_node *n1;

	(void)st;
	two_nodes(&t);
	n1 = lb_table_find(&t, 1);
	n1->draining = true;
	lb_fb_refresh(&c, n1, S, &fs);
	assert_int_equal(pick(&t), 2);
	assert_int_equal(pick(&t), 2);
	/* a reload keeps it */
	two_nodes(&t2);
	lb_fb_inherit(&t2, &t);
	assert_true(lb_table_find(&t2, 1)->draining);
	assert_int_equal(pick(&t2), 2);
	n1->draining = false;
	lb_fb_refresh(&c, n1, S, &fs);
	assert_int_equal(pick(&t), 1);
	lb_table_free(&t);
	lb_table_free(&t2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_modes_parse),
		cmocka_unit_test(
		    test_reported_node_near_max_sessions_gets_no_calls),
		cmocka_unit_test(
		    test_reconciled_node_is_loaded_with_calls_siplb_never_saw),
		cmocka_unit_test(test_two_sessions_per_call),
		cmocka_unit_test(test_stale_figures_fall_back_to_counting),
		cmocka_unit_test(test_counted_mode_ignores_figures),
		cmocka_unit_test(test_retry_after_backs_off_bounded_and_ends),
		cmocka_unit_test(test_session_per_sec_budget_caps_new_calls),
		cmocka_unit_test(test_drain_holds_until_undrained),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
