#define SLB_LOG_MODULE "pb"
#include "lb_pb.h"
#include "bus.h"
#include "feedback_pb.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct pb_node_block {
	Siplb__V1__Node pn;
	struct lb_node copy;
	Siplb__V1__Resource res[LB_MAX_RES];
	Siplb__V1__Resource *resp[LB_MAX_RES];
	Siplb__V1__NodeFeedback fb;
};

Siplb__V1__Node *
lb_pb_node(const struct lb_node *n)
{
	struct pb_node_block *b = malloc(sizeof(*b));
	Siplb__V1__Node *pn;

	if (b == NULL)
		return NULL;
	b->copy = *n;
	pn = &b->pn;
	siplb__v1__node__init(pn);
	pn->id = n->id;
	pn->group = n->group;
	pn->set = n->set;
	pn->uri = b->copy.uri;
	pn->weight = n->weight;
	pn->priority = n->priority;
	pn->probe_mode = n->probe_mode;
	pn->enabled = n->enabled;
	pn->up = n->up;
	pn->rtt_us = n->rtt_us;
	pn->last_code = n->last_code;
	pn->description = b->copy.description;
	pn->attrs = b->copy.attrs;
	pn->socket = b->copy.socket;
	pn->selected = n->selected;
	pn->failed_over = n->failed_over;
	lb_fb_to_pb(n, &b->copy, pn, &b->fb, slb_now_us());
	pn->n_resources = (size_t)n->nres;
	pn->resources = b->resp;
	for (int i = 0; i < n->nres; i++) {
		siplb__v1__resource__init(&b->res[i]);
		b->res[i].name = b->copy.res[i].name;
		b->res[i].capacity = n->res[i].cap;
		b->res[i].load = n->res[i].load;
		b->resp[i] = &b->res[i];
	}
	return pn;
}

void
lb_pb_node_free(Siplb__V1__Node *pn)
{
	/* pn is the first member of its block */
	free(pn);
}

Siplb__V1__NodeTable *
lb_pb_table(const struct lb_table *t)
{
	Siplb__V1__NodeTable *pt = malloc(sizeof(*pt));

	if (pt == NULL)
		return NULL;
	siplb__v1__node_table__init(pt);
	pt->nodes = calloc(t->n + 1, sizeof(*pt->nodes));
	if (pt->nodes == NULL) {
		free(pt);
		return NULL;
	}
	for (size_t i = 0; i < t->n; i++) {
		pt->nodes[i] = lb_pb_node(&t->nodes[i]);
		if (pt->nodes[i] == NULL) {
			lb_pb_table_free(pt);
			return NULL;
		}
		pt->n_nodes++;
	}
	return pt;
}

void
lb_pb_table_free(Siplb__V1__NodeTable *pt)
{
	if (pt == NULL)
		return;
	for (size_t i = 0; i < pt->n_nodes; i++)
		lb_pb_node_free(pt->nodes[i]);
	free(pt->nodes);
	free(pt);
}

int
lb_pb_dlg_event(const Siplb__V1__DialogEvent *e, struct lb_pb_dlg *d)
{
	memset(d, 0, sizeof(*d));
	if (e->key == NULL || *e->key == '\0' || e->n_resources > LB_MAX_RES)
		return EINVAL;
	switch (e->state) {
	case SIPLB__V1__DIALOG_STATE__DIALOG_CREATED:
		d->ev.state = LB_DLG_CREATED;
		break;
	case SIPLB__V1__DIALOG_STATE__DIALOG_CONFIRMED:
		d->ev.state = LB_DLG_CONFIRMED;
		break;
	case SIPLB__V1__DIALOG_STATE__DIALOG_TERMINATED:
		d->ev.state = LB_DLG_TERMINATED;
		break;
	default: return EINVAL;
	}
	for (size_t i = 0; i < e->n_resources; i++) {
		if (strlen(e->resources[i]) >= LB_RES_NAME)
			return EINVAL;
		strcpy(d->res[i], e->resources[i]);
	}
	d->ev.key = e->key;
	d->ev.node_id = e->node_id;
	d->ev.res = (const char(*)[LB_RES_NAME])d->res;
	d->ev.nres = (int)e->n_resources;
	d->ev.edge = e->edge;
	return 0;
}

