
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "lb.h"
#include "unit.h"

/*
 * Selection algorithms (services/lb/select.c).  The table is seeded
 * (12345) and so is every random request, so each run makes the same picks:
 * the tolerances below are statistical margins of several standard
 * deviations, stated where they are used, not flakiness allowances.
 */

#define N_ALL_ALGS 13

static const enum lb_alg all_algs[N_ALL_ALGS] = {
	LB_ALG_HASH_CALLID,
	LB_ALG_HASH_FROM,
	LB_ALG_HASH_TO,
	LB_ALG_HASH_RURI,
	LB_ALG_RR,
	LB_ALG_HASH_AUTH,
	LB_ALG_RANDOM,
	LB_ALG_HASH_HEADER,
	LB_ALG_PRIORITY,
	LB_ALG_WEIGHTED_RANDOM,
	LB_ALG_RELATIVE_WEIGHT,
	LB_ALG_LATENCY,
	LB_ALG_LEAST_LOAD,
};

static struct lb_table tbl;

static int
setup(void **state)
{
	lb_table_init(&tbl, 12345);
	return 0;
}

static int
teardown(void **state)
{
	lb_table_free(&tbl);
	return 0;
}

/* A node in lb group `group` and dispatcher set `set`. */
static void
add_node(uint32_t id, uint32_t group, uint32_t set, const char *res,
    uint32_t weight, const char *attrs)
{
	struct lb_node n;
	char err[128];

	lb_node_defaults(&n);
	n.id = id;
	n.group = group;
	n.set = set;
	n.weight = weight;
	snprintf(n.uri, sizeof(n.uri), "sip:10.0.0.%u:5060", id);
	if (res != NULL)
		assert_int_equal(
		    lb_res_parse(res, n.res, &n.nres, err, sizeof(err)), 0);
	if (attrs != NULL)
		snprintf(n.attrs, sizeof(n.attrs), "%s", attrs);
	lb_node_update_rweight(&n);
	assert_int_equal(lb_table_add(&tbl, &n, NULL, err, sizeof(err)), 0);
}

static struct lb_node *
node(uint32_t id)
{
	struct lb_node *n = lb_table_find(&tbl, id);

	assert_non_null(n);
	return n;
}

static void
set_load(uint32_t id, const char *res, int32_t load)
{
	struct lb_res *r = lb_node_res(node(id), res);

	assert_non_null(r);
	r->load = load;
}

static void
req_init(struct lb_select *r, enum lb_alg alg, uint32_t group)
{
	memset(r, 0, sizeof(*r));
	r->alg = alg;
	r->group = group;
}

static void
req_res(struct lb_select *r, const char *name)
{
	snprintf(r->res[r->nres], LB_RES_NAME, "%s", name);
	r->nres++;
}

static enum lb_sel_status
sel(const struct lb_select *r, struct lb_node **out, unsigned *nout)
{
	return lb_select(&tbl, r, out, nout);
}

/* One OK pick; returns the chosen id. */
static uint32_t
pick1(const struct lb_select *r)
{
	struct lb_node *out[LB_MAX_RESULTS];
	unsigned nout = 99;

	assert_int_equal(sel(r, out, &nout), LB_SEL_OK);
	assert_int_equal(nout, 1);
	return out[0]->id;
}

static enum lb_sel_status
status_of(const struct lb_select *r)
{
	struct lb_node *out[LB_MAX_RESULTS];
	unsigned nout = 99;
	enum lb_sel_status st = sel(r, out, &nout);

	if (st != LB_SEL_OK)
		assert_int_equal(nout, 0);
	return st;
}

/* Three nodes in group 1 and set 1, each offering pstn=100. */
static void
add_three(void)
{
	add_node(1, 1, 1, "pstn=100", 1, NULL);
	add_node(2, 1, 1, "pstn=100", 1, NULL);
	add_node(3, 1, 1, "pstn=100", 1, NULL);
}

/* A request every algorithm can serve from add_three()'s nodes. */
static void
req_any(struct lb_select *r, enum lb_alg alg, const char *key)
{
	req_init(r, alg, 1);
	if (alg == LB_ALG_LEAST_LOAD)
		req_res(r, "pstn");
	r->hash_key = key;
}

/* ---------------------------------------------------- algorithm names */

static void
test_alg_parse_maps_names_and_opensips_numbers(void **state)
{
	static const struct {
		const char *s;
		enum lb_alg a;
	} ok[] = {
		{ "hash-callid", LB_ALG_HASH_CALLID },
		{ "0", LB_ALG_HASH_CALLID },
		{ "hash-from", LB_ALG_HASH_FROM },
		{ "1", LB_ALG_HASH_FROM },
		{ "hash-to", LB_ALG_HASH_TO },
		{ "2", LB_ALG_HASH_TO },
		{ "hash-ruri", LB_ALG_HASH_RURI },
		{ "3", LB_ALG_HASH_RURI },
		{ "round-robin", LB_ALG_RR },
		{ "4", LB_ALG_RR },
		{ "hash-auth", LB_ALG_HASH_AUTH },
		{ "5", LB_ALG_HASH_AUTH },
		{ "random", LB_ALG_RANDOM },
		{ "6", LB_ALG_RANDOM },
		{ "hash-header", LB_ALG_HASH_HEADER },
		{ "7", LB_ALG_HASH_HEADER },
		{ "priority", LB_ALG_PRIORITY },
		{ "8", LB_ALG_PRIORITY },
		{ "weighted-random", LB_ALG_WEIGHTED_RANDOM },
		{ "relative-weight", LB_ALG_RELATIVE_WEIGHT },
		{ "latency", LB_ALG_LATENCY },
		{ "least-load", LB_ALG_LEAST_LOAD },
	};
	enum lb_alg a;
	size_t i;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		a = (enum lb_alg) - 1;
		assert_int_equal(lb_alg_parse(ok[i].s, &a), 0);
		assert_int_equal(a, ok[i].a);
	}
	assert_int_equal(LB_ALG_RR, 4);
}

