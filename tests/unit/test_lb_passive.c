#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "lb.h"
#include "svc.h"
#include "unit.h"

/*
 * Passive health: the counting rule (services/lb/passive.c: per node, per
 * caller, at most threshold - 1 per caller), the all-down policy
 * (lb_select_last_resort, and the scheduler's refuse / last_resort with
 * its episodes and counters, services/scheduler/passive.c), and a
 * scheduler without a prober marking a node down on the reports alone.
 */

#define S 1000000ull /* one second in us */
#define W (30 * S) /* passive_window 30 s */

#define PC true /* per caller: a prober can be asked */

static void
test_one_caller_never_suspects_a_node(void **state)
{
	struct lb_passive p;
	uint32_t counted = 0;
	int probes = 0;

	(void)state;
	lb_passive_reset(&p);
	/* the RFC 4475 run: one caller, a hundred ignored INVITEs */
	for (int i = 0; i < 100; i++) {
		enum lb_passive_verdict v = lb_passive_report(&p, "192.0.2.7",
		    2, PC, W, S + (uint64_t)i * 10000, &counted);

		assert_int_not_equal(v, LB_PASSIVE_SUSPECT);
		/* a probe at its 2nd, 4th, 8th ... 64th report, no more */
		if (v == LB_PASSIVE_ONE_CALLER) {
			probes++;
			assert_int_equal(i + 1, 2 << (probes - 1));
		}
	}
	assert_int_equal(probes, 6);
	assert_int_equal(counted, 1);
	assert_int_equal(lb_passive_sources(&p, W, 2 * S), 1);
	/* a second caller makes it two: suspected, once */
	assert_int_equal(
	    lb_passive_report(&p, "198.51.100.9", 2, PC, W, 2 * S, &counted),
	    LB_PASSIVE_SUSPECT);
	assert_int_equal(counted, 2);
	assert_int_equal(lb_passive_sources(&p, W, 2 * S), 2);
	assert_int_equal(
	    lb_passive_report(&p, "198.51.100.9", 2, PC, W, 2 * S, NULL),
	    LB_PASSIVE_ONE_CALLER); /* its own 2nd */
	assert_int_equal(
	    lb_passive_report(&p, "203.0.113.1", 2, PC, W, 2 * S, &counted),
	    LB_PASSIVE_COUNTED); /* above already */
	assert_int_equal(counted, 3);
}

static void
test_without_prober_every_report_counts(void **state)
{
	struct lb_passive p;
	uint32_t counted = 0;

	(void)state;
	lb_passive_reset(&p);
	/* no prober to ask: as before, whoever reports */
	assert_int_equal(
	    lb_passive_report(&p, "192.0.2.7", 2, false, W, S, &counted),
	    LB_PASSIVE_COUNTED);
	assert_int_equal(counted, 1);
	assert_int_equal(
	    lb_passive_report(&p, "192.0.2.7", 2, false, W, S, &counted),
	    LB_PASSIVE_SUSPECT);
	assert_int_equal(counted, 2);
	assert_int_equal(
	    lb_passive_report(&p, "192.0.2.7", 2, false, W, S, NULL),
	    LB_PASSIVE_COUNTED);
}

static void
test_threshold_three_needs_two_callers(void **state)
{
	struct lb_passive p;
	uint32_t counted = 0;

	(void)state;
	lb_passive_reset(&p);
	for (int i = 0; i < 10; i++)
		assert_int_not_equal(
		    lb_passive_report(&p, "10.0.0.1", 3, PC, W, S, &counted),
		    LB_PASSIVE_SUSPECT);
	assert_int_equal(counted, 2); /* threshold - 1 per caller */
	assert_int_equal(
	    lb_passive_report(&p, "10.0.0.2", 3, PC, W, S, &counted),
	    LB_PASSIVE_SUSPECT);
	assert_int_equal(counted, 3);
	/* three callers with one report each suspect it too */
	lb_passive_reset(&p);
	assert_int_equal(lb_passive_report(&p, "10.0.0.1", 3, PC, W, S, NULL),
	    LB_PASSIVE_COUNTED);
	assert_int_equal(lb_passive_report(&p, "10.0.0.2", 3, PC, W, S, NULL),
	    LB_PASSIVE_COUNTED);
	assert_int_equal(lb_passive_report(&p, "10.0.0.3", 3, PC, W, S, NULL),
	    LB_PASSIVE_SUSPECT);
}

