#define SLB_LOG_MODULE "dlgtab"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dlgtab.h"

struct edge_dlg_gone {
	char key[EDGE_DLG_KEY_SIZE];
	UT_hash_handle hh;
};

bool
edge_dlg_key_ok(const char *key)
{
	size_t n = key ? strnlen(key, EDGE_DLG_KEY_SIZE) : 0;

	return n > 0 && n < EDGE_DLG_KEY_SIZE;
}

struct edge_dlg *
edge_dlgtab_find(const struct edge_dlgtab *t, const char *key)
{
	struct edge_dlg *d = NULL;

	HASH_FIND_STR(t->h, key, d);
	return d;
}

static void
remember_gone(struct edge_dlgtab *t, const char *key)
{
	struct edge_dlg_gone *g = NULL;

	HASH_FIND_STR(t->gone, key, g);
	if (g != NULL || (g = calloc(1, sizeof(*g))) == NULL)
		return;
	snprintf(g->key, sizeof(g->key), "%s", key);
	HASH_ADD_STR(t->gone, key, g);
}

static void
merge(struct edge_dlg *d, const struct edge_dlg_update *u, uint64_t now_us)
{
	if (u->node_id)
		d->node_id = u->node_id;
	if (u->rule != NULL &&
	    (u->rule->kind == RULE_LB || u->rule->kind == RULE_RELAY)) {
		memcpy(d->res, u->rule->res, sizeof(d->res));
		d->nres = u->rule->nres;
		d->group = u->rule->group;
	}
	if (u->call_id)
		snprintf(d->call_id, sizeof(d->call_id), "%s", u->call_id);
	if (u->from_tag)
		snprintf(d->from_tag, sizeof(d->from_tag), "%s", u->from_tag);
	if (u->to_tag)
		snprintf(d->to_tag, sizeof(d->to_tag), "%s", u->to_tag);
	d->state = u->state;
	d->updated_us = now_us;
}

int
edge_dlgtab_update(struct edge_dlgtab *t, const struct edge_dlg_update *u,
    uint64_t now_us, struct edge_dlg *rec)
{
	struct edge_dlg *d;

	if (!edge_dlg_key_ok(u->key))
		return EINVAL;
	d = edge_dlgtab_find(t, u->key);
	if (d == NULL && u->state != SLB_DIALOG_TERMINATED) {
		if ((d = calloc(1, sizeof(*d))) == NULL)
			return ENOMEM;
		snprintf(d->key, sizeof(d->key), "%s", u->key);
		d->created_us = now_us;
		HASH_ADD_STR(t->h, key, d);
		t->n++;
	}
	if (d == NULL) {
		/* the end of a dialog we do not hold (ended elsewhere, or
		 * not restored yet) */
		if (t->restoring)
			remember_gone(t, u->key);
		if (rec != NULL) {
			memset(rec, 0, sizeof(*rec));
			snprintf(rec->key, sizeof(rec->key), "%s", u->key);
			rec->state = u->state;
			rec->node_id = u->node_id;
			rec->updated_us = now_us;
		}
		return 0;
	}
	merge(d, u, now_us);
	if (rec != NULL) {
		memcpy(rec, d, sizeof(*rec));
		memset(&rec->hh, 0, sizeof(rec->hh));
	}
	if (u->state == SLB_DIALOG_TERMINATED) {
		HASH_DEL(t->h, d);
		t->n--;
		free(d);
	}
	return 0;
}

int
edge_dlgtab_restore(struct edge_dlgtab *t, struct edge_dlg *d)
{
	struct edge_dlg_gone *g = NULL;

	if (!edge_dlg_key_ok(d->key))
		return EINVAL;
	HASH_FIND_STR(t->gone, d->key, g);
	if (g != NULL || edge_dlgtab_find(t, d->key) != NULL)
		return EEXIST;
	HASH_ADD_STR(t->h, key, d);
	t->n++;
	return 0;
}

void
edge_dlgtab_restoring(struct edge_dlgtab *t, bool on)
{
	struct edge_dlg_gone *g, *tmp;

	t->restoring = on;
	if (on)
		return;
	HASH_ITER(hh, t->gone, g, tmp)
	{
		HASH_DEL(t->gone, g);
		free(g);
	}
}

size_t
edge_dlgtab_expire(struct edge_dlgtab *t, uint64_t now_us, uint64_t life_us)
{
	struct edge_dlg *d, *tmp;
	size_t n = 0;

	HASH_ITER(hh, t->h, d, tmp)
	{
		if (now_us - d->created_us < life_us)
			continue;
		HASH_DEL(t->h, d);
		t->n--;
		free(d);
		n++;
	}
	return n;
}

void
edge_dlgtab_clear(struct edge_dlgtab *t)
{
	struct edge_dlg *d, *tmp;

	HASH_ITER(hh, t->h, d, tmp)
	{
		HASH_DEL(t->h, d);
		free(d);
	}
	t->n = 0;
	edge_dlgtab_restoring(t, false);
}

void
edge_dlg_to_pb(const struct edge_dlg *d, const char *stream,
    Siplb__V1__DialogEvent *ev, char **res)
{
	siplb__v1__dialog_event__init(ev);
	ev->key = (char *)d->key;
	ev->state = (Siplb__V1__DialogState)d->state;
	ev->node_id = d->node_id;
	ev->group = d->group;
	for (int k = 0; k < d->nres; k++)
		res[k] = (char *)d->res[k];
	ev->resources = res;
	ev->n_resources = (size_t)d->nres;
	ev->edge = (char *)stream;
	ev->call_id = (char *)d->call_id;
	ev->from_tag = (char *)d->from_tag;
	ev->to_tag = (char *)d->to_tag;
	ev->created_us = d->created_us;
	ev->updated_us = d->updated_us;
}