static void
test_alg_parse_refuses_unknown_and_foreign_numbers(void **state)
{
	/* 9 and 10 are other algorithms in OpenSIPS and Kamailio */
	static const char *bad[] = {
		"9",
		"10",
		"",
		"foo",
		"-1",
		"04",
		" 4",
		"4 ",
		"Round-Robin",
		"round-robin2",
		"least",
	};
	enum lb_alg a = LB_ALG_PRIORITY;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(lb_alg_parse(bad[i], &a), EINVAL);
	assert_int_equal(lb_alg_parse(NULL, &a), EINVAL);
	assert_int_equal(a, LB_ALG_PRIORITY);
}

static void
test_alg_name_round_trips_through_parse(void **state)
{
	enum lb_alg a;
	size_t i;

	for (i = 0; i < N_ALL_ALGS; i++) {
		assert_int_equal(
		    lb_alg_parse(lb_alg_name(all_algs[i]), &a), 0);
		assert_int_equal(a, all_algs[i]);
	}
	assert_string_equal(lb_alg_name(LB_ALG_RR), "round-robin");
	assert_string_equal(lb_alg_name((enum lb_alg)55), "unknown");
}

/* -------------------------------------------------------- round-robin */

static void
test_rr_visits_each_up_node_once_per_cycle(void **state)
{
	struct lb_select r;
	uint32_t picks[30];
	unsigned count[4] = { 0 };
	int i;

	add_three();
	req_init(&r, LB_ALG_RR, 1);
	for (i = 0; i < 30; i++) {
		picks[i] = pick1(&r);
		count[picks[i]]++;
	}
	assert_int_equal(count[1], 10);
	assert_int_equal(count[2], 10);
	assert_int_equal(count[3], 10);
	/* equal weights: id order, repeating */
	for (i = 0; i < 30; i++)
		assert_int_equal(picks[i], (uint32_t)(i % 3) + 1);
}

static void
test_wrr_gives_each_node_its_weight_per_cycle(void **state)
{
	struct lb_select r;
	int cycle, i;

	add_node(1, 0, 1, NULL, 1, NULL);
	add_node(2, 0, 1, NULL, 2, NULL);
	add_node(3, 0, 1, NULL, 3, NULL);
	req_init(&r, LB_ALG_RR, 1);
	for (cycle = 0; cycle < 20; cycle++) {
		unsigned count[4] = { 0 };
		uint32_t prev = 0;
		int run = 0, maxrun = 0;

		for (i = 0; i < 6; i++) {
			uint32_t id = pick1(&r);

			count[id]++;
			run = id == prev ? run + 1 : 1;
			maxrun = run > maxrun ? run : maxrun;
			prev = id;
		}
		assert_int_equal(count[1], 1);
		assert_int_equal(count[2], 2);
		assert_int_equal(count[3], 3);
		/* smooth: never the same node twice in a row at 1:2:3 */
		assert_int_equal(maxrun, 1);
	}
}

static void
test_rr_cycles_over_remaining_nodes_when_one_goes_down(void **state)
{
	struct lb_select r;
	unsigned count[4] = { 0 };
	uint32_t prev = 0;
	int i;

	add_three();
	req_init(&r, LB_ALG_RR, 1);
	assert_int_equal(pick1(&r), 1);
	node(2)->up = false;
	/* Credit earned in the old cycle (nginx keeps it too) skews the
	 * first picks by at most one per node. */
	for (i = 0; i < 20; i++)
		count[pick1(&r)]++;
	assert_int_equal(count[2], 0);
	assert_in_range(count[1], 9, 11);
	assert_in_range(count[3], 9, 11);
	/* then it alternates exactly */
	memset(count, 0, sizeof(count));
	for (i = 0; i < 20; i++) {
		uint32_t id = pick1(&r);

		assert_int_not_equal(id, prev);
		count[id]++;
		prev = id;
	}
	assert_int_equal(count[1], 10);
	assert_int_equal(count[3], 10);
}

static void
test_rr_failover_list_follows_in_id_order(void **state)
{
	struct lb_select r;
	struct lb_node *out[LB_MAX_RESULTS];
	unsigned nout;

	add_three();
	add_node(4, 1, 1, "pstn=100", 1, NULL);
	req_init(&r, LB_ALG_RR, 1);
	assert_int_equal(pick1(&r), 1); /* the next pick is 2 */
	r.max_results = 4;
	assert_int_equal(sel(&r, out, &nout), LB_SEL_OK);
	assert_int_equal(nout, 4);
	assert_int_equal(out[0]->id, 2);
	assert_int_equal(out[1]->id, 3);
	assert_int_equal(out[2]->id, 4);
	assert_int_equal(out[3]->id, 1);
}

static void
test_hash_auth_without_key_is_round_robin(void **state)
{
	struct lb_select r;
	int i;

	add_three();
	req_init(&r, LB_ALG_HASH_AUTH, 1);
	r.hash_key = "";
	for (i = 0; i < 9; i++)
		assert_int_equal(pick1(&r), (uint32_t)(i % 3) + 1);
	r.hash_key = NULL;
	for (i = 0; i < 9; i++)
		assert_int_equal(pick1(&r), (uint32_t)(i % 3) + 1);
}

/* ----------------------------------------------------- weighted random */

static void
test_weighted_random_follows_weights(void **state)
{
	struct lb_select r;
	unsigned count[3] = { 0 };
	int i;

	add_node(1, 0, 1, NULL, 1, NULL);
	add_node(2, 0, 1, NULL, 3, NULL);
	req_init(&r, LB_ALG_WEIGHTED_RANDOM, 1);
	for (i = 0; i < 10000; i++)
		count[pick1(&r)]++;
	/* 25 % / 75 % +-2 points (sd 0.43 points at n = 10,000) */
	assert_in_range(count[1], 2300, 2700);
	assert_in_range(count[2], 7300, 7700);
}