static void
test_reports_count_within_their_window(void **state)
{
	struct lb_passive p;
	uint32_t counted = 0;

	(void)state;
	lb_passive_reset(&p);
	assert_int_equal(lb_passive_report(&p, "10.0.0.1", 2, PC, W, S, NULL),
	    LB_PASSIVE_COUNTED);
	/* the first caller's report is older than the window: alone again */
	assert_int_equal(
	    lb_passive_report(&p, "10.0.0.2", 2, PC, W, S + W + 1, &counted),
	    LB_PASSIVE_COUNTED);
	assert_int_equal(counted, 1);
	assert_int_equal(lb_passive_counted(&p, 2, PC, W, S + W + 1), 1);
	assert_int_equal(lb_passive_sources(&p, W, S + W + 1), 1);
	/* the first caller again: its window starts over, with the second's
	 * still open */
	assert_int_equal(
	    lb_passive_report(&p, "10.0.0.1", 2, PC, W, S + W + 2, &counted),
	    LB_PASSIVE_SUSPECT);
	assert_int_equal(counted, 2);
	/* everything expired */
	assert_int_equal(lb_passive_counted(&p, 2, PC, W, 3 * W), 0);
}

static void
test_thresholds_one_and_zero(void **state)
{
	struct lb_passive p;

	(void)state;
	lb_passive_reset(&p);
	/* threshold 1: one report from anyone (documented) */
	assert_int_equal(lb_passive_report(&p, "10.0.0.1", 1, PC, W, S, NULL),
	    LB_PASSIVE_SUSPECT);
	lb_passive_reset(&p);
	for (int i = 0; i < 5; i++) {
		assert_int_equal(
		    lb_passive_report(&p, "10.0.0.1", 0, PC, W, S, NULL),
		    LB_PASSIVE_COUNTED);
		assert_int_equal(
		    lb_passive_report(&p, "10.0.0.2", 0, PC, W, S, NULL),
		    LB_PASSIVE_COUNTED);
	}
}

static void
test_unnamed_callers_are_one_source(void **state)
{
	struct lb_passive p;

	(void)state;
	lb_passive_reset(&p);
	/* an edge that does not send the caller's address */
	assert_int_equal(lb_passive_report(&p, NULL, 2, PC, W, S, NULL),
	    LB_PASSIVE_COUNTED);
	assert_int_not_equal(
	    lb_passive_report(&p, "", 2, PC, W, S, NULL), LB_PASSIVE_SUSPECT);
	assert_int_not_equal(lb_passive_report(&p, NULL, 2, PC, W, S, NULL),
	    LB_PASSIVE_SUSPECT);
	assert_int_equal(lb_passive_sources(&p, W, S), 1);
	assert_int_equal(lb_passive_report(&p, "10.0.0.1", 2, PC, W, S, NULL),
	    LB_PASSIVE_SUSPECT);
}

static void
test_many_callers_replace_the_oldest(void **state)
{
	struct lb_passive p;
	char a[32];
	uint32_t counted = 0;

	(void)state;
	lb_passive_reset(&p);
	/* threshold high enough never to be reached: the table only */
	for (int i = 0; i < LB_PASSIVE_SOURCES + 3; i++) {
		snprintf(a, sizeof(a), "10.0.1.%d", i);
		assert_int_equal(lb_passive_report(&p, a, 100, PC, W,
				     S + (uint64_t)i, &counted),
		    LB_PASSIVE_COUNTED);
	}
	assert_int_equal(counted, LB_PASSIVE_SOURCES);
	assert_int_equal(lb_passive_sources(&p, W, 2 * S), LB_PASSIVE_SOURCES);
	/* the first three were replaced; the newest are all there */
	for (int i = 0; i < LB_PASSIVE_SOURCES; i++) {
		bool seen = false;

		snprintf(a, sizeof(a), "10.0.1.%d", i + 3);
		for (int j = 0; j < LB_PASSIVE_SOURCES; j++)
			if (strcmp(p.src[j].addr, a) == 0)
				seen = true;
		assert_true(seen);
	}
	lb_passive_reset(&p);
	assert_int_equal(lb_passive_sources(&p, W, 2 * S), 0);
}

