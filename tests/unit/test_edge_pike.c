/*
 * The edge's flood limiter alone (pike.h): requests per source over a
 * sliding window, each reaction (a rate limit for drop/503, a block that
 * ends on time), the allow list and the nodes, responses and blocked
 * sources, the bound on tracked sources, and TCP connections per source.
 */
#include <errno.h>

#include "pike.h"
#include "unit.h"

#define MS 1000ull
#define S 1000000ull

static struct edge_pike pk;

static int
teardown(void **state)
{
	(void)state;
	edge_pike_free(&pk);
	return 0;
}

static struct sockaddr_storage
v4(const char *a)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *in = (struct sockaddr_in *)&ss;

	memset(&ss, 0, sizeof(ss));
	in->sin_family = AF_INET;
	in->sin_port = htons(5060);
	assert_int_equal(inet_pton(AF_INET, a, &in->sin_addr), 1);
	return ss;
}

static struct sockaddr_storage
v6(const char *a, int port)
{
	struct sockaddr_storage ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;

	memset(&ss, 0, sizeof(ss));
	in6->sin6_family = AF_INET6;
	in6->sin6_port = htons((uint16_t)port);
	assert_int_equal(inet_pton(AF_INET6, a, &in6->sin6_addr), 1);
	return ss;
}

static void
init(int requests, int window_ms, enum edge_pike_reaction r, int block_s,
    const char *allow)
{
	struct edge_pike_cfg c = { .requests = requests,
		.window_ms = window_ms,
		.reaction = r,
		.block_s = block_s };
	char err[128];

	assert_int_equal(edge_pike_init(&pk, &c, allow, err, sizeof(err)), 0);
}

/* n requests from a at t; how many passed */
static int
burst(const char *a, int n, uint64_t t)
{
	struct sockaddr_storage ss = v4(a);
	int pass = 0;

	for (int i = 0; i < n; i++)
		pass += edge_pike_request(&pk, &ss, t) == PIKE_PASS;
	return pass;
}

static void
zero_is_no_limit(void **state)
{
	struct sockaddr_storage ss = v4("192.0.2.1");

	(void)state;
	memset(&pk, 0, sizeof(pk)); /* a zeroed limiter: the edge's tests */
	for (int i = 0; i < 10000; i++)
		assert_int_equal(
		    edge_pike_request(&pk, &ss, 1 * S), PIKE_PASS);
	init(0, 1000, PIKE_REACT_BLOCK, 10, NULL);
	assert_int_equal(burst("192.0.2.1", 10000, 1 * S), 10000);
	assert_int_equal(pk.nsrcs, 0);
}

static void
drop_is_a_rate_limit_per_source(void **state)
{
	(void)state;
	init(10, 1000, PIKE_REACT_DROP, 10, NULL);
	assert_int_equal(burst("192.0.2.1", 25, 100 * S), 10);
	assert_int_equal(pk.st.over, 15);
	/* another address has its own count */
	assert_int_equal(burst("192.0.2.2", 5, 100 * S), 5);
	/* two windows later the first has its full share again: what went
	 * over was not counted, and no block */
	assert_int_equal(burst("192.0.2.1", 25, 102 * S + 1), 10);
	assert_int_equal(pk.st.blocks_started, 0);
	assert_int_equal(pk.nblocked, 0);
}

static void
window_slides(void **state)
{
	(void)state;
	init(10, 1000, PIKE_REACT_DROP, 10, NULL);
	assert_int_equal(burst("192.0.2.1", 10, 100 * S), 10);
	/* the next window, a quarter in: 3/4 of the previous 10 still weigh
	 * (7), so 3 more pass */
	assert_int_equal(burst("192.0.2.1", 10, 101 * S + 250 * MS), 3);
	/* at three quarters: 3 + 1/4 of 10 (2) = 5, 5 more */
	assert_int_equal(burst("192.0.2.1", 10, 101 * S + 750 * MS), 5);
}

