/*
 * The JSON endpoints of siplb-admin.  Reads go to the first scheduler that
 * answers; changes go to every scheduler replica, so that all of them have
 * them without a restart (each writes its own source, or the shared
 * database).  Every error is {"error": "..."} with the status that fits.
 */
#define SLB_LOG_MODULE "api"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "bus.h"
#include "dialog.h"
#include "log.h"
#include "pbjson.h"
#include "lb.h"

/* ------------------------------------------------------------ calls */

int
adm_sched_call(const char *url, Siplb__V1__SchedRequest *q,
    Siplb__V1__SchedReply **rp)
{
	return slb_req_call(url, &q->base, &siplb__v1__sched_reply__descriptor,
	    ADM_CALL_MS, 0, (ProtobufCMessage **)rp);
}

/* Counters of an edge or of dialogd: both answer stats at field 11
 * (StatsAnswer).  *rp is NULL unless 0 is returned. */
static int
adm_stats(const char *url, ProtobufCMessage *req, Siplb__V1__StatsAnswer **rp)
{
	int err;

	*rp = NULL;
	err = slb_req_call(url, req, &siplb__v1__stats_answer__descriptor,
	    ADM_CALL_MS, 0, (ProtobufCMessage **)rp);
	if (err == 0 && ((*rp)->status != SIPLB__V1__STATUS__STATUS_OK ||
			    (*rp)->stats == NULL)) {
		slb_msg_free(&(*rp)->base);
		*rp = NULL;
		return EPROTO;
	}
	return err;
}

int
adm_edge_stats(const char *url, Siplb__V1__StatsAnswer **rp)
{
	Siplb__V1__EdgeRequest q = SIPLB__V1__EDGE_REQUEST__INIT;

	q.body_case = SIPLB__V1__EDGE_REQUEST__BODY_STATS;
	q.stats = 1;
	return adm_stats(url, &q.base, rp);
}

int
adm_dialogd_call(struct adm *a, Siplb__V1__DialogQuery *dq,
    Siplb__V1__DialogdReply **rp)
{
	Siplb__V1__DialogdRequest q = SIPLB__V1__DIALOGD_REQUEST__INIT;

	if (a->cfg.dialogd[0] == '\0')
		return ENOTCONN;
	q.body_case = SIPLB__V1__DIALOGD_REQUEST__BODY_QUERY;
	q.query = dq;
	return slb_req_call(a->cfg.dialogd, &q.base,
	    &siplb__v1__dialogd_reply__descriptor, ADM_CALL_MS, 0,
	    (ProtobufCMessage **)rp);
}

int
adm_dialogd_stats(struct adm *a, Siplb__V1__StatsAnswer **rp)
{
	Siplb__V1__DialogdRequest q = SIPLB__V1__DIALOGD_REQUEST__INIT;

	*rp = NULL;
	if (a->cfg.dialogd[0] == '\0')
		return ENOTCONN;
	q.body_case = SIPLB__V1__DIALOGD_REQUEST__BODY_STATS;
	q.stats = 1;
	return adm_stats(a->cfg.dialogd, &q.base, rp);
}

Siplb__V1__SchedReply *
adm_sched_list(struct adm *a, int *idx)
{
	Siplb__V1__SchedRequest q = SIPLB__V1__SCHED_REQUEST__INIT;
	Siplb__V1__AdminRequest ar = SIPLB__V1__ADMIN_REQUEST__INIT;
	Siplb__V1__SchedReply *r;

	ar.op = SIPLB__V1__ADMIN_REQUEST__OP__OP_LIST;
	q.body_case = SIPLB__V1__SCHED_REQUEST__BODY_ADMIN;
	q.admin = &ar;
	for (int i = 0; i < a->nsched; i++) {
		if (adm_sched_call(a->sched[i], &q, &r) != 0)
			continue;
		if (r->status == SIPLB__V1__STATUS__STATUS_OK && r->admin &&
		    r->admin->table) {
			if (idx)
				*idx = i;
			return r;
		}
		slb_msg_free(&r->base);
	}
	return NULL;
}

