/*
 * The node table's endpoints of siplb-admin: /api/v1/nodes[/ID] and
 * /api/v1/reload, routed here by api.c.  Reads go to the first scheduler
 * that answers; changes go to every scheduler replica, so that all of
 * them have them without a restart (each writes its own source, or the
 * shared database).
 */
#define SLB_LOG_MODULE "api"
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "admin.h"
#include "api.h"
#include "log.h"
#include "pbjson.h"
#include "lb.h"

/* ------------------------------------------------------------ JSON */

/* Parse a body that must be a JSON object; NULL after a 400. */
static json_t *
parse_object(const char *body, size_t len, int empty_ok, struct adm_reply *rp)
{
	json_error_t je;
	json_t *j;

	if (len == 0 && empty_ok)
		return json_object();
	j = json_loadb(body ? body : "", len, JSON_REJECT_DUPLICATES, &je);
	if (j == NULL) {
		adm_reply_error(rp, 400, "bad JSON: %s (line %d, column %d)",
		    je.text, je.line, je.column);
		return NULL;
	}
	if (!json_is_object(j)) {
		json_decref(j);
		adm_reply_error(rp, 400,
		    "bad JSON: the body must be an "
		    "object {...}");
		return NULL;
	}
	return j;
}

static int
get_int(json_t *v, const char *key, long long min, long long max,
    long long *out, struct adm_reply *rp)
{
	if (!json_is_integer(v) || json_integer_value(v) < min ||
	    json_integer_value(v) > max) {
		adm_reply_error(rp, 400,
		    "\"%s\" must be an integer %lld..%lld", key, min, max);
		return -1;
	}
	*out = json_integer_value(v);
	return 0;
}

static int
get_str(json_t *v, const char *key, const char **out, struct adm_reply *rp)
{
	if (!json_is_string(v)) {
		adm_reply_error(rp, 400, "\"%s\" must be a string", key);
		return -1;
	}
	*out = json_string_value(v);
	return 0;
}

