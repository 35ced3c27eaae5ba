/* The dialog store (SQLite backend, a real file in a fresh folder): upserts
 * whose state only goes up, one-transaction batches, query filters, live
 * counts per node and resource, expiry, and snapshots that settle one
 * edge's dialogs. */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* dialogd's objects are not in the unit-test link: take the module whole
 * (sq_exec, static in the SQLite backend, makes a failing trigger) */
#include "../../services/dialogd/store.c"
#include "../../services/dialogd/store_mysql.c"
#include "../../services/dialogd/store_sqlite.c"
#include "unit.h"

struct fx {
	char dir[64];
	char path[128];
	struct dlg_store *s;
};

static int
setup(void **state)
{
	static struct fx f;
	struct dlg_store_cfg c = { .kind = DLG_STORE_SQLITE,
		.table = "siplb_dialogs" };
	char err[512];

	memset(&f, 0, sizeof(f));
	snprintf(f.dir, sizeof(f.dir), "/tmp/siplb-dlgstore.XXXXXX");
	assert_non_null(mkdtemp(f.dir));
	snprintf(f.path, sizeof(f.path), "%s/dialogs.db", f.dir);
	c.sqlite_path = f.path;
	if (dlg_store_open(&f.s, &c, err, sizeof(err)) != 0)
		fail_msg("open: %s", err);
	*state = &f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;
	char p[200];

	dlg_store_close(f->s);
	snprintf(p, sizeof(p), "%s-wal", f->path);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", f->path);
	unlink(p);
	unlink(f->path);
	rmdir(f->dir);
	return 0;
}

static struct slb_dialog
ev(const char *key, int state, uint32_t node, const char *res,
    const char *edge, uint64_t created)
{
	struct slb_dialog r;

	memset(&r, 0, sizeof(r));
	snprintf(r.key, sizeof(r.key), "%s", key);
	snprintf(r.edge, sizeof(r.edge), "%s", edge);
	snprintf(r.resources, sizeof(r.resources), "%s", res);
	r.node_id = node;
	r.state = state;
	r.created_us = created;
	r.updated_us = created;
	return r;
}

static void
write1(struct fx *f, struct slb_dialog r)
{
	char err[512];

	if (dlg_store_write(f->s, &r, 1, err, sizeof(err)) != 0)
		fail_msg("write: %s", err);
}

/* The stored row of key; fails when there is none. */
static struct slb_dialog
get(struct fx *f, const char *key)
{
	struct dlg_filter q = { .key = key };
	struct slb_dialog *out = NULL, r;
	size_t n = 0;
	char err[512];

	if (dlg_store_query(f->s, &q, &out, &n, err, sizeof(err)) != 0)
		fail_msg("query: %s", err);
	assert_int_equal(n, 1);
	r = out[0];
	free(out);
	return r;
}

static size_t
count(struct fx *f, const struct dlg_filter *q)
{
	struct slb_dialog *out = NULL;
	size_t n = 0;
	char err[512];

	if (dlg_store_query(f->s, q, &out, &n, err, sizeof(err)) != 0)
		fail_msg("query: %s", err);
	free(out);
	return n;
}

static void
test_dialog_goes_created_confirmed_terminated_and_stays_as_history(
    void **state)
{
	struct fx *f = *state;
	struct slb_dialog r =
	    ev("k1", SLB_DIALOG_CREATED, 1, "pstn;vm", "edge:a", 1000);

	snprintf(r.call_id, sizeof(r.call_id), "abc@host");
	snprintf(r.from_tag, sizeof(r.from_tag), "ft");
	write1(f, r);
	assert_int_equal(get(f, "k1").state, SLB_DIALOG_CREATED);
	assert_string_equal(get(f, "k1").resources, "pstn;vm");

	r = ev("k1", SLB_DIALOG_CONFIRMED, 1, "pstn;vm", "edge:a", 1000);
	r.updated_us = 2000;
	snprintf(r.to_tag, sizeof(r.to_tag), "tt");
	write1(f, r);
	assert_int_equal(get(f, "k1").state, SLB_DIALOG_CONFIRMED);
	assert_string_equal(get(f, "k1").to_tag, "tt");
	/* an event without a Call-ID keeps the stored one */
	assert_string_equal(get(f, "k1").call_id, "abc@host");
	assert_string_equal(get(f, "k1").from_tag, "ft");

	r = ev("k1", SLB_DIALOG_TERMINATED, 1, "pstn;vm", "edge:a", 1000);
	r.updated_us = 3000;
	snprintf(r.reason, sizeof(r.reason), "bye");
	write1(f, r);
	r = get(f, "k1");
	assert_int_equal(r.state, SLB_DIALOG_TERMINATED);
	assert_string_equal(r.reason, "bye");
	assert_int_equal(r.created_us, 1000);
	assert_int_equal(r.updated_us, 3000);
	assert_int_equal(r.node_id, 1);
	assert_string_equal(r.edge, "edge:a");
}

