#define SLB_LOG_MODULE "load"
#include "lb.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uthash.h>

#include "dialog.h"
#include "log.h"

/*
 * Load is the count of dialogs per node and resource (ARCHITECTURE.md
 * "Load").  Every dialog this scheduler knows is kept here keyed by its
 * dialog key, so an event seen twice, or a CREATED for a reservation made
 * here, is never counted twice, and a reload can recount from scratch.
 */

#define EDGE_MAX 64

struct dlg {
	char key[SLB_DIALOG_KEY_MAX + 1];
	char edge[EDGE_MAX];
	uint32_t node_id;
	char res[LB_MAX_RES][LB_RES_NAME];
	int nres;
	enum lb_dlg_state state;
	uint64_t since_us;
	int mark; /* used by replace_edge */
	UT_hash_handle hh;
};

struct lb_load {
	struct lb_table *t;
	struct dlg *by_key;
	size_t n;
};

int
lb_load_new(struct lb_load **lp, struct lb_table *t)
{
	struct lb_load *l = calloc(1, sizeof(*l));

	if (l == NULL)
		return ENOMEM;
	l->t = t;
	*lp = l;
	return 0;
}

static void
dlg_count(struct lb_load *l, const struct dlg *d, int32_t delta)
{
	struct lb_node *n = lb_table_find(l->t, d->node_id);

	if (n == NULL)
		return; /* node removed: its dialogs count nowhere */
	n->dialogs = n->dialogs + delta < 0 ? 0 : n->dialogs + delta;
	for (int i = 0; i < d->nres; i++) {
		struct lb_res *r = lb_node_res(n, d->res[i]);

		if (r != NULL)
			lb_res_add_load(n, r, delta);
	}
}

static void
dlg_del(struct lb_load *l, struct dlg *d)
{
	dlg_count(l, d, -1);
	HASH_DEL(l->by_key, d);
	l->n--;
	free(d);
}

void
lb_load_free(struct lb_load *l)
{
	struct dlg *d, *tmp;

	if (l == NULL)
		return;
	HASH_ITER(hh, l->by_key, d, tmp)
	{
		HASH_DEL(l->by_key, d);
		free(d);
	}
	free(l);
}

void
lb_load_rebind(struct lb_load *l, struct lb_table *t)
{
	struct dlg *d, *tmp;

	l->t = t;
	for (size_t i = 0; i < t->n; i++) {
		t->nodes[i].dialogs = 0;
		for (int j = 0; j < t->nodes[i].nres; j++)
			t->nodes[i].res[j].load = 0;
	}
	HASH_ITER(hh, l->by_key, d, tmp)
	dlg_count(l, d, +1);
}

void
lb_load_reset(struct lb_load *l)
{
	struct dlg *d, *tmp;

	HASH_ITER(hh, l->by_key, d, tmp)
	{
		HASH_DEL(l->by_key, d);
		free(d);
	}
	l->n = 0;
	lb_load_rebind(l, l->t);
}

size_t
lb_load_count(const struct lb_load *l)
{
	return l->n;
}

static struct dlg *
dlg_find(struct lb_load *l, const char *key)
{
	struct dlg *d = NULL;

	HASH_FIND_STR(l->by_key, key, d);
	return d;
}

/* Insert a new dialog and count it; NULL when the key is unusable. */
static struct dlg *
dlg_add(struct lb_load *l, const char *key, const char *edge, uint32_t node_id,
    const char (*res)[LB_RES_NAME], int nres, enum lb_dlg_state st,
    uint64_t now_us)
{
	struct dlg *d;

	if (key == NULL || *key == '\0' || strlen(key) > SLB_DIALOG_KEY_MAX ||
	    nres < 0 || nres > LB_MAX_RES)
		return NULL;
	d = calloc(1, sizeof(*d));
	if (d == NULL)
		return NULL;
	strcpy(d->key, key);
	snprintf(d->edge, sizeof(d->edge), "%s", edge ? edge : "");
	d->node_id = node_id;
	for (int i = 0; i < nres; i++)
		snprintf(d->res[i], LB_RES_NAME, "%s", res[i]);
	d->nres = nres;
	d->state = st;
	d->since_us = now_us;
	HASH_ADD_STR(l->by_key, key, d);
	l->n++;
	dlg_count(l, d, +1);
	return d;
}