static void
test_relative_weight_respreads_share_when_node_goes_down(void **state)
{
	struct lb_select r;
	unsigned count[4] = { 0 };
	int i;

	add_node(1, 0, 1, NULL, 1, "rweight=30");
	add_node(2, 0, 1, NULL, 1, "rweight=30");
	add_node(3, 0, 1, NULL, 1, "foo=bar;rweight=40");
	assert_int_equal(node(1)->rweight, 30);
	assert_int_equal(node(3)->rweight, 40);
	req_init(&r, LB_ALG_RELATIVE_WEIGHT, 1);
	for (i = 0; i < 10000; i++)
		count[pick1(&r)]++;
	/* 30/30/40 % +-2 points (sd <= 0.49 points) */
	assert_in_range(count[1], 2800, 3200);
	assert_in_range(count[2], 2800, 3200);
	assert_in_range(count[3], 3800, 4200);

	memset(count, 0, sizeof(count));
	node(3)->up = false;
	for (i = 0; i < 10000; i++)
		count[pick1(&r)]++;
	/* 30:30 of what is left is 50/50 % +-2 points (sd 0.5 points) */
	assert_int_equal(count[3], 0);
	assert_in_range(count[1], 4800, 5200);
	assert_in_range(count[2], 4800, 5200);
}

static void
test_random_spreads_uniformly(void **state)
{
	struct lb_select r;
	unsigned count[4] = { 0 };
	int i;

	add_three();
	req_init(&r, LB_ALG_RANDOM, 1);
	for (i = 0; i < 9000; i++)
		count[pick1(&r)]++;
	/* 33.3 % +-2 points (sd 0.5 points at n = 9,000) */
	for (i = 1; i <= 3; i++)
		assert_in_range(count[i], 2820, 3180);
}

/* ------------------------------------------------------------- hashing */

static void
test_hash_same_key_always_same_node(void **state)
{
	struct lb_select r;
	char key[32];
	int k, i;

	add_node(1, 0, 1, NULL, 1, NULL);
	add_node(2, 0, 1, NULL, 1, NULL);
	add_node(3, 0, 1, NULL, 1, NULL);
	add_node(4, 0, 1, NULL, 1, NULL);
	req_init(&r, LB_ALG_HASH_CALLID, 1);
	for (k = 0; k < 50; k++) {
		uint32_t first;

		snprintf(key, sizeof(key), "call-%d@host", k);
		r.hash_key = key;
		first = pick1(&r);
		for (i = 0; i < 20; i++)
			assert_int_equal(pick1(&r), first);
	}
	/* NULL hashes like "" */
	r.hash_key = "";
	k = (int)pick1(&r);
	r.hash_key = NULL;
	assert_int_equal(pick1(&r), (uint32_t)k);
}

static void
test_hash_spreads_distinct_keys_evenly(void **state)
{
	struct lb_select r;
	unsigned count[5] = { 0 };
	char key[32];
	int k;

	add_node(1, 0, 1, NULL, 1, NULL);
	add_node(2, 0, 1, NULL, 1, NULL);
	add_node(3, 0, 1, NULL, 1, NULL);
	add_node(4, 0, 1, NULL, 1, NULL);
	req_init(&r, LB_ALG_HASH_FROM, 1);
	r.hash_key = key;
	for (k = 0; k < 10000; k++) {
		snprintf(key, sizeof(key), "sip:%d@example.com", k);
		count[pick1(&r)]++;
	}
	/* 25 % +-3 points each (sd 0.43 points) */
	for (k = 1; k <= 4; k++)
		assert_in_range(count[k], 2200, 2800);
}

static void
test_hash_weight_biases_share(void **state)
{
	struct lb_select r;
	unsigned count[3] = { 0 };
	char key[32];
	int k;

	add_node(1, 0, 1, NULL, 1, NULL);
	add_node(2, 0, 1, NULL, 3, NULL);
	req_init(&r, LB_ALG_HASH_HEADER, 1);
	r.hash_key = key;
	for (k = 0; k < 10000; k++) {
		snprintf(key, sizeof(key), "k%d", k);
		count[pick1(&r)]++;
	}
	/* 25/75 % +-3 points (sd 0.43 points) */
	assert_in_range(count[1], 2200, 2800);
	assert_in_range(count[2], 7200, 7800);
}

static void
test_hash_removing_node_moves_only_its_keys(void **state)
{
	static uint32_t before[10000];
	struct lb_select r;
	unsigned moved = 0, on2 = 0;
	char key[32];
	int k;

	add_node(1, 0, 1, NULL, 1, NULL);
	add_node(2, 0, 1, NULL, 1, NULL);
	add_node(3, 0, 1, NULL, 1, NULL);
	add_node(4, 0, 1, NULL, 1, NULL);
	req_init(&r, LB_ALG_HASH_RURI, 1);
	r.hash_key = key;
	for (k = 0; k < 10000; k++) {
		snprintf(key, sizeof(key), "sip:+%d@gw", k);
		before[k] = pick1(&r);
	}
	node(2)->up = false;
	for (k = 0; k < 10000; k++) {
		uint32_t now;

		snprintf(key, sizeof(key), "sip:+%d@gw", k);
		now = pick1(&r);
		assert_int_not_equal(now, 2);
		if (before[k] == 2)
			on2++;
		else
			assert_int_equal(now, before[k]);
		moved += now != before[k];
	}
	assert_int_equal(moved, on2);
	/* and they come back when it does */
	node(2)->up = true;
	for (k = 0; k < 10000; k++) {
		snprintf(key, sizeof(key), "sip:+%d@gw", k);
		assert_int_equal(pick1(&r), before[k]);
	}
}

/* --------------------------------------------------------- least-load */

static void
test_least_load_picks_most_available(void **state)
{
	struct lb_select r;

	add_three();
	set_load(1, "pstn", 40);
	set_load(2, "pstn", 10);
	set_load(3, "pstn", 70);
	req_init(&r, LB_ALG_LEAST_LOAD, 1);
	req_res(&r, "pstn");
	assert_int_equal(pick1(&r), 2);
	set_load(2, "pstn", 60);
	assert_int_equal(pick1(&r), 1);
}