/* ------------------------------------------------------------ all down */

static void
three_nodes(struct lb_table *t)
{
	lb_table_init(t, 11);
	unit_add_node(t, 1, "sip:10.0.0.1", 1, 1, "pstn=500");
	unit_add_node(t, 2, "sip:10.0.0.2", 1, 1, "pstn=500");
	unit_add_node(t, 3, "sip:10.0.0.3", 1, 1, "pstn=500");
}

static void
req_for(struct lb_select *q, enum lb_alg alg)
{
	memset(q, 0, sizeof(*q));
	q->alg = alg;
	q->group = 1;
	q->nres = 1;
	strcpy(q->res[0], "pstn");
	q->tie_first = true;
}

static void
test_last_resort_only_when_all_down(void **state)
{
	struct lb_table t;
	struct lb_select q;
	struct lb_node *out[4];
	unsigned n = 9;

	(void)state;
	three_nodes(&t);
	req_for(&q, LB_ALG_LEAST_LOAD);
	lb_table_find(&t, 1)->up = false;
	lb_table_find(&t, 2)->up = false;
	/* one node up: not all down, and last resort never picks a down one */
	assert_false(lb_pool_all_down(&t, &q));
	assert_int_equal(
	    lb_select_last_resort(&t, &q, out, &n), LB_SEL_NO_DESTINATION);
	assert_int_equal(n, 0);
	assert_int_equal(lb_select(&t, &q, out, &n), LB_SEL_OK);
	assert_int_equal(out[0]->id, 3);
	/* all down: lb_select refuses, last resort takes a down node */
	lb_table_find(&t, 3)->up = false;
	assert_true(lb_pool_all_down(&t, &q));
	assert_int_equal(lb_select(&t, &q, out, &n), LB_SEL_NO_DESTINATION);
	assert_int_equal(lb_select_last_resort(&t, &q, out, &n), LB_SEL_OK);
	assert_int_equal(n, 1);
	assert_false(out[0]->up);
	/* the dispatcher set too (round-robin), failover excludes apply */
	req_for(&q, LB_ALG_RR);
	q.nres = 0;
	{
		uint32_t ex[2] = { 1, 2 };

		q.exclude = ex;
		q.nexclude = 2;
		assert_int_equal(
		    lb_select_last_resort(&t, &q, out, &n), LB_SEL_OK);
		assert_int_equal(out[0]->id, 3);
		q.nexclude = 0;
	}
	lb_table_free(&t);
}

static void
test_last_resort_never_takes_disabled_or_draining_nodes(void **state)
{
	struct lb_table t;
	struct lb_select q;
	struct lb_node *out[4];
	unsigned n = 0;

	(void)state;
	three_nodes(&t);
	req_for(&q, LB_ALG_LEAST_LOAD);
	for (uint32_t id = 1; id <= 3; id++)
		lb_table_find(&t, id)->up = false;
	lb_table_find(&t, 1)->enabled = false;
	lb_table_find(&t, 2)->draining = true;
	lb_table_find(&t, 2)->held = true;
	for (int i = 0; i < 20; i++) {
		assert_int_equal(
		    lb_select_last_resort(&t, &q, out, &n), LB_SEL_OK);
		assert_int_equal(out[0]->id, 3);
	}
	/* node 3 excluded (it failed too): nothing left, 503 */
	{
		uint32_t ex[1] = { 3 };

		q.exclude = ex;
		q.nexclude = 1;
		assert_int_equal(lb_select_last_resort(&t, &q, out, &n),
		    LB_SEL_NO_DESTINATION);
		q.nexclude = 0;
	}
	/* only disabled and draining nodes: not even a pool to be all down */
	lb_table_find(&t, 3)->enabled = false;
	assert_false(lb_pool_all_down(&t, &q));
	assert_int_equal(
	    lb_select_last_resort(&t, &q, out, &n), LB_SEL_NO_DESTINATION);
	/* an up node that is only disabled does not count as up */
	lb_table_find(&t, 1)->up = true;
	lb_table_find(&t, 3)->enabled = true;
	assert_true(lb_pool_all_down(&t, &q));
	lb_table_free(&t);
}