static unsigned
http_status(Siplb__V1__Status st)
{
	switch (st) {
	case SIPLB__V1__STATUS__STATUS_OK: return 200;
	case SIPLB__V1__STATUS__STATUS_BAD_REQUEST: return 400;
	case SIPLB__V1__STATUS__STATUS_NOT_FOUND: return 404;
	case SIPLB__V1__STATUS__STATUS_CONFLICT: return 409;
	case SIPLB__V1__STATUS__STATUS_UNSUPPORTED_VERSION: return 502;
	default: return 500;
	}
}

static void
no_scheduler(struct adm *a, struct adm_reply *rp)
{
	adm_reply_error(rp, 503, "no scheduler answered within %d ms "
	    "(tried %d: %s%s)", ADM_CALL_MS, a->nsched, a->sched[0],
	    a->nsched > 1 ? ", ..." : "");
}

/* ------------------------------------------------------------ JSON */

/* Parse a body that must be a JSON object; NULL after a 400. */
static json_t *
parse_object(const char *body, size_t len, int empty_ok,
    struct adm_reply *rp)
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
		adm_reply_error(rp, 400, "bad JSON: the body must be an "
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
		adm_reply_error(rp, 400, "\"%s\" must be an integer %lld..%lld",
		    key, min, max);
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
				adm_reply_error(rp, http_status(r->status),
				    "%s", r->error && *r->error ? r->error
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
		no_scheduler(a, rp);
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

static void
nodes_list(struct adm *a, struct adm_reply *rp)
{
	Siplb__V1__SchedReply *r = adm_sched_list(a, NULL);
	json_t *arr;

	if (r == NULL) {
		no_scheduler(a, rp);
		return;
	}
	arr = json_array();
	for (size_t i = 0; i < r->admin->table->n_nodes; i++)
		json_array_append_new(arr, slb_node_json(r->admin->table->nodes[i]));
	rp->json = json_pack("{s:o}", "nodes", arr);
	rp->status = 200;
	slb_msg_free(&r->base);
}

static void
node_get(struct adm *a, uint32_t id, struct adm_reply *rp)
{
	Siplb__V1__SchedReply *r = adm_sched_list(a, NULL);

	if (r == NULL) {
		no_scheduler(a, rp);
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

static void
node_add(struct adm *a, const char *body, size_t len, struct adm_reply *rp)
{
	Siplb__V1__AdminRequest ar = SIPLB__V1__ADMIN_REQUEST__INIT;
	Siplb__V1__NodeSpec spec = SIPLB__V1__NODE_SPEC__INIT;
	Siplb__V1__SchedReply *r;
	json_t *j, *v, *warn = NULL;
	const char *k;
	long long n;

	if ((j = parse_object(body, len, 0, rp)) == NULL)
		return;
	json_object_foreach(j, k, v) {
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
				adm_reply_error(rp, 400, "\"enabled\" must be "
							 "true or false");
				goto out;
			}
			spec.disabled = !json_is_true(v);
		} else {
			adm_reply_error(rp, 400, "unknown field \"%s\" (known: "
			    "uri, group, set, resources, weight, priority, "
			    "probe_mode, description, attrs, socket, id, "
			    "enabled)", k);
			goto out;
		}
	}
	if (spec.uri == NULL || *spec.uri == '\0') {
		adm_reply_error(rp, 400, "\"uri\" is required (sip:HOST[:PORT])");
		goto out;
	}
	ar.op = SIPLB__V1__ADMIN_REQUEST__OP__OP_ADD;
	ar.node = &spec;
	if ((r = sched_change(a, &ar, &warn, rp)) != NULL)
		reply_node(rp, 201, r, warn);
out:
	json_decref(j);
}

static void
node_patch(struct adm *a, uint32_t id, const char *body, size_t len,
    struct adm_reply *rp)
{
	Siplb__V1__AdminRequest ar = SIPLB__V1__ADMIN_REQUEST__INIT;
	Siplb__V1__NodeSpec spec = SIPLB__V1__NODE_SPEC__INIT;
	Siplb__V1__SchedReply *r = NULL;
	json_t *j, *v, *warn = NULL, *w2;
	const char *k, *resources = NULL;
	long long n;
	int enabled = -1, draining = -1, pause = 0;

	if ((j = parse_object(body, len, 0, rp)) == NULL)
		return;
	json_object_foreach(j, k, v) {
		if (strcmp(k, "draining") == 0 ||
		    strcmp(k, "pause_inbound") == 0) {
			/* drain: no new calls, dialogs go on */
			if (!json_is_boolean(v)) {
				adm_reply_error(rp, 400, "\"%s\" must be true "
				    "or false", k);
				goto out;
			}
			if (k[0] == 'd')
				draining = json_is_true(v);
			else
				pause = json_is_true(v);
		} else if (strcmp(k, "enabled") == 0) {
			if (!json_is_boolean(v)) {
				adm_reply_error(rp, 400, "\"enabled\" must be "
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
			adm_reply_error(rp, 400, "unknown field \"%s\" (a PATCH "
			    "takes enabled, draining, pause_inbound, resources, "
			    "weight, priority)", k);
			goto out;
		}
	}
	if (enabled < 0 && draining < 0 && resources == NULL &&
	    !spec.has_weight && !spec.has_priority) {
		adm_reply_error(rp, 400, "give at least one of \"enabled\", "
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
	if (spec.has_weight || spec.has_priority) {
		slb_msg_free(r ? &r->base : NULL);
		w2 = NULL;
		ar.op = SIPLB__V1__ADMIN_REQUEST__OP__OP_UPDATE;
		ar.node = &spec;
		if ((r = sched_change(a, &ar, &w2, rp)) == NULL)
			goto out;
		if (w2 != NULL) {
			json_decref(warn);
			warn = w2;
		}
	}
	if (enabled >= 0) {
		slb_msg_free(r ? &r->base : NULL);
		w2 = NULL;
		ar.op = enabled ? SIPLB__V1__ADMIN_REQUEST__OP__OP_ENABLE
				: SIPLB__V1__ADMIN_REQUEST__OP__OP_DISABLE;
		ar.node = NULL;
		if ((r = sched_change(a, &ar, &w2, rp)) == NULL)
			goto out;
		if (w2 != NULL) {
			json_decref(warn);
			warn = w2;
		}
	}
	if (draining >= 0) {
		slb_msg_free(r ? &r->base : NULL);
		w2 = NULL;
		ar.op = draining ? SIPLB__V1__ADMIN_REQUEST__OP__OP_DRAIN
				 : SIPLB__V1__ADMIN_REQUEST__OP__OP_UNDRAIN;
		ar.pause_inbound = pause;
		ar.node = NULL;
		if ((r = sched_change(a, &ar, &w2, rp)) == NULL)
			goto out;
		if (w2 != NULL) {
			json_decref(warn);
			warn = w2;
		}
	}
	reply_node(rp, 200, r, warn);
	warn = NULL;
out:
	json_decref(warn);
	json_decref(j);
}

static void
node_delete(struct adm *a, uint32_t id, struct adm_reply *rp)
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

static void
reload(struct adm *a, const char *body, size_t len, struct adm_reply *rp)
{
	Siplb__V1__AdminRequest ar = SIPLB__V1__ADMIN_REQUEST__INIT;
	Siplb__V1__SchedReply *r;
	json_t *j, *v, *warn = NULL, *arr;
	const char *k;

	if ((j = parse_object(body, len, 1, rp)) == NULL)
		return;
	json_object_foreach(j, k, v) {
		if (strcmp(k, "reset") != 0) {
			adm_reply_error(rp, 400, "unknown field \"%s\" (a reload "
			    "takes only \"reset\")", k);
			goto out;
		}
		if (!json_is_boolean(v)) {
			adm_reply_error(rp, 400, "\"reset\" must be true or "
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
			json_array_append_new(arr,
			    slb_node_json(r->admin->table->nodes[i]));
	rp->json = json_pack("{s:b,s:b,s:o}", "reloaded", 1, "reset",
	    ar.reset_state, "nodes", arr);
	if (warn)
		json_object_set_new(rp->json, "warnings", warn);
	rp->status = 200;
	slb_msg_free(&r->base);
out:
	json_decref(j);
}

/* ------------------------------------------------------------ dialogs */

static int
dialogd_reply(struct adm *a, int err, Siplb__V1__DialogdReply *r,
    struct adm_reply *rp)
{
	if (err == ENOTCONN) {
		adm_reply_error(rp, 503, "no dialogd configured ([admin] "
					 "dialogd)");
		return -1;
	}
	if (err == ETIMEDOUT) {
		adm_reply_error(rp, 503, "dialogd at %s did not answer within "
		    "%d ms", a->cfg.dialogd, ADM_CALL_MS);
		return -1;
	}
	if (err != 0) {
		adm_reply_error(rp, 502, "dialogd at %s: %s", a->cfg.dialogd,
		    err == EPROTONOSUPPORT ? "speaks another protocol version"
					   : strerror(err));
		return -1;
	}
	if (r->status != SIPLB__V1__STATUS__STATUS_OK) {
		adm_reply_error(rp, http_status(r->status), "%s",
		    r->error && *r->error ? r->error : "refused by dialogd");
		slb_msg_free(&r->base);
		return -1;
	}
	return 0;
}

static int
arg_u32(void *conn, const char *name, uint32_t *out, struct adm_reply *rp)
{
	const char *s = adm_http_arg(conn, name);
	long v;

	if (s == NULL)
		return 0;
	if (slb_parse_long(s, 0, UINT32_MAX, &v) != 0) {
		adm_reply_error(rp, 400, "%s: \"%s\" is not a number", name, s);
		return -1;
	}
	*out = (uint32_t)v;
	return 0;
}

static void
dialogs_list(struct adm *a, void *conn, struct adm_reply *rp)
{
	Siplb__V1__DialogQuery dq = SIPLB__V1__DIALOG_QUERY__INIT;
	Siplb__V1__DialogdReply *r = NULL;
	const char *st = adm_http_arg(conn, "state");
	const char *counts = adm_http_arg(conn, "counts");
	const char *edge = adm_http_arg(conn, "edge");
	json_t *arr;
	int err;

	if (arg_u32(conn, "node", &dq.node_id, rp) ||
	    arg_u32(conn, "limit", &dq.limit, rp))
		return;
	if (st != NULL && *st) {
		enum slb_dialog_state ds;

		if (slb_dialog_state_parse(st, &ds) != 0) {
			adm_reply_error(rp, 400, "state: \"%s\": use created, "
						 "confirmed or terminated", st);
			return;
		}
		dq.state = (Siplb__V1__DialogState)ds;
	}
	if (edge != NULL)
		dq.edge = (char *)edge;
	if (counts != NULL) {
		if (strcmp(counts, "1") == 0 || strcmp(counts, "true") == 0 ||
		    strcmp(counts, "yes") == 0 || *counts == '\0')
			dq.counts = 1;
		else if (strcmp(counts, "0") != 0 &&
		    strcmp(counts, "false") != 0 && strcmp(counts, "no") != 0) {
			adm_reply_error(rp, 400, "counts: \"%s\": use 1 or 0",
			    counts);
			return;
		}
	}
	err = adm_dialogd_call(a, &dq, &r);
	if (dialogd_reply(a, err, r, rp) != 0)
		return;
	arr = json_array();
	if (dq.counts) {
		for (size_t i = 0; i < r->n_counts; i++)
			json_array_append_new(arr, json_pack("{s:I,s:s,s:I}",
			    "node_id", (json_int_t)r->counts[i]->node_id,
			    "resource", r->counts[i]->resource, "count",
			    (json_int_t)r->counts[i]->count));
		rp->json = json_pack("{s:o}", "counts", arr);
	} else {
		for (size_t i = 0; i < r->n_dialogs; i++)
			json_array_append_new(arr, slb_dialog_json(r->dialogs[i]));
		rp->json = json_pack("{s:o}", "dialogs", arr);
	}
	rp->status = 200;
	slb_msg_free(&r->base);
}

static void
dialog_get(struct adm *a, const char *key, struct adm_reply *rp)
{
	Siplb__V1__DialogQuery dq = SIPLB__V1__DIALOG_QUERY__INIT;
	Siplb__V1__DialogdReply *r = NULL;
	int err;

	dq.key = (char *)key;
	err = adm_dialogd_call(a, &dq, &r);
	if (dialogd_reply(a, err, r, rp) != 0)
		return;
	if (r->n_dialogs == 0)
		adm_reply_error(rp, 404, "dialog \"%s\" not found", key);
	else {
		rp->json = slb_dialog_json(r->dialogs[0]);
		rp->status = 200;
	}
	slb_msg_free(&r->base);
}

/* ------------------------------------------------------------ stats */

/* {"name": value} or {"name": {"label": value}} */
static json_t *
counters_json(Siplb__V1__Counter **c, size_t n)
{
	json_t *o = json_object();

	for (size_t i = 0; i < n; i++) {
		if (c[i]->label == NULL || c[i]->label[0] == '\0') {
			json_object_set_new(o, c[i]->name,
			    json_integer((json_int_t)c[i]->value));
			continue;
		}
		json_t *sub = json_object_get(o, c[i]->name);

		if (!json_is_object(sub)) {
			sub = json_object();
			json_object_set_new(o, c[i]->name, sub);
		}
		json_object_set_new(sub, c[i]->label,
		    json_integer((json_int_t)c[i]->value));
	}
	return o;
}

static void
stats(struct adm *a, struct adm_reply *rp)
{
	Siplb__V1__SchedRequest q = SIPLB__V1__SCHED_REQUEST__INIT;
	Siplb__V1__SchedReply *r = adm_sched_list(a, NULL), *sr;
	json_t *nodes = json_array(), *edges = json_array();
	json_t *scheds = json_array();

	if (r != NULL) {
		for (size_t i = 0; i < r->admin->table->n_nodes; i++) {
			const Siplb__V1__Node *n = r->admin->table->nodes[i];
			json_t *res = json_object();

			for (size_t k = 0; k < n->n_resources; k++)
				json_object_set_new(res, n->resources[k]->name,
				    json_pack("{s:i,s:i}", "load",
					n->resources[k]->load, "capacity",
					n->resources[k]->capacity));
			json_array_append_new(nodes,
			    json_pack("{s:I,s:s,s:b,s:b,s:I,s:f,s:I,s:o}", "id",
				(json_int_t)n->id, "uri", n->uri, "up", n->up,
				"enabled", n->enabled, "rtt_us",
				(json_int_t)n->rtt_us, "rtt_seconds",
				n->rtt_us / 1e6, "selected",
				(json_int_t)n->selected, "resources", res));
		}
		slb_msg_free(&r->base);
	}
	q.body_case = SIPLB__V1__SCHED_REQUEST__BODY_STATS;
	q.stats = 1;
	for (int i = 0; i < a->nsched; i++) {
		int ok = adm_sched_call(a->sched[i], &q, &sr) == 0;
		json_t *o = json_pack("{s:s,s:b}", "address", a->sched[i], "up",
		    ok);

		if (ok && sr->status == SIPLB__V1__STATUS__STATUS_OK &&
		    sr->stats)
			json_object_set_new(o, "counters",
			    counters_json(sr->stats->counters,
				sr->stats->n_counters));
		if (ok)
			slb_msg_free(&sr->base);
		json_array_append_new(scheds, o);
	}
	for (int i = 0; i < a->nedge; i++) {
		Siplb__V1__StatsAnswer *er = NULL;
		int ok = adm_edge_stats(a->edge[i], &er) == 0;
		json_t *o = json_pack("{s:s,s:b}", "address", a->edge[i], "up",
		    ok);

		if (ok) {
			json_object_set_new(o, "counters",
			    counters_json(er->stats->counters,
				er->stats->n_counters));
			slb_msg_free(&er->base);
		}
		json_array_append_new(edges, o);
	}
	rp->json = json_pack("{s:o,s:o,s:o}", "nodes", nodes, "schedulers",
	    scheds, "edges", edges);
	rp->status = r != NULL ? 200 : 503;
	if (r == NULL)
		json_object_set_new(rp->json, "error",
		    json_string("no scheduler answered"));
}

/* ------------------------------------------------------------ health */

static void
healthz(struct adm *a, struct adm_reply *rp)
{
	Siplb__V1__SchedRequest q = SIPLB__V1__SCHED_REQUEST__INIT;
	Siplb__V1__SchedReply *sr;
	Siplb__V1__DialogQuery dq = SIPLB__V1__DIALOG_QUERY__INIT;
	Siplb__V1__DialogdReply *dr = NULL;
	json_t *edges = json_array(), *dlg;
	int sched = 0, all = 1, err;

	/* any answer counts: the scheduler is there */
	q.body_case = SIPLB__V1__SCHED_REQUEST__BODY_STATS;
	q.stats = 1;
	for (int i = 0; i < a->nsched && !sched; i++) {
		if (adm_sched_call(a->sched[i], &q, &sr) == 0) {
			sched = 1;
			slb_msg_free(&sr->base);
		}
	}
	for (int i = 0; i < a->nedge; i++) {
		Siplb__V1__StatsAnswer *er = NULL;
		int up = adm_edge_stats(a->edge[i], &er) == 0;

		slb_msg_free(er ? &er->base : NULL);
		all &= up;
		json_array_append_new(edges, json_pack("{s:s,s:b}", "address",
		    a->edge[i], "up", up));
	}
	if (a->cfg.dialogd[0]) {
		dq.counts = 1;
		err = adm_dialogd_call(a, &dq, &dr);
		dlg = json_boolean(err == 0);
		if (err == 0)
			slb_msg_free(&dr->base);
	} else {
		dlg = json_null();
	}
	rp->status = sched && all ? 200 : 503;
	rp->json = json_pack("{s:b,s:o,s:o,s:s}", "scheduler", sched,
	    "dialogd", dlg, "edges", edges, "status",
	    rp->status == 200 ? "ok" : "degraded");
}

/* ------------------------------------------------------------ routing */

static int
method_is(const char *m, const char *want)
{
	return strcmp(m, want) == 0;
}

static int
bad_method(struct adm_reply *rp, const char *method, const char *allow)
{
	adm_reply_error(rp, 405, "method %s not allowed here (allowed: %s)",
	    method, allow);
	rp->allow = allow;
	return 0;
}

void
adm_api_handle(struct adm *a, const char *method, const char *path,
    const char *body, size_t body_len, void *conn, struct adm_reply *rp)
{
	static const char nodes_pfx[] = "/api/v1/nodes/";
	static const char dlg_pfx[] = "/api/v1/dialogs/";
	int get = method_is(method, "GET") || method_is(method, "HEAD");

	if (strcmp(path, "/healthz") == 0) {
		if (!get)
			bad_method(rp, method, "GET, HEAD");
		else
			healthz(a, rp);
	} else if (strcmp(path, "/metrics") == 0) {
		if (!get)
			bad_method(rp, method, "GET, HEAD");
		else
			adm_metrics(a, rp);
	} else if (strcmp(path, "/api/v1/nodes") == 0) {
		if (get)
			nodes_list(a, rp);
		else if (method_is(method, "POST"))
			node_add(a, body, body_len, rp);
		else
			bad_method(rp, method, "GET, HEAD, POST");
	} else if (strncmp(path, nodes_pfx, sizeof(nodes_pfx) - 1) == 0) {
		const char *ids = path + sizeof(nodes_pfx) - 1;
		long id;

		if (slb_parse_long(ids, 1, UINT32_MAX, &id) != 0)
			adm_reply_error(rp, 404, "no node \"%s\" (node ids are "
						 "numbers)", ids);
		else if (get)
			node_get(a, (uint32_t)id, rp);
		else if (method_is(method, "PATCH"))
			node_patch(a, (uint32_t)id, body, body_len, rp);
		else if (method_is(method, "DELETE"))
			node_delete(a, (uint32_t)id, rp);
		else
			bad_method(rp, method, "GET, HEAD, PATCH, DELETE");
	} else if (strcmp(path, "/api/v1/reload") == 0) {
		if (method_is(method, "POST"))
			reload(a, body, body_len, rp);
		else
			bad_method(rp, method, "POST");
	} else if (strcmp(path, "/api/v1/dialogs") == 0) {
		if (get)
			dialogs_list(a, conn, rp);
		else
			bad_method(rp, method, "GET, HEAD");
	} else if (strncmp(path, dlg_pfx, sizeof(dlg_pfx) - 1) == 0 &&
	    path[sizeof(dlg_pfx) - 1] != '\0') {
		if (get)
			dialog_get(a, path + sizeof(dlg_pfx) - 1, rp);
		else
			bad_method(rp, method, "GET, HEAD");
	} else if (strcmp(path, "/api/v1/stats") == 0) {
		if (get)
			stats(a, rp);
		else
			bad_method(rp, method, "GET, HEAD");
	} else {
		adm_reply_error(rp, 404, "no such path: %s", path);
	}
}