static void
test_least_load_never_picks_full_node(void **state)
{
	struct lb_select r;
	int i;

	add_node(1, 1, 0, "pstn=10", 1, NULL);
	add_node(2, 1, 0, "pstn=1000", 1, NULL);
	set_load(2, "pstn", 1000);
	req_init(&r, LB_ALG_LEAST_LOAD, 1);
	req_res(&r, "pstn");
	for (i = 0; i < 100; i++)
		assert_int_equal(pick1(&r), 1);
}

static void
test_least_load_no_capacity_when_all_full(void **state)
{
	struct lb_select r;

	add_three();
	set_load(1, "pstn", 100);
	set_load(2, "pstn", 100);
	set_load(3, "pstn", 150);
	req_init(&r, LB_ALG_LEAST_LOAD, 1);
	req_res(&r, "pstn");
	assert_int_equal(status_of(&r), LB_SEL_NO_CAPACITY);
	r.relative = true;
	assert_int_equal(status_of(&r), LB_SEL_NO_CAPACITY);
	/* the other algorithms filter on resources the same way */
	r.alg = LB_ALG_RR;
	assert_int_equal(status_of(&r), LB_SEL_NO_CAPACITY);
}

static void
test_least_load_overcommit_allows_full_nodes(void **state)
{
	struct lb_select r;
	struct lb_node *out[LB_MAX_RESULTS];
	unsigned nout;

	add_three();
	set_load(1, "pstn", 100);
	set_load(2, "pstn", 110);
	set_load(3, "pstn", 130);
	req_init(&r, LB_ALG_LEAST_LOAD, 1);
	req_res(&r, "pstn");
	r.overcommit = true;
	r.max_results = 3;
	assert_int_equal(sel(&r, out, &nout), LB_SEL_OK);
	/* least negative first: 0, -10, -30 */
	assert_int_equal(nout, 3);
	assert_int_equal(out[0]->id, 1);
	assert_int_equal(out[1]->id, 2);
	assert_int_equal(out[2]->id, 3);
}

static void
test_least_load_relative_and_absolute_differ(void **state)
{
	struct lb_select r;
	int64_t a;

	add_node(1, 1, 0, "pstn=100", 1, NULL);
	add_node(2, 1, 0, "pstn=1000", 1, NULL);
	set_load(1, "pstn", 50);
	set_load(2, "pstn", 900);
	req_init(&r, LB_ALG_LEAST_LOAD, 1);
	req_res(&r, "pstn");

	assert_true(lb_node_avail(node(1), r.res, 1, false, &a));
	assert_int_equal(a, 50);
	assert_true(lb_node_avail(node(2), r.res, 1, false, &a));
	assert_int_equal(a, 100);
	assert_true(lb_node_avail(node(1), r.res, 1, true, &a));
	assert_int_equal(a, 50);
	assert_true(lb_node_avail(node(2), r.res, 1, true, &a));
	assert_int_equal(a, 10);

	assert_int_equal(pick1(&r), 2);
	r.relative = true;
	assert_int_equal(pick1(&r), 1);
}

static void
test_least_load_multi_resource_uses_minimum(void **state)
{
	struct lb_select r;
	int64_t a;

	/* 1: pstn 90 free, transc 5 free; 2: 50 and 40 free */
	add_node(1, 1, 0, "pstn=100;transc=10", 1, NULL);
	add_node(2, 1, 0, "pstn=100;transc=100", 1, NULL);
	set_load(1, "pstn", 10);
	set_load(1, "transc", 5);
	set_load(2, "pstn", 50);
	set_load(2, "transc", 60);
	req_init(&r, LB_ALG_LEAST_LOAD, 1);
	req_res(&r, "pstn");
	assert_int_equal(pick1(&r), 1);
	req_res(&r, "transc");
	assert_true(lb_node_avail(node(1), r.res, 2, false, &a));
	assert_int_equal(a, 5);
	assert_true(lb_node_avail(node(2), r.res, 2, false, &a));
	assert_int_equal(a, 40);
	assert_int_equal(pick1(&r), 2);
	/* one exhausted resource makes the node full */
	set_load(2, "transc", 100);
	assert_int_equal(pick1(&r), 1);
	set_load(1, "transc", 10);
	assert_int_equal(status_of(&r), LB_SEL_NO_CAPACITY);
}

static void
test_least_load_relative_is_integer_percent(void **state)
{
	struct lb_select r;
	int64_t a;

	add_node(1, 1, 0, "pstn=500", 1, NULL);
	add_node(2, 1, 0, "pstn=0", 1, NULL);
	set_load(1, "pstn", 499);
	req_init(&r, LB_ALG_LEAST_LOAD, 1);
	req_res(&r, "pstn");
	r.relative = true;
	/* 100 - 49900/500 = 100 - 99 = 1 %: still free (REFERENCE §9.4) */
	assert_true(lb_node_avail(node(1), r.res, 1, true, &a));
	assert_int_equal(a, 1);
	assert_int_equal(pick1(&r), 1);
	set_load(1, "pstn", 500);
	assert_true(lb_node_avail(node(1), r.res, 1, true, &a));
	assert_int_equal(a, 0);
	assert_int_equal(status_of(&r), LB_SEL_NO_CAPACITY);
	/* cap 0 is 0 % free, never a division by zero */
	assert_true(lb_node_avail(node(2), r.res, 1, true, &a));
	assert_int_equal(a, 0);
}

static void
test_node_avail_refuses_missing_resource_and_never_overflows(void **state)
{
	char names[2][LB_RES_NAME] = { "pstn", "vm" };
	int64_t a = 77;

	add_node(1, 1, 0, "pstn=1000000", 1, NULL);
	assert_false(lb_node_avail(node(1), names, 2, false, &a));
	assert_int_equal(a, 77);
	/* load far beyond cap: 100 * load would wrap in 32 bits */
	set_load(1, "pstn", INT32_MAX);
	assert_true(lb_node_avail(node(1), names, 1, true, &a));
	assert_int_equal(a, 100 - (100 * (int64_t)INT32_MAX) / 1000000);
	assert_true(lb_node_avail(node(1), names, 1, false, &a));
	assert_int_equal(a, 1000000 - (int64_t)INT32_MAX);
	/* no resources named: no limit */
	assert_true(lb_node_avail(node(1), names, 0, false, &a));
	assert_int_equal(a, INT64_MAX);
}

