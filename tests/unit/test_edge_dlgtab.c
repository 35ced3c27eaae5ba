/*
 * The edge's dialog table alone (dlgtab.h): what each dialog event does
 * to it, the keys it refuses, a restore from the store racing the
 * dialogs that end meanwhile, and the expiry of dialogs whose BYE never
 * came.
 */
#include <errno.h>

#include "dlgtab.h"
#include "unit.h"

static struct edge_dlgtab tab;

static int
setup(void **state)
{
	memset(&tab, 0, sizeof(tab));
	*state = &tab;
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	edge_dlgtab_clear(&tab);
	return 0;
}

static const struct edge_rule lb_rule = {
	.kind = RULE_LB,
	.group = 7,
	.res = { "pstn", "vm" },
	.nres = 2,
};

static int
ev(const char *key, enum slb_dialog_state st, uint32_t node, uint64_t now,
    struct edge_dlg *rec)
{
	struct edge_dlg_update u = {
		.key = key, .state = st, .node_id = node
	};

	return edge_dlgtab_update(&tab, &u, now, rec);
}

/* A store record, as restore.c makes them (the table takes it). */
static struct edge_dlg *
stored(const char *key, uint32_t node)
{
	struct edge_dlg *d = calloc(1, sizeof(*d));

	assert_non_null(d);
	snprintf(d->key, sizeof(d->key), "%s", key);
	d->node_id = node;
	d->state = SLB_DIALOG_CONFIRMED;
	return d;
}

static void
test_created_dialog_takes_node_rule_and_ids_then_confirmed_keeps_them(
    void **state)
{
	struct edge_dlg_update u = { .key = "00000000000000a1",
		.state = SLB_DIALOG_CREATED,
		.node_id = 2,
		.rule = &lb_rule,
		.call_id = "c1@phone",
		.from_tag = "ft" };
	struct edge_dlg rec;
	struct edge_dlg *d;

	(void)state;
	assert_int_equal(edge_dlgtab_update(&tab, &u, 1000, &rec), 0);
	assert_int_equal(tab.n, 1);
	assert_int_equal(rec.state, SLB_DIALOG_CREATED);
	assert_int_equal(rec.node_id, 2);
	assert_int_equal(rec.group, 7);
	assert_int_equal(rec.nres, 2);
	assert_string_equal(rec.res[1], "vm");
	assert_string_equal(rec.call_id, "c1@phone");

	/* the 2xx: only the state and the To tag are new */
	memset(&u, 0, sizeof(u));
	u.key = "00000000000000a1";
	u.state = SLB_DIALOG_CONFIRMED;
	u.to_tag = "tt";
	assert_int_equal(edge_dlgtab_update(&tab, &u, 5000, &rec), 0);
	d = edge_dlgtab_find(&tab, "00000000000000a1");
	assert_non_null(d);
	assert_int_equal(d->state, SLB_DIALOG_CONFIRMED);
	assert_int_equal(d->node_id, 2);
	assert_int_equal(d->group, 7);
	assert_string_equal(d->call_id, "c1@phone");
	assert_string_equal(d->from_tag, "ft");
	assert_string_equal(d->to_tag, "tt");
	assert_int_equal(d->created_us, 1000);
	assert_int_equal(d->updated_us, 5000);
	assert_int_equal(rec.updated_us, 5000);
	assert_int_equal(tab.n, 1);
}

static void
test_terminated_removes_the_dialog_and_reports_it_as_it_was(void **state)
{
	struct edge_dlg rec;

	(void)state;
	assert_int_equal(ev("k1", SLB_DIALOG_CREATED, 1, 10, NULL), 0);
	assert_int_equal(ev("k2", SLB_DIALOG_CREATED, 2, 10, NULL), 0);
	assert_int_equal(ev("k1", SLB_DIALOG_TERMINATED, 0, 20, &rec), 0);
	assert_null(edge_dlgtab_find(&tab, "k1"));
	assert_non_null(edge_dlgtab_find(&tab, "k2"));
	assert_int_equal(tab.n, 1);
	/* the event still names the node, so schedulers release its load */
	assert_int_equal(rec.node_id, 1);
	assert_int_equal(rec.state, SLB_DIALOG_TERMINATED);
	assert_string_equal(rec.key, "k1");
	assert_int_equal(rec.created_us, 10);
	assert_int_equal(edge_dlgtab_find(&tab, "k2")->node_id, 2);
}

static void
test_end_of_an_unknown_dialog_adds_nothing(void **state)
{
	struct edge_dlg rec;

	(void)state;
	assert_int_equal(ev("nobody", SLB_DIALOG_TERMINATED, 3, 30, &rec), 0);
	assert_int_equal(tab.n, 0);
	assert_null(edge_dlgtab_find(&tab, "nobody"));
	assert_string_equal(rec.key, "nobody");
	assert_int_equal(rec.node_id, 3);
	assert_int_equal(rec.state, SLB_DIALOG_TERMINATED);
}