static int
check_resources(const char *s, struct adm_reply *rp)
{
	struct lb_res res[LB_MAX_RES];
	char err[256] = "";
	int nres;

	if (*s == '\0' || lb_res_parse(s, res, &nres, err, sizeof(err))) {
		adm_reply_error(rp, 400, "\"resources\": %s",
		    *err ? err : "give name=capacity[;name=capacity]");
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------ changes */

/*
 * Send an admin change to every scheduler.  The first that answers
 * decides: its refusal is the answer; for an add, the id it gave is used
 * for the others.  Replicas that do not answer or disagree are listed in
 * "warnings".  Returns the first reply (caller frees) or NULL after
 * filling rp with the error.
 */
static Siplb__V1__SchedReply *
sched_change(struct adm *a, Siplb__V1__AdminRequest *ar, json_t **warnp,
    struct adm_reply *rp)
{
	Siplb__V1__SchedRequest q = SIPLB__V1__SCHED_REQUEST__INIT;
	Siplb__V1__SchedReply *first = NULL, *r;
	json_t *warn = json_array();
	char w[512];
	int err;

	q.body_case = SIPLB__V1__SCHED_REQUEST__BODY_ADMIN;
	q.admin = ar;
	for (int i = 0; i < a->nsched; i++) {
		if ((err = adm_sched_call(a->sched[i], &q, &r)) != 0) {
			snprintf(w, sizeof(w), "scheduler %s: %s", a->sched[i],
			    err == ETIMEDOUT ? "did not answer; it does not "
					       "have this change"
					     : strerror(err));
			slb_log_warn("%s", w);
			json_array_append_new(warn, json_string(w));
			continue;
		}
		if (first == NULL) {
			first = r;
			if (r->status != SIPLB__V1__STATUS__STATUS_OK) {
				adm_reply_error(rp, adm_http_status(r->status),
				    "%s",
				    r->error && *r->error ? r->error
							  : "refused");
				slb_msg_free(&r->base);
				json_decref(warn);
				return NULL;
			}
			if (ar->op == SIPLB__V1__ADMIN_REQUEST__OP__OP_ADD &&
			    r->admin && r->admin->node)
				ar->node->id = r->admin->node->id;
			continue;
		}
		if (r->status != SIPLB__V1__STATUS__STATUS_OK &&
		    !(ar->op == SIPLB__V1__ADMIN_REQUEST__OP__OP_ADD &&
			r->status == SIPLB__V1__STATUS__STATUS_CONFLICT)) {
			snprintf(w, sizeof(w), "scheduler %s: %s", a->sched[i],
			    r->error && *r->error ? r->error : "refused");
			slb_log_warn("%s", w);
			json_array_append_new(warn, json_string(w));
		}
		slb_msg_free(&r->base);
	}
	if (first == NULL) {
		json_decref(warn);
		adm_no_scheduler(a, rp);
		return NULL;
	}
	if (warnp != NULL && json_array_size(warn) > 0)
		*warnp = warn;
	else
		json_decref(warn);
	return first;
}

static void
reply_node(struct adm_reply *rp, unsigned status, Siplb__V1__SchedReply *r,
    json_t *warn)
{
	if (r->admin && r->admin->node)
		rp->json = slb_node_json(r->admin->node);
	else
		rp->json = json_object();
	if (warn)
		json_object_set_new(rp->json, "warnings", warn);
	rp->status = status;
	slb_msg_free(&r->base);
}

/* ------------------------------------------------------------ nodes */

void
adm_api_nodes_list(struct adm *a, struct adm_reply *rp)
{
	Siplb__V1__SchedReply *r = adm_sched_list(a, NULL);
	json_t *arr;

	if (r == NULL) {
		adm_no_scheduler(a, rp);
		return;
	}
	arr = json_array();
	for (size_t i = 0; i < r->admin->table->n_nodes; i++)
		json_array_append_new(
		    arr, slb_node_json(r->admin->table->nodes[i]));
	rp->json = json_pack("{s:o}", "nodes", arr);
	rp->status = 200;
	slb_msg_free(&r->base);
}

void
adm_api_node_get(struct adm *a, uint32_t id, struct adm_reply *rp)
{
	Siplb__V1__SchedReply *r = adm_sched_list(a, NULL);

	if (r == NULL) {
		adm_no_scheduler(a, rp);
		return;
	}
	for (size_t i = 0; i < r->admin->table->n_nodes; i++) {
		if (r->admin->table->nodes[i]->id == id) {
			rp->json = slb_node_json(r->admin->table->nodes[i]);
			rp->status = 200;
			slb_msg_free(&r->base);
			return;
		}
	}
	slb_msg_free(&r->base);
	adm_reply_error(rp, 404, "node %u does not exist", id);
}

void
adm_api_node_add(
    struct adm *a, const char *body, size_t len, struct adm_reply *rp)
{
	Siplb__V1__AdminRequest ar = SIPLB__V1__ADMIN_REQUEST__INIT;
	Siplb__V1__NodeSpec spec = SIPLB__V1__NODE_SPEC__INIT;
	Siplb__V1__SchedReply *r;
	json_t *j, *v, *warn = NULL;
	const char *k;
	long long n;

	if ((j = parse_object(body, len, 0, rp)) == NULL)
		return;
	json_object_foreach(j, k, v)
	{
		if (strcmp(k, "uri") == 0 || strcmp(k, "description") == 0 ||
		    strcmp(k, "attrs") == 0 || strcmp(k, "socket") == 0 ||
		    strcmp(k, "resources") == 0) {
			const char *s;

			if (get_str(v, k, &s, rp))
				goto out;
			if (k[0] == 'u')
				spec.uri = (char *)s;
			else if (k[0] == 'd')
				spec.description = (char *)s;
			else if (k[0] == 'a')
				spec.attrs = (char *)s;
			else if (k[0] == 's')
				spec.socket = (char *)s;
			else {
				if (check_resources(s, rp))
					goto out;
				spec.resources = (char *)s;
			}
		} else if (strcmp(k, "group") == 0 || strcmp(k, "set") == 0) {
			if (get_int(v, k, 0, UINT32_MAX, &n, rp))
				goto out;
			if (k[0] == 'g')
				spec.group = (uint32_t)n;
			else
				spec.set = (uint32_t)n;
		} else if (strcmp(k, "id") == 0) {
			if (get_int(v, k, 0, UINT32_MAX, &n, rp))
				goto out;
			spec.id = (uint32_t)n;
		} else if (strcmp(k, "weight") == 0) {
			if (get_int(v, k, 1, 1000000, &n, rp))
				goto out;
			spec.weight = (uint32_t)n;
			spec.has_weight = 1;
		} else if (strcmp(k, "priority") == 0) {
			if (get_int(v, k, INT32_MIN, INT32_MAX, &n, rp))
				goto out;
			spec.priority = (int32_t)n;
			spec.has_priority = 1;
		} else if (strcmp(k, "probe_mode") == 0) {
			if (get_int(v, k, 0, 2, &n, rp))
				goto out;
			spec.probe_mode = (uint32_t)n;
		} else if (strcmp(k, "enabled") == 0) {
			if (!json_is_boolean(v)) {
				adm_reply_error(rp, 400,
				    "\"enabled\" must be "
				    "true or false");
				goto out;
			}
			spec.disabled = !json_is_true(v);
		} else {
			adm_reply_error(rp, 400,
			    "unknown field \"%s\" (known: "
			    "uri, group, set, resources, weight, priority, "
			    "probe_mode, description, attrs, socket, id, "
			    "enabled)",
			    k);
			goto out;
		}
	}
	if (spec.uri == NULL || *spec.uri == '\0') {
		adm_reply_error(
		    rp, 400, "\"uri\" is required (sip:HOST[:PORT])");
		goto out;
	}
	ar.op = SIPLB__V1__ADMIN_REQUEST__OP__OP_ADD;
	ar.node = &spec;
	if ((r = sched_change(a, &ar, &warn, rp)) != NULL)
		reply_node(rp, 201, r, warn);
out:
	json_decref(j);
}

/* One more change of a PATCH: the last answer freed, op sent for the
 * node; false (rp holds the refusal) when it was refused.  Its warnings,
 * if any, replace the earlier ones. */
static bool
patch_step(struct adm *a, Siplb__V1__AdminRequest *ar,
    Siplb__V1__AdminRequest__Op op, Siplb__V1__NodeSpec *node,
    Siplb__V1__SchedReply **r, json_t **warn, struct adm_reply *rp)
{
	json_t *w2 = NULL;

	slb_msg_free(*r ? &(*r)->base : NULL);
	ar->op = op;
	ar->node = node;
	if ((*r = sched_change(a, ar, &w2, rp)) == NULL)
		return false;
	if (w2 != NULL) {
		json_decref(*warn);
		*warn = w2;
	}
	return true;
}

void
adm_api_node_patch(struct adm *a, uint32_t id, const char *body, size_t len,
    struct adm_reply *rp)
{
	Siplb__V1__AdminRequest ar = SIPLB__V1__ADMIN_REQUEST__INIT;
	Siplb__V1__NodeSpec spec = SIPLB__V1__NODE_SPEC__INIT;
	Siplb__V1__SchedReply *r = NULL;
	json_t *j, *v, *warn = NULL;
	const char *k, *resources = NULL;
	long long n;
	int enabled = -1, draining = -1, pause = 0;

	if ((j = parse_object(body, len, 0, rp)) == NULL)
		return;
	json_object_foreach(j, k, v)
	{
		if (strcmp(k, "draining") == 0 ||
		    strcmp(k, "pause_inbound") == 0) {
			/* drain: no new calls, dialogs go on */
			if (!json_is_boolean(v)) {
				adm_reply_error(rp, 400,
				    "\"%s\" must be true "
				    "or false",
				    k);
				goto out;
			}
			if (k[0] == 'd')
				draining = json_is_true(v);
			else
				pause = json_is_true(v);
		} else if (strcmp(k, "enabled") == 0) {
			if (!json_is_boolean(v)) {
				adm_reply_error(rp, 400,
				    "\"enabled\" must be "
				    "true or false");
				goto out;
			}
			enabled = json_is_true(v);
		} else if (strcmp(k, "resources") == 0) {
			if (get_str(v, k, &resources, rp) ||
			    check_resources(resources, rp))
				goto out;
		} else if (strcmp(k, "weight") == 0) {
			if (get_int(v, k, 1, 1000000, &n, rp))
				goto out;
			spec.weight = (uint32_t)n;
			spec.has_weight = 1;
		} else if (strcmp(k, "priority") == 0) {
			if (get_int(v, k, INT32_MIN, INT32_MAX, &n, rp))
				goto out;
			spec.priority = (int32_t)n;
			spec.has_priority = 1;
		} else {
			adm_reply_error(rp, 400,
			    "unknown field \"%s\" (a PATCH "
			    "takes enabled, draining, pause_inbound, resources, "
			    "weight, priority)",
			    k);
			goto out;
		}
	}
	if (enabled < 0 && draining < 0 && resources == NULL &&
	    !spec.has_weight && !spec.has_priority) {
		adm_reply_error(rp, 400,
		    "give at least one of \"enabled\", "
		    "\"draining\", \"resources\", \"weight\", \"priority\"");
		goto out;
	}
	ar.node_id = id;
	/* capacities first: the likeliest to be refused */
	if (resources != NULL) {
		ar.op = SIPLB__V1__ADMIN_REQUEST__OP__OP_RESIZE;
		ar.resources = (char *)resources;
		if ((r = sched_change(a, &ar, &warn, rp)) == NULL)
			goto out;
	}
	if ((spec.has_weight || spec.has_priority) &&
	    !patch_step(a, &ar, SIPLB__V1__ADMIN_REQUEST__OP__OP_UPDATE, &spec,
		&r, &warn, rp))
		goto out;
	if (enabled >= 0 &&
	    !patch_step(a, &ar,
		enabled ? SIPLB__V1__ADMIN_REQUEST__OP__OP_ENABLE
			: SIPLB__V1__ADMIN_REQUEST__OP__OP_DISABLE,
		NULL, &r, &warn, rp))
		goto out;
	ar.pause_inbound = pause;
	if (draining >= 0 &&
	    !patch_step(a, &ar,
		draining ? SIPLB__V1__ADMIN_REQUEST__OP__OP_DRAIN
			 : SIPLB__V1__ADMIN_REQUEST__OP__OP_UNDRAIN,
		NULL, &r, &warn, rp))
		goto out;
	reply_node(rp, 200, r, warn);
	warn = NULL;
out:
	json_decref(warn);
	json_decref(j);
}

void
adm_api_node_delete(struct adm *a, uint32_t id, struct adm_reply *rp)
{
	Siplb__V1__AdminRequest ar = SIPLB__V1__ADMIN_REQUEST__INIT;
	Siplb__V1__SchedReply *r;
	json_t *warn = NULL;

	ar.op = SIPLB__V1__ADMIN_REQUEST__OP__OP_REMOVE;
	ar.node_id = id;
	if ((r = sched_change(a, &ar, &warn, rp)) == NULL)
		return;
	reply_node(rp, 200, r, warn);
	json_object_set_new(rp->json, "removed", json_true());
}

void
adm_api_reload(
    struct adm *a, const char *body, size_t len, struct adm_reply *rp)
{
	Siplb__V1__AdminRequest ar = SIPLB__V1__ADMIN_REQUEST__INIT;
	Siplb__V1__SchedReply *r;
	json_t *j, *v, *warn = NULL, *arr;
	const char *k;

	if ((j = parse_object(body, len, 1, rp)) == NULL)
		return;
	json_object_foreach(j, k, v)
	{
		if (strcmp(k, "reset") != 0) {
			adm_reply_error(rp, 400,
			    "unknown field \"%s\" (a reload "
			    "takes only \"reset\")",
			    k);
			goto out;
		}
		if (!json_is_boolean(v)) {
			adm_reply_error(rp, 400,
			    "\"reset\" must be true or "
			    "false");
			goto out;
		}
		ar.reset_state = json_is_true(v);
	}
	ar.op = SIPLB__V1__ADMIN_REQUEST__OP__OP_RELOAD;
	if ((r = sched_change(a, &ar, &warn, rp)) == NULL)
		goto out;
	arr = json_array();
	if (r->admin && r->admin->table)
		for (size_t i = 0; i < r->admin->table->n_nodes; i++)
			json_array_append_new(
			    arr, slb_node_json(r->admin->table->nodes[i]));
	rp->json = json_pack("{s:b,s:b,s:o}", "reloaded", 1, "reset",
	    ar.reset_state, "nodes", arr);
	if (warn)
		json_object_set_new(rp->json, "warnings", warn);
	rp->status = 200;
	slb_msg_free(&r->base);
out:
	json_decref(j);
}