/* A scheduler with only what passive.c's all-down policy uses. */
static uint32_t
sched_pick(struct sched_svc *s, enum lb_sel_status *stp)
{
	struct lb_select q;
	struct lb_node *out[1];
	unsigned n = 0;
	enum lb_sel_status st;

	req_for(&q, LB_ALG_LEAST_LOAD);
	st = lb_select(&s->table, &q, out, &n);
	st = sched_passive_all_down(s, &q, st, out, &n);
	*stp = st;
	return st == LB_SEL_OK ? out[0]->id : 0;
}

static void
test_sched_all_down_refuse_and_last_resort(void **state)
{
	struct sched_svc *s = calloc(1, sizeof(*s));
	enum lb_sel_status st;

	(void)state;
	assert_non_null(s);
	three_nodes(&s->table);
	for (uint32_t id = 1; id <= 3; id++)
		lb_table_find(&s->table, id)->up = false;
	/* refuse (the default): every call is refused and counted, the
	 * episode begins once */
	for (int i = 0; i < 5; i++) {
		assert_int_equal(sched_pick(s, &st), 0);
		assert_int_equal(st, LB_SEL_NO_DESTINATION);
	}
	assert_int_equal(s->pst.refused, 5);
	assert_int_equal(s->pst.episodes, 1);
	assert_int_equal(s->pst.last_resort, 0);
	/* last_resort: calls go to the down nodes, one episode still */
	s->last_resort = true;
	for (int i = 0; i < 5; i++) {
		assert_int_not_equal(sched_pick(s, &st), 0);
		assert_int_equal(st, LB_SEL_OK);
	}
	assert_int_equal(s->pst.last_resort, 5);
	assert_int_equal(s->pst.episodes, 1);
	/* a node up: a normal selection ends the episode */
	lb_table_find(&s->table, 2)->up = true;
	assert_int_equal(sched_pick(s, &st), 2);
	assert_false(s->episodes[0].on);
	assert_int_equal(s->pst.last_resort, 5);
	/* down again: a second episode */
	lb_table_find(&s->table, 2)->up = false;
	assert_int_not_equal(sched_pick(s, &st), 0);
	assert_int_equal(s->pst.episodes, 2);
	assert_int_equal(s->pst.last_resort, 6);
	/* no capacity is not "all down" */
	for (uint32_t id = 1; id <= 3; id++) {
		lb_table_find(&s->table, id)->up = true;
		lb_table_find(&s->table, id)->res[0].load = 500;
	}
	assert_int_equal(sched_pick(s, &st), 0);
	assert_int_equal(st, LB_SEL_NO_CAPACITY);
	assert_int_equal(s->pst.refused, 5);
	lb_table_free(&s->table);
	free(s);
}

/* Without a prober: the reports mark it down as before, from one caller
 * too (they are the only way a dead node leaves rotation then). */
static void
test_sched_without_prober_reports_mark_down(void **state)
{
	struct sched_svc *s = calloc(1, sizeof(*s));
	Siplb__V1__NodeHealth h = SIPLB__V1__NODE_HEALTH__INIT;
	char url[128];

	(void)state;
	assert_non_null(s);
	snprintf(url, sizeof(url), "ipc:///tmp/siplb-unit-passive-%d.pub",
	    (int)getpid());
	assert_int_equal(slb_pub_open(&s->pub, url, "scheduler"), 0);
	s->cfg.passive_threshold = 2;
	s->cfg.passive_window_ms = 30000;
	three_nodes(&s->table);
	h.node_id = 1;
	h.passive = true;
	h.last_code = 408;
	h.source = "192.0.2.7";
	sched_passive_report(s, &h, "edge");
	assert_true(lb_table_find(&s->table, 1)->up);
	sched_passive_report(s, &h, "edge");
	assert_false(lb_table_find(&s->table, 1)->up);
	assert_int_equal(s->pst.reports, 2);
	assert_int_equal(s->pst.suspected, 1);
	assert_true(lb_table_find(&s->table, 2)->up);
	/* its counts were spent by the transition; reports on a down node
	 * are not counted */
	assert_int_equal(
	    lb_passive_sources(
		&lb_table_find(&s->table, 1)->passive, 30 * S, slb_now_us()),
	    0);
	sched_passive_report(s, &h, "edge");
	assert_int_equal(s->pst.reports, 2);
	slb_pub_close(s->pub);
	lb_table_free(&s->table);
	free(s);
	unlink(url + strlen("ipc://"));
}