int
lb_pb_select(const Siplb__V1__SelectRequest *q, struct lb_select *sel,
    int tie_first, char *err, size_t errlen)
{
	memset(sel, 0, sizeof(*sel));
	if (q->n_resources > LB_MAX_RES) {
		snprintf(err, errlen, "more than %d resources", LB_MAX_RES);
		return EINVAL;
	}
	for (size_t i = 0; i < q->n_resources; i++) {
		char names[LB_MAX_RES][LB_RES_NAME];
		int n;

		if (lb_res_names_parse(
			q->resources[i], names, &n, err, errlen) != 0)
			return EINVAL;
		for (int j = 0; j < n; j++) {
			if (sel->nres >= LB_MAX_RES) {
				snprintf(err, errlen, "more than %d resources",
				    LB_MAX_RES);
				return EINVAL;
			}
			strcpy(sel->res[sel->nres++], names[j]);
		}
	}
	if (q->algorithm == NULL || *q->algorithm == '\0')
		sel->alg = sel->nres ? LB_ALG_LEAST_LOAD : LB_ALG_RR;
	else if (lb_alg_parse(q->algorithm, &sel->alg) != 0) {
		snprintf(err, errlen,
		    "unknown algorithm \"%.64s\" (use a name such as "
		    "least-load or round-robin, or an OpenSIPS number 0..8)",
		    q->algorithm);
		return EINVAL;
	}
	if (sel->alg == LB_ALG_LEAST_LOAD && sel->nres == 0) {
		snprintf(
		    err, errlen, "least-load needs at least one resource");
		return EINVAL;
	}
	if (q->n_exclude > LB_MAX_EXCLUDE) {
		snprintf(err, errlen, "more than %d excluded nodes",
		    LB_MAX_EXCLUDE);
		return EINVAL;
	}
	if (q->max_results > LB_MAX_RESULTS) {
		snprintf(
		    err, errlen, "max_results: at most %d", LB_MAX_RESULTS);
		return EINVAL;
	}
	sel->group = q->group;
	sel->hash_key = q->hash_key;
	sel->exclude = q->exclude;
	sel->nexclude = q->n_exclude;
	sel->max_results = q->max_results;
	sel->overcommit = q->overcommit;
	sel->relative = q->relative;
	sel->tie_first = q->tie_first || tie_first;
	return 0;
}

void
lb_pb_select_request(
    const struct lb_select *sel, Siplb__V1__SelectRequest *q, char **res)
{
	siplb__v1__select_request__init(q);
	q->algorithm = (char *)lb_alg_name(sel->alg);
	q->group = sel->group;
	for (int i = 0; i < sel->nres && i < LB_MAX_RES; i++)
		res[i] = (char *)sel->res[i];
	q->resources = res;
	q->n_resources =
	    (size_t)(sel->nres < LB_MAX_RES ? sel->nres : LB_MAX_RES);
	q->hash_key = (char *)sel->hash_key;
	q->exclude = (uint32_t *)sel->exclude;
	q->n_exclude = sel->nexclude;
	q->max_results = sel->max_results;
	q->overcommit = sel->overcommit;
	q->relative = sel->relative;
	q->tie_first = sel->tie_first;
}

Siplb__V1__SelectStatus
lb_pb_sel_status(enum lb_sel_status st)
{
	switch (st) {
	case LB_SEL_OK: return SIPLB__V1__SELECT_STATUS__SELECT_OK;
	case LB_SEL_NO_CAPACITY:
		return SIPLB__V1__SELECT_STATUS__SELECT_NO_CAPACITY;
	case LB_SEL_NO_DESTINATION:
		return SIPLB__V1__SELECT_STATUS__SELECT_NO_DESTINATION;
	default: return SIPLB__V1__SELECT_STATUS__SELECT_BAD_REQUEST;
	}
}

void
lb_pb_choices(Siplb__V1__SelectReply *sr, struct lb_node **out, unsigned n)
{
	Siplb__V1__Choice *c = calloc(n ? n : 1, sizeof(*c));
	Siplb__V1__Choice **cp = calloc(n ? n : 1, sizeof(*cp));

	if (c == NULL || cp == NULL) {
		free(c);
		free(cp);
		return;
	}
	for (unsigned i = 0; i < n; i++) {
		siplb__v1__choice__init(&c[i]);
		c[i].node_id = out[i]->id;
		c[i].uri = out[i]->uri; /* packed before the table changes */
		cp[i] = &c[i];
	}
	sr->choices = cp;
	sr->n_choices = n;
}

void
lb_pb_choices_free(Siplb__V1__SelectReply *sr)
{
	if (sr->choices == NULL)
		return;
	free(sr->choices[0]);
	free(sr->choices);
	sr->choices = NULL;
	sr->n_choices = 0;
}

static int
copy_str(char *dst, size_t len, const char *src, const char *what, char *err,
    size_t errlen)
{
	if (src == NULL)
		src = "";
	if (strlen(src) >= len) {
		snprintf(
		    err, errlen, "%s: longer than %zu bytes", what, len - 1);
		return EINVAL;
	}
	strcpy(dst, src);
	return 0;
}