static void
test_least_load_ties_go_to_random_node(void **state)
{
	struct lb_select r;
	unsigned count[3] = { 0 };
	int i;

	add_node(1, 1, 0, "pstn=100", 1, NULL);
	add_node(2, 1, 0, "pstn=100", 1, NULL);
	req_init(&r, LB_ALG_LEAST_LOAD, 1);
	req_res(&r, "pstn");
	for (i = 0; i < 1000; i++)
		count[pick1(&r)]++;
	/* 50 % +-10 points (sd 1.6 points at n = 1,000) */
	assert_in_range(count[1], 400, 600);
	assert_in_range(count[2], 400, 600);
}

static void
test_least_load_tie_first_picks_lowest_id(void **state)
{
	struct lb_select r;
	int i;

	add_node(5, 1, 0, "pstn=100", 1, NULL);
	add_node(2, 1, 0, "pstn=100", 1, NULL);
	add_node(9, 1, 0, "pstn=100", 1, NULL);
	req_init(&r, LB_ALG_LEAST_LOAD, 1);
	req_res(&r, "pstn");
	r.tie_first = true;
	for (i = 0; i < 100; i++)
		assert_int_equal(pick1(&r), 2);
}

static void
test_least_load_uses_lb_group_and_others_use_set(void **state)
{
	struct lb_select r;
	int i;

	add_node(1, 7, 0, "pstn=100", 1, NULL); /* lb only */
	add_node(2, 0, 7, "pstn=100", 1, NULL); /* dispatcher only */
	req_init(&r, LB_ALG_LEAST_LOAD, 7);
	req_res(&r, "pstn");
	for (i = 0; i < 20; i++)
		assert_int_equal(pick1(&r), 1);
	for (i = 0; i < N_ALL_ALGS; i++) {
		if (all_algs[i] == LB_ALG_LEAST_LOAD)
			continue;
		r.alg = all_algs[i];
		r.hash_key = "k";
		assert_int_equal(pick1(&r), 2);
	}
	/* 0 is "no group / no set", never a pool */
	r.group = 0;
	for (i = 0; i < N_ALL_ALGS; i++) {
		r.alg = all_algs[i];
		assert_int_equal(status_of(&r), LB_SEL_NO_DESTINATION);
	}
}

/* ------------------------------------------------------------ statuses */

static void
test_bad_request_for_malformed_requests(void **state)
{
	struct lb_select r;
	uint32_t ex = 1;

	add_three();
	req_init(&r, LB_ALG_LEAST_LOAD, 1);
	assert_int_equal(status_of(&r), LB_SEL_BAD_REQUEST);
	req_res(&r, "pstn");
	assert_int_equal(status_of(&r), LB_SEL_OK);
	r.max_results = LB_MAX_RESULTS + 1;
	assert_int_equal(status_of(&r), LB_SEL_BAD_REQUEST);
	r.max_results = LB_MAX_RESULTS;
	assert_int_equal(status_of(&r), LB_SEL_OK);
	r.nres = -1;
	assert_int_equal(status_of(&r), LB_SEL_BAD_REQUEST);
	r.nres = LB_MAX_RES + 1;
	assert_int_equal(status_of(&r), LB_SEL_BAD_REQUEST);
	r.nres = 1;
	r.alg = (enum lb_alg)9;
	assert_int_equal(status_of(&r), LB_SEL_BAD_REQUEST);
	r.alg = LB_ALG_RANDOM;
	r.exclude = &ex;
	r.nexclude = LB_MAX_EXCLUDE + 1;
	assert_int_equal(status_of(&r), LB_SEL_BAD_REQUEST);
	r.exclude = NULL;
	r.nexclude = 1;
	assert_int_equal(status_of(&r), LB_SEL_BAD_REQUEST);
	/* a bad request leaves round-robin state and counters alone */
	assert_int_equal(node(1)->wrr_current, 0);
	assert_int_equal(
	    node(1)->selected + node(2)->selected + node(3)->selected, 2);
}

static void
test_no_destination_when_resource_not_offered(void **state)
{
	struct lb_select r;
	size_t i;

	add_three();
	req_init(&r, LB_ALG_LEAST_LOAD, 1);
	req_res(&r, "transc");
	assert_int_equal(status_of(&r), LB_SEL_NO_DESTINATION);
	/* offering one of two named resources is not offering them */
	req_res(&r, "pstn");
	assert_int_equal(status_of(&r), LB_SEL_NO_DESTINATION);
	for (i = 0; i < N_ALL_ALGS; i++) {
		r.alg = all_algs[i];
		assert_int_equal(status_of(&r), LB_SEL_NO_DESTINATION);
	}
	/* an unknown group is no destination either */
	req_init(&r, LB_ALG_RR, 2);
	assert_int_equal(status_of(&r), LB_SEL_NO_DESTINATION);
}

static void
test_no_destination_when_all_down_or_disabled_not_no_capacity(void **state)
{
	struct lb_select r;
	size_t i;

	add_three();
	set_load(3, "pstn", 100); /* full, but what matters is 1 and 2 */
	node(1)->up = false;
	node(2)->enabled = false;
	req_init(&r, LB_ALG_LEAST_LOAD, 1);
	req_res(&r, "pstn");
	/* 3 is up and full: capacity is the problem */
	assert_int_equal(status_of(&r), LB_SEL_NO_CAPACITY);
	node(3)->up = false;
	/* nothing up offers pstn: no destination, full or not */
	assert_int_equal(status_of(&r), LB_SEL_NO_DESTINATION);
	r.nres = 0;
	for (i = 0; i < N_ALL_ALGS; i++) {
		r.alg = all_algs[i];
		if (r.alg == LB_ALG_LEAST_LOAD)
			continue;
		assert_int_equal(status_of(&r), LB_SEL_NO_DESTINATION);
	}
	/* excluded counts as gone too */
	node(3)->up = true;
	{
		uint32_t ex = 3;

		r.alg = LB_ALG_RANDOM;
		r.exclude = &ex;
		r.nexclude = 1;
		assert_int_equal(status_of(&r), LB_SEL_NO_DESTINATION);
	}
}

