/* Node table: OpenSIPS resources strings, the node-table file, reloads. */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lb.h"
#include "unit.h"

static void
test_resources_from_opensips_row_parse(void **state)
{
	struct lb_res r[LB_MAX_RES];
	char err[256];
	int n = -1;

	(void)state;
	assert_int_equal(lb_res_parse("vm=100;conf=100;transc=100;pstn=500", r,
			     &n, err, sizeof(err)),
	    0);
	assert_int_equal(n, 4);
	assert_string_equal(r[0].name, "vm");
	assert_int_equal(r[0].cap, 100);
	assert_string_equal(r[3].name, "pstn");
	assert_int_equal(r[3].cap, 500);
	assert_int_equal(r[3].load, 0);
	/* OpenSIPS trims spaces and a trailing separator */
	assert_int_equal(
	    lb_res_parse(" pstn = 5 ; vm=1;", r, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 2);
	assert_string_equal(r[0].name, "pstn");
	assert_int_equal(r[0].cap, 5);
	assert_int_equal(lb_res_parse("", r, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 0);
}

static void
test_bad_resources_are_refused_with_reason(void **state)
{
	static const struct {
		const char *in, *why;
	} bad[] = {
		{ "pstn", "must have a value" },
		{ "pstn=", "value" },
		{ "=5", "resource name" },
		{ "pstn=-1", "0..1000000" },
		{ "pstn=1x", "0..1000000" },
		{ "pstn=99999999999", "0..1000000" },
		{ "pstn=1;;vm=2", "empty resource" },
		{ "p stn=1", "resource name" },
		{ "pstn=1;pstn=2", "given twice" },
		{ "a=1;b=1;c=1;d=1;e=1;f=1;g=1;h=1;i=1;j=1;k=1;l=1;m=1;n=1;o=1;"
		  "p=1;q=1",
		    "more than 16" },
		{ "averyveryveryveryverylongresourcename=1", "resource name" },
	};
	struct lb_res r[LB_MAX_RES];
	char err[256];
	int n = 7;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		assert_int_equal(
		    lb_res_parse(bad[i].in, r, &n, err, sizeof(err)), EINVAL);
		if (strstr(err, bad[i].why) == NULL)
			fail_msg("\"%s\": got \"%s\", want \"%s\"", bad[i].in,
			    err, bad[i].why);
		assert_int_equal(n, 7); /* untouched on error */
	}
}

static void
test_requested_names_parse(void **state)
{
	char names[LB_MAX_RES][LB_RES_NAME];
	char err[256];
	int n;

	(void)state;
	assert_int_equal(
	    lb_res_names_parse("transc;conf", names, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 2);
	assert_string_equal(names[1], "conf");
	assert_int_equal(
	    lb_res_names_parse("pstn=5", names, &n, err, sizeof(err)), EINVAL);
}

static void
test_resources_fuzz_never_crash(void **state)
{
	static const char alphabet[] = "ab=;0123456789 -_.x\t=;;";
	struct lb_res r[LB_MAX_RES];
	char in[96], err[256], out[1024];
	unsigned seed = 42;
	int n;

	(void)state;
	for (int iter = 0; iter < 200000; iter++) {
		size_t len = (size_t)(rand_r(&seed) % (sizeof(in) - 1));

		for (size_t i = 0; i < len; i++)
			in[i] = (iter & 1)
			    ? (char)(rand_r(&seed) % 255 + 1)
			    : alphabet[rand_r(&seed) % (sizeof(alphabet) - 1)];
		in[len] = '\0';
		n = -1;
		if (lb_res_parse(in, r, &n, err, sizeof(err)) == 0) {
			/* what parses formats and parses back the same */
			struct lb_res r2[LB_MAX_RES];
			int n2;

			assert_true(n >= 0 && n <= LB_MAX_RES);
			assert_int_equal(
			    lb_res_format(r, n, out, sizeof(out)), 0);
			assert_int_equal(
			    lb_res_parse(out, r2, &n2, err, sizeof(err)), 0);
			assert_int_equal(n2, n);
			for (int i = 0; i < n; i++) {
				assert_string_equal(r2[i].name, r[i].name);
				assert_int_equal(r2[i].cap, r[i].cap);
			}
		} else {
			assert_int_equal(n, -1);
			assert_true(strlen(err) > 0);
		}
	}
}

static void
add(struct lb_table *t, uint32_t id, const char *uri, const char *res)
{
	unit_add_node(t, id, uri, 1, 1, res);
}

static void
test_table_keeps_ids_sorted_and_unique(void **state)
{
	struct lb_table t;
	struct lb_node n;
	char err[256];

	(void)state;
	lb_table_init(&t, 1);
	add(&t, 5, "sip:a", "pstn=1");
	add(&t, 2, "sip:b", "pstn=1");
	add(&t, 9, "sip:c", "pstn=1");
	assert_int_equal(t.nodes[0].id, 2);
	assert_int_equal(t.nodes[2].id, 9);
	lb_node_defaults(&n);
	n.id = 5;
	strcpy(n.uri, "sip:d");
	assert_int_equal(lb_table_add(&t, &n, NULL, err, sizeof(err)), EEXIST);
	n.id = 0; /* assign */
	assert_int_equal(lb_table_add(&t, &n, NULL, err, sizeof(err)), 0);
	assert_non_null(lb_table_find(&t, 10));
	strcpy(n.uri, "http://x");
	n.id = 0;
	assert_int_equal(lb_table_add(&t, &n, NULL, err, sizeof(err)), EINVAL);
	assert_int_equal(lb_table_remove(&t, 5), 0);
	assert_null(lb_table_find(&t, 5));
	assert_int_equal(lb_table_remove(&t, 5), ENOENT);
	assert_int_equal(t.n, 3);
	lb_table_free(&t);
}

static void
test_nodes_file_round_trip(void **state)
{
	char dir[] = "/tmp/siplb-nodes-XXXXXX", path[256], err[512];
	struct lb_table t, back;
	struct lb_node *n;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/nodes.conf", dir);
	lb_table_init(&t, 1);
	add(&t, 1, "sip:172.16.100.10", "vm=100;conf=100;transc=100;pstn=500");
	add(&t, 2, "sip:172.16.100.11:5080", "pstn=500");
	n = lb_table_find(&t, 2);
	n->enabled = false;
	n->weight = 3;
	n->priority = -2;
	n->probe_mode = 2;
	strcpy(n->description, "FS2");
	strcpy(n->attrs, "rweight=40");
	assert_int_equal(lb_nodes_file_save(path, &t, err, sizeof(err)), 0);
	lb_table_init(&back, 1);
	assert_int_equal(lb_nodes_file_load(path, &back, err, sizeof(err)), 0);
	assert_int_equal(back.n, 2);
	n = lb_table_find(&back, 2);
	assert_string_equal(n->uri, "sip:172.16.100.11:5080");
	assert_false(n->enabled);
	assert_int_equal(n->weight, 3);
	assert_int_equal(n->rweight, 40);
	assert_int_equal(n->priority, -2);
	assert_int_equal(n->probe_mode, 2);
	assert_string_equal(n->description, "FS2");
	assert_int_equal(lb_table_find(&back, 1)->nres, 4);
	assert_int_equal(lb_table_find(&back, 1)->res[3].cap, 500);
	lb_table_free(&t);
	lb_table_free(&back);
	unlink(path);
	rmdir(dir);
}

static void
test_nodes_file_errors_name_line_and_key(void **state)
{
	static const struct {
		const char *text, *want;
	} bad[] = {
		{ "[node 1]\nuri = sip:a\nweight = 0\n",
		    ":3: [node 1] weight" },
		{ "[node 1]\nuri = sip:a\ncolour = red\n",
		    ":3: [node 1] colour: unknown key" },
		{ "[node x]\nuri = sip:a\n", "expected [node ID]" },
		{ "[node 1]\ngroup = 1\n", "uri is missing" },
		{ "[node 1]\nuri = sip:a\nresources = pstn\n",
		    "must have a value" },
		{ "[node 1]\nuri = sip:a\n[node 1]\nuri = sip:b\n",
		    ":3: [node 1]: section given twice" },
	};
	char dir[] = "/tmp/siplb-nodes-XXXXXX", path[256], err[512];

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/nodes.conf", dir);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct lb_table t;
		FILE *f = fopen(path, "w");

		fputs(bad[i].text, f);
		fclose(f);
		lb_table_init(&t, 1);
		assert_int_equal(
		    lb_nodes_file_load(path, &t, err, sizeof(err)), EINVAL);
		if (strstr(err, bad[i].want) == NULL)
			fail_msg("case %zu: got \"%s\", want \"%s\"", i, err,
			    bad[i].want);
		lb_table_free(&t);
	}
	unlink(path);
	rmdir(dir);
}

static void
test_reload_keeps_health_of_same_node(void **state)
{
	struct lb_table old, newt;

	(void)state;
	lb_table_init(&old, 1);
	lb_table_init(&newt, 1);
	add(&old, 1, "sip:a", "pstn=1");
	add(&old, 2, "sip:b", "pstn=1");
	old.nodes[0].up = false;
	old.nodes[0].rtt_us = 1234;
	old.nodes[1].up = false;
	add(&newt, 1, "sip:a", "pstn=9");
	add(&newt, 2, "sip:other", "pstn=1"); /* same id, new node */
	lb_table_inherit(&newt, &old);
	assert_false(newt.nodes[0].up);
	assert_int_equal(newt.nodes[0].rtt_us, 1234);
	assert_int_equal(newt.nodes[0].res[0].cap, 9);
	assert_true(newt.nodes[1].up);
	lb_table_free(&old);
	lb_table_free(&newt);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_resources_from_opensips_row_parse),
		cmocka_unit_test(test_bad_resources_are_refused_with_reason),
		cmocka_unit_test(test_requested_names_parse),
		cmocka_unit_test(test_resources_fuzz_never_crash),
		cmocka_unit_test(test_table_keeps_ids_sorted_and_unique),
		cmocka_unit_test(test_nodes_file_round_trip),
		cmocka_unit_test(test_nodes_file_errors_name_line_and_key),
		cmocka_unit_test(test_reload_keeps_health_of_same_node),
	};

	return cmocka_run_group_tests_name("sched_nodes", tests, NULL, NULL);
}
