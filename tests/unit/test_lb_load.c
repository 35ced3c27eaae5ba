/* Load accounting: reserve on select, confirm/release from dialog events,
 * counters that never go below zero, snapshots that replace an edge's view. */

#include <stdio.h>
#include <string.h>

#include "lb.h"
#include "unit.h"

static const char PSTN[1][LB_RES_NAME] = { "pstn" };
static const char PSTN_VM[2][LB_RES_NAME] = { "pstn", "vm" };

struct fx {
	struct lb_table t;
	struct lb_load *l;
};

static int
setup(void **state)
{
	static struct fx f;
	struct lb_node n;
	char err[256];

	lb_table_init(&f.t, 1);
	for (uint32_t id = 1; id <= 2; id++) {
		lb_node_defaults(&n);
		n.id = id;
		n.group = 1;
		snprintf(n.uri, sizeof(n.uri), "sip:10.0.0.%u", id);
		assert_int_equal(lb_res_parse("pstn=10;vm=5", n.res, &n.nres,
				     err, sizeof(err)),
		    0);
		assert_int_equal(
		    lb_table_add(&f.t, &n, NULL, err, sizeof(err)), 0);
	}
	assert_int_equal(lb_load_new(&f.l, &f.t), 0);
	*state = &f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	lb_load_free(f->l);
	lb_table_free(&f->t);
	return 0;
}

static int32_t
load_of(struct fx *f, uint32_t id, const char *res)
{
	return lb_node_res(lb_table_find(&f->t, id), res)->load;
}

static struct lb_dlg_event
ev(const char *key, enum lb_dlg_state st, uint32_t node, const char *edge)
{
	struct lb_dlg_event e = { .key = key,
		.state = st,
		.node_id = node,
		.res = PSTN,
		.nres = 1,
		.edge = edge };
	return e;
}

static void
test_reserve_counts_at_once(void **state)
{
	struct fx *f = *state;

	assert_int_equal(
	    lb_load_reserve(f->l, "k1", 1, PSTN_VM, 2, NULL, 0), 0);
	assert_int_equal(load_of(f, 1, "pstn"), 1);
	assert_int_equal(load_of(f, 1, "vm"), 1);
	assert_int_equal(load_of(f, 2, "pstn"), 0);
}

static void
test_created_after_reserve_is_not_counted_twice(void **state)
{
	struct fx *f = *state;
	struct lb_dlg_event e = ev("k1", LB_DLG_CREATED, 1, "edge:a");

	lb_load_reserve(f->l, "k1", 1, PSTN, 1, NULL, 0);
	lb_load_apply(f->l, &e, 1);
	lb_load_apply(f->l, &e, 2); /* repeated event */
	e.state = LB_DLG_CONFIRMED;
	lb_load_apply(f->l, &e, 3);
	assert_int_equal(load_of(f, 1, "pstn"), 1);
	assert_int_equal(lb_load_count(f->l), 1);
}

static void
test_terminated_releases_and_repeats_are_harmless(void **state)
{
	struct fx *f = *state;
	struct lb_dlg_event e = ev("k1", LB_DLG_CREATED, 2, "edge:a");

	lb_load_apply(f->l, &e, 1);
	assert_int_equal(load_of(f, 2, "pstn"), 1);
	e.state = LB_DLG_TERMINATED;
	lb_load_apply(f->l, &e, 2);
	lb_load_apply(f->l, &e, 3);
	assert_int_equal(load_of(f, 2, "pstn"), 0);
	assert_int_equal(lb_load_count(f->l), 0);
}

static void
test_failover_reserve_moves_load_to_new_node(void **state)
{
	struct fx *f = *state;

	lb_load_reserve(f->l, "k1", 1, PSTN, 1, NULL, 0);
	lb_load_reserve(f->l, "k1", 2, PSTN, 1, NULL, 1);
	assert_int_equal(load_of(f, 1, "pstn"), 0);
	assert_int_equal(load_of(f, 2, "pstn"), 1);
}

static void
test_created_on_other_node_moves_reservation(void **state)
{
	struct fx *f = *state;
	struct lb_dlg_event e = ev("k1", LB_DLG_CREATED, 2, "edge:a");

	/* another replica answered the retry: the event is the truth */
	lb_load_reserve(f->l, "k1", 1, PSTN, 1, NULL, 0);
	lb_load_apply(f->l, &e, 1);
	assert_int_equal(load_of(f, 1, "pstn"), 0);
	assert_int_equal(load_of(f, 2, "pstn"), 1);
}

static void
test_unconfirmed_reservation_expires(void **state)
{
	struct fx *f = *state;
	struct lb_dlg_event e = ev("k2", LB_DLG_CREATED, 1, "edge:a");

	lb_load_reserve(f->l, "k1", 1, PSTN, 1, NULL, 1000);
	lb_load_reserve(f->l, "k2", 1, PSTN, 1, NULL, 1000);
	lb_load_apply(f->l, &e, 1500);
	assert_int_equal(lb_load_expire(f->l, 1999, 1000), 0);
	assert_int_equal(lb_load_expire(f->l, 2000, 1000), 1);
	assert_int_equal(load_of(f, 1, "pstn"), 1); /* k2 stays */
}