static void
test_exclude_is_honoured_by_every_algorithm(void **state)
{
	struct lb_select r;
	uint32_t ex[2] = { 1, 3 };
	char key[32];
	size_t i;
	int j;

	add_three();
	add_node(4, 1, 1, "pstn=100", 1, NULL);
	for (i = 0; i < N_ALL_ALGS; i++) {
		req_any(&r, all_algs[i], key);
		r.exclude = ex;
		r.nexclude = 2;
		for (j = 0; j < 1000; j++) {
			uint32_t id;

			snprintf(key, sizeof(key), "k%d", j);
			id = pick1(&r);
			assert_true(id == 2 || id == 4);
		}
	}
}

static void
test_down_or_disabled_nodes_never_chosen_by_any_algorithm(void **state)
{
	struct lb_select r;
	struct lb_node *out[LB_MAX_RESULTS];
	unsigned nout, k;
	char key[32];
	size_t i;
	int j;

	add_three();
	add_node(4, 1, 1, "pstn=100", 1, NULL);
	add_node(5, 1, 1, "pstn=100", 1, NULL);
	node(1)->up = false;
	node(4)->enabled = false;
	/* the unusable ones look best to every ordering */
	node(1)->priority = node(4)->priority = 100;
	node(1)->rtt_us = node(4)->rtt_us = 1;
	node(1)->weight = node(4)->weight = 1000;
	set_load(2, "pstn", 50);
	set_load(3, "pstn", 50);
	set_load(5, "pstn", 50);
	for (i = 0; i < N_ALL_ALGS; i++) {
		req_any(&r, all_algs[i], key);
		r.max_results = 5;
		for (j = 0; j < 1000; j++) {
			snprintf(key, sizeof(key), "key-%d", j);
			assert_int_equal(sel(&r, out, &nout), LB_SEL_OK);
			assert_int_equal(nout, 3);
			for (k = 0; k < nout; k++)
				assert_true(out[k]->id == 2 ||
				    out[k]->id == 3 || out[k]->id == 5);
		}
	}
}

/* ------------------------------------------------------- max_results */

static void
test_max_results_returns_distinct_nodes_best_first(void **state)
{
	struct lb_select r;
	struct lb_node *out[LB_MAX_RESULTS];
	unsigned nout, a, b;
	size_t i;

	add_node(1, 1, 1, "pstn=100", 1, NULL);
	add_node(2, 1, 1, "pstn=100", 1, NULL);
	add_node(3, 1, 1, "pstn=100", 1, NULL);
	add_node(4, 1, 1, "pstn=100", 1, NULL);
	set_load(1, "pstn", 30);
	set_load(2, "pstn", 10);
	set_load(3, "pstn", 40);
	set_load(4, "pstn", 20);
	req_init(&r, LB_ALG_LEAST_LOAD, 1);
	req_res(&r, "pstn");
	r.max_results = 3;
	assert_int_equal(sel(&r, out, &nout), LB_SEL_OK);
	assert_int_equal(nout, 3);
	assert_int_equal(out[0]->id, 2);
	assert_int_equal(out[1]->id, 4);
	assert_int_equal(out[2]->id, 1);

	for (i = 0; i < N_ALL_ALGS; i++) {
		req_any(&r, all_algs[i], "abc");
		r.max_results = 3;
		assert_int_equal(sel(&r, out, &nout), LB_SEL_OK);
		assert_int_equal(nout, 3);
		for (a = 0; a < nout; a++)
			for (b = a + 1; b < nout; b++)
				assert_ptr_not_equal(out[a], out[b]);
	}
}

static void
test_max_results_capped_by_usable_nodes(void **state)
{
	struct lb_select r;
	struct lb_node *out[LB_MAX_RESULTS];
	unsigned nout;
	size_t i;

	add_three();
	node(2)->up = false;
	for (i = 0; i < N_ALL_ALGS; i++) {
		req_any(&r, all_algs[i], "abc");
		r.max_results = LB_MAX_RESULTS;
		assert_int_equal(sel(&r, out, &nout), LB_SEL_OK);
		assert_int_equal(nout, 2);
		assert_ptr_not_equal(out[0], out[1]);
		/* 0 means 1 */
		r.max_results = 0;
		assert_int_equal(sel(&r, out, &nout), LB_SEL_OK);
		assert_int_equal(nout, 1);
	}
}

static void
test_hash_failover_list_is_stable(void **state)
{
	struct lb_select r;
	struct lb_node *out[LB_MAX_RESULTS], *again[LB_MAX_RESULTS];
	unsigned nout, n2, i;

	add_three();
	add_node(4, 1, 1, "pstn=100", 1, NULL);
	req_init(&r, LB_ALG_HASH_CALLID, 1);
	r.hash_key = "a84b4c76e66710@pc33.atlanta.com";
	r.max_results = 4;
	assert_int_equal(sel(&r, out, &nout), LB_SEL_OK);
	assert_int_equal(nout, 4);
	assert_int_equal(sel(&r, again, &n2), LB_SEL_OK);
	assert_int_equal(n2, 4);
	for (i = 0; i < 4; i++)
		assert_ptr_equal(out[i], again[i]);
	/* the first fails over to the second: the list is the same minus it */
	out[0]->up = false;
	r.max_results = 3;
	assert_int_equal(sel(&r, again, &n2), LB_SEL_OK);
	for (i = 0; i < 3; i++)
		assert_ptr_equal(again[i], out[i + 1]);
}