static void
test_state_never_goes_backwards(void **state)
{
	struct fx *f = *state;
	struct slb_dialog r;

	write1(f, ev("k2", SLB_DIALOG_CONFIRMED, 1, "pstn", "edge:a", 1000));
	write1(f, ev("k2", SLB_DIALOG_CREATED, 1, "pstn", "edge:a", 1000));
	assert_int_equal(get(f, "k2").state, SLB_DIALOG_CONFIRMED);

	r = ev("k2", SLB_DIALOG_TERMINATED, 1, "pstn", "edge:a", 1000);
	r.updated_us = 5000;
	snprintf(r.reason, sizeof(r.reason), "bye");
	write1(f, r);
	/* a late CONFIRMED, or a CREATED with another node, change nothing */
	r = ev("k2", SLB_DIALOG_CONFIRMED, 2, "vm", "edge:b", 1000);
	r.updated_us = 9000;
	write1(f, r);
	r = get(f, "k2");
	assert_int_equal(r.state, SLB_DIALOG_TERMINATED);
	assert_string_equal(r.reason, "bye");
	assert_int_equal(r.node_id, 1);
	assert_string_equal(r.resources, "pstn");
	assert_int_equal(r.updated_us, 5000);
}

static void
test_ten_thousand_events_are_written_in_one_flush(void **state)
{
	struct fx *f = *state;
	struct slb_dialog *recs = calloc(10000, sizeof(*recs));
	struct dlg_filter live = { .live = 1 }, all = { 0 };
	char err[512];

	assert_non_null(recs);
	for (int i = 0; i < 10000; i++) {
		char key[32];

		snprintf(key, sizeof(key), "b%05d", i);
		/* the last 2000 events end the first 2000 dialogs again */
		recs[i] = i < 8000
		    ? ev(key, SLB_DIALOG_CREATED, 1 + (uint32_t)i % 3, "pstn",
			  "edge:a", 1000)
		    : ev("", SLB_DIALOG_TERMINATED, 0, "", "edge:a", 1000);
		if (i >= 8000)
			snprintf(recs[i].key, sizeof(recs[i].key), "b%05d",
			    i - 8000);
	}
	if (dlg_store_write(f->s, recs, 10000, err, sizeof(err)) != 0)
		fail_msg("write: %s", err);
	assert_int_equal(count(f, &all), 8000);
	assert_int_equal(count(f, &live), 6000);
	/* a terminated event with empty fields kept the row's node */
	assert_int_equal(get(f, "b00001").node_id, 2);
	assert_int_equal(get(f, "b00001").state, SLB_DIALOG_TERMINATED);
	free(recs);
}

static void
test_failed_batch_writes_nothing(void **state)
{
	struct fx *f = *state;
	struct slb_dialog recs[2];
	struct dlg_filter all = { 0 };
	char err[512];

	recs[0] = ev("ok1", SLB_DIALOG_CREATED, 1, "pstn", "edge:a", 1000);
	recs[1] = ev("ok2", SLB_DIALOG_CREATED, 1, "pstn", "edge:a", 1000);
	/* a trigger refuses the second row: the first must not stay */
	assert_int_equal(sq_exec(f->s,
			     "CREATE TRIGGER no_ok2 BEFORE INSERT ON "
			     "siplb_dialogs WHEN NEW.`key` = 'ok2' "
			     "BEGIN SELECT RAISE(ABORT, 'refused'); "
			     "END",
			     err, sizeof(err)),
	    0);
	assert_int_not_equal(
	    dlg_store_write(f->s, recs, 2, err, sizeof(err)), 0);
	assert_non_null(strstr(err, "refused"));
	assert_int_equal(count(f, &all), 0);
}