static void
block_drops_everything_then_ends_once(void **state)
{
	struct sockaddr_storage ss = v4("192.0.2.9");

	(void)state;
	init(5, 1000, PIKE_REACT_BLOCK, 3, NULL);
	assert_int_equal(burst("192.0.2.9", 5, 10 * S), 5);
	assert_int_equal(edge_pike_request(&pk, &ss, 10 * S), PIKE_BLOCKED);
	assert_int_equal(pk.st.blocks_started, 1);
	assert_int_equal(pk.nblocked, 1);
	/* all of it dropped for 3 s, requests and anything else alike; no
	 * new block while it lasts */
	assert_int_equal(burst("192.0.2.9", 1000, 11 * S), 0);
	assert_true(edge_pike_blocked(&pk, &ss, 12 * S));
	assert_int_equal(pk.st.blocked_drops, 1 + 1000 + 1);
	assert_int_equal(pk.st.blocks_started, 1);
	/* others are not blocked */
	assert_false(
	    edge_pike_blocked(&pk, &(struct sockaddr_storage){ 0 }, 12 * S));
	assert_int_equal(burst("192.0.2.10", 5, 12 * S), 5);
	/* the tick ends it on time, once, though nothing came */
	edge_pike_expire(&pk, 13 * S - 1);
	assert_int_equal(pk.nblocked, 1);
	edge_pike_expire(&pk, 13 * S);
	assert_int_equal(pk.nblocked, 0);
	assert_int_equal(pk.st.blocks_ended, 1);
	edge_pike_expire(&pk, 13 * S + 500 * MS);
	assert_int_equal(pk.st.blocks_ended, 1);
	assert_false(edge_pike_blocked(&pk, &ss, 13 * S + 500 * MS));
	/* a fresh count afterwards: still flooding, blocked again */
	assert_int_equal(burst("192.0.2.9", 10, 14 * S), 5);
	assert_int_equal(pk.st.blocks_started, 2);
}

static void
block_ends_on_the_next_message_too(void **state)
{
	struct sockaddr_storage ss = v4("192.0.2.9");

	(void)state;
	init(1, 1000, PIKE_REACT_BLOCK, 2, NULL);
	assert_int_equal(burst("192.0.2.9", 3, 10 * S), 1);
	assert_int_equal(pk.nblocked, 1);
	/* before any tick: the block is over when its time is */
	assert_int_equal(edge_pike_request(&pk, &ss, 12 * S), PIKE_PASS);
	assert_int_equal(pk.nblocked, 0);
	assert_int_equal(pk.st.blocks_ended, 1);
	edge_pike_expire(&pk, 12 * S + 1);
	assert_int_equal(pk.st.blocks_ended, 1);
}

static void
allow_list_and_nodes_are_never_limited(void **state)
{
	struct sockaddr_storage nodes[2] = { v4("198.51.100.7"),
		v6("2001:db8::5", 5080) };
	struct sockaddr_storage mapped = v6("::ffff:10.1.2.3", 1);

	(void)state;
	init(2, 1000, PIKE_REACT_BLOCK, 60,
	    "10.0.0.0/8, 203.0.113.5 ,"
	    "2001:db8:1::/48");
	assert_int_equal(pk.nallow, 3);
	assert_int_equal(burst("10.200.3.4", 1000, 1 * S), 1000);
	assert_int_equal(burst("203.0.113.5", 1000, 1 * S), 1000);
	assert_int_equal(burst("203.0.113.6", 1000, 1 * S), 2);
	assert_int_equal(burst("11.0.0.1", 1000, 1 * S), 2);
	assert_true(edge_pike_allowed(&pk, &mapped)); /* IPv4-mapped */
	{
		struct sockaddr_storage in = v6("2001:db8:1:ffff::1", 9);
		struct sockaddr_storage out = v6("2001:db8:2::1", 9);

		assert_true(edge_pike_allowed(&pk, &in));
		assert_false(edge_pike_allowed(&pk, &out));
	}
	/* the nodes, any port */
	assert_int_equal(edge_pike_set_nodes(&pk, nodes, 2), 0);
	assert_int_equal(burst("198.51.100.7", 1000, 1 * S), 1000);
	{
		struct sockaddr_storage n6 = v6("2001:db8::5", 40000);

		for (int i = 0; i < 100; i++)
			assert_int_equal(
			    edge_pike_request(&pk, &n6, 1 * S), PIKE_PASS);
		assert_false(edge_pike_blocked(&pk, &n6, 1 * S));
	}
	/* a new table replaces the old one */
	assert_int_equal(edge_pike_set_nodes(&pk, &nodes[1], 1), 0);
	assert_int_equal(burst("198.51.100.7", 10, 2 * S), 2);
	assert_int_equal(pk.st.blocks_started, 3);
}