/* ------------------------------------------------- priority, latency */

static void
test_priority_picks_highest_priority(void **state)
{
	struct lb_select r;
	struct lb_node *out[LB_MAX_RESULTS];
	unsigned nout;

	add_node(1, 0, 1, NULL, 1, NULL);
	add_node(2, 0, 1, NULL, 1, NULL);
	add_node(3, 0, 1, NULL, 1, NULL);
	add_node(4, 0, 1, NULL, 1, NULL);
	node(1)->priority = 5;
	node(2)->priority = 10;
	node(3)->priority = -3;
	node(4)->priority = 10;
	req_init(&r, LB_ALG_PRIORITY, 1);
	/* equal priorities: lowest id */
	assert_int_equal(pick1(&r), 2);
	assert_int_equal(pick1(&r), 2);
	r.max_results = 4;
	assert_int_equal(sel(&r, out, &nout), LB_SEL_OK);
	assert_int_equal(nout, 4);
	assert_int_equal(out[0]->id, 2);
	assert_int_equal(out[1]->id, 4);
	assert_int_equal(out[2]->id, 1);
	assert_int_equal(out[3]->id, 3);
	node(2)->up = false;
	r.max_results = 1;
	assert_int_equal(pick1(&r), 4);
}

static void
test_latency_picks_lowest_known_rtt_and_skips_unknown(void **state)
{
	struct lb_select r;
	struct lb_node *out[LB_MAX_RESULTS];
	unsigned nout;
	int i;

	add_node(1, 0, 1, NULL, 1, NULL);
	add_node(2, 0, 1, NULL, 1, NULL);
	add_node(3, 0, 1, NULL, 1, NULL);
	node(1)->rtt_us = 0; /* never measured */
	node(2)->rtt_us = 5000;
	node(3)->rtt_us = 2000;
	req_init(&r, LB_ALG_LATENCY, 1);
	for (i = 0; i < 100; i++)
		assert_int_equal(pick1(&r), 3);
	r.max_results = 3;
	assert_int_equal(sel(&r, out, &nout), LB_SEL_OK);
	assert_int_equal(nout, 3);
	assert_int_equal(out[0]->id, 3);
	assert_int_equal(out[1]->id, 2);
	assert_int_equal(out[2]->id, 1);
	/* unknown is still better than nothing */
	node(2)->up = node(3)->up = false;
	r.max_results = 1;
	assert_int_equal(pick1(&r), 1);
}

static void
test_latency_ties_random_unless_tie_first(void **state)
{
	struct lb_select r;
	unsigned count[3] = { 0 };
	int i;

	add_node(1, 0, 1, NULL, 1, NULL);
	add_node(2, 0, 1, NULL, 1, NULL);
	node(1)->rtt_us = node(2)->rtt_us = 800;
	req_init(&r, LB_ALG_LATENCY, 1);
	for (i = 0; i < 1000; i++)
		count[pick1(&r)]++;
	/* 50 % +-10 points (sd 1.6 points) */
	assert_in_range(count[1], 400, 600);
	r.tie_first = true;
	for (i = 0; i < 100; i++)
		assert_int_equal(pick1(&r), 1);
}

static void
test_select_counts_first_choice_only(void **state)
{
	struct lb_select r;
	struct lb_node *out[LB_MAX_RESULTS];
	unsigned nout;

	add_three();
	req_init(&r, LB_ALG_PRIORITY, 1);
	r.max_results = 3;
	assert_int_equal(sel(&r, out, &nout), LB_SEL_OK);
	assert_int_equal(sel(&r, out, &nout), LB_SEL_OK);
	assert_int_equal(node(1)->selected, 2);
	assert_int_equal(node(2)->selected, 0);
	assert_int_equal(node(3)->selected, 0);
	node(1)->up = node(2)->up = node(3)->up = false;
	assert_int_equal(status_of(&r), LB_SEL_NO_DESTINATION);
	assert_int_equal(node(1)->selected, 2);
}

/* ---------------------------------------------------------------- fuzz */

static uint64_t fz;

static uint32_t
fz_rand(uint32_t n)
{
	fz ^= fz << 13;
	fz ^= fz >> 7;
	fz ^= fz << 17;
	return (uint32_t)(fz % n);
}

static void
fuzz_table(void)
{
	static const char *names[] = { "a", "b", "c", "d" };
	uint32_t id;

	for (id = 1; id <= 40; id++) {
		struct lb_node *n;
		char res[128] = "";
		size_t len = 0;
		int j;

		for (j = 0; j < 4; j++)
			if (fz_rand(2))
				len += (size_t)snprintf(res + len,
				    sizeof(res) - len, "%s%s=%u",
				    len ? ";" : "", names[j], fz_rand(12));
		add_node(id, fz_rand(4), fz_rand(4), res, 1 + fz_rand(5),
		    fz_rand(2) ? "rweight=7" : NULL);
		n = node(id);
		n->enabled = fz_rand(5) != 0;
		n->up = fz_rand(4) != 0;
		n->rtt_us = fz_rand(3) ? fz_rand(10000) : 0;
		n->priority = (int32_t)fz_rand(7) - 3;
		for (j = 0; j < n->nres; j++)
			n->res[j].load = (int32_t)fz_rand(15);
	}
}

/* What lb_select must answer, worked out the slow way. */
static enum lb_sel_status
oracle(const struct lb_select *r, unsigned *usable)
{
	unsigned offered = 0, ok = 0;
	size_t i, e;

	if (r->nres < 0 || r->nres > LB_MAX_RES ||
	    r->max_results > LB_MAX_RESULTS ||
	    (r->alg == LB_ALG_LEAST_LOAD && r->nres == 0) ||
	    !strcmp(lb_alg_name(r->alg), "unknown"))
		return LB_SEL_BAD_REQUEST;
	for (i = 0; i < tbl.n; i++) {
		const struct lb_node *n = &tbl.nodes[i];
		uint32_t pool =
		    r->alg == LB_ALG_LEAST_LOAD ? n->group : n->set;
		bool ex = false;
		int64_t a;

		for (e = 0; e < r->nexclude; e++)
			ex |= r->exclude[e] == n->id;
		if (pool == 0 || pool != r->group || !n->enabled || !n->up ||
		    ex)
			continue;
		if (!lb_node_avail(n, r->res, r->nres, r->relative, &a))
			continue;
		offered++;
		if (r->nres == 0 || a > 0 || r->overcommit)
			ok++;
	}
	*usable = ok;
	if (ok)
		return LB_SEL_OK;
	return offered ? LB_SEL_NO_CAPACITY : LB_SEL_NO_DESTINATION;
}