static void
test_keys_empty_or_too_long_are_refused(void **state)
{
	char longest[EDGE_DLG_KEY_SIZE], too_long[EDGE_DLG_KEY_SIZE + 1];
	struct edge_dlg *d;

	(void)state;
	memset(longest, 'a', sizeof(longest) - 1);
	longest[sizeof(longest) - 1] = '\0';
	memset(too_long, 'b', sizeof(too_long) - 1);
	too_long[sizeof(too_long) - 1] = '\0';
	assert_false(edge_dlg_key_ok(""));
	assert_false(edge_dlg_key_ok(NULL));
	assert_false(edge_dlg_key_ok(too_long));
	assert_true(edge_dlg_key_ok(longest));
	assert_int_equal(ev("", SLB_DIALOG_CREATED, 1, 1, NULL), EINVAL);
	assert_int_equal(ev(too_long, SLB_DIALOG_CREATED, 1, 1, NULL), EINVAL);
	assert_int_equal(tab.n, 0);
	assert_int_equal(ev(longest, SLB_DIALOG_CREATED, 1, 1, NULL), 0);
	assert_int_equal(tab.n, 1);

	d = stored("x", 1);
	memset(d->key, 'c', sizeof(d->key)); /* no NUL at all */
	d->key[sizeof(d->key) - 1] = 'c';
	assert_int_equal(edge_dlgtab_restore(&tab, d), EINVAL);
	free(d); /* refused: still ours */
}

static void
test_restore_skips_dialogs_known_or_ended_while_it_ran(void **state)
{
	struct edge_dlg *known = stored("live-here", 1);
	struct edge_dlg *ended = stored("ended-meanwhile", 2);
	struct edge_dlg *fresh = stored("only-in-store", 2);
	struct edge_dlg *later = stored("ended-meanwhile", 2);

	(void)state;
	edge_dlgtab_restoring(&tab, true);
	/* while the store is asked, calls go on */
	assert_int_equal(ev("live-here", SLB_DIALOG_CREATED, 1, 5, NULL), 0);
	assert_int_equal(
	    ev("ended-meanwhile", SLB_DIALOG_TERMINATED, 2, 6, NULL), 0);
	/* then the store's (older) copies arrive */
	assert_int_equal(edge_dlgtab_restore(&tab, known), EEXIST);
	assert_int_equal(edge_dlgtab_restore(&tab, ended), EEXIST);
	assert_int_equal(edge_dlgtab_restore(&tab, fresh), 0);
	assert_int_equal(tab.n, 2);
	assert_int_equal(
	    edge_dlgtab_find(&tab, "live-here")->state, SLB_DIALOG_CREATED);
	assert_non_null(edge_dlgtab_find(&tab, "only-in-store"));
	assert_null(edge_dlgtab_find(&tab, "ended-meanwhile"));
	free(known);
	free(ended);

	/* the restore over, what ended is forgotten */
	edge_dlgtab_restoring(&tab, false);
	assert_int_equal(edge_dlgtab_restore(&tab, later), 0);
	assert_int_equal(tab.n, 3);
}

static void
test_ends_outside_a_restore_are_not_remembered(void **state)
{
	struct edge_dlg *d = stored("k", 1);

	(void)state;
	assert_int_equal(ev("k", SLB_DIALOG_TERMINATED, 1, 1, NULL), 0);
	assert_int_equal(edge_dlgtab_restore(&tab, d), 0);
	assert_non_null(edge_dlgtab_find(&tab, "k"));
}

static void
test_expire_drops_only_dialogs_older_than_their_lifetime(void **state)
{
	(void)state;
	assert_int_equal(ev("old", SLB_DIALOG_CREATED, 1, 1000, NULL), 0);
	assert_int_equal(ev("edge", SLB_DIALOG_CREATED, 1, 2000, NULL), 0);
	assert_int_equal(ev("new", SLB_DIALOG_CREATED, 1, 9000, NULL), 0);
	/* an update does not make a dialog younger */
	assert_int_equal(ev("old", SLB_DIALOG_CONFIRMED, 0, 9500, NULL), 0);
	assert_int_equal(edge_dlgtab_expire(&tab, 10000, 8000), 2);
	assert_int_equal(tab.n, 1);
	assert_non_null(edge_dlgtab_find(&tab, "new"));
	assert_int_equal(edge_dlgtab_expire(&tab, 10000, 8000), 0);
}

static void
test_clear_empties_the_table_and_ends_a_restore(void **state)
{
	struct edge_dlg *d = stored("gone", 1);

	(void)state;
	edge_dlgtab_restoring(&tab, true);
	assert_int_equal(ev("a", SLB_DIALOG_CREATED, 1, 1, NULL), 0);
	assert_int_equal(ev("gone", SLB_DIALOG_TERMINATED, 1, 1, NULL), 0);
	edge_dlgtab_clear(&tab);
	assert_int_equal(tab.n, 0);
	assert_null(tab.h);
	assert_false(tab.restoring);
	assert_int_equal(edge_dlgtab_restore(&tab, d), 0);
}

int
main(void)
{
#define T(x) cmocka_unit_test_setup_teardown(x, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_created_dialog_takes_node_rule_and_ids_then_confirmed_keeps_them),
		T(test_terminated_removes_the_dialog_and_reports_it_as_it_was),
		T(test_end_of_an_unknown_dialog_adds_nothing),
		T(test_keys_empty_or_too_long_are_refused),
		T(test_restore_skips_dialogs_known_or_ended_while_it_ran),
		T(test_ends_outside_a_restore_are_not_remembered),
		T(test_expire_drops_only_dialogs_older_than_their_lifetime),
		T(test_clear_empties_the_table_and_ends_a_restore),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