static void
run_loop_ms(struct event_base *b, int ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	event_base_loopexit(b, &tv);
	event_base_dispatch(b);
}

/* A prober configured but not answering: a suspicion stays in rotation
 * while it waits, then two callers' reports mark the node down; one
 * caller's probe request that nobody takes leaves the node up. */
static void
test_sched_prober_silent(void **state)
{
	struct sched_svc *s = calloc(1, sizeof(*s));
	Siplb__V1__NodeHealth h = SIPLB__V1__NODE_HEALTH__INIT;
	char url[128];

	(void)state;
	assert_non_null(s);
	snprintf(url, sizeof(url), "ipc:///tmp/siplb-unit-passive2-%d.pub",
	    (int)getpid());
	assert_int_equal(slb_pub_open(&s->pub, url, "scheduler"), 0);
	assert_int_equal(slb_loop_new(&s->base), 0);
	assert_int_equal(slb_bridge_new(&s->br, s->base), 0);
	s->cfg.passive_threshold = 2;
	s->cfg.passive_window_ms = 30000;
	snprintf(s->cfg.all_down, sizeof(s->cfg.all_down), "refuse");
	snprintf(s->cfg.prober_rep, sizeof(s->cfg.prober_rep),
	    "ipc:///tmp/siplb-unit-nobody-%d.rep", (int)getpid());
	s->nprobers = 1; /* as if prober_pub were subscribed */
	assert_int_equal(sched_passive_init(s), 0);
	assert_int_equal(s->nprober_rc, 1);
	three_nodes(&s->table);
	h.passive = true;
	h.last_code = 408;
	/* node 1: one caller, twice: a probe asked, nobody answers */
	h.node_id = 1;
	h.source = "192.0.2.7";
	sched_passive_report(s, &h, "edge");
	sched_passive_report(s, &h, "edge");
	assert_int_equal(s->pst.suspected, 1);
	/* node 2: two callers: suspected, in rotation while it waits */
	h.node_id = 2;
	sched_passive_report(s, &h, "edge");
	h.source = "192.0.2.8";
	sched_passive_report(s, &h, "edge");
	assert_int_equal(s->pst.suspected, 2);
	assert_true(lb_table_find(&s->table, 2)->up);
	run_loop_ms(s->base, 300);
	assert_true(lb_table_find(&s->table, 2)->up);
	/* the request times out (1 s): two callers' word marks it down */
	run_loop_ms(s->base, 1500);
	assert_false(lb_table_find(&s->table, 2)->up);
	assert_true(lb_table_find(&s->table, 1)->up);
	assert_int_equal(s->pst.unconfirmed, 1);
	assert_int_equal(s->pst.probe_down, 0);
	sched_passive_close(s);
	slb_bridge_free(s->br);
	slb_loop_free(s->base);
	slb_pub_close(s->pub);
	lb_table_free(&s->table);
	free(s);
	unlink(url + strlen("ipc://"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_one_caller_never_suspects_a_node),
		cmocka_unit_test(test_without_prober_every_report_counts),
		cmocka_unit_test(test_threshold_three_needs_two_callers),
		cmocka_unit_test(test_reports_count_within_their_window),
		cmocka_unit_test(test_thresholds_one_and_zero),
		cmocka_unit_test(test_unnamed_callers_are_one_source),
		cmocka_unit_test(test_many_callers_replace_the_oldest),
		cmocka_unit_test(test_last_resort_only_when_all_down),
		cmocka_unit_test(
		    test_last_resort_never_takes_disabled_or_draining_nodes),
		cmocka_unit_test(test_sched_all_down_refuse_and_last_resort),
		cmocka_unit_test(test_sched_without_prober_reports_mark_down),
		cmocka_unit_test(test_sched_prober_silent),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