int
lb_pb_nodespec(const Siplb__V1__NodeSpec *spec, struct lb_node *n, char *err,
    size_t errlen)
{
	lb_node_defaults(n);
	n->id = spec->id;
	n->group = spec->group;
	n->set = spec->set;
	if (spec->has_weight || spec->weight)
		n->weight = spec->weight;
	n->priority = spec->priority;
	n->probe_mode = spec->probe_mode;
	n->enabled = !spec->disabled;
	if (copy_str(n->uri, sizeof(n->uri), spec->uri, "uri", err, errlen) ||
	    copy_str(n->description, sizeof(n->description), spec->description,
		"description", err, errlen) ||
	    copy_str(n->attrs, sizeof(n->attrs), spec->attrs, "attrs", err,
		errlen) ||
	    copy_str(n->socket, sizeof(n->socket), spec->socket, "socket", err,
		errlen))
		return EINVAL;
	if (spec->resources &&
	    lb_res_parse(spec->resources, n->res, &n->nres, err, errlen) != 0)
		return EINVAL;
	if (n->group == 0 && n->set == 0) {
		snprintf(err, errlen,
		    "a node needs a group (load_balancer) or "
		    "a set (dispatcher), or both");
		return EINVAL;
	}
	return lb_node_validate(n, err, errlen);
}

int
lb_pb_resize(struct lb_node *n, const char *spec, char *err, size_t errlen)
{
	struct lb_res res[LB_MAX_RES];
	int nres;

	if (spec == NULL || *spec == '\0') {
		snprintf(
		    err, errlen, "resize: give resources as name=capacity");
		return EINVAL;
	}
	if (lb_res_parse(spec, res, &nres, err, errlen) != 0)
		return EINVAL;
	for (int i = 0; i < nres; i++) {
		struct lb_res *r = lb_node_res(n, res[i].name);

		if (r != NULL) {
			r->cap = res[i].cap;
			continue;
		}
		if (n->nres >= LB_MAX_RES) {
			snprintf(err, errlen,
			    "node %u: more than %d resources", n->id,
			    LB_MAX_RES);
			return EINVAL;
		}
		n->res[n->nres++] = res[i];
	}
	return 0;
}

int
lb_pb_node_from(const Siplb__V1__Node *pn, struct lb_node *n)
{
	lb_node_defaults(n);
	if (pn->uri == NULL || strlen(pn->uri) >= sizeof(n->uri) ||
	    pn->n_resources > LB_MAX_RES)
		return EINVAL;
	n->id = pn->id;
	n->group = pn->group;
	n->set = pn->set;
	strcpy(n->uri, pn->uri);
	n->weight = pn->weight ? pn->weight : 1;
	n->priority = pn->priority;
	n->probe_mode = pn->probe_mode;
	n->enabled = pn->enabled;
	n->up = pn->up;
	n->rtt_us = pn->rtt_us;
	n->last_code = pn->last_code;
	n->selected = pn->selected;
	n->failed_over = pn->failed_over;
	lb_fb_from_pb(pn, n, slb_now_us());
	snprintf(n->description, sizeof(n->description), "%s",
	    pn->description ? pn->description : "");
	snprintf(n->attrs, sizeof(n->attrs), "%s", pn->attrs ? pn->attrs : "");
	snprintf(
	    n->socket, sizeof(n->socket), "%s", pn->socket ? pn->socket : "");
	for (size_t i = 0; i < pn->n_resources; i++) {
		const Siplb__V1__Resource *r = pn->resources[i];

		if (r->name == NULL || strlen(r->name) >= LB_RES_NAME)
			return EINVAL;
		strcpy(n->res[i].name, r->name);
		n->res[i].cap = r->capacity;
		n->res[i].load = r->load < 0 ? 0 : r->load;
	}
	n->nres = (int)pn->n_resources;
	lb_node_update_rweight(n);
	return 0;
}

int
lb_pb_table_from(const Siplb__V1__NodeTable *pt, struct lb_table *t)
{
	struct lb_table nt;
	char err[256];

	lb_table_init(&nt, t->rng);
	for (size_t i = 0; i < pt->n_nodes; i++) {
		struct lb_node n;

		if (lb_pb_node_from(pt->nodes[i], &n) != 0 ||
		    lb_table_add(&nt, &n, NULL, err, sizeof(err)) != 0)
			continue; /* skip what we cannot use */
	}
	/* keep round-robin state across refreshes */
	for (size_t i = 0; i < nt.n; i++) {
		const struct lb_node *o = lb_table_find(t, nt.nodes[i].id);

		if (o != NULL)
			nt.nodes[i].wrr_current = o->wrr_current;
	}
	lb_table_free(t);
	*t = nt;
	return 0;
}