static void
bad_allow_items_are_refused(void **state)
{
	struct edge_pike_cfg c = { .requests = 1, .window_ms = 1000 };
	char err[128];

	(void)state;
	assert_int_equal(
	    edge_pike_init(&pk, &c, "10.0.0.0/33", err, sizeof(err)), EINVAL);
	assert_non_null(strstr(err, "10.0.0.0/33"));
	assert_int_equal(
	    edge_pike_init(&pk, &c, "example.com", err, sizeof(err)), EINVAL);
	assert_int_equal(
	    edge_pike_init(&pk, &c, "1.2.3.4/", err, sizeof(err)), EINVAL);
	/* 10.1.2.3/8 is the network 10/8 */
	assert_int_equal(
	    edge_pike_init(&pk, &c, "10.1.2.3/8", err, sizeof(err)), 0);
	assert_true(edge_pike_allowed(&pk, &(struct sockaddr_storage){ 0 }));
	{
		struct sockaddr_storage a = v4("10.9.9.9");

		assert_true(edge_pike_allowed(&pk, &a));
	}
	assert_int_equal(edge_pike_reaction_parse("503", &c.reaction), 0);
	assert_int_equal(c.reaction, PIKE_REACT_503);
	assert_int_equal(edge_pike_reaction_parse("BLOCK", &c.reaction), 0);
	assert_int_equal(c.reaction, PIKE_REACT_BLOCK);
	assert_int_equal(
	    edge_pike_reaction_parse("reject", &c.reaction), EINVAL);
}

static void
tracked_sources_are_bounded(void **state)
{
	struct edge_pike_cfg c = { .requests = 3,
		.window_ms = 1000,
		.reaction = PIKE_REACT_BLOCK,
		.block_s = 60,
		.max_sources = 100 };
	char err[128], a[32];

	(void)state;
	assert_int_equal(edge_pike_init(&pk, &c, NULL, err, sizeof(err)), 0);
	/* a blocked source, then a spray of 10,000 others */
	assert_int_equal(burst("192.0.2.9", 5, 1 * S), 3);
	assert_int_equal(pk.nblocked, 1);
	for (int i = 0; i < 10000; i++) {
		snprintf(a, sizeof(a), "10.%d.%d.1", i / 256, i % 256);
		burst(a, 1, 1 * S + (uint64_t)i);
		assert_true(pk.nsrcs <= 100);
	}
	assert_int_equal(pk.nsrcs, 100);
	assert_int_equal(pk.st.evicted, 10000 + 1 - 100);
	/* the quietest unblocked ones went, the blocked one stayed */
	assert_int_equal(pk.nblocked, 1);
	assert_true(
	    edge_pike_blocked(&pk,
		&(struct sockaddr_storage){ .ss_family = 0 }, 2 * S) == false);
	{
		struct sockaddr_storage b = v4("192.0.2.9");

		assert_true(edge_pike_blocked(&pk, &b, 2 * S));
	}
	/* quiet ones are forgotten after two windows; the block stays */
	assert_int_equal(edge_pike_expire(&pk, 4 * S), 99);
	assert_int_equal(pk.nsrcs, 1);
	assert_int_equal(pk.nblocked, 1);
}