static void
test_load_never_goes_below_zero(void **state)
{
	struct fx *f = *state;
	struct lb_node *n = lb_table_find(&f->t, 1);
	struct lb_res *r = lb_node_res(n, "pstn");

	lb_res_add_load(n, r, -5);
	assert_int_equal(r->load, 0);
	lb_res_add_load(n, r, 3);
	lb_res_add_load(n, r, -4);
	assert_int_equal(r->load, 0);
	r->load = INT32_MAX - 1;
	lb_res_add_load(n, r, 10);
	assert_int_equal(r->load, INT32_MAX);
}

static void
test_edge_snapshot_replaces_that_edges_dialogs_only(void **state)
{
	struct fx *f = *state;
	struct lb_dlg_event a1 = ev("a1", LB_DLG_CONFIRMED, 1, "edge:a");
	struct lb_dlg_event a2 = ev("a2", LB_DLG_CONFIRMED, 1, "edge:a");
	struct lb_dlg_event b1 = ev("b1", LB_DLG_CONFIRMED, 2, "edge:b");
	struct lb_dlg_event snap[2] = {
		ev("a2", LB_DLG_CONFIRMED, 1, "edge:a"),
		ev("a3", LB_DLG_CREATED, 2, "edge:a"),
	};

	lb_load_apply(f->l, &a1, 1);
	lb_load_apply(f->l, &a2, 1);
	lb_load_apply(f->l, &b1, 1);
	/* edge a restarted knowing a2 and a3 only: a1 ended unseen */
	lb_load_replace_edge(f->l, "edge:a", snap, 2, 2);
	assert_int_equal(lb_load_count(f->l), 3);
	assert_int_equal(load_of(f, 1, "pstn"), 1);
	assert_int_equal(load_of(f, 2, "pstn"), 2);
}

static void
test_edge_snapshot_settles_the_reservations_that_edge_made(void **state)
{
	struct fx *f = *state;

	/* reserved for edge a, whose events were lost before its snapshot */
	lb_load_reserve(f->l, "gone", 1, PSTN, 1, "edge:a", 0);
	lb_load_reserve(f->l, "other", 2, PSTN, 1, "edge:b", 0);
	lb_load_replace_edge(f->l, "edge:a", NULL, 0, 1);
	assert_int_equal(load_of(f, 1, "pstn"), 0);
	assert_int_equal(load_of(f, 2, "pstn"), 1); /* edge b's stays */
	assert_int_equal(lb_load_count(f->l), 1);
}

static void
test_rebind_recounts_from_dialogs(void **state)
{
	struct fx *f = *state;
	struct lb_dlg_event a = ev("a", LB_DLG_CONFIRMED, 1, "edge:a");

	lb_load_apply(f->l, &a, 1);
	lb_node_res(lb_table_find(&f->t, 1), "pstn")->load = 77;
	lb_load_rebind(f->l, &f->t);
	assert_int_equal(load_of(f, 1, "pstn"), 1);
	lb_load_reset(f->l);
	assert_int_equal(load_of(f, 1, "pstn"), 0);
	assert_int_equal(lb_load_count(f->l), 0);
}

static void
test_event_with_bad_key_is_dropped(void **state)
{
	struct fx *f = *state;
	char longkey[400];
	struct lb_dlg_event e = ev("", LB_DLG_CREATED, 1, "edge:a");

	lb_load_apply(f->l, &e, 1);
	memset(longkey, 'x', sizeof(longkey) - 1);
	longkey[sizeof(longkey) - 1] = '\0';
	e.key = longkey;
	lb_load_apply(f->l, &e, 1);
	assert_int_equal(lb_load_count(f->l), 0);
	assert_int_equal(load_of(f, 1, "pstn"), 0);
}

static void
test_dialog_on_removed_node_counts_nowhere(void **state)
{
	struct fx *f = *state;
	struct lb_dlg_event e = ev("k", LB_DLG_CREATED, 9, "edge:a");

	lb_load_apply(f->l, &e, 1);
	e.state = LB_DLG_TERMINATED;
	lb_load_apply(f->l, &e, 2);
	assert_int_equal(load_of(f, 1, "pstn"), 0);
	assert_int_equal(load_of(f, 2, "pstn"), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(x) cmocka_unit_test_setup_teardown(x, setup, teardown)
		T(test_reserve_counts_at_once),
		T(test_created_after_reserve_is_not_counted_twice),
		T(test_terminated_releases_and_repeats_are_harmless),
		T(test_failover_reserve_moves_load_to_new_node),
		T(test_created_on_other_node_moves_reservation),
		T(test_unconfirmed_reservation_expires),
		T(test_load_never_goes_below_zero),
		T(test_edge_snapshot_replaces_that_edges_dialogs_only),
		T(test_edge_snapshot_settles_the_reservations_that_edge_made),
		T(test_rebind_recounts_from_dialogs),
		T(test_event_with_bad_key_is_dropped),
		T(test_dialog_on_removed_node_counts_nowhere),
	};

	return cmocka_run_group_tests_name("lb_load", tests, NULL, NULL);
}