static void
test_query_filters_by_node_state_edge_and_key(void **state)
{
	struct fx *f = *state;
	struct slb_dialog recs[6];
	struct dlg_filter q;
	struct slb_dialog *out = NULL;
	size_t n = 0;
	char err[512];

	recs[0] = ev("q1", SLB_DIALOG_CREATED, 1, "pstn", "edge:a", 1000);
	recs[1] = ev("q2", SLB_DIALOG_CONFIRMED, 1, "pstn", "edge:a", 1000);
	recs[2] = ev("q3", SLB_DIALOG_CONFIRMED, 2, "pstn", "edge:b", 1000);
	recs[3] = ev("q4", SLB_DIALOG_TERMINATED, 2, "pstn", "edge:b", 1000);
	recs[4] = ev("q5", SLB_DIALOG_CREATED, 3, "vm", "edge:b", 1000);
	recs[5] = ev("q6", SLB_DIALOG_CONFIRMED, 1, "vm", "edge:b", 1000);
	assert_int_equal(dlg_store_write(f->s, recs, 6, err, sizeof(err)), 0);

	q = (struct dlg_filter){ .node_id = 1 };
	assert_int_equal(count(f, &q), 3);
	q = (struct dlg_filter){ .state = SLB_DIALOG_CONFIRMED };
	assert_int_equal(count(f, &q), 3);
	q = (struct dlg_filter){ .edge = "edge:b" };
	assert_int_equal(count(f, &q), 4);
	q = (struct dlg_filter){
		.edge = "edge:b", .node_id = 2, .state = SLB_DIALOG_CONFIRMED
	};
	assert_int_equal(count(f, &q), 1);
	q = (struct dlg_filter){ .key = "q4" };
	assert_int_equal(count(f, &q), 1);
	q = (struct dlg_filter){ .key = "nope" };
	assert_int_equal(count(f, &q), 0);
	q = (struct dlg_filter){ .live = 1, .limit = 2 };
	assert_int_equal(
	    dlg_store_query(f->s, &q, &out, &n, err, sizeof(err)), 0);
	/* ordered by key, limited */
	assert_int_equal(n, 2);
	assert_string_equal(out[0].key, "q1");
	assert_string_equal(out[1].key, "q2");
	free(out);
	/* the next page starts after the last key of this one */
	q = (struct dlg_filter){ .live = 1, .limit = 2, .after_key = "q2" };
	assert_int_equal(
	    dlg_store_query(f->s, &q, &out, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 2);
	assert_string_equal(out[0].key, "q3");
	assert_string_equal(out[1].key, "q5");
	free(out);
	q = (struct dlg_filter){ .live = 1, .limit = 2, .after_key = "q5" };
	assert_int_equal(
	    dlg_store_query(f->s, &q, &out, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 1);
	assert_string_equal(out[0].key, "q6");
	free(out);
	/* ended lately, through any edge */
	recs[0] = ev("q1", SLB_DIALOG_TERMINATED, 1, "pstn", "edge:b", 5000);
	assert_int_equal(dlg_store_write(f->s, recs, 1, err, sizeof(err)), 0);
	q = (struct dlg_filter){ .state = SLB_DIALOG_TERMINATED,
		.updated_after = 2000 };
	assert_int_equal(
	    dlg_store_query(f->s, &q, &out, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 1);
	assert_string_equal(out[0].key, "q1");
	free(out);
	q = (struct dlg_filter){ .state = SLB_DIALOG_TERMINATED };
	assert_int_equal(count(f, &q), 2);
}

static void
test_counts_are_per_node_and_resource_of_live_dialogs_only(void **state)
{
	struct fx *f = *state;
	struct slb_dialog recs[6];
	struct dlg_filter q = { 0 };
	struct dlg_count *c = NULL;
	size_t n = 0;
	char err[512];

	recs[0] = ev("c1", SLB_DIALOG_CREATED, 1, "pstn;vm", "edge:a", 1000);
	recs[1] = ev("c2", SLB_DIALOG_CONFIRMED, 1, "pstn", "edge:a", 1000);
	recs[2] = ev("c3", SLB_DIALOG_CONFIRMED, 2, "pstn", "edge:b", 1000);
	recs[3] =
	    ev("c4", SLB_DIALOG_TERMINATED, 2, "pstn;vm", "edge:b", 1000);
	recs[4] = ev("c5", SLB_DIALOG_TERMINATED, 3, "vm", "edge:b", 1000);
	recs[5] = ev("c6", SLB_DIALOG_CREATED, 1, "vm;pstn", "edge:b", 1000);
	assert_int_equal(dlg_store_write(f->s, recs, 6, err, sizeof(err)), 0);
	assert_int_equal(
	    dlg_store_counts(f->s, &q, &c, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 3);
	assert_int_equal(c[0].node_id, 1);
	assert_string_equal(c[0].resource, "pstn");
	assert_int_equal(c[0].count, 3);
	assert_int_equal(c[1].node_id, 1);
	assert_string_equal(c[1].resource, "vm");
	assert_int_equal(c[1].count, 2);
	assert_int_equal(c[2].node_id, 2);
	assert_string_equal(c[2].resource, "pstn");
	assert_int_equal(c[2].count, 1);
	free(c);

	q.node_id = 2;
	assert_int_equal(
	    dlg_store_counts(f->s, &q, &c, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 1);
	assert_int_equal(c[0].count, 1);
	free(c);
}

static void
test_expiry_ends_old_live_dialogs_and_returns_them(void **state)
{
	struct fx *f = *state;
	struct slb_dialog recs[4], *out = NULL;
	size_t n = 0;
	char err[512];

	recs[0] = ev("old1", SLB_DIALOG_CONFIRMED, 1, "pstn", "edge:a", 100);
	recs[1] = ev("old2", SLB_DIALOG_CREATED, 2, "vm", "edge:b", 200);
	recs[2] =
	    ev("oldend", SLB_DIALOG_TERMINATED, 1, "pstn", "edge:a", 100);
	recs[3] = ev("young", SLB_DIALOG_CONFIRMED, 1, "pstn", "edge:a", 5000);
	assert_int_equal(dlg_store_write(f->s, recs, 4, err, sizeof(err)), 0);
	assert_int_equal(dlg_store_expire(f->s, 1000, 7000, 100, &out, &n, err,
			     sizeof(err)),
	    0);
	assert_int_equal(n, 2);
	assert_string_equal(out[0].key, "old1");
	assert_string_equal(out[1].key, "old2");
	assert_int_equal(out[1].state, SLB_DIALOG_TERMINATED);
	assert_string_equal(out[1].reason, "expired");
	assert_int_equal(out[1].node_id, 2);
	assert_string_equal(out[1].resources, "vm");
	assert_string_equal(out[1].edge, "edge:b");
	free(out);
	assert_int_equal(get(f, "old1").state, SLB_DIALOG_TERMINATED);
	assert_string_equal(get(f, "old1").reason, "expired");
	assert_int_equal(get(f, "old1").updated_us, 7000);
	assert_int_equal(get(f, "oldend").updated_us, 100);
	assert_string_equal(get(f, "oldend").reason, "");
	assert_int_equal(get(f, "young").state, SLB_DIALOG_CONFIRMED);
	/* nothing left to expire */
	out = NULL;
	assert_int_equal(dlg_store_expire(f->s, 1000, 8000, 100, &out, &n, err,
			     sizeof(err)),
	    0);
	assert_int_equal(n, 0);
	free(out);
}

static void
test_snapshot_marks_missing_dialogs_of_that_edge_lost_only(void **state)
{
	struct fx *f = *state;
	struct slb_dialog recs[5], snap[2];
	size_t lost = 99;
	char err[512];

	recs[0] = ev("s1", SLB_DIALOG_CONFIRMED, 1, "pstn", "edge:a", 1000);
	recs[1] = ev("s2", SLB_DIALOG_CONFIRMED, 1, "pstn", "edge:a", 1000);
	recs[2] = ev("s3", SLB_DIALOG_CREATED, 1, "pstn", "edge:a", 1000);
	recs[3] = ev("s4", SLB_DIALOG_CONFIRMED, 2, "pstn", "edge:b", 1000);
	recs[4] = ev("s5", SLB_DIALOG_TERMINATED, 2, "pstn", "edge:a", 1000);
	assert_int_equal(dlg_store_write(f->s, recs, 5, err, sizeof(err)), 0);
	/* edge:a now holds s2 (confirmed) and s3 (confirmed meanwhile), and
	 * a new s6; s1 ended while we were not looking */
	snap[0] = ev("s3", SLB_DIALOG_CONFIRMED, 1, "pstn", "edge:a", 1000);
	snap[1] = ev("s6", SLB_DIALOG_CREATED, 2, "vm", "edge:a", 1500);
	assert_int_equal(dlg_store_apply_snapshot(f->s, "edge:a", snap, 2,
			     9000, &lost, err, sizeof(err)),
	    0);
	assert_int_equal(lost, 2);
	assert_int_equal(get(f, "s1").state, SLB_DIALOG_TERMINATED);
	assert_string_equal(get(f, "s1").reason, "lost");
	assert_int_equal(get(f, "s1").updated_us, 9000);
	assert_int_equal(get(f, "s2").state, SLB_DIALOG_TERMINATED);
	assert_int_equal(get(f, "s3").state, SLB_DIALOG_CONFIRMED);
	assert_int_equal(get(f, "s6").state, SLB_DIALOG_CREATED);
	/* another edge's dialog, and history, are left alone */
	assert_int_equal(get(f, "s4").state, SLB_DIALOG_CONFIRMED);
	assert_string_equal(get(f, "s5").reason, "");

	/* an empty snapshot ends every live dialog of that edge */
	assert_int_equal(dlg_store_apply_snapshot(f->s, "edge:a", NULL, 0,
			     9500, &lost, err, sizeof(err)),
	    0);
	assert_int_equal(lost, 2);
	assert_int_equal(get(f, "s4").state, SLB_DIALOG_CONFIRMED);
}

static void
test_store_reopens_with_what_it_held(void **state)
{
	struct fx *f = *state;
	struct dlg_store_cfg c = { .kind = DLG_STORE_SQLITE,
		.table = "siplb_dialogs",
		.sqlite_path = f->path };
	char err[512];

	write1(f, ev("p1", SLB_DIALOG_CONFIRMED, 4, "pstn", "edge:a", 1000));
	dlg_store_close(f->s);
	f->s = NULL;
	if (dlg_store_open(&f->s, &c, err, sizeof(err)) != 0)
		fail_msg("reopen: %s", err);
	assert_int_equal(get(f, "p1").node_id, 4);
}

static void
test_bad_table_name_and_url_are_refused_with_reason(void **state)
{
	struct dlg_store_cfg c = { .kind = DLG_STORE_SQLITE,
		.table = "x; DROP TABLE y",
		.sqlite_path = "/tmp/never.db" };
	struct dlg_store *s = NULL;
	char err[512];

	(void)state;
	assert_int_equal(dlg_store_open(&s, &c, err, sizeof(err)), EINVAL);
	assert_non_null(strstr(err, "[A-Za-z0-9_]"));
	c.table = "siplb_dialogs";
	c.kind = DLG_STORE_MYSQL;
	c.db_url = "mysql://u:secret@host";
	assert_int_equal(dlg_store_open(&s, &c, err, sizeof(err)), EINVAL);
	assert_null(strstr(err, "secret"));
	assert_non_null(strstr(err, "u:***@host"));
	assert_null(s);
}

static void
test_fields_keep_printable_ascii_only(void **state)
{
	char buf[8];

	(void)state;
	assert_int_equal(
	    slb_dialog_copy_field(buf, sizeof(buf), "ab\x01\xc3\xa9"), 0);
	assert_string_equal(buf, "ab???");
	assert_int_equal(
	    slb_dialog_copy_field(buf, sizeof(buf), "0123456789"), 1);
	assert_string_equal(buf, "0123456");
	assert_int_equal(slb_dialog_copy_field(buf, sizeof(buf), NULL), 0);
	assert_string_equal(buf, "");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(x) cmocka_unit_test_setup_teardown(x, setup, teardown)
		T(test_dialog_goes_created_confirmed_terminated_and_stays_as_history),
		T(test_state_never_goes_backwards),
		T(test_ten_thousand_events_are_written_in_one_flush),
		T(test_failed_batch_writes_nothing),
		T(test_query_filters_by_node_state_edge_and_key),
		T(test_counts_are_per_node_and_resource_of_live_dialogs_only),
		T(test_expiry_ends_old_live_dialogs_and_returns_them),
		T(test_snapshot_marks_missing_dialogs_of_that_edge_lost_only),
		T(test_store_reopens_with_what_it_held),
		cmocka_unit_test(
		    test_bad_table_name_and_url_are_refused_with_reason),
		cmocka_unit_test(test_fields_keep_printable_ascii_only),
	};

	return cmocka_run_group_tests_name("dialogd_store", tests, NULL, NULL);
}