static void
full_of_blocked_sources_forgets_the_quietest(void **state)
{
	struct edge_pike_cfg c = { .requests = 1,
		.window_ms = 1000,
		.reaction = PIKE_REACT_BLOCK,
		.block_s = 60,
		.max_sources = 16 };
	char err[128], a[32];

	(void)state;
	assert_int_equal(edge_pike_init(&pk, &c, NULL, err, sizeof(err)), 0);
	for (int i = 0; i < 40; i++) {
		snprintf(a, sizeof(a), "10.0.0.%d", i);
		burst(a, 2, 1 * S + (uint64_t)i);
	}
	assert_int_equal(pk.nsrcs, 16);
	assert_int_equal(pk.nblocked, 16);
	assert_int_equal(pk.st.blocks_started, 40);
	/* the newest are the ones still held */
	{
		struct sockaddr_storage old = v4("10.0.0.0"),
					new = v4("10.0.0.39");

		assert_false(edge_pike_blocked(&pk, &old, 2 * S));
		assert_true(edge_pike_blocked(&pk, &new, 2 * S));
	}
}

static void
tcp_connections_per_source(void **state)
{
	struct edge_pike_cfg c = { .conns_per_source = 3 };
	struct sockaddr_storage a = v4("192.0.2.1"), b = v4("192.0.2.2"),
				t = v4("203.0.113.5");
	char err[128];
	bool counted;

	(void)state;
	assert_int_equal(
	    edge_pike_init(&pk, &c, "203.0.113.5", err, sizeof(err)), 0);
	for (int i = 0; i < 3; i++) {
		assert_true(edge_pike_conn_open(&pk, &a, &counted));
		assert_true(counted);
	}
	assert_false(edge_pike_conn_open(&pk, &a, &counted));
	assert_false(counted);
	assert_int_equal(pk.st.conns_refused, 1);
	assert_int_equal(edge_pike_conns_of(&pk, &a), 3);
	assert_true(edge_pike_conn_open(&pk, &b, &counted));
	/* the allow list has no limit and is not counted */
	for (int i = 0; i < 10; i++) {
		assert_true(edge_pike_conn_open(&pk, &t, &counted));
		assert_false(counted);
	}
	/* one closed: one more may come */
	edge_pike_conn_close(&pk, &a);
	assert_int_equal(edge_pike_conns_of(&pk, &a), 2);
	assert_true(edge_pike_conn_open(&pk, &a, &counted));
	assert_false(edge_pike_conn_open(&pk, &a, &counted));
	for (int i = 0; i < 3; i++)
		edge_pike_conn_close(&pk, &a);
	assert_int_equal(edge_pike_conns_of(&pk, &a), 0);
	edge_pike_conn_close(&pk, &a); /* not below zero */
	assert_int_equal(edge_pike_conns_of(&pk, &a), 0);
	/* no limit: nothing counted */
	edge_pike_free(&pk);
	c.conns_per_source = 0;
	assert_int_equal(edge_pike_init(&pk, &c, NULL, err, sizeof(err)), 0);
	for (int i = 0; i < 100; i++) {
		assert_true(edge_pike_conn_open(&pk, &a, &counted));
		assert_false(counted);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(x) cmocka_unit_test_teardown(x, teardown)
		T(zero_is_no_limit),
		T(drop_is_a_rate_limit_per_source),
		T(window_slides),
		T(block_drops_everything_then_ends_once),
		T(block_ends_on_the_next_message_too),
		T(allow_list_and_nodes_are_never_limited),
		T(bad_allow_items_are_refused),
		T(tracked_sources_are_bounded),
		T(full_of_blocked_sources_forgets_the_quietest),
		T(tcp_connections_per_source),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