static void
dlg_move(struct lb_load *l, struct dlg *d, uint32_t node_id,
    const char (*res)[LB_RES_NAME], int nres)
{
	dlg_count(l, d, -1);
	d->node_id = node_id;
	for (int i = 0; i < nres; i++)
		snprintf(d->res[i], LB_RES_NAME, "%s", res[i]);
	d->nres = nres;
	dlg_count(l, d, +1);
}

int
lb_load_reserve(struct lb_load *l, const char *key, uint32_t node_id,
    const char (*res)[LB_RES_NAME], int nres, const char *edge,
    uint64_t now_us)
{
	struct dlg *d = dlg_find(l, key);

	slb_log_debug(
	    "reserve %s on node %u%s", key, node_id, d ? " (moved)" : "");
	if (d != NULL) {
		/* failover (lb_next): the load moves with the dialog */
		dlg_move(l, d, node_id, res, nres);
		if (d->state == LB_DLG_RESERVED)
			d->since_us = now_us;
		return 0;
	}
	return dlg_add(
		   l, key, edge, node_id, res, nres, LB_DLG_RESERVED, now_us)
	    ? 0
	    : EINVAL;
}

void
lb_load_apply(
    struct lb_load *l, const struct lb_dlg_event *ev, uint64_t now_us)
{
	struct dlg *d = dlg_find(l, ev->key ? ev->key : "");

	slb_log_debug("event %s state %d node %u%s", ev->key ? ev->key : "",
	    (int)ev->state, ev->node_id, d ? "" : " (new)");
	if (ev->state == LB_DLG_TERMINATED) {
		if (d != NULL)
			dlg_del(l, d);
		return;
	}
	if (ev->state != LB_DLG_CREATED && ev->state != LB_DLG_CONFIRMED)
		return;
	if (d == NULL) {
		if (dlg_add(l, ev->key, ev->edge, ev->node_id, ev->res,
			ev->nres, ev->state, now_us) == NULL)
			slb_log_warn("dialog event with unusable key dropped");
		return;
	}
	if (d->node_id != ev->node_id || d->nres != ev->nres)
		dlg_move(l, d, ev->node_id, ev->res, ev->nres);
	if (ev->edge)
		snprintf(d->edge, sizeof(d->edge), "%s", ev->edge);
	/* CONFIRMED never goes back to CREATED (events may cross) */
	if (ev->state > d->state)
		d->state = ev->state;
	d->since_us = now_us;
}

void
lb_load_replace_edge(struct lb_load *l, const char *edge,
    const struct lb_dlg_event *evs, size_t n, uint64_t now_us)
{
	struct dlg *d, *tmp;

	HASH_ITER(hh, l->by_key, d, tmp)
	d->mark = strcmp(d->edge, edge) == 0;
	for (size_t i = 0; i < n; i++) {
		lb_load_apply(l, &evs[i], now_us);
		d = dlg_find(l, evs[i].key ? evs[i].key : "");
		if (d != NULL)
			d->mark = 0;
	}
	/* what the edge no longer has has ended while we were not looking */
	HASH_ITER(hh, l->by_key, d, tmp)
	if (d->mark)
		dlg_del(l, d);
}

unsigned
lb_load_expire(struct lb_load *l, uint64_t now_us, uint64_t ttl_us)
{
	struct dlg *d, *tmp;
	unsigned n = 0;

	HASH_ITER(hh, l->by_key, d, tmp)
	{
		if (d->state != LB_DLG_RESERVED ||
		    now_us - d->since_us < ttl_us)
			continue;
		slb_log_info("reservation %s on node %u expired: no dialog "
			     "event confirmed it",
		    d->key, d->node_id);
		dlg_del(l, d);
		n++;
	}
	return n;
}