static void
test_fuzz_random_requests_never_crash_and_answer_right(void **state)
{
	static const char *names[] = { "a", "b", "c", "d", "e" };
	struct lb_node *out[LB_MAX_RESULTS];
	uint32_t ex[LB_MAX_EXCLUDE];
	char key[16];
	int it;

	fz = 0x5eed5eed5eedull;
	fuzz_table();
	for (it = 0; it < 100000; it++) {
		struct lb_select r;
		enum lb_sel_status st, want;
		unsigned nout = 1234, usable = 0, k, a, b;
		int j;

		req_init(&r,
		    fz_rand(50) ? all_algs[fz_rand(N_ALL_ALGS)]
				: (enum lb_alg)(9 + fz_rand(3)),
		    fz_rand(5));
		r.nres = (int)fz_rand(4);
		if (fz_rand(200) == 0)
			r.nres = fz_rand(2) ? -1 : LB_MAX_RES + 1;
		for (j = 0; j < r.nres && j < LB_MAX_RES; j++)
			snprintf(
			    r.res[j], LB_RES_NAME, "%s", names[fz_rand(5)]);
		r.nexclude = fz_rand(6);
		for (k = 0; k < r.nexclude; k++)
			ex[k] = fz_rand(45);
		r.exclude = ex;
		r.max_results = fz_rand(35);
		r.overcommit = fz_rand(4) == 0;
		r.relative = fz_rand(2);
		r.tie_first = fz_rand(2);
		snprintf(key, sizeof(key), "%u", fz_rand(1000));
		r.hash_key = fz_rand(5) ? key : NULL;

		want = oracle(&r, &usable);
		st = sel(&r, out, &nout);
		assert_int_equal(st, want);
		if (st != LB_SEL_OK) {
			assert_int_equal(nout, 0);
		} else {
			k = r.max_results ? r.max_results : 1;
			assert_int_equal(nout, usable < k ? usable : k);
			for (a = 0; a < nout; a++)
				for (b = a + 1; b < nout; b++)
					assert_ptr_not_equal(out[a], out[b]);
			for (a = 0; a + 1 < nout; a++) {
				int64_t x = 0, y = 0;

				if (r.alg == LB_ALG_PRIORITY)
					assert_true(out[a]->priority >=
					    out[a + 1]->priority);
				if (r.alg != LB_ALG_LEAST_LOAD)
					continue;
				lb_node_avail(
				    out[a], r.res, r.nres, r.relative, &x);
				lb_node_avail(
				    out[a + 1], r.res, r.nres, r.relative, &y);
				assert_true(x >= y);
			}
		}
		/* churn: loads and health move under the selector */
		if (fz_rand(10) == 0) {
			struct lb_node *n =
			    &tbl.nodes[fz_rand((uint32_t)tbl.n)];

			n->up = !n->up;
			if (n->nres > 0)
				n->res[fz_rand((uint32_t)n->nres)].load =
				    (int32_t)fz_rand(15);
		}
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(test_alg_parse_maps_names_and_opensips_numbers),
		T(test_alg_parse_refuses_unknown_and_foreign_numbers),
		T(test_alg_name_round_trips_through_parse),
		T(test_rr_visits_each_up_node_once_per_cycle),
		T(test_wrr_gives_each_node_its_weight_per_cycle),
		T(test_rr_cycles_over_remaining_nodes_when_one_goes_down),
		T(test_rr_failover_list_follows_in_id_order),
		T(test_hash_auth_without_key_is_round_robin),
		T(test_weighted_random_follows_weights),
		T(test_relative_weight_respreads_share_when_node_goes_down),
		T(test_random_spreads_uniformly),
		T(test_hash_same_key_always_same_node),
		T(test_hash_spreads_distinct_keys_evenly),
		T(test_hash_weight_biases_share),
		T(test_hash_removing_node_moves_only_its_keys),
		T(test_least_load_picks_most_available),
		T(test_least_load_never_picks_full_node),
		T(test_least_load_no_capacity_when_all_full),
		T(test_least_load_overcommit_allows_full_nodes),
		T(test_least_load_relative_and_absolute_differ),
		T(test_least_load_multi_resource_uses_minimum),
		T(test_least_load_relative_is_integer_percent),
		T(test_node_avail_refuses_missing_resource_and_never_overflows),
		T(test_least_load_ties_go_to_random_node),
		T(test_least_load_tie_first_picks_lowest_id),
		T(test_least_load_uses_lb_group_and_others_use_set),
		T(test_bad_request_for_malformed_requests),
		T(test_no_destination_when_resource_not_offered),
		T(test_no_destination_when_all_down_or_disabled_not_no_capacity),
		T(test_exclude_is_honoured_by_every_algorithm),
		T(test_down_or_disabled_nodes_never_chosen_by_any_algorithm),
		T(test_max_results_returns_distinct_nodes_best_first),
		T(test_max_results_capped_by_usable_nodes),
		T(test_hash_failover_list_is_stable),
		T(test_priority_picks_highest_priority),
		T(test_latency_picks_lowest_known_rtt_and_skips_unknown),
		T(test_latency_ties_random_unless_tie_first),
		T(test_select_counts_first_choice_only),
		T(test_fuzz_random_requests_never_crash_and_answer_right),
#undef T
	};

	return cmocka_run_group_tests_name("lb_select", tests, NULL, NULL);
}
